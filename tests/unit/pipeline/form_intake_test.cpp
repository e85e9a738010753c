#include "pipeline/form_intake.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <random>

#include "support/test_support.hpp"

namespace liaison::pipeline {
namespace {

constexpr std::string_view kIssues = "https://liaison.ess.example/fhir/CodeSystem/liaison-issue";

using test::ingestCardioPlus;
using test::readRepoFile;
using test::replaceLine;

std::string completeText() {
  return readRepoFile("samples/fiches/fiche-complete.txt");
}

using test::Bundle;
using test::parseBundle;

std::vector<Errc> codesOf(const IngestResult& r) {
  std::vector<Errc> out;
  for (const Issue& i : r.issues.items())
    out.push_back(i.code);
  return out;
}

bool has(const IngestResult& r, Errc code) {
  return r.issues.contains(code);
}

TEST(FormIntake, CompleteTextFormIsAccepted) {
  IngestResult r = ingestCardioPlus(completeText(), "intake-complete-text");
  ASSERT_EQ(r.status, IngestStatus::Accepted);
  EXPECT_FALSE(r.issues.hasErrors());
  Bundle b = parseBundle(r);
  std::map<std::string, int> expected = {
      {"Patient", 1},          {"Practitioner", 2},      {"Organization", 2},
      {"PractitionerRole", 1}, {"ServiceRequest", 1},    {"Observation", 22},
      {"Consent", 1},          {"DocumentReference", 6}, {"QuestionnaireResponse", 1}};
  EXPECT_EQ(b.counts(), expected);

  const auto& patient = b.one("Patient");
  EXPECT_STREQ(patient["identifier"][0]["system"].GetString(), "urn:oid:1.2.250.1.213.1.4.8");
  EXPECT_STREQ(patient["identifier"][0]["value"].GetString(), "252033818512313");
  EXPECT_STREQ(patient["identifier"][0]["type"]["coding"][0]["code"].GetString(), "INS-NIR");
  EXPECT_STREQ(patient["gender"].GetString(), "female");
  EXPECT_STREQ(patient["birthDate"].GetString(), "1952-03-14");
  EXPECT_STREQ(patient["name"][0]["use"].GetString(), "official");
  EXPECT_STREQ(patient["name"][0]["family"].GetString(), "LEGRAND");
  EXPECT_STREQ(patient["name"][0]["given"][0].GetString(), "Jeanne");
  EXPECT_STREQ(patient["name"][1]["family"].GetString(), "DURAND");
  // Birth place 38185 is the NIR's own: an INSEE code, not a postal code.
  EXPECT_STREQ(
      patient["extension"][1]["valueAddress"]["extension"][0]["valueCoding"]["code"].GetString(),
      "38185");

  const auto& request = b.one("ServiceRequest");
  EXPECT_STREQ(request["status"].GetString(), "active");
  EXPECT_STREQ(request["authoredOn"].GetString(), "2026-11-23T10:00:00Z");
  ASSERT_EQ(request["reasonCode"].Size(), 3u);  // dyspnée, palpitations, suivi trouble du rythme
  EXPECT_STREQ(request["reasonCode"][0]["coding"][1]["code"].GetString(), "267036007");
  EXPECT_STREQ(request["reasonCode"][2]["text"].GetString(), "Suivi de trouble du rythme");
  EXPECT_EQ(request["supportingInfo"].Size(), 22u + 6u + 2u);
  // Symptoms, other history, non-cardiovascular history (the title line is the form's).
  ASSERT_EQ(request["note"].Size(), 3u);

  // Weight, height (given in metres) and the BMI computed from them, with UCUM units.
  std::map<std::string, double> vitals;
  for (const auto* obs : b.of("Observation")) {
    if (obs->HasMember("valueQuantity") &&
        (*obs)["category"][0]["coding"][0]["code"] == "vital-signs") {
      vitals[(*obs)["code"]["coding"][0]["code"].GetString()] =
          (*obs)["valueQuantity"]["value"].GetDouble();
    }
  }
  EXPECT_DOUBLE_EQ(vitals["29463-7"], 68.5);
  EXPECT_DOUBLE_EQ(vitals["8302-2"], 162);
  EXPECT_DOUBLE_EQ(vitals["39156-5"], 26.1);

  ASSERT_TRUE(r.eligibility);
  EXPECT_EQ(r.eligibility->status, validate::EligibilityStatus::Eligible);
}

TEST(FormIntake, RiskFactorsAreCodedYesNoUnknown) {
  Bundle b = parseBundle(ingestCardioPlus(completeText(), "intake-risk-factors"));
  std::map<std::string, std::string> answers;  // SNOMED code → Y / N / asked-unknown
  for (const auto* obs : b.of("Observation")) {
    const auto& code = (*obs)["code"]["coding"][0];
    if (std::string_view(code["system"].GetString()) != "http://snomed.info/sct") continue;
    if (obs->HasMember("valueCodeableConcept")) {
      answers[code["code"].GetString()] =
          (*obs)["valueCodeableConcept"]["coding"][0]["code"].GetString();
    } else {
      answers[code["code"].GetString()] =
          (*obs)["dataAbsentReason"]["coding"][0]["code"].GetString();
    }
  }
  EXPECT_EQ(answers["77176002"], "N");               // tabac
  EXPECT_EQ(answers["8517006"], "Y");                // arrêt du tabac
  EXPECT_EQ(answers["38341003"], "Y");               // HTA
  EXPECT_EQ(answers["266894000"], "asked-unknown");  // hérédité: no value, a data-absent reason
  EXPECT_EQ(answers["698247007"], "Y");              // trouble du rythme
  EXPECT_EQ(answers["441509002"], "N");              // stimulateur
  EXPECT_EQ(answers.size(), 16u);
}

TEST(FormIntake, QuestionnaireResponseGivesTheSameResources) {
  IngestResult text = ingestCardioPlus(completeText(), "intake-text-for-qr");
  IngestResult qr =
      ingestCardioPlus(readRepoFile("samples/fiches/questionnaire-response.json"), "intake-qr");
  ASSERT_EQ(qr.status, IngestStatus::Accepted)
      << (qr.issues.empty() ? "" : qr.issues.items()[0].message);
  EXPECT_EQ(parseBundle(qr).counts(), parseBundle(text).counts());
  // The form's own date is the request date.
  EXPECT_STREQ(parseBundle(qr).one("ServiceRequest")["authoredOn"].GetString(),
               "2026-11-20T09:30:00+01:00");
}

TEST(FormIntake, IncompleteFormIsKeptAsDraftWithOneIssuePerGap) {
  IngestResult r =
      ingestCardioPlus(readRepoFile("samples/fiches/fiche-incomplete.txt"), "intake-incomplete");
  ASSERT_EQ(r.status, IngestStatus::Incomplete);
  Bundle b = parseBundle(r);
  EXPECT_STREQ(b.one("ServiceRequest")["status"].GetString(), "draft");
  // A NIR with a wrong key is not sent as an INS.
  EXPECT_FALSE(b.one("Patient").HasMember("identifier"));
  EXPECT_TRUE(has(r, Errc::NirKeyMismatch));
  EXPECT_TRUE(has(r, Errc::FormDocumentNotProvided));
  int missing = 0;
  for (const Issue& i : r.issues.items()) {
    if (i.code == Errc::FormRequiredMissing) {
      ++missing;
      EXPECT_FALSE(i.expression.empty());
      EXPECT_FALSE(i.location.empty());
    }
  }
  // consent, residence, 4 risk factors, 10 history items, 3 documents
  EXPECT_EQ(missing, 19);
  EXPECT_EQ(b.of("Consent").size(), 0u);
  EXPECT_EQ(r.eligibility->status, validate::EligibilityStatus::NotEligible);
}

TEST(FormIntake, NirMustAgreeWithTheTraits) {
  struct Case {
    const char* label;
    const char* value;
    Errc expected;
  };
  for (const Case& c :
       {Case{"Sexe", "Masculin", Errc::NirTraitSexMismatch},
        Case{"Date de naissance", "14/03/1953", Errc::NirTraitYearMismatch},
        Case{"Date de naissance", "14/04/1952", Errc::NirTraitMonthMismatch},
        Case{"Code postal ou INSEE du lieu de naissance", "69003", Errc::NirTraitPlaceMismatch},
        Case{"Code postal ou INSEE du lieu de naissance", "99126", Errc::NirTraitPlaceMismatch}}) {
    SCOPED_TRACE(std::string(c.label) + " " + c.value);
    IngestResult r =
        ingestCardioPlus(replaceLine(completeText(), c.label, c.value), "intake-traits");
    EXPECT_EQ(r.status, IngestStatus::Incomplete);
    // The height given in metres (converted), then the mismatch.
    EXPECT_EQ(codesOf(r), (std::vector<Errc>{Errc::FormValueDerived, c.expected}));
  }
  // A postal code in the right département is consistent; it is kept as a postal code.
  IngestResult postal = ingestCardioPlus(
      replaceLine(completeText(), "Code postal ou INSEE du lieu de naissance", "38000"),
      "intake-birth-postal");
  EXPECT_EQ(postal.status, IngestStatus::Accepted);
  EXPECT_STREQ(
      parseBundle(postal).one("Patient")["extension"][1]["valueAddress"]["postalCode"].GetString(),
      "38000");
}

TEST(FormIntake, ProvisionalNumberIsNotAnIns) {
  std::string nir = test::withKey("7520338185123");
  IngestResult r = ingestCardioPlus(replaceLine(completeText(), "NIR (15 caractères)", nir),
                                    "intake-provisional");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  EXPECT_TRUE(has(r, Errc::NirProvisional));
  EXPECT_FALSE(parseBundle(r).one("Patient").HasMember("identifier"));
  EXPECT_EQ(r.eligibility->status, validate::EligibilityStatus::NotEligible);
}

TEST(FormIntake, ConsentNotAttested) {
  std::string text = completeText();
  std::string mark = "[x] J'atteste";
  text.replace(text.find(mark), mark.size(), "[ ] J'atteste");
  IngestResult r = ingestCardioPlus(text, "intake-no-consent");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  EXPECT_TRUE(has(r, Errc::FormConsentNotAttested));
  EXPECT_EQ(parseBundle(r).of("Consent").size(), 0u);
}

TEST(FormIntake, ImplausibleBmiIsAWarningNotAGap) {
  IngestResult r = ingestCardioPlus(replaceLine(completeText(), "Taille (cm)", "16"), "intake-bmi");
  EXPECT_EQ(r.status, IngestStatus::Accepted);
  EXPECT_TRUE(has(r, Errc::FormBmiOutOfRange));
}

TEST(FormIntake, AgeIsCountedOnTheDayOfIntake) {
  // 65 years old on 2026-11-23 (test clock), one day short of it on the next birthday.
  for (auto [birth, eligible] : {std::pair{"23/11/1961", true}, std::pair{"24/11/1961", false}}) {
    SCOPED_TRACE(birth);
    std::string text = replaceLine(completeText(), "Date de naissance", birth);
    text = replaceLine(text, "NIR (15 caractères)", test::withKey("2611138185123"));
    for (const char* id : {"Trouble du rythme", "Anticoagulant au long cours"})
      text = replaceLine(text, id, "Non");
    IngestResult r = ingestCardioPlus(text, "intake-age");
    EXPECT_EQ(r.status, IngestStatus::Accepted);
    EXPECT_EQ(r.eligibility->status, eligible ? validate::EligibilityStatus::Eligible
                                              : validate::EligibilityStatus::NotEligible);
  }
}

TEST(FormIntake, SameInputSameBundleOtherInputOtherIds) {
  IngestResult a = ingestCardioPlus(completeText(), "intake-determinism");
  IngestResult b = ingestCardioPlus(completeText(), "intake-determinism");
  EXPECT_EQ(a.bundle_json, b.bundle_json);
  IngestResult c = ingestCardioPlus(completeText() + "\n", "intake-determinism-2");
  EXPECT_NE(a.resources.front().full_url, c.resources.front().full_url);
  EXPECT_EQ(a.resources.size(), c.resources.size());
}

TEST(FormIntake, UnreadableInputIsQuarantinedWithAReason) {
  struct Case {
    std::string bytes;
    Errc expected;
  };
  const std::string qr = readRepoFile("samples/fiches/questionnaire-response.json");
  std::string other_questionnaire = qr;
  other_questionnaire.replace(other_questionnaire.find("cardio-plus-fiche-demande"), 25,
                              "dermato-fiche");
  for (const Case& c :
       {Case{"", Errc::InputUnrecognised}, Case{"   \n\n", Errc::InputUnrecognised},
        // A PDF or a zip is read as the form as a document: this one is not a PDF at all.
        Case{std::string("%PDF-1.7\0\0binary", 17), Errc::PdfUnreadable},
        Case{std::string("PK\3\4\0\0binary", 12), Errc::XdmCorrupt},  // the zip reader's code
        Case{std::string("\x7f"
                         "ELF\0\0binary",
                         13),
             Errc::InputUnrecognised},
        Case{readRepoFile("samples/fiches/not-a-form.txt"), Errc::InputUnrecognised},
        Case{"{\"resourceType\": \"QuestionnaireResponse\",", Errc::JsonMalformed},
        Case{qr + "trailing garbage", Errc::JsonMalformed}, Case{"[1, 2, 3]", Errc::FhirStructure},
        Case{R"({"resourceType": "Patient", "id": "x"})", Errc::FhirResourceUnsupported},
        Case{other_questionnaire, Errc::QuestionnaireMismatch}}) {
    SCOPED_TRACE(c.bytes.substr(0, 40));
    IngestResult r = ingestCardioPlus(c.bytes, "intake-quarantine");
    EXPECT_EQ(r.status, IngestStatus::Quarantined);
    ASSERT_TRUE(r.quarantine);
    EXPECT_EQ(r.quarantine->code, c.expected);
    EXPECT_TRUE(r.bundle_json.empty());
    EXPECT_TRUE(r.issues.contains(c.expected));
  }
  FormIntake small(test::cardioPlus(), test::testClock(), IntakeLimits{1000});
  IngestResult big = small.ingest(completeText());
  EXPECT_EQ(big.status, IngestStatus::Quarantined);
  EXPECT_EQ(big.quarantine->code, Errc::InputTooLarge);
}

TEST(FormIntake, HostileInputNeverCrashes) {
  // Deep nesting, a 300 KB line, and thousands of random mutations of both sample kinds.
  EXPECT_EQ(ingestCardioPlus(std::string(200000, '[') + std::string(200000, ']'), "intake-hostile")
                .status,
            IngestStatus::Quarantined);
  auto deepItems = [](int levels) {
    std::string deep = R"({"resourceType":"QuestionnaireResponse","questionnaire":")" +
                       test::cardioPlus()->questionnaire.url + R"(","item":)";
    for (int i = 0; i < levels; ++i)
      deep += R"([{"linkId":"x","item":)";
    deep += "[]";
    for (int i = 0; i < levels; ++i)
      deep += "}]";
    return deep + "}";
  };
  // Items nested past the form's depth, within JSON's limit (2 levels each): read, and said.
  IngestResult nested = ingestCardioPlus(deepItems(40), "intake-hostile");
  EXPECT_NE(nested.status, IngestStatus::Quarantined);
  EXPECT_TRUE(nested.issues.contains(Errc::FhirStructure));
  // Past JSON's limit: not read at all.
  IngestResult too_deep = ingestCardioPlus(deepItems(5000), "intake-hostile");
  EXPECT_EQ(too_deep.status, IngestStatus::Quarantined);
  ASSERT_TRUE(too_deep.quarantine);
  EXPECT_EQ(too_deep.quarantine->code, Errc::JsonTooDeep);
  std::string long_line = "Nom : " + std::string(300 * 1024, 'A') + "\n" + completeText();
  EXPECT_NE(ingestCardioPlus(long_line, "intake-hostile").status, IngestStatus::Quarantined);

