#include "map/questionnaire_response.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace liaison::map {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void writeString(JsonWriter& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

struct AnswerWriter {
  JsonWriter& w;
  void operator()(bool b) const {
    w.Key("valueBoolean");
    w.Bool(b);
  }
  void operator()(std::int64_t i) const {
    w.Key("valueInteger");
    w.Int64(i);
  }
  void operator()(const form::Decimal& d) const {
    w.Key("valueDecimal");
    w.Double(d.value);
  }
  void operator()(const std::string& s) const {
    w.Key("valueString");
    writeString(w, s);
  }
  void operator()(const form::Date& d) const {
    w.Key("valueDate");
    writeString(w, form::toString(d));
  }
  void operator()(const form::Coding& c) const {
    w.Key("valueCoding");
    w.StartObject();
    if (!c.system.empty()) {
      w.Key("system");
      writeString(w, c.system);
    }
    w.Key("code");
    writeString(w, c.code);
    if (!c.display.empty()) {
      w.Key("display");
      writeString(w, c.display);
    }
    w.EndObject();
  }
};

bool hasAnswers(const form::FormResponse& r, std::size_t index) {
  if (r.answered(index)) return true;
  for (std::size_t child : r.questionnaire().at(index).children) {
    if (hasAnswers(r, child)) return true;
  }
  return false;
}

void writeItem(const form::FormResponse& r, std::size_t index, JsonWriter& w) {
  const form::Item& item = r.questionnaire().at(index);
  w.StartObject();
  w.Key("linkId");
  writeString(w, item.link_id);
  if (!item.text.empty()) {
    w.Key("text");
    writeString(w, item.text);
  }
  if (r.answered(index)) {
    w.Key("answer");
    w.StartArray();
    for (const form::Answer& a : r.answers(index)) {
      w.StartObject();
      std::visit(AnswerWriter{w}, a.value);
      w.EndObject();
    }
    w.EndArray();
  }
  bool children = false;
  for (std::size_t child : item.children)
    children = children || hasAnswers(r, child);
  if (children) {
    w.Key("item");
    w.StartArray();
    for (std::size_t child : item.children) {
      if (hasAnswers(r, child)) writeItem(r, child, w);
    }
    w.EndArray();
  }
  w.EndObject();
}

}  // namespace

std::string writeResponseItems(const form::FormResponse& response) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  for (std::size_t root : response.questionnaire().roots()) {
    if (hasAnswers(response, root)) writeItem(response, root, w);
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace liaison::map
