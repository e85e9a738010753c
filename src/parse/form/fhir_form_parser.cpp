// Questionnaire and QuestionnaireResponse (FHIR R4 JSON) → form model.

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "core/form/answer.hpp"
#include "parse/form/form_parser.hpp"
#include "parse/form/value_parser.hpp"
#include "parse/json/json_util.hpp"
#include "parse/text/encoding.hpp"

namespace liaison::parse {
namespace {

using form::AnswerValue;
using form::Coding;
using form::Item;
using form::ItemType;
using rapidjson::Value;

std::optional<Coding> readCoding(const Value& v) {
  if (!v.IsObject()) return std::nullopt;
  Coding c;
  if (auto s = json::getString(v, "system")) c.system = *s;
  if (auto s = json::getString(v, "code")) c.code = *s;
  if (auto s = json::getString(v, "display")) c.display = *s;
  if (c.code.empty()) return std::nullopt;
  return c;
}

// value[x] of answerOption / initial / enableWhen.answer[x] / QuestionnaireResponse answers.
std::optional<AnswerValue> readValueX(const Value& obj, std::string_view prefix) {
  if (!obj.IsObject()) return std::nullopt;
  for (auto m = obj.MemberBegin(); m != obj.MemberEnd(); ++m) {
    std::string_view key = json::view(m->name);
    if (key.substr(0, prefix.size()) != prefix) continue;
    std::string_view type = key.substr(prefix.size());
    const Value& v = m->value;
    if (type == "Boolean" && v.IsBool()) return AnswerValue{v.GetBool()};
    if (type == "Integer" && v.IsInt64()) return AnswerValue{v.GetInt64()};
    if (type == "Decimal" && v.IsNumber()) return AnswerValue{form::Decimal{v.GetDouble()}};
    if ((type == "String" || type == "Uri") && v.IsString())
      return AnswerValue{std::string(json::view(v))};
    if ((type == "Date" || type == "DateTime") && v.IsString()) {
      if (auto d = parseFhirDate(json::view(v))) return AnswerValue{*d};
      return std::nullopt;
    }
    if (type == "Coding") {
      if (auto c = readCoding(v)) return AnswerValue{*c};
    }
  }
  return std::nullopt;
}

Error profileError(std::string detail) {
  return makeError(Errc::ProfileInvalid, std::move(detail));
}

// The options of a contained ValueSet (enumerated concepts of compose.include) with their
// designations as aliases: shared by the items that offer the same answers (Oui/Non/Inconnu).
struct OptionSet {
  std::vector<Coding> options;
  std::vector<std::vector<std::string>> aliases;
};
using OptionSets = std::vector<std::pair<std::string, OptionSet>>;  // "#id" → options

std::optional<Error> readContained(const Value& doc, OptionSets& sets) {
  const Value* contained = json::getArray(doc, "contained");
  if (contained == nullptr) return std::nullopt;
  for (const Value& r : contained->GetArray()) {
    if (json::getString(r, "resourceType") != std::optional<std::string_view>("ValueSet")) continue;
    auto id = json::getString(r, "id");
    if (!id) return profileError("contained ValueSet without id");
    OptionSet set;
    const Value* compose = json::getMember(r, "compose");
    const Value* includes = compose != nullptr ? json::getArray(*compose, "include") : nullptr;
    if (includes == nullptr) return profileError("ValueSet " + std::string(*id) + ": no compose");
    for (const Value& include : includes->GetArray()) {
      auto system = json::getString(include, "system");
      const Value* concepts = json::getArray(include, "concept");
      if (!system || concepts == nullptr)
        return profileError("ValueSet " + std::string(*id) + ": include without system/concept");
      for (const Value& c : concepts->GetArray()) {
        Coding coding;
        coding.system = *system;
        if (auto code = json::getString(c, "code")) coding.code = *code;
        if (auto display = json::getString(c, "display")) coding.display = *display;
        if (coding.code.empty())
          return profileError("ValueSet " + std::string(*id) + ": concept without code");
        std::vector<std::string> aliases;
        if (const Value* designations = json::getArray(c, "designation")) {
          for (const Value& d : designations->GetArray()) {
            if (auto v = json::getString(d, "value")) aliases.emplace_back(*v);
          }
        }
        set.options.push_back(std::move(coding));
        set.aliases.push_back(std::move(aliases));
      }
    }
    sets.emplace_back("#" + std::string(*id), std::move(set));
  }
  return std::nullopt;
}

std::optional<Error> readItems(const Value& array, std::optional<std::size_t> parent,
                               form::Questionnaire& q, const OptionSets& sets) {
  for (const Value& jitem : array.GetArray()) {
    Item item;
    auto link_id = json::getString(jitem, "linkId");
    auto type = json::getString(jitem, "type");
    if (!link_id || !type) return profileError("item without linkId or type");
    item.link_id = *link_id;
    auto parsed_type = form::itemTypeFromString(*type);
    if (!parsed_type) return profileError("item " + item.link_id + ": unsupported type");
    item.type = *parsed_type;
    if (auto t = json::getString(jitem, "text")) item.text = *t;
    if (auto* r = json::getMember(jitem, "required"); r != nullptr && r->IsBool())
      item.required = r->GetBool();
    if (auto* r = json::getMember(jitem, "repeats"); r != nullptr && r->IsBool())
      item.repeats = r->GetBool();
    if (auto b = json::getString(jitem, "enableBehavior")) item.enable_when_all = (*b == "all");
    if (const Value* opts = json::getArray(jitem, "answerOption")) {
      for (const Value& o : opts->GetArray()) {
        auto c = json::getMember(o, "valueCoding");
        auto coding = c != nullptr ? readCoding(*c) : std::nullopt;
        if (!coding)
          return profileError("item " + item.link_id + ": answerOption without valueCoding");
        item.options.push_back(std::move(*coding));
      }
      item.option_aliases.resize(item.options.size());
    } else if (auto vs = json::getString(jitem, "answerValueSet")) {
      const OptionSet* set = nullptr;
      for (const auto& [id, s] : sets) {
        if (id == *vs) set = &s;
      }
      if (set == nullptr)
        return profileError("item " + item.link_id + ": answerValueSet " + std::string(*vs) +
                            " is not a contained ValueSet");
      item.options = set->options;
      item.option_aliases = set->aliases;
    }
    if (const Value* init = json::getArray(jitem, "initial"); init != nullptr && !init->Empty()) {
      item.initial = readValueX((*init)[0], "value");
    }
    if (const Value* conds = json::getArray(jitem, "enableWhen")) {
      for (const Value& c : conds->GetArray()) {
        form::EnableWhen ew;
        auto question = json::getString(c, "question");
        auto op = json::getString(c, "operator");
        if (!question || !op) return profileError("item " + item.link_id + ": bad enableWhen");
        ew.question = *question;
        if (*op == "exists") {
          ew.op = form::EnableOperator::Exists;
        } else if (*op == "=") {
          ew.op = form::EnableOperator::Equal;
        } else if (*op == "!=") {
          ew.op = form::EnableOperator::NotEqual;
        } else {
          return profileError("item " + item.link_id + ": enableWhen operator not supported");
        }
        auto answer = readValueX(c, "answer");
        if (!answer) return profileError("item " + item.link_id + ": enableWhen without answer");
        ew.answer = std::move(*answer);
        item.enable_when.push_back(std::move(ew));
      }
    }
    if (const Value* exts = json::getArray(jitem, "extension")) {
      for (const Value& e : exts->GetArray()) {
        auto url = json::getString(e, "url");
        if (url == form::kExtUnit) {
          const Value* coding = json::getMember(e, "valueCoding");
          auto code = coding != nullptr ? json::getString(*coding, "code") : std::nullopt;
          if (!code) return profileError("item " + item.link_id + ": unit without code");
          item.unit = *code;
          continue;
        }
        if (!url || url->substr(0, form::kExtensionBase.size()) != form::kExtensionBase) continue;
        std::string_view name = url->substr(form::kExtensionBase.size());
        if (name == form::kExtLabelAlias) {
          if (auto s = json::getString(e, "valueString")) item.aliases.emplace_back(*s);
        } else if (name == form::kExtRequiredTrue) {
          auto code = json::getString(e, "valueCode");
          bool found = false;
          for (const ErrcInfo& row : catalogue()) {
            if (code && row.code == *code) {
              item.required_true = row.errc;
              found = true;
            }
          }
          if (!found) return profileError("item " + item.link_id + ": unknown issue code");
        } else if (name == form::kExtLabelSuffix) {
          if (auto v = json::getString(e, "valueString")) item.label_suffixes.emplace_back(*v);
        } else if (name == form::kExtAddressPostalCode || name == form::kExtAddressCity) {
          auto v = json::getString(e, "valueString");
          if (!v) return profileError("item " + item.link_id + ": address part without linkId");
          (name == form::kExtAddressCity ? item.address_city : item.address_postal_code) = *v;
        } else if (name == form::kExtRequiredOneOf) {
          auto s = json::getString(e, "valueString");
          if (!s) return profileError("item " + item.link_id + ": required-one-of without value");
          std::size_t pos = 0;
          while (pos < s->size()) {
            std::size_t end = s->find(' ', pos);
            if (end == std::string_view::npos) end = s->size();
            if (end > pos) item.required_one_of.emplace_back(s->substr(pos, end - pos));
            pos = end + 1;
          }
        }
      }
    }
    item.parent = parent;
    const Value* children = json::getArray(jitem, "item");
    std::size_t index = q.addItem(std::move(item));
    if (parent) {
      q.addChild(*parent, index);
    } else {
      q.addRoot(index);
    }
    if (children != nullptr) {
      if (auto err = readItems(*children, index, q, sets)) return err;
    }
  }
  return std::nullopt;
}

std::string typeName(const AnswerValue& v) {
  switch (v.index()) {
    case 0:
      return "booléen";
    case 1:
      return "entier";
    case 2:
      return "nombre";
    case 3:
      return "texte";
    case 4:
      return "date";
    default:
      return "code";
  }
}

// Converts an answer value to what the item expects; nullopt when it cannot.
std::optional<AnswerValue> conform(const Item& item, AnswerValue v) {
  switch (item.type) {
    case ItemType::Boolean:
      if (std::holds_alternative<bool>(v)) return v;
      return std::nullopt;
    case ItemType::Integer:
      if (std::holds_alternative<std::int64_t>(v)) return v;
      return std::nullopt;
    case ItemType::Decimal:
      if (auto* d = std::get_if<form::Decimal>(&v)) return AnswerValue{*d};
      if (auto* i = std::get_if<std::int64_t>(&v))
        return AnswerValue{form::Decimal{static_cast<double>(*i)}};
      return std::nullopt;
    case ItemType::Date:
    case ItemType::DateTime:
      if (std::holds_alternative<form::Date>(v)) return v;
      return std::nullopt;
    case ItemType::String:
    case ItemType::Text:
      if (std::holds_alternative<std::string>(v)) return v;
      return std::nullopt;
    case ItemType::Choice:
    case ItemType::OpenChoice:
      if (auto* c = std::get_if<Coding>(&v)) {
        for (const Coding& opt : item.options) {
          if (opt.code == c->code && (c->system.empty() || opt.system == c->system))
            return AnswerValue{opt};
        }
        return std::nullopt;
      }
      if (auto* s = std::get_if<std::string>(&v)) {
        if (auto opt = matchOption(item, *s)) return AnswerValue{*opt};
        if (item.type == ItemType::OpenChoice) return v;
      }
      return std::nullopt;
    case ItemType::Group:
    case ItemType::Display:
      return std::nullopt;
  }
  return std::nullopt;
}

// Forms nest a few levels; hostile input may nest thousands: stop well before the stack does.
constexpr int kMaxItemDepth = 16;

// `path` is the FHIRPath of the array's parent, extended and restored in place (one string
// for the whole walk rather than one per element).
void readResponseItems(const Value& array, std::string& path, ParsedForm& out, int depth = 0) {
  if (depth > kMaxItemDepth) {
    out.issues.add(Errc::FhirStructure, "Éléments imbriqués trop profondément : ignorés.", path);
    return;
  }
  const form::Questionnaire& q = out.response.questionnaire();
  const std::size_t base = path.size();
  std::size_t i = 0;
  for (const Value& jitem : array.GetArray()) {
    path.resize(base);
    path += ".item[";
    path += std::to_string(i++);
    path += ']';
    const std::size_t here = path.size();
    auto link_id = json::getString(jitem, "linkId");
    if (!link_id) {
      out.issues.add(Errc::FhirStructure, "Élément de réponse sans linkId.", path);
      continue;
    }
    const Item* item = q.find(*link_id);
    if (item == nullptr) {
      out.issues.add(Errc::FormUnknownItem,
                     "Question inconnue du formulaire « " + std::string(*link_id) + " » : ignorée.",
                     path, std::string(*link_id));
    } else if (const Value* answers = json::getArray(jitem, "answer")) {
      std::size_t j = 0;
      for (const Value& ja : answers->GetArray()) {
        path.resize(here);
        path += ".answer[";
        path += std::to_string(j++);
        path += ']';
        auto raw = readValueX(ja, "value");
        std::optional<AnswerValue> value;
        if (raw) value = conform(*item, *raw);
        if (!value) {
          out.issues.add(Errc::FormAnswerInvalid,
                         "Réponse invalide à « " + item->text + " »" +
                             (raw ? " (" + typeName(*raw) + " non accepté)" : "") + ".",
                         path, item->link_id);
        } else if (!item->repeats && out.response.answered(item->index)) {
          out.issues.add(
              Errc::FormAnswerRepeated,
              "Plusieurs réponses à « " + item->text + " » : seule la première est gardée.", path,
              item->link_id);
        } else {
          out.response.add(item->index, form::Answer{std::move(*value), path});
          ++out.recognised;
        }
        if (const Value* nested = json::getArray(ja, "item")) {
          readResponseItems(*nested, path, out, depth + 1);
        }
      }
    }
    if (const Value* nested = json::getArray(jitem, "item")) {
      path.resize(here);
      readResponseItems(*nested, path, out, depth + 1);
    }
  }
  path.resize(base);
}

}  // namespace

Result<form::Questionnaire> parseQuestionnaire(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                    text.size());
  if (doc.HasParseError()) {
    return profileError(std::string("Questionnaire JSON: ") +
                        rapidjson::GetParseError_En(doc.GetParseError()) + " at " +
                        json::positionOf(text, doc.GetErrorOffset()));
  }
  if (json::getString(doc, "resourceType") != std::optional<std::string_view>("Questionnaire")) {
    return profileError("not a Questionnaire");
  }
  form::Questionnaire q;
  if (auto s = json::getString(doc, "url")) q.url = *s;
  if (auto s = json::getString(doc, "version")) q.version = *s;
  if (auto s = json::getString(doc, "name")) q.name = *s;
  if (auto s = json::getString(doc, "title")) q.title = *s;
  if (q.url.empty()) return profileError("Questionnaire without url");
  if (const Value* exts = json::getArray(doc, "extension")) {
    for (const Value& e : exts->GetArray()) {
      auto url = json::getString(e, "url");
      auto v = json::getString(e, "valueString");
      if (!url || !v || url->substr(0, form::kExtensionBase.size()) != form::kExtensionBase)
        continue;
      const std::string_view name = url->substr(form::kExtensionBase.size());
      if (name == form::kExtAuthoredLabel) q.authored_labels.emplace_back(*v);
      if (name == form::kExtTitleAlias) q.title_aliases.emplace_back(*v);
    }
  }
  OptionSets sets;
  if (auto err = readContained(doc, sets)) return *err;
  const Value* items = json::getArray(doc, "item");
  if (items == nullptr) return profileError("Questionnaire without items");
  if (auto err = readItems(*items, std::nullopt, q, sets)) return *err;
  q.index();
  for (const Item& item : q.items()) {
    if (q.find(item.link_id)->index != item.index)
      return profileError("duplicate linkId " + item.link_id);
    for (const auto& ew : item.enable_when) {
      if (q.find(ew.question) == nullptr)
        return profileError("enableWhen on unknown " + ew.question);
    }
    for (const auto& id : item.required_one_of) {
      if (q.find(id) == nullptr) return profileError("required-one-of names unknown " + id);
    }
    for (const std::string* id : {&item.address_postal_code, &item.address_city}) {
      if (!id->empty() && q.find(*id) == nullptr)
        return profileError("item " + item.link_id + ": address part names unknown " + *id);
    }
  }
  return q;
}

