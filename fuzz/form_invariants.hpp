#pragma once
// Shared by the docx and pdf harnesses: what every FormDocument promises (form_document.hpp).

#include <string_view>

#include "fuzz_check.hpp"
#include "parse/document/form_document.hpp"
#include "parse/text/encoding.hpp"

namespace liaison::fuzz {

inline void requireFormDocument(const parse::FormDocument& doc,
                                const parse::FormDocumentLimits& limits) {
  require(doc.lines.size() <= limits.max_lines);
  std::size_t bytes = 0;
  for (const parse::FormLine& line : doc.lines) {
    const std::string_view text = line.text;
    require(!text.empty() && !line.origin.empty());
    require(parse::isValidUtf8(text) && parse::isValidUtf8(line.origin));
    // No line break, no control character but tabs, trimmed, no doubled separator.
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      require(c == '\t' || (byte >= 0x20 && byte != 0x7F));
    }
    require(text.front() != ' ' && text.front() != '\t');
    require(text.back() != ' ' && text.back() != '\t');
    require(text.find("  ") == std::string_view::npos);
    require(text.find("\t\t") == std::string_view::npos);
    bytes += text.size();
  }
  require(bytes <= limits.max_text_bytes);
  // Nothing read ⇔ no line, and then the reason is given.
  require((doc.source == parse::FormSource::Nothing) == doc.lines.empty());
  require(!doc.lines.empty() || doc.issues.contains(Errc::DocumentNoText));
  require(!doc.issues.hasErrors());
}

}  // namespace liaison::fuzz
