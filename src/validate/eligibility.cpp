#include "validate/eligibility.hpp"

#include <rapidjson/document.h>

#include <algorithm>

namespace liaison::validate {
namespace {

struct Rule {
  enum class Op : std::uint8_t {
    AgeAtLeast,
    Equals,
    AnyEquals,
    Answered,
    OutsideTerritory,
    NoValidNir,
    All,
    Any,
    Not
  };
  Op op = Op::All;
  int number = 0;
  std::vector<std::size_t> items;
  std::string code;
  std::vector<Rule> children;
};

struct Criterion {
  std::string code;
  std::string text;
  Rule rule;
};

Error configError(const std::string& why) {
  return makeError(Errc::ConfigInvalid, "ESS eligibility: " + why);
}

Result<std::size_t> itemOf(const rapidjson::Value& v, const form::Questionnaire& q) {
  if (!v.IsString()) return configError("item must be a linkId string");
  const form::Item* item = q.find(v.GetString());
  if (item == nullptr) return configError(std::string("unknown item ") + v.GetString());
  return item->index;
}

Result<Rule> parseRule(const rapidjson::Value& v, const form::Questionnaire& q) {
  if (!v.IsObject() || v.MemberCount() != 1)
    return configError("a rule is an object with one operator");
  const auto& m = *v.MemberBegin();
  std::string op = m.name.GetString();
  const rapidjson::Value& arg = m.value;
  Rule r;
  if (op == "ageAtLeast") {
    if (!arg.IsInt()) return configError("ageAtLeast takes a number");
    r.op = Rule::Op::AgeAtLeast;
    r.number = arg.GetInt();
  } else if (op == "equals" || op == "anyEquals") {
    r.op = op == "equals" ? Rule::Op::Equals : Rule::Op::AnyEquals;
    if (!arg.IsObject() || !arg.HasMember("code") || !arg["code"].IsString())
      return configError(op + " needs a code");
    r.code = arg["code"].GetString();
    if (op == "equals") {
      if (!arg.HasMember("item")) return configError("equals needs an item");
      auto i = itemOf(arg["item"], q);
      if (!i) return i.error();
      r.items.push_back(*i);
    } else {
      if (!arg.HasMember("items") || !arg["items"].IsArray())
        return configError("anyEquals needs items");
      for (const auto& it : arg["items"].GetArray()) {
        auto i = itemOf(it, q);
        if (!i) return i.error();
        r.items.push_back(*i);
      }
    }
  } else if (op == "answered") {
    r.op = Rule::Op::Answered;
    auto i = itemOf(arg, q);
    if (!i) return i.error();
    r.items.push_back(*i);
  } else if (op == "outsideTerritory") {
    r.op = Rule::Op::OutsideTerritory;
  } else if (op == "noValidNir") {
    r.op = Rule::Op::NoValidNir;
  } else if (op == "all" || op == "any") {
    r.op = op == "all" ? Rule::Op::All : Rule::Op::Any;
    if (!arg.IsArray()) return configError(op + " takes an array");
    for (const auto& c : arg.GetArray()) {
      auto child = parseRule(c, q);
      if (!child) return child;
      r.children.push_back(std::move(*child));
    }
  } else if (op == "not") {
    r.op = Rule::Op::Not;
    auto child = parseRule(arg, q);
    if (!child) return child;
    r.children.push_back(std::move(*child));
  } else {
    return configError("unknown rule " + op);
  }
  return r;
}

// What a criterion could not decide, for the secretariat: "« Angor » non renseigné".
using Doubts = std::vector<std::string>;

void doubt(Doubts* doubts, std::string why) {
  if (doubts != nullptr && std::find(doubts->begin(), doubts->end(), why) == doubts->end())
    doubts->push_back(std::move(why));
}

std::string named(const form::FormResponse& response, std::size_t item) {
  return "« " + response.questionnaire().at(item).text + " »";
}

// Not answered: said so, or "illisible" when the form named the item but its answer could not
// be read (then nobody knows what it said).
void unanswered(const form::FormResponse& response, std::size_t item, Doubts* doubts) {
  doubt(doubts, named(response, item) +
                    (response.unreadable(item) ? " illisible dans la fiche" : " non renseigné"));
}

Tri equalsOne(const form::FormResponse& response, std::size_t item, const std::string& code,
              Doubts* doubts) {
  auto answers = response.answers(item);
  if (answers.empty()) {
    unanswered(response, item, doubts);
    return Tri::Unknown;
  }
  for (const form::Answer& a : answers) {
    if (const auto* c = std::get_if<form::Coding>(&a.value)) {
      if (c->code == code) return Tri::True;
      if (c->code == "asked-unknown") {
        doubt(doubts, named(response, item) + " : inconnu");
        return Tri::Unknown;
      }
    } else if (const auto* b = std::get_if<bool>(&a.value)) {
      if ((*b ? "Y" : "N") == code) return Tri::True;
    }
  }
  return Tri::False;
}

}  // namespace

struct EligibilityRules::Impl {
  std::vector<std::string> territory;
  std::vector<Criterion> inclusion;
  std::vector<Criterion> exclusion;

