#include "parse/text/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace liaison::parse {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The text without its white space. A 16-byte block whose smallest byte is above 0x20 holds
// none and is copied whole (the compiler vectorises the minimum): MIME lines are 76 characters.
std::string compacted(std::string_view in) {
  std::string out(in.size(), '\0');
  char* w = out.data();
  std::size_t i = 0;
  for (; i + 16 <= in.size(); i += 16) {
    unsigned char low = 0xFF;
    for (std::size_t j = 0; j < 16; ++j)
      low = std::min(low, static_cast<unsigned char>(in[i + j]));
    if (low > 0x20) {
      std::memcpy(w, in.data() + i, 16);
      w += 16;
      continue;
    }
    for (std::size_t j = 0; j < 16; ++j) {
      if (!isSpace(in[i + j])) *w++ = in[i + j];
    }
  }
  for (; i < in.size(); ++i) {
    if (!isSpace(in[i])) *w++ = in[i];
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
  return out;
}

}  // namespace

std::optional<std::string> decodeBase64(std::string_view encoded) {
  const std::string text = compacted(encoded);
  if (text.empty()) return std::string();
  if (text.size() % 4 != 0 || text.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  // EVP_DecodeBlock decodes '=' as zero bits and counts them in its result: the padding is
  // checked here (at most two, only at the very end) and its bytes taken off afterwards.
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text[text.size() - 2] == '=') ++padding;
  if (text.find('=') < text.size() - padding) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace liaison::parse
