#include "pipeline/patient_identity.hpp"

#include <gtest/gtest.h>

// The patient's traits as the ANS maps them (ConceptMap mappingPatientCDAFHIR, PAM FR PID-5), one
// rule per test, and the 903/904/905 consolidation across the places that state them.

namespace liaison::pipeline {
namespace {

constexpr std::string_view kInsA = "279035121518989";  // F, 1979-03, born 51215
constexpr std::string_view kTestOid = "1.2.250.1.213.1.4.10";

parse::CdaPatient cdaPatient(std::vector<parse::CdaPatient::NamePart> families,
                             std::vector<parse::CdaPatient::NamePart> givens) {
  parse::CdaPatient p;
  p.families = std::move(families);
  p.givens = std::move(givens);
  p.sex = "F";
  p.birth_time = "19790314";
  p.birth_place_code = "51215";
  return p;
}

TEST(PatientTraitsOfCda, BirthFamilyIsFamilyBR) {
  auto t = traitsOfCda(cdaPatient({{"FICTIF-DUPONT", "BR"}, {"FICTIF-LEROY", "CL"}}, {}), "doc");
  EXPECT_EQ(t.birth_family, "FICTIF-DUPONT");
  EXPECT_EQ(t.used_family, "FICTIF-LEROY");
  EXPECT_TRUE(t.derived.empty());
}

TEST(PatientTraitsOfCda, QualifierOrderDoesNotMatter) {
  auto t = traitsOfCda(cdaPatient({{"FICTIF-LEROY", "CL"}, {"FICTIF-DUPONT", "BR"}}, {}), "doc");
  EXPECT_EQ(t.birth_family, "FICTIF-DUPONT");
  EXPECT_EQ(t.used_family, "FICTIF-LEROY");
}

TEST(PatientTraitsOfCda, UnqualifiedGivenIsTheBirthListExactly) {
  // The issue's case: the list is "CHLOE EMMA", not the list joined with the BR and CL givens.
  auto t = traitsOfCda(
      cdaPatient({{"FICTIF-MARTIN", "BR"}}, {{"CHLOE EMMA", ""}, {"CHLOE", "BR"}, {"CHLOE", "CL"}}),
      "doc");
  EXPECT_EQ(t.birth_givens, "CHLOE EMMA");
  EXPECT_EQ(t.first_given, "CHLOE");
  EXPECT_EQ(t.used_given, "CHLOE");
  EXPECT_TRUE(t.derived.empty());
}

TEST(PatientTraitsOfCda, SeveralUnqualifiedGivensFormTheList) {
  auto t = traitsOfCda(
      cdaPatient({{"FICTIF-MARTIN", "BR"}}, {{"Marie", ""}, {"Louise", ""}, {"Marie", "BR"}}),
      "doc");
  EXPECT_EQ(t.birth_givens, "Marie Louise");
  EXPECT_EQ(t.first_given, "Marie");
}

TEST(PatientTraitsOfCda, FirstGivenFallsBackToTheListsFirstWordAndSaysSo) {
  auto t = traitsOfCda(cdaPatient({{"FICTIF-MARTIN", "BR"}}, {{"Jean-Pierre Paul", ""}}), "doc");
  EXPECT_EQ(t.first_given, "Jean-Pierre");
  EXPECT_EQ(t.birth_givens, "Jean-Pierre Paul");
  ASSERT_EQ(t.derived.size(), 1u);
  EXPECT_NE(t.derived[0].find("premier prénom"), std::string::npos);
}

TEST(PatientTraitsOfCda, ListFallsBackToTheFirstGivenAndSaysSo) {
  auto t = traitsOfCda(cdaPatient({{"FICTIF-MARTIN", "BR"}}, {{"Paul", "BR"}}), "doc");
  EXPECT_EQ(t.birth_givens, "Paul");
  ASSERT_EQ(t.derived.size(), 1u);
  EXPECT_NE(t.derived[0].find("liste des prénoms"), std::string::npos);
}

TEST(PatientTraitsOfCda, UnqualifiedFamiliesAreBirthThenUsed) {
  auto t = traitsOfCda(cdaPatient({{"FICTIF-A", ""}, {"FICTIF-B", ""}}, {{"Paul", "BR"}}), "doc");
  EXPECT_EQ(t.birth_family, "FICTIF-A");
  EXPECT_EQ(t.used_family, "FICTIF-B");
  EXPECT_EQ(t.derived.size(), 3u);  // birth family, used family, list of given names
}

TEST(PatientTraitsOfCda, SpouseNameIsTheUsedNameWhenNoCL) {
  auto t = traitsOfCda(cdaPatient({{"FICTIF-A", "BR"}, {"FICTIF-EPOUX", "SP"}}, {{"Anne", "BR"}}),
                       "doc");
  EXPECT_EQ(t.birth_family, "FICTIF-A");
  EXPECT_EQ(t.used_family, "FICTIF-EPOUX");
}

TEST(PatientTraitsOfCda, QualifierListsAreTokens) {
  // "BR CL": the birth name is also the used one.
  auto t = traitsOfCda(cdaPatient({{"FICTIF-A", "BR CL"}}, {{"Anne", "BR CL"}}), "doc");
  EXPECT_EQ(t.birth_family, "FICTIF-A");
  EXPECT_EQ(t.used_family, "FICTIF-A");
  EXPECT_EQ(t.first_given, "Anne");
  EXPECT_EQ(t.used_given, "Anne");
}

TEST(PatientTraitsOfCda, DatesPlaceDeathAndTwins) {
  parse::CdaPatient p = cdaPatient({{"FICTIF-A", "BR"}}, {{"Anne", "BR"}});
  p.birth_place_name = "Reims";
  p.deceased_time = "20240105103000+0100";
  p.multiple_birth = true;
  p.multiple_birth_order = 2;
  auto t = traitsOfCda(p, "doc");
  EXPECT_EQ(t.birth_date, "1979-03-14");
  EXPECT_EQ(t.sex, "F");
  EXPECT_EQ(t.birth_place, "51215");
  EXPECT_EQ(t.birth_place_name, "Reims");
  EXPECT_EQ(t.deceased_time, "2024-01-05T10:30:00+01:00");
  EXPECT_EQ(t.deceased, true);  // a death time says the patient died
  EXPECT_EQ(t.multiple_birth, true);
  EXPECT_EQ(t.birth_order, 2);
}

TEST(PatientTraitsOfSourcePatientInfo, Pid5RepetitionsLAndD) {
  parse::XdsPatientInfo info;
  info.names = {{"FICTIF-MARTIN", "CHLOE", "CHLOE EMMA", "L"}, {"FICTIF-USAGE", "CLOCLO", "", "D"}};
  info.birth_date = "19790314";
  info.sex = "F";
  info.birth_place = "51215";
  auto t = traitsOfSourcePatientInfo(info, "meta");
  EXPECT_EQ(t.birth_family, "FICTIF-MARTIN");
  EXPECT_EQ(t.first_given, "CHLOE");
  EXPECT_EQ(t.birth_givens, "CHLOE EMMA");
  EXPECT_EQ(t.used_family, "FICTIF-USAGE");
  EXPECT_EQ(t.used_given, "CLOCLO");
  EXPECT_EQ(t.birth_date, "1979-03-14");
  EXPECT_EQ(t.birth_place, "51215");
}

TEST(PatientTraitsOfSourcePatientInfo, UsedNameFirstStillFindsTheLegalOne) {
  parse::XdsPatientInfo info;
  info.names = {{"FICTIF-USAGE", "Anne", "", "D"}, {"FICTIF-A", "Anne", "", "L"}};
  auto t = traitsOfSourcePatientInfo(info, "meta");
  EXPECT_EQ(t.birth_family, "FICTIF-A");
  EXPECT_EQ(t.used_family, "FICTIF-USAGE");
}

TEST(PatientTraitsOfSourcePatientInfo, WithoutRepetitionsTheParsedFamilyAndGiven) {
  parse::XdsPatientInfo info;
  info.family = "FICTIF-A";
  info.given = "Anne";
  auto t = traitsOfSourcePatientInfo(info, "meta");
  EXPECT_EQ(t.birth_family, "FICTIF-A");
  EXPECT_EQ(t.first_given, "Anne");
}

// ---- consolidation

PatientTraits traitsA(std::string where) {
  PatientTraits t;
  t.birth_family = "FICTIF-DUPONT";
  t.first_given = "Camille";
  t.birth_givens = "Camille Rose";
  t.birth_date = "1979-03-14";
  t.sex = "F";
  t.birth_place = "51215";
  t.where = std::move(where);
  return t;
}

IdentityStatements oneDocument() {
  IdentityStatements s;
  s.document_ins.push_back({std::string(kInsA), std::string(kTestOid), "doc"});
  s.document_traits.push_back(traitsA("doc"));
  return s;
}

TEST(ConsolidateIdentity, OneConsistentDocumentIsValid) {
  IssueList issues;
  PatientIdentity id = consolidateIdentity(oneDocument(), issues);
  ASSERT_TRUE(id.ins);
  EXPECT_TRUE(id.nir_valid);
  EXPECT_EQ(id.normalized, kInsA);
  EXPECT_FALSE(issues.hasErrors());
  EXPECT_TRUE(issues.contains(Errc::InsTestSystem));  // the ANS test OID is a warning
}

TEST(ConsolidateIdentity, NoInsIs903) {
  IdentityStatements s;
  s.document_traits.push_back(traitsA("doc"));
  IssueList issues;
  PatientIdentity id = consolidateIdentity(s, issues);
  EXPECT_FALSE(id.ins);
  EXPECT_TRUE(issues.contains(Errc::InsMissing));
  EXPECT_EQ(id.traits.birth_family, "FICTIF-DUPONT");  // the traits are kept all the same
}

TEST(ConsolidateIdentity, MetadataInsDifferentFromTheDocumentIs904) {
  IdentityStatements s = oneDocument();
  s.metadata_ins.push_back({"162018885045327", std::string(kTestOid), "METADATA.XML"});
  IssueList issues;
  PatientIdentity id = consolidateIdentity(s, issues);
  EXPECT_EQ(id.ins->value, kInsA);  // the document is authoritative
  EXPECT_TRUE(issues.contains(Errc::InsMismatch));
}

TEST(ConsolidateIdentity, TraitsThatDifferAre904WithWhere) {
  IdentityStatements s = oneDocument();
  PatientTraits meta = traitsA("METADATA.XML sourcePatientInfo");
  meta.birth_date = "1979-03-15";
  s.metadata_traits.push_back(meta);
  IssueList issues;
  consolidateIdentity(s, issues);
  ASSERT_TRUE(issues.contains(Errc::InsTraitsMismatch));
  for (const Issue& i : issues.items()) {
    if (i.code == Errc::InsTraitsMismatch) {
      EXPECT_EQ(i.location, "METADATA.XML sourcePatientInfo");
      EXPECT_NE(i.message.find("date de naissance"), std::string::npos);
    }
  }
}

TEST(ConsolidateIdentity, CaseAndAccentsDoNotMakeAMismatch) {
  IdentityStatements s = oneDocument();
  PatientTraits meta = traitsA("meta");
  meta.birth_family = "fictif-dupont";
  meta.first_given = "CAMILLE";
  s.metadata_traits.push_back(meta);
  IssueList issues;
  consolidateIdentity(s, issues);
  EXPECT_FALSE(issues.contains(Errc::InsTraitsMismatch));
}

TEST(ConsolidateIdentity, InsWithoutItsTraitsIs905) {
  IdentityStatements s = oneDocument();
  s.document_traits[0].birth_place.clear();
  s.document_traits[0].first_given.clear();
  IssueList issues;
  consolidateIdentity(s, issues);
  ASSERT_TRUE(issues.contains(Errc::InsTraitsIncomplete));
  for (const Issue& i : issues.items()) {
    if (i.code == Errc::InsTraitsIncomplete) {
      EXPECT_NE(i.message.find("premier prénom"), std::string::npos);
      EXPECT_NE(i.message.find("lieu de naissance"), std::string::npos);
    }
  }
}

TEST(ConsolidateIdentity, NirInconsistentWithTheTraitsIsNotValid) {
  IdentityStatements s = oneDocument();
  s.document_traits[0].sex = "M";
  IssueList issues;
  PatientIdentity id = consolidateIdentity(s, issues);
  EXPECT_FALSE(id.nir_valid);
  EXPECT_TRUE(issues.contains(Errc::NirTraitSexMismatch));
}

}  // namespace
}  // namespace liaison::pipeline