  // `doubts` gets what made the result unknown (only what the result depends on: the doubts of
  // an "any" that holds anyway are dropped).
  Tri eval(const Rule& r, const form::FormResponse& response, const EligibilityFacts& facts,
           Doubts* doubts) const {
    switch (r.op) {
      case Rule::Op::AgeAtLeast:
        if (!facts.age_years) {
          doubt(doubts, "âge inconnu (date de naissance absente ou illisible)");
          return Tri::Unknown;
        }
        return *facts.age_years >= r.number ? Tri::True : Tri::False;
      case Rule::Op::Equals:
        return equalsOne(response, r.items.front(), r.code, doubts);
      case Rule::Op::AnyEquals: {
        Doubts mine;
        Tri acc = Tri::False;
        for (std::size_t i : r.items) {
          Tri t = equalsOne(response, i, r.code, &mine);
          if (t == Tri::True) return Tri::True;
          if (t == Tri::Unknown) acc = Tri::Unknown;
        }
        for (std::string& d : mine)
          doubt(doubts, std::move(d));
        return acc;
      }
      case Rule::Op::Answered:
        if (response.answered(r.items.front())) return Tri::True;
        if (!response.unreadable(r.items.front())) return Tri::False;
        unanswered(response, r.items.front(), doubts);
        return Tri::Unknown;
      case Rule::Op::OutsideTerritory:
        if (!facts.department) {
          doubt(doubts, "département de résidence inconnu (code postal absent ou illisible)");
          return Tri::Unknown;
        }
        return std::find(territory.begin(), territory.end(), *facts.department) == territory.end()
                   ? Tri::True
                   : Tri::False;
      case Rule::Op::NoValidNir:
        switch (facts.nir) {
          case NirFinding::Valid:
            return Tri::False;
          case NirFinding::Absent:
          case NirFinding::NotANir:
            return Tri::True;
          case NirFinding::Doubtful:
            doubt(doubts, facts.nir_doubt.empty() ? "NIR à vérifier" : facts.nir_doubt);
            return Tri::Unknown;
        }
        return Tri::Unknown;
      case Rule::Op::All: {
        Doubts mine;
        Tri acc = Tri::True;
        for (const Rule& c : r.children) {
          Tri t = eval(c, response, facts, &mine);
          if (t == Tri::False) return Tri::False;
          if (t == Tri::Unknown) acc = Tri::Unknown;
        }
        for (std::string& d : mine)
          doubt(doubts, std::move(d));
        return acc;
      }
      case Rule::Op::Any: {
        Doubts mine;
        Tri acc = Tri::False;
        for (const Rule& c : r.children) {
          Tri t = eval(c, response, facts, &mine);
          if (t == Tri::True) return Tri::True;
          if (t == Tri::Unknown) acc = Tri::Unknown;
        }
        for (std::string& d : mine)
          doubt(doubts, std::move(d));
        return acc;
      }
      case Rule::Op::Not: {
        Tri t = eval(r.children.front(), response, facts, doubts);
        return t == Tri::Unknown ? Tri::Unknown : (t == Tri::True ? Tri::False : Tri::True);
      }
    }
    return Tri::Unknown;
  }
};

std::string_view toString(EligibilityStatus s) {
  switch (s) {
    case EligibilityStatus::Eligible:
      return "eligible";
    case EligibilityStatus::NotEligible:
      return "not_eligible";
    case EligibilityStatus::ToReview:
      return "to_review";
  }
  return "to_review";
}

EligibilityRules::EligibilityRules(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EligibilityRules::EligibilityRules(EligibilityRules&&) noexcept = default;
EligibilityRules& EligibilityRules::operator=(EligibilityRules&&) noexcept = default;
EligibilityRules::~EligibilityRules() = default;

const std::vector<std::string>& EligibilityRules::territory() const {
  return impl_->territory;
}

Result<EligibilityRules> EligibilityRules::parse(std::string_view json,
                                                 const form::Questionnaire& q) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return configError("the ESS configuration is not a JSON object");
  auto impl = std::make_unique<Impl>();
  if (doc.HasMember("territory")) {
    const auto& t = doc["territory"];
    if (!t.IsObject() || !t.HasMember("departements") || !t["departements"].IsArray()) {
      return configError("territory.departements must be an array of département codes");
    }
    for (const auto& d : t["departements"].GetArray()) {
      if (!d.IsString())
        return configError("département codes are strings (\"38\", \"2A\", \"974\")");
      impl->territory.emplace_back(d.GetString());
    }
  }
  if (!doc.HasMember("eligibility") || !doc["eligibility"].IsObject())
    return configError("\"eligibility\" is required");
  for (const char* kind : {"inclusion", "exclusion"}) {
    const auto& e = doc["eligibility"];
    if (!e.HasMember(kind)) continue;
    if (!e[kind].IsArray()) return configError(std::string(kind) + " must be an array");
    for (const auto& c : e[kind].GetArray()) {
      if (!c.IsObject() || !c.HasMember("code") || !c["code"].IsString() || !c.HasMember("rule")) {
        return configError("each criterion has a code, a text and a rule");
      }
      auto rule = parseRule(c["rule"], q);
      if (!rule) return rule.error();
      Criterion crit{c["code"].GetString(),
                     c.HasMember("text") && c["text"].IsString() ? c["text"].GetString() : "",
                     std::move(*rule)};
      (std::string_view(kind) == "inclusion" ? impl->inclusion : impl->exclusion)
          .push_back(std::move(crit));
    }
  }
  return EligibilityRules(std::move(impl));
}

Eligibility EligibilityRules::evaluate(const form::FormResponse& response,
                                       const EligibilityFacts& facts) const {
  Eligibility out;
  bool excluded = false;
  bool exclusion_unknown = false;
  auto detail = [](const Doubts& doubts) {
    std::string s;
    for (const std::string& d : doubts)
      s += (s.empty() ? "" : " ; ") + d;
    return s;
  };
  for (const Criterion& c : impl_->exclusion) {
    Doubts doubts;
    Tri t = impl_->eval(c.rule, response, facts, &doubts);
    if (t == Tri::False) continue;
    excluded = excluded || t == Tri::True;
    exclusion_unknown = exclusion_unknown || t == Tri::Unknown;
    out.reasons.push_back(
        {c.code, "exclusion", c.text, t, t == Tri::Unknown ? detail(doubts) : std::string()});
  }
  bool included = false;
  bool inclusion_unknown = false;
  for (const Criterion& c : impl_->inclusion) {
    Doubts doubts;
    Tri t = impl_->eval(c.rule, response, facts, &doubts);
    if (t == Tri::False) continue;
    included = included || t == Tri::True;
    inclusion_unknown = inclusion_unknown || t == Tri::Unknown;
    out.reasons.push_back(
        {c.code, "inclusion", c.text, t, t == Tri::Unknown ? detail(doubts) : std::string()});
  }
  if (excluded) {
    out.status = EligibilityStatus::NotEligible;
  } else if (exclusion_unknown) {
    out.status = EligibilityStatus::ToReview;
  } else if (included) {
    out.status = EligibilityStatus::Eligible;
  } else if (inclusion_unknown) {
    out.status = EligibilityStatus::ToReview;
  } else {
    out.status = EligibilityStatus::NotEligible;
    out.reasons.push_back({"aucun-critere-inclusion",
                           "inclusion",
                           "Aucun critère d'inclusion rempli",
                           Tri::False,
                           {}});
  }
  return out;
}

}  // namespace liaison::validate
