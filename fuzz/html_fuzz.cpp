// libFuzzer harness: HTML mail bodies → text (src/parse/text/html_text) on arbitrary bytes.
// Invariants: the text is UTF-8, within its bound, trimmed, with no trailing blank on a line and
// never two empty lines in a row; a smaller bound gives a prefix-sized, still valid text; the
// same input gives the same text.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "parse/text/encoding.hpp"
#include "parse/text/html_text.hpp"

namespace {

using liaison::fuzz::require;

void checkText(std::string_view text, std::size_t max_bytes) {
  require(text.size() <= max_bytes);
  require(liaison::parse::isValidUtf8(text));
  if (text.empty()) return;
  require(text.front() != '\n' && text.back() != '\n' && text.back() != ' ');
  require(text.find("\n\n\n") == std::string_view::npos);
  require(text.find(" \n") == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view html = liaison::fuzz::asText(data, size);
  const liaison::parse::HtmlText full = liaison::parse::htmlText(html);
  checkText(full.text, liaison::parse::kHtmlTextMaxBytes);
  require(liaison::parse::htmlText(html).text == full.text);
  const liaison::parse::HtmlText small = liaison::parse::htmlText(html, 64);
  checkText(small.text, 64);
  if (full.text.size() > 64) require(small.truncated);
  return 0;
}
