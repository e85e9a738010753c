#pragma once
// Internal to liaison_parse_mime: charset conversion of part contents (base64 is
// parse/text/base64.hpp).

#include <optional>
#include <string>
#include <string_view>

namespace liaison::parse::mime_detail {

struct TextResult {
  std::string text;              // UTF-8, line ends "\n"
  bool charset_unknown = false;  // read as windows-1252
  bool invalid_utf8 = false;     // claimed UTF-8 but was not: read as windows-1252
};

// `charset` as given in Content-Type (any case, may be empty). UTF-8, US-ASCII and no charset:
// kept when valid UTF-8, else read as windows-1252 (a warning only when UTF-8 was claimed).
// ISO-8859-1 is read as windows-1252 (its superset, as browsers do); ISO-8859-15 has its own table;
// other charsets go through iconv; a charset iconv does not know is read as windows-1252.
TextResult textToUtf8(std::string_view bytes, std::string_view charset);

}  // namespace liaison::parse::mime_detail
