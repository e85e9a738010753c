#include "parse/document/form_lines.hpp"

#include <utility>

#include "parse/text/encoding.hpp"

namespace liaison::parse::form_lines {
namespace {

constexpr std::string_view kTicked = "[X]";
constexpr std::string_view kEmpty = "[ ]";

// Decodes one code point of valid UTF-8 at `i` (the caller has validated the string).
char32_t decode(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  const int extra = b0 >= 0xF0 ? 3 : b0 >= 0xE0 ? 2 : 1;
  char32_t c = b0 & (0x3F >> extra);
  for (int k = 1; k <= extra && i + k < s.size(); ++k) {
    c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  }
  i += static_cast<std::size_t>(extra) + 1;
  return c;
}

bool isLineBreak(char32_t c) {
  return c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x85 || c == 0x2028 ||
         c == 0x2029;
}

bool isSpaceLike(char32_t c) {
  return c == ' ' || c == 0xA0 || c == 0x2007 || c == 0x2009 || c == 0x202F || c == 0x3000;
}

// Invisible or control characters that carry nothing a reader would see.
bool isDropped(char32_t c) {
  return (c < 0x20 && c != '\t') || (c >= 0x7F && c < 0xA0) || c == 0xAD || c == 0x200B ||
         c == 0x200C || c == 0x200D || c == 0x2060 || c == 0xFEFF;
}

}  // namespace

void appendCodePoint(std::string& out, char32_t c) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::optional<std::string_view> boxMark(char32_t c) {
  switch (c) {
    case 0x2611:  // ☑
    case 0x2612:  // ☒
    case 0xF0FD:  // Wingdings ballot box with X
    case 0xF0FE:  // Wingdings ballot box with check
    case 0xF078:  // Wingdings ⌧
      return kTicked;
    case 0x2610:  // ☐
    case 0xF0A8:  // Wingdings empty box
    case 0xF06F:  // Wingdings □
      return kEmpty;
    default:
      return std::nullopt;
  }
}

std::string clean(std::string_view raw) {
  const std::string utf8 = isValidUtf8(raw) ? std::string(raw) : toUtf8(raw);
  const std::string_view s = utf8;
  std::string out;
  out.reserve(s.size());
  // Pending separator between what is written and what comes next: none, a space or a tab (a
  // tab wins over spaces around it).
  enum class Gap { None, Space, Tab } gap = Gap::None;
  auto flushGap = [&] {
    if (!out.empty() && gap != Gap::None) out += gap == Gap::Tab ? '\t' : ' ';
    gap = Gap::None;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const char32_t c = decode(s, i);
    if (c == '\t') {
      gap = Gap::Tab;
    } else if (isSpaceLike(c) || isLineBreak(c)) {
      if (gap == Gap::None) gap = Gap::Space;
    } else if (isDropped(c)) {
      continue;
    } else if (const auto mark = boxMark(c)) {
      // A mark stands apart from the words around it: "Oui☒" is "Oui [X]".
      if (gap == Gap::None) gap = Gap::Space;
      flushGap();
      out += *mark;
      gap = Gap::Space;  // written only if something follows
    } else {
      flushGap();
      appendCodePoint(out, c);
    }
  }
  return out;
}

bool LineSink::add(std::string_view raw, std::string_view origin) {
  if (error_) return false;
  std::string text = clean(raw);
  if (text.empty()) return true;
  if (lines_.size() >= limits_.max_lines) {
    error_ = makeError(too_complex_, std::string(what_) + " : plus de " +
                                         std::to_string(limits_.max_lines) +
                                         " lignes de texte, ce n'est pas une fiche de demande.");
    return false;
  }
  bytes_ += text.size();
  if (bytes_ > limits_.max_text_bytes) {
    error_ = makeError(too_complex_, std::string(what_) + " : plus de " +
                                         std::to_string(limits_.max_text_bytes / 1024) +
                                         " Kio de texte, ce n'est pas une fiche de demande.");
    return false;
  }
  lines_.push_back({std::move(text), std::string(origin)});
  return true;
}

}  // namespace liaison::parse::form_lines
