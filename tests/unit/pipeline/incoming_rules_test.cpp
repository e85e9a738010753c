#include "pipeline/incoming_rules.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "pipeline/identity_review.hpp"
#include "pipeline/message_intake.hpp"
#include "support/test_support.hpp"

// Which identifier merges which resource type is data (profiles/fhir/incoming.json, an ESS's
// "identifiers"); the traits of two Patients holding one INS are compared as the ANS does.

namespace liaison::pipeline {
namespace {

constexpr std::string_view kInsA = "279035121518989";  // F, 1979-03, born 51215

rapidjson::Document parsed(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

std::string patient(std::string_view system, std::string_view value,
                    std::string_view family = "FICTIF-DUPONT", std::string_view given = "Camille",
                    std::string_view birth_date = "1979-03-14", std::string_view gender = "female",
                    std::string_view birth_place = "51215") {
  return R"({"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.250.1.999.1","value":"IPP-1"},{"system":")" +
         std::string(system) + R"(","value":")" + std::string(value) +
         R"("}],"name":[{"use":"usual","family":"FICTIF-AUTRE"},{"use":"official","family":")" +
         std::string(family) + R"(","given":[")" + std::string(given) + R"("]}],"gender":")" +
         std::string(gender) + R"(","birthDate":")" + std::string(birth_date) +
         R"(","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"extension":[{"url":"https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code","valueCoding":{"code":")" +
         std::string(birth_place) + R"("}}]}}]})";
}

TEST(IncomingRules, TheShippedFileIsTheBuiltInOne) {
  auto file = IncomingRules::parse(test::readRepoFile("profiles/fhir/incoming.json"));
  ASSERT_TRUE(file) << file.error().detail;
  const IncomingRules& built_in = IncomingRules::builtIn();
  EXPECT_EQ(file->acceptedTypes(), built_in.acceptedTypes());
  ASSERT_EQ(file->identifiers().size(), built_in.identifiers().size());
  for (std::size_t i = 0; i < file->identifiers().size(); ++i) {
    EXPECT_EQ(file->identifiers()[i].resource_type, built_in.identifiers()[i].resource_type);
    EXPECT_EQ(file->identifiers()[i].systems, built_in.identifiers()[i].systems);
    EXPECT_EQ(file->identifiers()[i].ins, built_in.identifiers()[i].ins);
  }
  // And the MSSanté intake loads it, with the deployment's canonical base for review Tasks.
  EXPECT_EQ(test::mssante()->incoming().acceptedTypes(), built_in.acceptedTypes());
  EXPECT_EQ(test::mssante()->incoming().reviewSystem(),
            test::mssante()->canonicalBase() + "/CodeSystem/identity-review");
}

TEST(IncomingRules, InsRpppsAndFinessMergeTheirTypesOnly) {
  const IncomingRules& rules = IncomingRules::builtIn();
  auto ins = rules.identifying("Patient", patient("urn:oid:1.2.250.1.213.1.4.10", kInsA));
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->system, "urn:oid:1.2.250.1.213.1.4.10");
  EXPECT_EQ(ins->value, kInsA);
  EXPECT_TRUE(ins->ins);
  EXPECT_EQ(ins->index, 1u);
  // A bare OID is the same system; the matricule is taken in its normalised form.
  auto bare =
      rules.identifying("Patient", patient("1.2.250.1.213.1.4.10", "2 79 03 51 215 189 89"));
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->system, "urn:oid:1.2.250.1.213.1.4.10");
  EXPECT_EQ(bare->value, kInsA);
  // An RPPS on a Patient merges nothing; a local identifier neither.
  EXPECT_FALSE(rules.identifying("Patient", patient("https://rpps.esante.gouv.fr", "10000000001")));
  const std::string practitioner =
      R"({"resourceType":"Practitioner","identifier":[{"system":"urn:oid:1.2.250.1.71.4.2.1","value":"810000000001"},{"system":"https://rpps.esante.gouv.fr","value":"10000000001"}]})";
  auto rpps = rules.identifying("Practitioner", practitioner);
  ASSERT_TRUE(rpps);  // the rule's order decides, not the sender's
  EXPECT_EQ(rpps->system, "https://rpps.esante.gouv.fr");
  EXPECT_EQ(rpps->value, "10000000001");
  auto finess = rules.identifying(
      "Organization",
      R"({"resourceType":"Organization","identifier":[{"system":"https://finess.esante.gouv.fr","value":"380000000"}]})");
  ASSERT_TRUE(finess);
  EXPECT_FALSE(finess->ins);
  EXPECT_TRUE(rules.accepts("Observation"));
  EXPECT_FALSE(rules.accepts("Task"));  // review Tasks are ours: none comes from outside
  EXPECT_FALSE(rules.accepts("AuditEvent"));
}

