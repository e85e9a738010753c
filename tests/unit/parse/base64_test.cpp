#include "parse/text/base64.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

namespace liaison::parse {
namespace {

std::string encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Every length from 0 to 300 (all three padding cases, blocks of 16 cut anywhere), bare and as
// MIME writes it (CRLF after 76 characters), gives the bytes back.
TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n <= 300; ++n) {
    const std::string text = encode(bytes);
    std::string mime;
    for (std::size_t i = 0; i < text.size(); i += 76)
      mime += text.substr(i, 76) + "\r\n";
    EXPECT_EQ(decodeBase64(text), bytes) << n;
    EXPECT_EQ(decodeBase64(mime), bytes) << n;
    bytes += static_cast<char>((n * 37 + 11) & 0xFF);  // every byte value, zeros included
  }
}

TEST(Base64, WhiteSpaceAnywhereIsSkipped) {
  EXPECT_EQ(decodeBase64(" Q U\tJ\rD\nR A = = \n"), "ABCD");
  EXPECT_EQ(decodeBase64("\n\n"), "");
  EXPECT_EQ(decodeBase64(""), "");
}

TEST(Base64, RefusesWhatIsNotStrictBase64) {
  for (std::string_view bad : {
           "QUJDRA",                           // 6 characters: truncated
           "QUJD*EFG",                         // outside the alphabet
           "QUJD-_==",                         // base64url
           "QQ==QUJD",                         // data after the padding
           "Q===",                             // three pads
           "====",                             // padding only
           "QQ=A",                             // a pad inside the last quad
           "QUJDRUZHSElKS0xNTk9Q\x01RSVFVVc",  // a control character in a 16-byte block
           "QUJD\xC3\xA9RAQUI=",               // a non-ASCII byte (12 bytes)
       }) {
    EXPECT_FALSE(decodeBase64(bad).has_value()) << bad;
  }
  EXPECT_TRUE(decodeBase64("QUJDRUZHSElKS0xNTk9QARSVFVVc").has_value());  // the same, valid
}

}  // namespace
}  // namespace liaison::parse
