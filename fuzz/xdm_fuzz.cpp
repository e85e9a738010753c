// libFuzzer harness: readXdm (src/parse/xdm) on arbitrary bytes.
// Invariants of a successful read: the limits hold on the inflated bytes, every path is
// normalised and safe, paths are unique ignoring case, and the lookups find what was read.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "parse/xdm/xdm_archive.hpp"

namespace {

using liaison::fuzz::require;

void requireSafePath(std::string_view path, std::size_t max_name_bytes) {
  require(!path.empty() && path.size() <= max_name_bytes);
  require(!liaison::fuzz::hasControl(path));
  require(path.find('\\') == std::string_view::npos);
  std::size_t begin = 0;
  while (begin <= path.size()) {
    const std::size_t slash = std::min(path.find('/', begin), path.size());
    const std::string_view part = path.substr(begin, slash - begin);
    require(!part.empty() && part != "." && part != "..");  // no empty, "." or ".." component
    begin = slash + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = liaison::fuzz::asText(data, size);
  // Limits small enough to be reached quickly (the defaults allow 128 MiB per archive).
  liaison::parse::ZipLimits limits;
  limits.max_entries = 64;
  limits.max_entry_bytes = 1 << 20;
  limits.max_total_bytes = 4 << 20;
  limits.max_ratio = 100;
  limits.ratio_floor_bytes = 64 * 1024;
  limits.max_name_bytes = 128;

  const auto result = liaison::parse::readXdm(bytes, limits);
  if (!result) return 0;
  require(liaison::parse::looksLikeZip(bytes));
  const liaison::parse::XdmArchive& archive = *result;

  require(archive.entries.size() <= limits.max_entries);
  std::size_t total = 0;
  for (const auto& entry : archive.entries) {
    require(entry.bytes.size() <= limits.max_entry_bytes);
    total += entry.bytes.size();
    requireSafePath(entry.path, limits.max_name_bytes);
    // Unique paths: the lookup finds this very entry, and so does a URI relative to the root.
    require(archive.find(entry.path) == &entry);
    require(archive.resolve("", entry.path) == &entry);
  }
  require(total <= limits.max_total_bytes);

  for (const std::string& set : archive.submissionSets()) {
    require(archive.find(set + "/METADATA.XML") != nullptr);
    require(archive.resolve(set, "METADATA.XML") != nullptr);
    require(archive.resolve(set, "../METADATA.XML") == nullptr);
  }
  return 0;
}