  std::mt19937 rng(20261123);
  const std::string seeds[] = {completeText(),
                               readRepoFile("samples/fiches/questionnaire-response.json")};
  for (int round = 0; round < 3000; ++round) {
    std::string s = seeds[round % 2];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      std::size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          s.erase(at, rng() % 64);
          break;
        default:
          s.insert(at, s.substr(rng() % s.size(), rng() % 64));
          break;
      }
    }
    IngestResult r = ingestCardioPlus(s, "intake-hostile");
    if (r.status != IngestStatus::Quarantined) {
      rapidjson::Document d;
      d.Parse(r.bundle_json.data(), r.bundle_json.size());
      ASSERT_FALSE(d.HasParseError()) << "round " << round;
    }
  }
}

TEST(FormIntake, ReportLineAndOperationOutcome) {
  IngestResult r =
      ingestCardioPlus(readRepoFile("samples/fiches/fiche-incomplete.txt"), "intake-report");
  std::string line = reportLine("fiche.txt", r, kIssues);
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["input"].GetString(), "fiche.txt");
  EXPECT_STREQ(d["status"].GetString(), "incomplete");
  EXPECT_STREQ(d["bundle"]["resourceType"].GetString(), "Bundle");
  EXPECT_STREQ(d["eligibility"]["status"].GetString(), "not_eligible");
  const auto& issues = d["outcome"]["issue"];
  ASSERT_EQ(issues.Size(), r.issues.size());
  bool nir = false;
  for (const auto& i : issues.GetArray()) {
    if (std::string_view(i["details"]["coding"][0]["code"].GetString()) != "nir-key-mismatch")
      continue;
    nir = true;
    EXPECT_STREQ(i["severity"].GetString(), "error");
    EXPECT_STREQ(i["code"].GetString(), "value");
    EXPECT_STREQ(
        i["expression"][0].GetString(),
        "QuestionnaireResponse.item.where(linkId='patient').item.where(linkId='patient-nir')");
    EXPECT_EQ(std::string(i["details"]["text"].GetString()).find("38"), std::string::npos);
  }
  EXPECT_TRUE(nir);

  IngestResult ok = ingestCardioPlus(readRepoFile("samples/fiches/questionnaire-response.json"),
                                     "intake-report-ok");
  d.Parse(operationOutcomeJson(ok, kIssues).c_str());
  ASSERT_EQ(d["issue"].Size(), 1u) << "an OperationOutcome has at least one issue";
  EXPECT_STREQ(d["issue"][0]["severity"].GetString(), "information");
  // The error codes' CodeSystem is under the deployment's canonical base, as given.
  d.Parse(operationOutcomeJson(r, "https://other.example/fhir/CodeSystem/liaison-issue").c_str());
  EXPECT_STREQ(d["issue"][0]["details"]["coding"][0]["system"].GetString(),
               "https://other.example/fhir/CodeSystem/liaison-issue");
}

// What the reader does not understand is never dropped: the request's note keeps it, each piece
// with where it was.
TEST(FormIntake, UnrecognisedTextIsKeptInTheRequestsNote) {
  std::string text = completeText();
  text.replace(0, text.find('\n'), "FICHE DE LIAISON DU CABINET");
  IngestResult r = ingestCardioPlus(text, "intake-unrecognised");
  const Bundle b = parseBundle(r);
  const auto& request = b.one("ServiceRequest");
  ASSERT_EQ(request["note"].Size(), 4u);
  EXPECT_STREQ(request["note"][3]["text"].GetString(),
               "Texte de la fiche non reconnu, gardé tel quel :\n"
               "ligne 1 : FICHE DE LIAISON DU CABINET");
}

}  // namespace
}  // namespace liaison::pipeline