Result<ParsedForm> parseQuestionnaireResponse(std::string_view text,
                                              const form::Questionnaire& questionnaire) {
  // JSON is UTF-8 (RFC 8259); checked here in one fast pass, so that a non-UTF-8 byte outside a
  // string is named for what it is too.
  if (!isValidUtf8(text)) {
    return makeError(Errc::JsonInvalidUtf8, "JSON invalide : le texte n'est pas en UTF-8.");
  }
  // Parsed in place in a copy: strings then point into the buffer instead of being copied.
  std::string buffer(text);
  rapidjson::Document doc;
  if (auto bad = json::parseExternalJsonInsitu(doc, buffer.data(), text)) return *bad;
  auto type = json::getString(doc, "resourceType");
  if (!type)
    return makeError(Errc::FhirStructure, "JSON sans resourceType : pas une ressource FHIR.");
  if (*type != "QuestionnaireResponse") {
    return makeError(Errc::FhirResourceUnsupported,
                     "Ressource FHIR " + std::string(*type) + " non prise en charge ici.");
  }
  auto canonical = json::getString(doc, "questionnaire");
  std::string_view url =
      canonical ? canonical->substr(0, canonical->find('|')) : std::string_view{};
  if (url != questionnaire.url) {
    return makeError(Errc::QuestionnaireMismatch,
                     "QuestionnaireResponse.questionnaire ne désigne pas le formulaire attendu (" +
                         questionnaire.url + ").");
  }
  ParsedForm out{form::FormResponse(questionnaire), {}, 0};
  if (auto s = json::getString(doc, "authored")) out.response.authored = std::string(*s);
  if (auto s = json::getString(doc, "id")) out.response.id = *s;
  if (const Value* items = json::getArray(doc, "item")) {
    std::string path = "QuestionnaireResponse";
    readResponseItems(*items, path, out);
  }
  return out;
}

}  // namespace liaison::parse
