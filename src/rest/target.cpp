#include "rest/target.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace liaison::rest {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string urlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string urlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Target parseTarget(std::string_view target) {
  Target t;
  const std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) t.raw_query = std::string(target.substr(q + 1));
  std::size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    t.path.push_back(urlDecode(path.substr(start, end - start), false));
    start = end;
  }
  std::string_view query = t.raw_query;
  start = 0;
  while (start < query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      t.query.emplace_back(
          urlDecode(pair.substr(0, eq), true),
          eq == std::string_view::npos ? "" : urlDecode(pair.substr(eq + 1), true));
    }
    start = end + 1;
  }
  return t;
}

bool isFhirId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.'))
      return false;
  }
  return true;
}

namespace {
std::optional<std::int64_t> decimal(std::string_view value) {
  if (value.empty() || value.size() > 18) return std::nullopt;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < 0) return std::nullopt;
  return n;
}
}  // namespace

Result<int> parseCount(std::string_view value, int max) {
  // Digits only: "+5", " 5", "-1", "5x", "0x10" and "" are refused; a huge number is capped.
  if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos)
    return makeError(Errc::RestSearchInvalid, "_count : entier positif ou nul attendu");
  const std::size_t digits = value.size() - std::min(value.find_first_not_of('0'), value.size());
  if (digits > 9) return max;
  return static_cast<int>(std::min<std::int64_t>(*decimal(value), max));
}

std::optional<std::int64_t> parseVersion(std::string_view value) {
  if (value.empty() || value[0] < '0' || value[0] > '9') return std::nullopt;
  auto n = decimal(value);
  if (!n || *n < 1) return std::nullopt;
  return n;
}

}  // namespace liaison::rest
