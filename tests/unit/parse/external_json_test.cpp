// JSON from outside (parse/json: parseExternalJson): bounded depth without recursion, UTF-8
// checked, each failure its own code; and the REST body reader (prepareResource) that uses it.

#include <rapidjson/document.h>

#include <string>

#include <gtest/gtest.h>

#include "core/json/json_out.hpp"
#include "parse/json/json_util.hpp"
#include "pipeline/stored_intake.hpp"

namespace liaison {
namespace {

std::string nested(std::size_t depth, std::string_view inner = "1") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

TEST(ExternalJson, DepthUpToTheLimitIsRead) {
  rapidjson::Document doc;
  EXPECT_FALSE(json::parseExternalJson(doc, nested(json::kMaxExternalDepth)));
  ASSERT_TRUE(doc.IsArray());
  // Objects and arrays count alike.
  std::string mixed;
  for (unsigned i = 0; i < json::kMaxExternalDepth / 2; ++i)
    mixed += R"({"a":[)";
  for (unsigned i = 0; i < json::kMaxExternalDepth / 2; ++i)
    mixed += "]}";
  EXPECT_FALSE(json::parseExternalJson(doc, mixed));
  EXPECT_TRUE(doc.IsObject());
}

TEST(ExternalJson, OneLevelTooDeepIsJsonTooDeep) {
  rapidjson::Document doc;
  auto bad = json::parseExternalJson(doc, nested(json::kMaxExternalDepth + 1));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::JsonTooDeep);
  EXPECT_TRUE(doc.IsNull());
  bad = json::parseExternalJson(doc, R"({"a":{"b":{}}})", 2);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::JsonTooDeep);
}

TEST(ExternalJson, HugeNestingNeitherCrashesNorRecurses) {
  // 400 KB of brackets, the body that used to overflow the stack; unclosed and closed.
  rapidjson::Document doc;
  const std::string open(400 * 1024, '[');
  auto bad = json::parseExternalJson(doc, open);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::JsonTooDeep);
  bad = json::parseExternalJson(doc, nested(200 * 1024));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::JsonTooDeep);
  // In place too.
  std::string buffer = nested(200 * 1024);
  const std::string text = buffer;
  bad = json::parseExternalJsonInsitu(doc, buffer.data(), text);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::JsonTooDeep);
}

TEST(ExternalJson, InvalidUtf8IsItsOwnCode) {
  rapidjson::Document doc;
  for (std::string_view s :
       {std::string_view("{\"family\":\"L\xC9GRAND\"}"),        // latin-1
        std::string_view("{\"family\":\"\xC0\xAF\"}"),          // overlong '/'
        std::string_view("{\"family\":\"\xED\xA0\x80\"}"),      // a UTF-16 surrogate
        std::string_view("{\"family\":\"\xF4\x90\x80\x80\"}"),  // past U+10FFFF
        std::string_view("{\"famil\xFF\":1}")}) {               // in a key
    auto bad = json::parseExternalJson(doc, s);
    ASSERT_TRUE(bad) << s;
    EXPECT_EQ(bad->code, Errc::JsonInvalidUtf8) << s;
  }
  EXPECT_FALSE(json::parseExternalJson(doc, "{\"family\":\"L\xC3\x89GRAND \xF0\x9F\x98\x80\"}"));
  EXPECT_EQ(std::string(doc["family"].GetString()), "L\xC3\x89GRAND \xF0\x9F\x98\x80");
}

TEST(ExternalJson, MalformedAndNulAreJsonMalformedWithThePosition) {
  rapidjson::Document doc;
  auto bad = json::parseExternalJson(doc, "{\n\"a\": 1,\n}");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::JsonMalformed);
  EXPECT_NE(bad->detail.find("line 3, column 1"), std::string::npos) << bad->detail;
  // A NUL would end RapidJSON's stream early: "{}" then anything would pass.
  bad = json::parseExternalJson(doc, std::string_view("{}\0{\"x\"", 7));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::JsonMalformed);
  for (std::string_view s : {"", "[", "{} {}", "[1,]", "\"\\uD800\""}) {
    bad = json::parseExternalJson(doc, s);
    ASSERT_TRUE(bad) << s;
    EXPECT_EQ(bad->code, Errc::JsonMalformed) << s;
  }
}

TEST(ExternalJson, WhatPassesTheLimitCanBeWrittenAndCopied) {
  // The recursive walks after the parse (Accept into our writer, CopyFrom) stay within the
  // limit's depth.
  rapidjson::Document doc;
  ASSERT_FALSE(json::parseExternalJson(doc, nested(json::kMaxExternalDepth)));
  rapidjson::Document copy;
  copy.CopyFrom(doc, copy.GetAllocator());
  std::string out;
  json::JsonOut writer(out);
  json::JsonOutSax sax{writer};
  ASSERT_TRUE(copy.Accept(sax));
  EXPECT_EQ(out, nested(json::kMaxExternalDepth));
}

TEST(ExternalJson, RestBodyTooDeepOrNotUtf8IsRefusedWithItsCode) {
  const std::string deep = R"({"resourceType":"Patient","extension":)" + nested(100000) + "}";
  auto r = pipeline::prepareResource(deep, "Patient", "p1", "2026-12-07T10:00:00Z", false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::JsonTooDeep);
  auto u =
      pipeline::prepareResource("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\xE9\"}]}",
                                "Patient", "p1", "2026-12-07T10:00:00Z", false);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code, Errc::JsonInvalidUtf8);
  auto m = pipeline::prepareResource("{\"resourceType\":", "Patient", "p1", "2026-12-07T10:00:00Z",
                                     false);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::RestBodyInvalid);
  auto ok = pipeline::prepareResource(R"({"resourceType":"Patient","active":true})", "Patient",
                                      "p1", "2026-12-07T10:00:00Z", false);
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_NE(ok->find("\"active\":true"), std::string::npos);
  EXPECT_FALSE(pipeline::IncomingRules::builtIn().identifying("Patient", nested(100000)));
}

}  // namespace
}  // namespace liaison
