// libFuzzer harness: parseMime (src/parse/mime) on arbitrary bytes.
// Invariants of a successful parse: the limits hold on what comes out, content types and
// dispositions are lower case, address domains are lower case, bodies have "\n" line ends.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "parse/mime/mime_message.hpp"

namespace {

using liaison::fuzz::hasUpperAscii;
using liaison::fuzz::require;

void requireAddress(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at != std::string_view::npos) require(!hasUpperAscii(address.substr(at + 1)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Limits small enough to be reached by inputs of a few KiB.
  liaison::parse::MimeLimits limits;
  limits.max_message_bytes = 1 << 20;
  limits.max_header_line = 2048;
  limits.max_header_bytes = 16 * 1024;
  limits.max_parts = 32;
  limits.max_depth = 8;
  limits.max_decoded_bytes = 1 << 20;

  const auto result = liaison::parse::parseMime(liaison::fuzz::asText(data, size), limits);
  if (!result) return 0;
  const liaison::parse::MimeMessage& m = *result;

  // Parts below the top level are counted, so the top-level entity may add one attachment.
  require(m.attachments.size() <= limits.max_parts + 1);
  std::size_t decoded = 0;
  for (const auto& a : m.attachments) {
    decoded += a.bytes.size();
    require(a.content_type.find('/') != std::string_view::npos);
    require(!hasUpperAscii(a.content_type));
    require(!hasUpperAscii(a.disposition));
    require(!hasUpperAscii(a.charset));
  }
  require(decoded <= limits.max_decoded_bytes);

  requireAddress(m.from);
  for (const auto& to : m.to)
    requireAddress(to);
  for (const auto& cc : m.cc)
    requireAddress(cc);
  requireAddress(m.disposition_notification_to);

  // CRLF becomes "\n" (a lone CR is data and stays).
  require(m.text_body.find("\r\n") == std::string_view::npos);
  require(m.html_body.find("\r\n") == std::string_view::npos);
  require(m.html_body.empty() || m.text_body.empty());

  for (const auto& [name, value] : m.headers)
    require(m.header(name).has_value());
  return 0;
}
