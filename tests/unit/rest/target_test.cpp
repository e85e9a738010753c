// rest/target: the request target's parsing, pure.

#include "rest/target.hpp"

#include <gtest/gtest.h>

namespace liaison::rest {
namespace {

TEST(Target, SplitsPathAndDecodesEachSegment) {
  Target t = parseTarget("/Patient/abc/_history/2");
  EXPECT_EQ(t.path, (std::vector<std::string>{"Patient", "abc", "_history", "2"}));
  EXPECT_TRUE(t.query.empty());
  // Empty segments are dropped; an encoded '/' stays inside its segment.
  t = parseTarget("//Patient//a%2Fb/");
  EXPECT_EQ(t.path, (std::vector<std::string>{"Patient", "a/b"}));
  EXPECT_TRUE(parseTarget("/").path.empty());
  EXPECT_TRUE(parseTarget("").path.empty());
}

TEST(Target, PlusIsKeptInPathsAndIsASpaceInQueries) {
  Target t = parseTarget("/Binary/a+b?name=Marie+Claire&x=1%2B1");
  EXPECT_EQ(t.path[1], "a+b");
  ASSERT_EQ(t.query.size(), 2u);
  EXPECT_EQ(t.query[0], (std::pair<std::string, std::string>{"name", "Marie Claire"}));
  EXPECT_EQ(t.query[1].second, "1+1");
  EXPECT_EQ(t.raw_query, "name=Marie+Claire&x=1%2B1");
}

TEST(Target, QueryPairsKeepOrderAndEmptyValues) {
  Target t = parseTarget("/Patient?a=1&&b&c=&a=2");
  ASSERT_EQ(t.query.size(), 4u);
  EXPECT_EQ(t.query[1], (std::pair<std::string, std::string>{"b", ""}));
  EXPECT_EQ(t.query[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(t.query[3].second, "2");
}

TEST(Target, BrokenPercentEscapesAreKeptAsTyped) {
  EXPECT_EQ(urlDecode("%", false), "%");
  EXPECT_EQ(urlDecode("%4", false), "%4");
  EXPECT_EQ(urlDecode("%zz", false), "%zz");
  EXPECT_EQ(urlDecode("%41%42", false), "AB");
  EXPECT_EQ(urlDecode("a%00b", false), std::string("a\0b", 3));
}

TEST(Target, EncodeRoundTrips) {
  const std::string s = "a b+c/é&=?";
  EXPECT_EQ(urlDecode(urlEncode(s), true), s);
  EXPECT_EQ(urlEncode("Patient-1.x_y~"), "Patient-1.x_y~");
}

TEST(Target, FhirIds) {
  EXPECT_TRUE(isFhirId("a"));
  EXPECT_TRUE(isFhirId("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(isFhirId("A.b-9"));
  EXPECT_TRUE(isFhirId(std::string(64, 'x')));
  EXPECT_FALSE(isFhirId(std::string(65, 'x')));
  EXPECT_FALSE(isFhirId(""));
  for (const char* bad : {"a b", "a/b", "a+b", "a_b", "é", "a;b", "a%20", "_history", "$validate"})
    EXPECT_FALSE(isFhirId(bad)) << bad;
}

TEST(Target, CountIsOneRuleEverywhere) {
  EXPECT_EQ(*parseCount("0", 1000), 0);
  EXPECT_EQ(*parseCount("20", 1000), 20);
  EXPECT_EQ(*parseCount("007", 1000), 7);
  EXPECT_EQ(*parseCount("5000", 1000), 1000);                     // capped
  EXPECT_EQ(*parseCount("99999999999999999999999", 1000), 1000);  // capped, no overflow
  for (const char* bad : {"", "-1", "+5", " 5", "5 ", "5x", "0x10", "1e3", "abc"}) {
    auto r = parseCount(bad, 1000);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::RestSearchInvalid) << bad;
  }
}

TEST(Target, Versions) {
  EXPECT_EQ(parseVersion("1"), 1);
  EXPECT_EQ(parseVersion("42"), 42);
  EXPECT_FALSE(parseVersion("0"));
  EXPECT_FALSE(parseVersion("-1"));
  EXPECT_FALSE(parseVersion("1a"));
  EXPECT_FALSE(parseVersion(""));
  EXPECT_FALSE(parseVersion("99999999999999999999"));
}

}  // namespace
}  // namespace liaison::rest
