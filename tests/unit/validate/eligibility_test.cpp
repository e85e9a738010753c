#include "validate/eligibility.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace liaison::validate {
namespace {

const form::Questionnaire& cardio() {
  return test::cardioPlus()->questionnaire;
}
const EligibilityRules& rules() {
  return test::cardioPlus()->eligibility();
}

void answer(form::FormResponse& r, std::string_view link_id, std::string_view code) {
  const form::Item* item = cardio().find(link_id);
  ASSERT_NE(item, nullptr) << link_id;
  r.clear(item->index);
  const form::Coding* option = form::findOption(*item, code);
  ASSERT_NE(option, nullptr) << link_id << " " << code;
  r.add(item->index, form::Answer{*option, "test"});
}

// A 70-year-old in Isère with no history, no particular situation, no cardiologist.
form::FormResponse baseline() {
  form::FormResponse r(cardio());
  for (const char* id :
       {"situation-precarite", "situation-perte-autonomie", "situation-dependance",
        "situation-urgence", "atcd-angor", "atcd-angioplastie", "atcd-pontage",
        "atcd-trouble-rythme", "atcd-sas-appareille", "atcd-insuffisance-cardiaque",
        "atcd-thrombo-embolique", "atcd-anticoagulant", "atcd-stimulateur", "atcd-valvulopathie"}) {
    answer(r, id, "N");
  }
  answer(r, "patient-lieu-residence", "domicile");
  return r;
}

EligibilityFacts facts(std::optional<int> age, NirFinding nir = NirFinding::Valid,
                       std::optional<std::string> dept = "38") {
  return EligibilityFacts{age, nir, std::move(dept), {}};
}

const EligibilityReason* reason(const Eligibility& e, std::string_view code) {
  for (const auto& r : e.reasons) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

std::vector<std::string> codes(const Eligibility& e, std::string_view kind) {
  std::vector<std::string> out;
  for (const auto& r : e.reasons) {
    if (r.kind == kind) out.push_back(r.code);
  }
  return out;
}

TEST(Eligibility, AgeIncludesFrom65) {
  form::FormResponse r = baseline();
  Eligibility at65 = rules().evaluate(r, facts(65));
  EXPECT_EQ(at65.status, EligibilityStatus::Eligible);
  EXPECT_EQ(codes(at65, "inclusion"), std::vector<std::string>{"age-65-ans"});
  Eligibility at64 = rules().evaluate(r, facts(64));
  EXPECT_EQ(at64.status, EligibilityStatus::NotEligible);
  EXPECT_EQ(codes(at64, "inclusion"), std::vector<std::string>{"aucun-critere-inclusion"});
}

TEST(Eligibility, EachInclusionCriterionOnItsOwn) {
  struct Case {
    const char* item;
    const char* code;
    const char* criterion;
  };
  for (const Case& c : {Case{"atcd-valvulopathie", "Y", "antecedent-cardiovasculaire"},
                        Case{"atcd-angor", "Y", "antecedent-cardiovasculaire"},
                        Case{"situation-precarite", "Y", "precarite"},
                        Case{"situation-perte-autonomie", "Y", "perte-autonomie"},
                        Case{"situation-dependance", "Y", "patient-dependant"},
                        Case{"patient-lieu-residence", "etablissement", "patient-dependant"}}) {
    SCOPED_TRACE(c.item);
    form::FormResponse r = baseline();
    answer(r, c.item, c.code);
    Eligibility e = rules().evaluate(r, facts(50));
    EXPECT_EQ(e.status, EligibilityStatus::Eligible);
    EXPECT_EQ(codes(e, "inclusion"), std::vector<std::string>{c.criterion});
  }
}

TEST(Eligibility, UnknownAnswersLeaveTheDecisionToTheSecretariat) {
  form::FormResponse r = baseline();
  answer(r, "atcd-angor", "asked-unknown");
  Eligibility e = rules().evaluate(r, facts(50));
  EXPECT_EQ(e.status, EligibilityStatus::ToReview);
  ASSERT_EQ(e.reasons.size(), 1u);
  EXPECT_EQ(e.reasons[0].code, "antecedent-cardiovasculaire");
  EXPECT_EQ(e.reasons[0].value, Tri::Unknown);
  // Unknown birth date: the age criterion might hold, so nobody can say "not eligible".
  EXPECT_EQ(rules().evaluate(baseline(), facts(std::nullopt)).status, EligibilityStatus::ToReview);
  form::FormResponse unanswered(cardio());
  EXPECT_EQ(rules().evaluate(unanswered, facts(std::nullopt)).status, EligibilityStatus::ToReview);
}

TEST(Eligibility, ExclusionsWinOverInclusions) {
  {
    form::FormResponse r = baseline();
    answer(r, "situation-urgence", "Y");
    Eligibility e = rules().evaluate(r, facts(80));
    EXPECT_EQ(e.status, EligibilityStatus::NotEligible);
    EXPECT_EQ(codes(e, "exclusion"), std::vector<std::string>{"urgence"});
    EXPECT_EQ(codes(e, "inclusion"), std::vector<std::string>{"age-65-ans"});
  }
  {
    Eligibility e = rules().evaluate(baseline(), facts(80, NirFinding::Valid, "69"));
    EXPECT_EQ(e.status, EligibilityStatus::NotEligible);
    EXPECT_EQ(codes(e, "exclusion"), std::vector<std::string>{"hors-territoire"});
  }
  {
    Eligibility e = rules().evaluate(baseline(), facts(80, NirFinding::Absent));
    EXPECT_EQ(e.status, EligibilityStatus::NotEligible);
    EXPECT_EQ(codes(e, "exclusion"), std::vector<std::string>{"sans-nir"});
  }
  {
    Eligibility e = rules().evaluate(baseline(), facts(80, NirFinding::Valid, std::nullopt));
    EXPECT_EQ(e.status, EligibilityStatus::ToReview) << "territory unknown";
  }
}

// "Sans NIR" is what the form says, not what the reader lost: no NIR, or a provisional number,
// excludes; a NIR whose line could not be read, or that fails its checks, is for review.
TEST(Eligibility, SansNirOnlyWhenTheFormHasNone) {
  for (NirFinding nir : {NirFinding::Absent, NirFinding::NotANir}) {
    Eligibility e = rules().evaluate(baseline(), facts(80, nir));
    EXPECT_EQ(e.status, EligibilityStatus::NotEligible);
    ASSERT_NE(reason(e, "sans-nir"), nullptr);
    EXPECT_EQ(reason(e, "sans-nir")->value, Tri::True);
  }
  EligibilityFacts doubtful = facts(80, NirFinding::Doubtful);
  doubtful.nir_doubt = "NIR présent mais non valide (nir-key-mismatch) : à vérifier";
  Eligibility e = rules().evaluate(baseline(), doubtful);
  EXPECT_EQ(e.status, EligibilityStatus::ToReview);
  ASSERT_NE(reason(e, "sans-nir"), nullptr);
  EXPECT_EQ(reason(e, "sans-nir")->value, Tri::Unknown);
  EXPECT_EQ(reason(e, "sans-nir")->detail, doubtful.nir_doubt);
  EXPECT_EQ(rules().evaluate(baseline(), facts(80, NirFinding::Valid)).status,
            EligibilityStatus::Eligible);
}

// A criterion whose answer was not found is unknown: to review, never "not eligible", and the
// reason says what is missing or unreadable.
TEST(Eligibility, WhatTheFormLacksIsUnknownWithItsReason) {
  form::FormResponse r = baseline();
  r.clear(cardio().find("situation-urgence")->index);
  Eligibility e = rules().evaluate(r, facts(80));
  EXPECT_EQ(e.status, EligibilityStatus::ToReview);
  ASSERT_NE(reason(e, "urgence"), nullptr);
  EXPECT_EQ(reason(e, "urgence")->value, Tri::Unknown);
  EXPECT_EQ(reason(e, "urgence")->detail, "« Situation d'urgence » non renseigné");

  r.markUnreadable(cardio().find("situation-urgence")->index);
  e = rules().evaluate(r, facts(80));
  EXPECT_EQ(reason(e, "urgence")->detail, "« Situation d'urgence » illisible dans la fiche");

  // Nothing at all about the patient's history or situation, 50 years old: to review, each
  // unknown criterion listing what it lacks.
  form::FormResponse empty(cardio());
  e = rules().evaluate(empty, facts(50));
  EXPECT_EQ(e.status, EligibilityStatus::ToReview);
  ASSERT_NE(reason(e, "antecedent-cardiovasculaire"), nullptr);
  EXPECT_NE(reason(e, "antecedent-cardiovasculaire")->detail.find("« Angor » non renseigné"),
            std::string::npos);
  EXPECT_EQ(reason(e, "age-65-ans"), nullptr) << "50 years old: not met, not listed";
  e = rules().evaluate(empty, facts(std::nullopt, NirFinding::Valid, std::nullopt));
  EXPECT_EQ(reason(e, "age-65-ans")->detail,
            "âge inconnu (date de naissance absente ou illisible)");
  EXPECT_EQ(reason(e, "hors-territoire")->detail,
            "département de résidence inconnu (code postal absent ou illisible)");
  // A criterion that holds keeps no detail.
  EXPECT_TRUE(reason(rules().evaluate(baseline(), facts(80)), "age-65-ans")->detail.empty());
}

// {"answered": …} of an item the form named but could not read is unknown, not "no".
TEST(Eligibility, AnUnreadableCardiologistIsNotNoCardiologist) {
  form::FormResponse r = baseline();
  answer(r, "patient-accord-cardiologue", "N");
  EXPECT_EQ(rules().evaluate(r, facts(80)).status, EligibilityStatus::Eligible)
      << "no cardiologist named";
  r.markUnreadable(cardio().find("patient-cardiologue")->index);
  Eligibility e = rules().evaluate(r, facts(80));
  EXPECT_EQ(e.status, EligibilityStatus::ToReview);
  EXPECT_EQ(reason(e, "cardiologue-sans-accord")->value, Tri::Unknown);
  EXPECT_EQ(reason(e, "cardiologue-sans-accord")->detail,
            "« Cardiologue traitant » illisible dans la fiche");
}

TEST(Eligibility, CardiologueReferentNeedsAgreement) {
  form::FormResponse r = baseline();
  const form::Item* cardiologue = cardio().find("patient-cardiologue");
  r.add(cardiologue->index, form::Answer{std::string("Dr Coeur"), "test"});
  EXPECT_EQ(rules().evaluate(r, facts(80)).status, EligibilityStatus::ToReview)
      << "agreement not stated";
  answer(r, "patient-accord-cardiologue", "N");
  Eligibility refused = rules().evaluate(r, facts(80));
  EXPECT_EQ(refused.status, EligibilityStatus::NotEligible);
  EXPECT_EQ(codes(refused, "exclusion"), std::vector<std::string>{"cardiologue-sans-accord"});
  answer(r, "patient-accord-cardiologue", "Y");
  EXPECT_EQ(rules().evaluate(r, facts(80)).status, EligibilityStatus::Eligible);
}

TEST(Eligibility, ConfigurationErrorsAreValues) {
  const std::string base =
      R"({"eligibility": {"inclusion": [{"code": "c", "text": "t", "rule": RULE}]}})";
  auto with = [&](const std::string& rule) {
    std::string s = base;
    s.replace(s.find("RULE"), 4, rule);
    return EligibilityRules::parse(s, cardio());
  };
  EXPECT_TRUE(with(R"({"ageAtLeast": 65})").has_value());
  EXPECT_TRUE(
      with(R"({"all": [{"answered": "patient-nom"}, {"not": {"noValidNir": true}}]})").has_value());
  for (const char* bad :
       {R"({"ageAtLeast": "65"})", R"({"equals": {"item": "nope", "code": "Y"}})",
        R"({"anyEquals": {"items": "atcd-angor", "code": "Y"}})", R"({"frobnicate": 1})",
        R"({"ageAtLeast": 65, "answered": "patient-nom"})", R"({"all": {}})"}) {
    SCOPED_TRACE(bad);
    auto r = with(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::ConfigInvalid);
  }
  EXPECT_FALSE(EligibilityRules::parse("{}", cardio()).has_value());
  EXPECT_FALSE(EligibilityRules::parse("not json", cardio()).has_value());
  EXPECT_FALSE(EligibilityRules::parse(
                   R"({"territory": {"departements": [38]}, "eligibility": {}})", cardio())
                   .has_value());
  auto ok = EligibilityRules::parse(
      R"({"territory": {"departements": ["38", "2A"]}, "eligibility": {}})", cardio());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->territory(), (std::vector<std::string>{"38", "2A"}));
}

TEST(Eligibility, StatusNames) {
  EXPECT_EQ(toString(EligibilityStatus::Eligible), "eligible");
  EXPECT_EQ(toString(EligibilityStatus::NotEligible), "not_eligible");
  EXPECT_EQ(toString(EligibilityStatus::ToReview), "to_review");
}

}  // namespace
}  // namespace liaison::validate