TEST(IncomingRules, AMalformedInsMergesNothing) {
  const IncomingRules& rules = IncomingRules::builtIn();
  EXPECT_FALSE(rules.identifying("Patient", patient("urn:oid:1.2.250.1.213.1.4.10",
                                                    "279035121518988")));  // key 89
  EXPECT_FALSE(rules.identifying("Patient", patient("urn:oid:1.2.250.1.213.1.4.10", "27903")));
}

TEST(IncomingRules, ARuleAddedInDataTakesEffect) {
  const std::string local =
      R"({"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.250.1.999.7","value":"IPP-42"}]})";
  EXPECT_FALSE(IncomingRules::builtIn().identifying("Patient", local));
  std::string text = test::readRepoFile("profiles/fhir/incoming.json");
  const std::string anchor = R"("identifiers": [)";
  text.insert(text.find(anchor) + anchor.size(),
              R"({"resourceType": "Patient", "systems": ["urn:oid:1.2.250.1.999.7"]},)");
  auto rules = IncomingRules::parse(text);
  ASSERT_TRUE(rules) << rules.error().detail;
  auto key = rules->identifying("Patient", local);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->value, "IPP-42");
  EXPECT_FALSE(key->ins);

  // An ESS adds its own in ess.json: its intake merges on them, the deployment's still apply.
  std::string ess = test::readRepoFile("profiles/cardio-plus/ess.json");
  ess.insert(
      ess.find(R"("form":)"),
      R"("identifiers": [{"resourceType": "Patient", "systems": ["urn:oid:1.2.250.1.999.7"]}],
  )");
  auto profile = EssProfile::load(
      ess, test::readRepoFile("profiles/cardio-plus/questionnaire-fiche-demande.json"),
      test::readRepoFile("mappings/cardio-plus-fiche-demande.json"),
      test::mssante()->canonicalBase());
  ASSERT_TRUE(profile) << profile.error().detail;
  MessageIntake intake(test::mssante(), *profile, test::testClock());
  ASSERT_TRUE(intake.incoming().identifying("Patient", local));
  EXPECT_TRUE(
      intake.incoming().identifying("Patient", patient("urn:oid:1.2.250.1.213.1.4.10", kInsA)));
  MessageIntake plain(test::mssante(), test::cardioPlus(), test::testClock());
  EXPECT_FALSE(plain.incoming().identifying("Patient", local));
}

TEST(IncomingRules, MistakesInTheFileAreErrors) {
  EXPECT_FALSE(IncomingRules::parse("[]"));
  EXPECT_FALSE(IncomingRules::parse(R"({"acceptedResourceTypes":["Patient"]})"));
  EXPECT_FALSE(IncomingRules::parse(
      R"({"acceptedResourceTypes":[],"identifiers":[{"resourceType":"Patient","systems":[]}]})"));
  EXPECT_FALSE(IncomingRules::parse(
      R"({"acceptedResourceTypes":[],"identifiers":[{"resourceType":"Patient","systems":["x"],"check":"siret"}]})"));
}

