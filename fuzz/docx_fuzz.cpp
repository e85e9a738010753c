// libFuzzer harness: formLinesOfDocx (src/parse/document). Input that starts like a zip is the
// .docx itself (its zip layer is readXdm's, fuzzed by xdm_fuzz); any other input is the
// WordprocessingML of word/document.xml, packed here into a stored zip with its _rels/.rels, so
// that mutations reach the document reader instead of dying on a CRC.
// Invariants: those of form_invariants.hpp; origins are "paragraphe N" or "tableau N, ligne M".

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "form_invariants.hpp"

namespace {

using liaison::fuzz::require;

std::uint32_t crc32(std::string_view data) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char ch : data)
    c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void le(std::string& out, std::uint32_t value, int width) {
  for (int i = 0; i < width; ++i)
    out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

// A zip of stored entries.
std::string storedZip(const std::array<std::pair<std::string_view, std::string_view>, 2>& files) {
  std::string zip;
  std::string central;
  for (const auto& [name, data] : files) {
    const auto offset = static_cast<std::uint32_t>(zip.size());
    const std::uint32_t crc = crc32(data);
    const auto size = static_cast<std::uint32_t>(data.size());
    const auto name_size = static_cast<std::uint32_t>(name.size());
    zip += "PK\x03\x04";
    le(zip, 20, 2), le(zip, 0, 2), le(zip, 0, 2), le(zip, 0, 2), le(zip, 0, 2);
    le(zip, crc, 4), le(zip, size, 4), le(zip, size, 4), le(zip, name_size, 2), le(zip, 0, 2);
    zip += name;
    zip += data;
    central += "PK\x01\x02";
    le(central, 20, 2), le(central, 20, 2), le(central, 0, 2), le(central, 0, 2);
    le(central, 0, 2), le(central, 0, 2), le(central, crc, 4), le(central, size, 4);
    le(central, size, 4), le(central, name_size, 2), le(central, 0, 2), le(central, 0, 2);
    le(central, 0, 2), le(central, 0, 2), le(central, 0, 4), le(central, offset, 4);
    central += name;
  }
  const auto central_offset = static_cast<std::uint32_t>(zip.size());
  zip += central;
  zip += "PK\x05\x06";
  le(zip, 0, 2), le(zip, 0, 2), le(zip, 2, 2), le(zip, 2, 2);
  le(zip, static_cast<std::uint32_t>(central.size()), 4), le(zip, central_offset, 4), le(zip, 0, 2);
  return zip;
}

constexpr std::string_view kRels =
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Id=\"r1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
    "relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = liaison::fuzz::asText(data, size);
  liaison::parse::FormDocumentLimits limits;
  limits.max_input_bytes = 1 << 20;
  limits.max_lines = 500;
  limits.max_text_bytes = 64 * 1024;
  limits.zip.max_entries = 32;
  limits.zip.max_entry_bytes = 1 << 20;
  limits.zip.max_total_bytes = 4 << 20;
  limits.xml.max_depth = 64;
  limits.xml.max_elements = 100'000;

  const std::string docx =
      input.starts_with("PK") ? std::string(input)
                              : storedZip({{{"_rels/.rels", kRels}, {"word/document.xml", input}}});
  const auto result = liaison::parse::formLinesOfDocx(docx, limits);
  if (!result) {
    require(!result.error().detail.empty());
    return 0;
  }
  liaison::fuzz::requireFormDocument(*result, limits);
  require(result->pages == 0);
  for (const auto& line : result->lines) {
    require(line.origin.starts_with("paragraphe ") || line.origin.starts_with("tableau "));
  }
  return 0;
}
