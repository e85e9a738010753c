#include "core/json/json_out.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <random>

namespace liaison::json {
namespace {

std::string roundTrip(std::string_view text) {
  std::string out;
  JsonOut w(out);
  w.StartArray();
  w.String(text);
  w.EndArray();
  rapidjson::Document d;
  d.Parse(out.data(), out.size());
  EXPECT_FALSE(d.HasParseError()) << out;
  if (d.HasParseError()) return {};
  return std::string(d[0].GetString(), d[0].GetStringLength());
}

TEST(JsonOut, EscapesEveryByteThatMustBeWherever) {
  // Each special byte at every offset of a 17-byte string, so that the 8-byte scan meets it in
  // the first word, the second word and the tail.
  std::string specials = "\"\\";
  for (int c = 0; c < 0x20; ++c)
    specials += static_cast<char>(c);
  for (char special : specials) {
    for (std::size_t at = 0; at < 17; ++at) {
      std::string s(17, 'a');
      s[at] = special;
      ASSERT_EQ(roundTrip(s), s) << "byte " << int(special) << " at " << at;
    }
  }
  EXPECT_EQ(JsonOut::quoted("a\"b\\c\nd\x01"), R"("a\"b\\c\nd\u0001")");
  EXPECT_EQ(JsonOut::quoted("Hérédité ☒ Œdème"), "\"Hérédité ☒ Œdème\"");
}

TEST(JsonOut, RandomBytesRoundTrip) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, ' ');
    for (char& c : s)
      c = static_cast<char>(rng() % 128);  // ASCII: RapidJSON validates nothing else here
    ASSERT_EQ(roundTrip(s), s);
  }
}

TEST(JsonOut, StructureCommasKeysAndNumbers) {
  std::string out;
  JsonOut w(out);
  w.StartObject();
  w.Key("a");
  w.Int64(-3);
  w.KeyRaw(R"("b":)");
  w.StartArray();
  w.Double(162);
  w.Double(72.5);
  w.Bool(false);
  w.Null();
  w.RawValue("{\"x\":1}", 7);
  w.StartObject();
  w.EndObject();
  w.EndArray();
  w.Key("c");
  w.String("d");
  w.EndObject();
  EXPECT_EQ(out, R"({"a":-3,"b":[162.0,72.5,false,null,{"x":1},{}],"c":"d"})");
}

}  // namespace
}  // namespace liaison::json