TEST(IdentityReview, TraitsDifferAsTheAnsComparesThem) {
  const auto stored = parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA));
  // Case, accents and the usual name aside: the same identity.
  const auto same =
      parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA, "fictif-dupont", "CAMILLE"));
  EXPECT_TRUE(differingTraits(stored, same).empty());
  const auto other = parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA, "FICTIF-DURAND",
                                    "Camille", "1979-03-15", "female", "51216"));
  EXPECT_EQ(differingTraits(stored, other),
            (std::vector<std::string>{"birth-family", "birth-date", "birth-place"}));
  EXPECT_EQ(traitLabels(differingTraits(stored, other)),
            "nom de naissance, date de naissance, lieu de naissance");
  // A trait the incoming one leaves out is not a difference.
  const auto sparse =
      parsed(R"({"resourceType":"Patient","name":[{"family":"FICTIF-DUPONT"}],"gender":"female"})");
  EXPECT_TRUE(differingTraits(stored, sparse).empty());
}

TEST(IdentityReview, TheTaskNamesThePatientTheTraitsAndKeepsTheIncomingIdentity) {
  const auto incoming = parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA, "FICTIF-DURAND"));
  const std::string json = identityReviewTask(
      "https://gw.test/fhir/CodeSystem/identity-review", "https://gw.test/fhir/identity-review",
      "k1", "Patient/p1", {"birth-family"}, incoming, "2026-12-07T10:00:00Z", "message 3");
  const auto task = parsed(json);
  EXPECT_STREQ(task["identifier"][0]["value"].GetString(), "k1");
  EXPECT_STREQ(task["resourceType"].GetString(), "Task");
  EXPECT_STREQ(task["status"].GetString(), "requested");
  EXPECT_STREQ(task["code"]["coding"][0]["code"].GetString(), "identity-conflict");
  EXPECT_STREQ(task["for"]["reference"].GetString(), "Patient/p1");
  EXPECT_STREQ(task["focus"]["reference"].GetString(), "Patient/p1");
  EXPECT_STREQ(task["contained"][0]["id"].GetString(), "incoming");
  EXPECT_STREQ(task["contained"][0]["name"][1]["family"].GetString(), "FICTIF-DURAND");
  EXPECT_STREQ(task["input"][0]["valueReference"]["reference"].GetString(), "#incoming");
  EXPECT_STREQ(task["input"][1]["valueCode"].GetString(), "birth-family");
}

TEST(IdentityReview, OneKeyPerStoredPatientAndIncomingIdentity) {
  const auto a = parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA, "FICTIF-DURAND"));
  const auto a_again = parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA, "fictif-durand"));
  const auto b = parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA, "FICTIF-DURANT"));
  EXPECT_EQ(identityReviewKey("Patient/p1", a), identityReviewKey("Patient/p1", a_again));
  EXPECT_NE(identityReviewKey("Patient/p1", a), identityReviewKey("Patient/p1", b));
  EXPECT_NE(identityReviewKey("Patient/p1", a), identityReviewKey("Patient/p2", a));
}

TEST(IdentityReview, InsCheckedWithTheNirModuleAgainstThePatientsTraits) {
  auto good = checkInsOf(parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA)), "e.");
  EXPECT_TRUE(good.refused.empty());
  EXPECT_FALSE(good.issues.hasErrors());
  auto key = checkInsOf(parsed(patient("urn:oid:1.2.250.1.213.1.4.10", "279035121518988")), "e.");
  EXPECT_EQ(key.refused, std::vector<std::size_t>{1});
  EXPECT_TRUE(key.issues.contains(Errc::NirKeyMismatch));
  // A well-formed matricule that contradicts the Patient's sex.
  auto sex = checkInsOf(parsed(patient("urn:oid:1.2.250.1.213.1.4.10", kInsA, "FICTIF-DUPONT",
                                       "Camille", "1979-03-14", "male")),
                        "e.");
  EXPECT_EQ(sex.refused, std::vector<std::size_t>{1});
  EXPECT_TRUE(sex.issues.contains(Errc::NirTraitSexMismatch));
  for (const Issue& issue : sex.issues.items()) {
    if (issue.code == Errc::NirTraitSexMismatch) {
      EXPECT_EQ(issue.location, "e.identifier[1]");
    }
  }
}

}  // namespace
}  // namespace liaison::pipeline
