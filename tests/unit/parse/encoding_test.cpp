#include "parse/text/encoding.hpp"

#include <gtest/gtest.h>

#include "parse/form/form_parser.hpp"
#include "support/test_support.hpp"

namespace liaison::parse {
namespace {

TEST(Encoding, StrictUtf8) {
  for (std::string_view ok :
       {"", "ascii only, longer than eight bytes", "Hérédité", "☒ case cochée",
        "\xF0\x9F\x98\x80 emoji", "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_TRUE(isValidUtf8(ok)) << ok;
  }
  struct Bad {
    const char* why;
    std::string_view bytes;
  };
  for (const Bad& b : {Bad{"latin-1 é",
                           "H\xE9r\xE9"
                           "dit\xE9"},
                       Bad{"lone continuation", "ab\x80"}, Bad{"overlong /", "\xC0\xAF"},
                       Bad{"overlong 3-byte", "\xE0\x80\xAF"}, Bad{"surrogate", "\xED\xA0\x80"},
                       Bad{"above U+10FFFF", "\xF4\x90\x80\x80"},
                       Bad{"F5 lead", "\xF5\x80\x80\x80"}, Bad{"truncated", "abcdefgh\xE2\x98"},
                       Bad{"bad second byte after ASCII run", "abcdefghij\xC3("}}) {
    EXPECT_FALSE(isValidUtf8(b.bytes)) << b.why;
  }
}

TEST(Encoding, Windows1252BecomesUtf8) {
  EXPECT_EQ(toUtf8("H\xE9r\xE9"
                   "dit\xE9 \x80 \x9C"),
            "Hérédité € œ");
  EXPECT_EQ(toUtf8("\xEF\xBB\xBFNom : DURAND"), "Nom : DURAND");
  EXPECT_EQ(toUtf8("d\xE9j\xE0 \x81"), "déjà \xEF\xBF\xBD");  // 0x81 is undefined in windows-1252
}

TEST(Encoding, QuestionnaireResponseMustBeUtf8WithoutNul) {
  const auto& q = test::cardioPlus()->questionnaire;
  std::string qr = test::readRepoFile("samples/fiches/questionnaire-response.json");
  std::string latin1 = qr;
  latin1.replace(latin1.find("LEGRAND"), 7, "L\xC9GRAND");  // É in latin-1
  latin1[latin1.find("L\xC9GRAND") + 1] = '\xC9';
  auto r = parseQuestionnaireResponse(latin1, q);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::JsonInvalidUtf8);
  std::string nul = qr;
  nul.insert(nul.size() - 2, std::string("\0", 1));
  auto n = parseQuestionnaireResponse(nul, q);
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().code, Errc::JsonMalformed);
  EXPECT_TRUE(parseQuestionnaireResponse(qr, q).has_value());
}

}  // namespace
}  // namespace liaison::parse
