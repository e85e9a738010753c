#include "parse/mime/mime_text.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "parse/mime/gmime_support.hpp"
#include "parse/text/encoding.hpp"

namespace liaison::parse::mime_detail {
namespace {

// ---------------------------------------------------------------------------------------------
// single-byte charsets

// windows-1252 0x80–0x9F; 0 marks the five undefined bytes (read as U+FFFD).
constexpr std::array<char16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

char32_t cp1252(unsigned char c) {
  if (c < 0x80 || c >= 0xA0) return c;
  char16_t u = kCp1252High[c - 0x80];
  return u != 0 ? u : 0xFFFD;
}

// ISO-8859-15 differs from ISO-8859-1 in eight places; 0x80–0x9F are read as windows-1252 (C1
// controls are never meant in mail text).
char32_t latin9(unsigned char c) {
  switch (c) {
    case 0xA4:
      return 0x20AC;  // €
    case 0xA6:
      return 0x0160;  // Š
    case 0xA8:
      return 0x0161;  // š
    case 0xB4:
      return 0x017D;  // Ž
    case 0xB8:
      return 0x017E;  // ž
    case 0xBC:
      return 0x0152;  // Œ
    case 0xBD:
      return 0x0153;  // œ
    case 0xBE:
      return 0x0178;  // Ÿ
    default:
      return cp1252(c);
  }
}

void appendUtf8(std::string& out, char32_t u) {
  if (u < 0x80) {
    out.push_back(static_cast<char>(u));
  } else if (u < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (u >> 6)));
    out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (u >> 12)));
    out.push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
  }
}

// The end of the run of CRs starting at `cr`, and whether a '\n' follows it: CR LF, and the
// CR CR LF of a text converted to CRLF twice, are one line end; other CRs are data and stay.
std::size_t endOfCrRun(std::string_view text, std::size_t cr, bool& line_end) {
  const std::size_t end = std::min(text.find_first_not_of('\r', cr), text.size());
  line_end = end < text.size() && text[end] == '\n';
  return end;
}

// Line ends become "\n" on the way.
template <typename Decode>
std::string singleByteToUtf8(std::string_view bytes, Decode decode) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      bool line_end = false;
      const std::size_t end = endOfCrRun(bytes, i, line_end);
      if (!line_end) out.append(bytes.substr(i, end - i));
      i = end - 1;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      appendUtf8(out, decode(c));
    }
  }
  return out;
}

std::string normaliseLineEnds(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t cr = text.find('\r', pos);
    if (cr == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, cr - pos));
    bool line_end = false;
    pos = endOfCrRun(text, cr, line_end);  // the '\n' of a line end is kept with what follows
    if (!line_end) out.append(text.substr(cr, pos - cr));
  }
  return out;
}

bool isOneOf(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (n == name) return true;
  }
  return false;
}

std::string lowerTrimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// iconv through GMime's cache (which also maps MIME charset names to iconv ones).
std::optional<std::string> iconvToUtf8(std::string_view bytes, const std::string& charset) {
  iconv_t cd = g_mime_iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // initial state: the descriptor may be reused
  std::string out(bytes.size() * 2 + 16, '\0');
  char* in = const_cast<char*>(bytes.data());  // iconv's API is not const-correct
  std::size_t in_left = bytes.size();
  std::size_t used = 0;
  auto outRoom = [&](std::size_t need) {
    if (out.size() - used < need) out.resize(out.size() * 2 + need);
  };
  while (in_left > 0) {
    outRoom(16);
    char* dst = out.data() + used;
    std::size_t out_left = out.size() - used;
    std::size_t r = iconv(cd, &in, &in_left, &dst, &out_left);
    used = out.size() - out_left;
    if (r != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) continue;
    // EILSEQ or EINVAL (truncated sequence at the end): one replacement character, then go on.
    ++in;
    --in_left;
    outRoom(3);
    std::memcpy(out.data() + used, "\xEF\xBF\xBD", 3);
    used += 3;
  }
  outRoom(16);
  char* dst = out.data() + used;
  std::size_t out_left = out.size() - used;
  iconv(cd, nullptr, nullptr, &dst, &out_left);  // shift back to the initial state
  used = out.size() - out_left;
  g_mime_iconv_close(cd);
  out.resize(used);
  return normaliseLineEnds(out);
}

}  // namespace

TextResult textToUtf8(std::string_view bytes, std::string_view charset_param) {
  TextResult result;
  std::string charset = lowerTrimmed(charset_param);
  if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"')
    charset = charset.substr(1, charset.size() - 2);
  bool claims_utf8 = isOneOf(charset, {"utf-8", "utf8", "unicode-1-1-utf-8"});
  if (claims_utf8 || isOneOf(charset, {"", "us-ascii", "ascii", "ansi_x3.4-1968"})) {
    if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
    if (isValidUtf8(bytes)) {
      result.text = normaliseLineEnds(bytes);
      return result;
    }
    result.invalid_utf8 = claims_utf8;
    result.text = singleByteToUtf8(bytes, cp1252);
    return result;
  }
  if (isOneOf(charset,
              {"windows-1252", "cp1252", "x-cp1252", "iso-8859-1", "iso8859-1", "iso_8859-1",
               "iso_8859-1:1987", "latin1", "latin-1", "l1", "cp819", "ibm819", "iso-ir-100"})) {
    result.text = singleByteToUtf8(bytes, cp1252);
    return result;
  }
  if (isOneOf(charset, {"iso-8859-15", "iso8859-15", "iso_8859-15", "latin9", "latin-9", "l9"})) {
    result.text = singleByteToUtf8(bytes, latin9);
    return result;
  }
  if (auto converted = iconvToUtf8(bytes, charset)) {
    result.text = std::move(*converted);
    return result;
  }
  result.charset_unknown = true;
  result.text = singleByteToUtf8(bytes, cp1252);
  return result;
}

}  // namespace liaison::parse::mime_detail
