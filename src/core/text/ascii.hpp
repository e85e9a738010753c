#pragma once
// ASCII case folding and comparisons for protocol text (header field names, MIME types, IMAP and
// SMTP replies, codes): independent of the locale, bytes outside A–Z unchanged.

#include <algorithm>
#include <string>
#include <string_view>

namespace liaison::ascii {

constexpr char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = lowerAscii(c);
  return out;
}

constexpr bool sameNoCase(char a, char b) {
  return lowerAscii(a) == lowerAscii(b);
}

inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), sameNoCase);
}

inline bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

inline bool containsNoCase(std::string_view s, std::string_view needle) {
  return std::search(s.begin(), s.end(), needle.begin(), needle.end(), sameNoCase) != s.end() ||
         needle.empty();
}

// Whether a space-separated list of tokens (an XML attribute such as a CDA name part's
// qualifier "BR SP") holds `token` exactly.
constexpr bool hasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const std::size_t sp = list.find(' ');
    if (list.substr(0, sp) == token) return true;
    if (sp == std::string_view::npos) break;
    list.remove_prefix(sp + 1);
  }
  return false;
}

}  // namespace liaison::ascii
