#include "validate/form_validation.hpp"

#include <gtest/gtest.h>

#include "parse/form/form_parser.hpp"
#include "support/test_support.hpp"

namespace liaison::validate {
namespace {

const form::Questionnaire& cardio() {
  return test::cardioPlus()->questionnaire;
}

form::FormResponse completeForm() {
  auto parsed = test::cardioPlus()->textReader().read(
      test::readRepoFile("samples/fiches/fiche-complete.txt"));
  return std::move(parsed.response);
}

std::vector<std::string> locationsOf(const IssueList& issues, Errc code) {
  std::vector<std::string> out;
  for (const Issue& i : issues.items()) {
    if (i.code == code) out.push_back(i.location);
  }
  return out;
}

TEST(FormValidation, CompleteSampleHasNoMandatoryIssue) {
  IssueList issues = validateMandatoryFields(completeForm());
  EXPECT_TRUE(issues.empty()) << issues.items().front().message;
}

TEST(FormValidation, EachMissingRequiredFieldIsOneIssueWithItsExpression) {
  form::FormResponse r = completeForm();
  for (const char* id : {"patient-nir", "fdr-hta", "atcd-angor", "demandeur-fonction"}) {
    r.clear(cardio().find(id)->index);
  }
  IssueList issues = validateMandatoryFields(r);
  EXPECT_EQ(
      locationsOf(issues, Errc::FormRequiredMissing),
      (std::vector<std::string>{"demandeur-fonction", "patient-nir", "fdr-hta", "atcd-angor"}));
  for (const Issue& i : issues.items()) {
    EXPECT_EQ(i.severity, Severity::Error);
    EXPECT_EQ(i.expression, form::itemExpression(cardio(), cardio().find(i.location)->index));
    EXPECT_NE(i.message.find("Champ obligatoire manquant"), std::string::npos);
  }
  // The section tells which "Nom" is meant.
  r.clear(cardio().find("patient-nom")->index);
  IssueList more = validateMandatoryFields(r);
  bool found = false;
  for (const Issue& i : more.items())
    found = found || i.message.find("« Nom » (Patient)") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(FormValidation, AtLeastOneMotif) {
  form::FormResponse r = completeForm();
  r.clear(cardio().find("motif")->index);
  IssueList issues = validateMandatoryFields(r);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues.items()[0].location, "motif");
  EXPECT_NE(issues.items()[0].message.find("Au moins une réponse"), std::string::npos);
}

TEST(FormValidation, ConditionalItemsAreRequiredOnlyWhenEnabled) {
  form::FormResponse r = completeForm();
  const auto* residence = cardio().find("patient-lieu-residence");
  const auto* etab = cardio().find("patient-etablissement");
  EXPECT_FALSE(r.enabled(etab->index));
  // "Établissement" selected: the establishment name becomes mandatory.
  r.clear(residence->index);
  r.add(residence->index, form::Answer{*form::findOption(*residence, "etablissement"), "test"});
  IssueList issues = validateMandatoryFields(r);
  EXPECT_EQ(locationsOf(issues, Errc::FormRequiredMissing),
            std::vector<std::string>{"patient-etablissement"});
}

TEST(FormValidation, ConsentAndDocumentsMustBeAttested) {
  form::FormResponse r = completeForm();
  for (const char* id : {"consentement-patient", "doc-biologie", "doc-ecg"}) {
    r.clear(cardio().find(id)->index);
    r.add(cardio().find(id)->index, form::Answer{false, "test"});
  }
  IssueList issues = validateMandatoryFields(r);
  EXPECT_EQ(locationsOf(issues, Errc::FormConsentNotAttested),
            std::vector<std::string>{"consentement-patient"});
  // ECG is optional: "Non" is an answer, not a gap.
  EXPECT_EQ(locationsOf(issues, Errc::FormDocumentNotProvided),
            std::vector<std::string>{"doc-biologie"});
  EXPECT_EQ(issues.size(), 2u);
}

TEST(FormValidation, MedecinTraitantOrNone) {
  form::FormResponse r = completeForm();
  r.clear(cardio().find("patient-medecin-traitant")->index);
  IssueList issues = validateMandatoryFields(r);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues.items()[0].code, Errc::FormRequiredMissing);
  EXPECT_NE(issues.items()[0].message.find("« Pas de médecin traitant »"), std::string::npos);
  r.add(cardio().find("patient-sans-medecin-traitant")->index, form::Answer{true, "test"});
  EXPECT_TRUE(validateMandatoryFields(r).empty());
}

}  // namespace
}  // namespace liaison::validate
