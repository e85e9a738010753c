// libFuzzer harness: formLinesOfPdf (src/parse/document) on arbitrary bytes — qpdf and poppler
// behind it, with the stream budget in front of poppler.
// Invariants: those of form_invariants.hpp; pages within the limit; origins are "page N, ligne M"
// or "champ PDF <name>", the latter only when the lines come from form fields.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "form_invariants.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using liaison::fuzz::require;
  const std::string_view input = liaison::fuzz::asText(data, size);
  liaison::parse::FormDocumentLimits limits;
  limits.max_input_bytes = 1 << 20;
  limits.max_pages = 8;
  limits.max_fields = 200;
  limits.max_lines = 500;
  limits.max_text_bytes = 64 * 1024;
  limits.max_stream_bytes = 8 << 20;

  const auto result = liaison::parse::formLinesOfPdf(input, limits);
  if (!result) {
    const liaison::Errc code = result.error().code;
    require(code == liaison::Errc::PdfUnreadable || code == liaison::Errc::PdfEncrypted ||
            code == liaison::Errc::PdfTooComplex);
    return 0;
  }
  require(liaison::parse::looksLikePdf(input));
  liaison::fuzz::requireFormDocument(*result, limits);
  require(result->pages <= limits.max_pages);
  for (const auto& line : result->lines) {
    const bool field = line.origin.starts_with("champ PDF ");
    require(field || line.origin.starts_with("page "));
    require(!field || result->source == liaison::parse::FormSource::PdfFields);
  }
  return 0;
}
