#pragma once
// What the fiche tests compare of a QuestionnaireResponse: each linkId's answers as JSON, apart
// from where each was read (questionnaire-answer-source), which differs by layout and format.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/form/questionnaire.hpp"
#include "core/json/json_out.hpp"

namespace liaison::test {

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string compact(const rapidjson::Value& v) {
  std::string out;
  json::JsonOut w(out);
  json::JsonOutSax sax{w};
  v.Accept(sax);
  return out;
}

// linkId → its answers' value[x] as JSON; `sources` gets where each was read.
using Answers = std::map<std::string, std::vector<std::string>>;

inline void collect(const rapidjson::Value& items, Answers& out,
                    std::vector<std::string>& sources) {
  for (const auto& item : items.GetArray()) {
    if (item.HasMember("answer")) {
      for (const auto& a : item["answer"].GetArray()) {
        std::string value;
        for (auto m = a.MemberBegin(); m != a.MemberEnd(); ++m) {
          const std::string_view name = m->name.GetString();
          if (name == "extension") {
            for (const auto& e : m->value.GetArray()) {
              if (std::string_view(e["url"].GetString()).ends_with(form::kExtAnswerSource))
                sources.emplace_back(e["valueString"].GetString());
            }
          } else if (name.starts_with("value")) {
            value = std::string(name) + "=" + compact(m->value);
          }
        }
        out[item["linkId"].GetString()].push_back(value);
        if (a.HasMember("item")) collect(a["item"], out, sources);
      }
    }
    if (item.HasMember("item")) collect(item["item"], out, sources);
  }
}

}  // namespace liaison::test
