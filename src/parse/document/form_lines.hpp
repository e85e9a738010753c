#pragma once
// Shared by the PDF and Word readers (internal to liaison_parse_document): one line's text made
// the way form_document.hpp promises, and the budget every document's lines are counted against.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/error.hpp"
#include "parse/document/form_document.hpp"

namespace liaison::parse::form_lines {

// UTF-8 (invalid input read as windows-1252), marks "[X]" / "[ ]" for the ballot boxes ☒ ☑ ☐ and
// their Wingdings code points, spaces for line breaks and no-break spaces, no other control
// character than tabs, runs of spaces (and of tabs) made one, no space beside a tab, trimmed.
std::string clean(std::string_view raw);

// The UTF-8 of one code point (U+FFFD for what is not one).
void appendCodePoint(std::string& out, char32_t c);

// A Wingdings / Symbol private-use code point (U+F0xx) or a ballot box, as a mark: "[X]", "[ ]",
// or nullopt when it is no box.
std::optional<std::string_view> boxMark(char32_t c);

// The lines of one document, within the limits: the first line or byte over them is an error of
// `too_complex`.
class LineSink {
 public:
  LineSink(const FormDocumentLimits& limits, Errc too_complex, std::string_view what)
      : limits_(limits), too_complex_(too_complex), what_(what) {}

  // Cleans `raw` and keeps it unless empty. False once over the limits (see error()).
  bool add(std::string_view raw, std::string_view origin);
  bool failed() const { return error_.has_value(); }
  const Error& error() const { return *error_; }
  std::vector<FormLine> take() { return std::move(lines_); }
  bool empty() const { return lines_.empty(); }

 private:
  const FormDocumentLimits& limits_;
  Errc too_complex_;
  std::string_view what_;
  std::vector<FormLine> lines_;
  std::size_t bytes_ = 0;
  std::optional<Error> error_;
};

}  // namespace liaison::parse::form_lines
