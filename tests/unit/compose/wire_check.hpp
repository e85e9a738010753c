#pragma once
// Checks shared by the compose tests: what SMTP accepts without 8BITMIME.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace liaison::compose::test {

// 7-bit clean (no NUL, nothing above 127), CRLF line ends only, lines of at most 998 octets.
inline ::testing::AssertionResult isSmtpSafe(std::string_view wire) {
  std::size_t line = 0;
  std::size_t number = 1;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    auto c = static_cast<unsigned char>(wire[i]);
    if (c == 0 || c >= 0x80)
      return ::testing::AssertionFailure() << "octet " << int{c} << " on line " << number;
    if (c == '\r') {
      if (i + 1 >= wire.size() || wire[i + 1] != '\n')
        return ::testing::AssertionFailure() << "bare CR on line " << number;
      continue;
    }
    if (c == '\n') {
      if (i == 0 || wire[i - 1] != '\r')
        return ::testing::AssertionFailure() << "bare LF on line " << number;
      line = 0;
      ++number;
      continue;
    }
    if (++line > 998) return ::testing::AssertionFailure() << "line " << number << " over 998";
  }
  return ::testing::AssertionSuccess();
}

// "\n" → "\r\n".
inline std::string crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

}  // namespace liaison::compose::test
