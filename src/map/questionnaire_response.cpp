#include "map/questionnaire_response.hpp"

#include "core/json/json_out.hpp"

namespace liaison::map {
namespace {

using json::JsonOut;

struct AnswerWriter {
  JsonOut& w;
  void operator()(bool b) const {
    w.KeyRaw(R"("valueBoolean":)");
    w.Bool(b);
  }
  void operator()(std::int64_t i) const {
    w.KeyRaw(R"("valueInteger":)");
    w.Int64(i);
  }
  void operator()(const form::Decimal& d) const {
    w.KeyRaw(R"("valueDecimal":)");
    w.Double(d.value);
  }
  void operator()(const std::string& s) const {
    w.KeyRaw(R"("valueString":)");
    w.String(s);
  }
  void operator()(const form::Date& d) const {
    w.KeyRaw(R"("valueDate":)");
    w.String(form::toString(d));
  }
  void operator()(const form::Coding& c) const {
    w.KeyRaw(R"("valueCoding":)");
    w.StartObject();
    if (!c.system.empty()) {
      w.KeyRaw(R"("system":)");
      w.String(c.system);
    }
    w.KeyRaw(R"("code":)");
    w.String(c.code);
    if (!c.display.empty()) {
      w.KeyRaw(R"("display":)");
      w.String(c.display);
    }
    w.EndObject();
  }
};

// "\"url\":\"…/questionnaire-answer-source\"", the extension saying where an answer was read.
const std::string kSourceUrl = R"("url":)" + JsonOut::quoted(std::string(form::kExtensionBase) +
                                                             std::string(form::kExtAnswerSource));

struct Writing {
  const form::FormResponse& r;
  const std::vector<std::string>& members;
  std::vector<char> has_answers;  // per item: itself or a descendant answered
  JsonOut& w;

  void item(std::size_t index) {
    const form::Item& item = r.questionnaire().at(index);
    w.StartObjectWith(members[index]);
    if (r.answered(index)) {
      w.KeyRaw(R"("answer":)");
      w.StartArray();
      for (const form::Answer& a : r.answers(index)) {
        w.StartObject();
        // Where the answer was read ("ligne 12", "champ PDF patient_nom"…), for the inbox.
        if (!a.location.empty()) {
          w.KeyRaw(R"("extension":)");
          w.StartArray();
          w.StartObjectWith(kSourceUrl);
          w.KeyRaw(R"("valueString":)");
          w.String(a.location);
          w.EndObject();
          w.EndArray();
        }
        std::visit(AnswerWriter{w}, a.value);
        w.EndObject();
      }
      w.EndArray();
    }
    bool children = false;
    for (std::size_t child : item.children)
      children = children || has_answers[child] != 0;
    if (children) {
      w.KeyRaw(R"("item":)");
      w.StartArray();
      for (std::size_t child : item.children) {
        if (has_answers[child] != 0) this->item(child);
      }
      w.EndArray();
    }
    w.EndObject();
  }
};

}  // namespace

ResponseItemsWriter::ResponseItemsWriter(const form::Questionnaire& questionnaire)
    : questionnaire_(&questionnaire) {
  for (const form::Item& item : questionnaire.items()) {
    std::string m = R"("linkId":)" + JsonOut::quoted(item.link_id);
    if (!item.text.empty()) m += R"(,"text":)" + JsonOut::quoted(item.text);
    members_.push_back(std::move(m));
  }
}

std::string ResponseItemsWriter::write(const form::FormResponse& response) const {
  const auto& items = questionnaire_->items();
  std::string out;
  out.reserve(16 * 1024);
  JsonOut w(out);
  Writing writing{response, members_, std::vector<char>(items.size(), 0), w};
  // Children come after their parent in the item list: one backwards pass marks the groups.
  for (std::size_t i = items.size(); i-- > 0;) {
    if (response.answered(i)) writing.has_answers[i] = 1;
    if (writing.has_answers[i] != 0 && items[i].parent) writing.has_answers[*items[i].parent] = 1;
  }
  w.StartArray();
  for (std::size_t root : questionnaire_->roots()) {
    if (writing.has_answers[root] != 0) writing.item(root);
  }
  w.EndArray();
  return out;
}

}  // namespace liaison::map
