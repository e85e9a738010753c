// The same fiche de demande in every layout tests/fiches/make_fiches.py writes (our sample's, the
// printed form's wording with its boxes after the options and its two columns, boxes before, one
// field per line, a mail client's 72-column re-wrapping, windows-1252, a hurried sender's
// variant): the same QuestionnaireResponse answers, the same eligibility, no line of the form left
// unrecognised, and the derived values said where expected. Then the ESS's published rules, on the
// printed form's layout of issue 13's example (a 71-year-old woman from Voiron).

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/form/questionnaire.hpp"
#include "fiches/fiche_answers.hpp"
#include "support/test_support.hpp"

namespace liaison::pipeline {
namespace {

using test::Answers;
using test::collect;
using test::compact;
using test::readFile;

std::string fichesDir() {
  const char* dir = std::getenv("LIAISON_FICHES_DIR");
  // A missing generator's output fails: it never turns into a skip.
  EXPECT_NE(dir, nullptr) << "LIAISON_FICHES_DIR is not set (run through ctest: fiches.make)";
  return dir == nullptr ? "/nonexistent" : dir;
}

struct Fiche {
  std::string file;
  std::string request;
  std::string layout;
  std::string encoding;
  std::set<std::string> derived;
  std::vector<std::string> not_of_the_form;
  std::string authored;  // "" when the file states no date
};

std::vector<Fiche> manifest() {
  static const std::vector<Fiche> fiches = [] {
    std::vector<Fiche> out;
    std::string json = readFile(fichesDir() + "/manifest.json");
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("files")) {
      ADD_FAILURE() << "manifest.json unreadable";
      return out;
    }
    for (const auto& f : d["files"].GetArray()) {
      Fiche fiche{f["file"].GetString(),
                  f["request"].GetString(),
                  f["layout"].GetString(),
                  f["encoding"].GetString(),
                  {},
                  {},
                  {}};
      for (const auto& id : f["derived"].GetArray())
        fiche.derived.insert(id.GetString());
      for (const auto& line : f["notOfTheForm"].GetArray())
        fiche.not_of_the_form.emplace_back(line.GetString());
      if (f["authored"].IsString()) fiche.authored = f["authored"].GetString();
      out.push_back(std::move(fiche));
    }
    return out;
  }();
  return fiches;
}

struct Read {
  IngestResult result;
  test::Bundle bundle;
  Answers answers;
  std::vector<std::string> sources;
  std::string authored;
};

Read ingest(const std::string& bytes, const std::string& name) {
  Read r;
  r.result = test::ingestCardioPlus(bytes, "fiche-" + name);
  r.bundle = test::parseBundle(r.result);
  const auto& qr = r.bundle.one("QuestionnaireResponse");
  if (qr.HasMember("item")) collect(qr["item"], r.answers, r.sources);
  if (qr.HasMember("authored")) r.authored = qr["authored"].GetString();
  return r;
}

std::string describe(const Answers& a) {
  std::string out;
  for (const auto& [id, values] : a) {
    for (const auto& v : values)
      out += "  " + id + " " + v + "\n";
  }
  return out;
}

// The linkId an issue's FHIRPath ends on: ….where(linkId='patient-commune').
std::string linkIdOf(const Issue& issue) {
  const std::string& e = issue.expression;
  std::size_t at = e.rfind("linkId='");
  if (at == std::string::npos) return {};
  at += 8;
  return e.substr(at, e.find('\'', at) - at);
}

std::vector<std::string> codes(const validate::Eligibility& e) {
  std::vector<std::string> out;
  for (const auto& r : e.reasons)
    out.push_back(r.code + (r.value == validate::Tri::True      ? "=true"
                            : r.value == validate::Tri::Unknown ? "=unknown"
                                                                : "=false"));
  return out;
}

// --- every layout, the same request ------------------------------------------------------------

TEST(FicheLayouts, TheGeneratorWroteEveryLayoutOfBothRequests) {
  std::map<std::string, std::set<std::string>> layouts;
  for (const Fiche& f : manifest())
    layouts[f.request].insert(f.layout);
  const std::set<std::string> expected = {"ours",       "paper",  "marks-before", "one-per-line",
                                          "wrapped-72", "cp1252", "variant"};
  EXPECT_EQ(layouts["durand"], expected);
  EXPECT_EQ(layouts["voiron"], expected);
  // Our layout of the sample's request is the sample itself, byte for byte.
  EXPECT_EQ(readFile(fichesDir() + "/durand-ours.txt"),
            test::readRepoFile("samples/fiches/fiche-complete.txt"));
}

class EveryLayout : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryLayout, GivesTheSameAnswersAndEligibility) {
  const std::string& request = GetParam();
  const std::string dir = fichesDir();
  Read reference = ingest(readFile(dir + "/" + request + "-ours.txt"), request + "-reference");
  ASSERT_EQ(reference.result.status, IngestStatus::Accepted);
  ASSERT_TRUE(reference.result.eligibility);
  ASSERT_GT(reference.answers.size(), 50u) << describe(reference.answers);
  const std::string ins = compact(reference.bundle.one("Patient")["identifier"]);

  std::size_t layouts = 0;
  for (const Fiche& f : manifest()) {
    if (f.request != request) continue;
    ++layouts;
    SCOPED_TRACE(f.file);
    const std::string bytes = readFile(dir + "/" + f.file);
    if (f.encoding == "windows-1252") {
      ASSERT_NE(bytes.find('\xE9'), std::string::npos) << "é as one windows-1252 byte";
      ASSERT_NE(bytes.find("\r\n"), std::string::npos);
    }
    Read r = ingest(bytes, f.file);
    EXPECT_EQ(r.result.status, IngestStatus::Accepted);

    // The same answers, item by item.
    for (const auto& [id, values] : reference.answers) {
      auto it = r.answers.find(id);
      EXPECT_TRUE(it != r.answers.end() && it->second == values)
          << id << ": " << (it == r.answers.end() ? "not answered" : it->second.front())
          << ", expected " << values.front();
    }
    for (const auto& [id, values] : r.answers)
      EXPECT_TRUE(reference.answers.count(id)) << id << " answered, not in the reference";
    // The same patient identity (the INS), the same eligibility and reasons.
    EXPECT_EQ(compact(r.bundle.one("Patient")["identifier"]), ins);
    ASSERT_TRUE(r.result.eligibility);
    EXPECT_EQ(r.result.eligibility->status, reference.result.eligibility->status);
    EXPECT_EQ(codes(*r.result.eligibility), codes(*reference.result.eligibility));

    // Where each answer was read, a line of this file.
    std::size_t count = 0;
    for (const auto& [id, values] : r.answers)
      count += values.size();
    EXPECT_EQ(r.sources.size(), count) << "every answer says where it was read";
    for (const std::string& s : r.sources)
      EXPECT_TRUE(s.starts_with("ligne ") || s.starts_with("lignes ")) << s;

    // No line of the form unrecognised: only the lines that are not of the form, whose text the
    // request's note keeps.
    std::size_t unrecognised = 0;
    std::set<std::string> derived;
    for (const Issue& i : r.result.issues.items()) {
      EXPECT_NE(i.severity, Severity::Error) << info(i.code).code << " " << i.location;
      if (i.code == Errc::FormLineUnrecognised) ++unrecognised;
      if (i.code == Errc::FormValueDerived) derived.insert(linkIdOf(i));
      EXPECT_NE(i.code, Errc::FormAnswerRepeated) << i.location;
    }
    EXPECT_EQ(unrecognised, f.not_of_the_form.size());
    const auto& notes = r.bundle.one("ServiceRequest")["note"];
    std::string kept = compact(notes);
    for (const std::string& line : f.not_of_the_form) {
      rapidjson::Value v(line.c_str(), static_cast<rapidjson::SizeType>(line.size()));
      std::string quoted = compact(v);
      EXPECT_NE(kept.find(quoted.substr(1, quoted.size() - 2)), std::string::npos) << line;
    }
    // The values read out of merged fields, said so.
    EXPECT_EQ(derived, f.derived);
    // The request's date, when the file states one.
    if (!f.authored.empty()) {
      EXPECT_EQ(r.authored, f.authored);
      EXPECT_STREQ(r.bundle.one("ServiceRequest")["authoredOn"].GetString(), f.authored.c_str());
    }
  }
  EXPECT_GE(layouts, 7u);
}

INSTANTIATE_TEST_SUITE_P(Requests, EveryLayout, ::testing::Values("durand", "voiron"));

// The sample itself reads like the generated layouts of its request.
TEST(FicheLayouts, TheSampleIsTheReferenceOfItsRequest) {
  Read sample = ingest(test::readRepoFile("samples/fiches/fiche-complete.txt"), "sample");
  Read paper = ingest(readFile(fichesDir() + "/durand-paper.txt"), "durand-paper-vs-sample");
  EXPECT_EQ(sample.answers, paper.answers) << describe(sample.answers) << "---\n"
                                           << describe(paper.answers);
}

// samples/fiches/fiche-papier.txt (the paper-wording sample of the demo and the form bench) is
// the generator's paper layout of that request, byte for byte: it cannot drift from it.
TEST(FicheLayouts, ThePaperSampleIsTheGeneratorsPaperLayout) {
  EXPECT_EQ(test::readRepoFile("samples/fiches/fiche-papier.txt"),
            readFile(fichesDir() + "/durand-paper.txt"))
      << "run tests/fiches/make_fiches.py and copy durand-paper.txt to "
         "samples/fiches/fiche-papier.txt";
}

// --- issue 13's example: the 71-year-old woman from Voiron ------------------------------------

std::string voironPaper() {
  return readFile(fichesDir() + "/voiron-paper.txt");
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no \"" << from << "\" in the fiche";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(FicheVoiron, EligibleCompleteWithHerNirRead) {
  Read r = ingest(voironPaper(), "voiron-paper-example");
  ASSERT_EQ(r.result.status, IngestStatus::Accepted) << describe(r.answers);
  EXPECT_FALSE(r.result.issues.hasErrors());
  ASSERT_TRUE(r.result.eligibility);
  EXPECT_EQ(r.result.eligibility->status, validate::EligibilityStatus::Eligible);
  const auto& patient = r.bundle.one("Patient");
  ASSERT_TRUE(patient.HasMember("identifier")) << "the INS, from her NIR";
  EXPECT_STREQ(patient["identifier"][0]["value"].GetString(), "255063856304204");
  EXPECT_STREQ(patient["identifier"][0]["system"].GetString(), "urn:oid:1.2.250.1.213.1.4.8");
  EXPECT_STREQ(patient["birthDate"].GetString(), "1955-06-12");
  // Her address: the street, and the postal code and commune read out of the "Adresse :" line.
  EXPECT_STREQ(patient["address"][0]["line"][0].GetString(), "5 rue Fictive");
  EXPECT_STREQ(patient["address"][0]["postalCode"].GetString(), "38500");
  EXPECT_STREQ(patient["address"][0]["city"].GetString(), "Voiron");
  // "Code postal de naissance : 38500": Voiron's postal code, not the INSEE code the NIR holds.
  EXPECT_STREQ(patient["extension"][1]["valueAddress"]["postalCode"].GetString(), "38500");
  // The requester: "Médecin généraliste" is the Questionnaire's médecin, a PractitionerRole code.
  const auto& role = r.bundle.one("PractitionerRole");
  EXPECT_STREQ(role["code"][0]["coding"][0]["code"].GetString(), "10");
  EXPECT_STREQ(role["code"][0]["coding"][1]["code"].GetString(), "medecin");
  EXPECT_STREQ(r.bundle.one("ServiceRequest")["authoredOn"].GetString(), "2026-11-20");
  EXPECT_EQ(
      r.answers["fdr-sedentarite"],
      std::vector<std::string>{
          R"(valueCoding={"system":"http://terminology.hl7.org/CodeSystem/data-absent-reason","code":"asked-unknown","display":"Inconnu"})"});
}

// The ESS's published rules, from the form as people fill it.
struct RuleCase {
  const char* name;
  std::vector<std::pair<std::string, std::string>> edits;  // on voiron-paper.txt
  validate::EligibilityStatus status;
  std::string reason;  // a reason that must be listed ("code=true|unknown|false")
  IngestStatus intake = IngestStatus::Accepted;
};

void PrintTo(const RuleCase& c, std::ostream* os) {
  *os << c.name;
}

class PublishedRules : public ::testing::TestWithParam<RuleCase> {};

TEST_P(PublishedRules, OnThePrintedForm) {
  const RuleCase& c = GetParam();
  std::string text = voironPaper();
  for (const auto& [from, to] : c.edits)
    text = replaced(text, from, to);
  Read r = ingest(text, std::string("rule-") + c.name);
  EXPECT_EQ(r.result.status, c.intake);
  ASSERT_TRUE(r.result.eligibility);
  EXPECT_EQ(r.result.eligibility->status, c.status)
      << ::testing::PrintToString(codes(*r.result.eligibility));
  std::vector<std::string> got = codes(*r.result.eligibility);
  EXPECT_NE(std::find(got.begin(), got.end(), c.reason), got.end())
      << c.reason << " not in " << ::testing::PrintToString(got);
  for (const auto& reason : r.result.eligibility->reasons) {
    if (reason.value == validate::Tri::Unknown) {
      EXPECT_FALSE(reason.detail.empty()) << reason.code << ": an unknown says why";
    }
  }
}

const std::string kVoironBirth = "Date de naissance : 12/06/1955";
const std::string kVoironNir = "NIR (15 chiffres) : 2 55 06 38 563 042 04";
// 50 years old on the test clock's day, the NIR made for that birth date.
const std::string kYoungBirth = "Date de naissance : 12/06/1976";
const std::string kYoungNir =
    "NIR (15 chiffres) : 2 76 06 38 563 042 " + test::withKey("2760638563042").substr(13);
const std::string kValvulopathieOui =
    "Valvulopathie : Oui \xE2\x98\x92  Non \xE2\x98\x90  Inconnu \xE2\x98\x90";
const std::string kValvulopathieNon =
    "Valvulopathie : Oui \xE2\x98\x90  Non \xE2\x98\x92  Inconnu \xE2\x98\x90";
std::vector<std::pair<std::string, std::string>> young() {
  return {
      {kVoironBirth, kYoungBirth}, {kVoironNir, kYoungNir}, {kValvulopathieOui, kValvulopathieNon}};
}
std::vector<std::pair<std::string, std::string>> young(std::string from, std::string to) {
  auto e = young();
  e.emplace_back(std::move(from), std::move(to));
  return e;
}

using validate::EligibilityStatus;

INSTANTIATE_TEST_SUITE_P(
    Cardio, PublishedRules,
    ::testing::Values(
        // Inclusion: each criterion on its own (the others do not hold: 50 years old, no history).
        RuleCase{"Age65", {}, EligibilityStatus::Eligible, "age-65-ans=true"},
        RuleCase{"CardiovascularHistory",
                 {{kVoironBirth, kYoungBirth}, {kVoironNir, kYoungNir}},
                 EligibilityStatus::Eligible,
                 "antecedent-cardiovasculaire=true"},
        RuleCase{"Precarity", young("Précarité : Non", "Précarité : Oui"),
                 EligibilityStatus::Eligible, "precarite=true"},
        RuleCase{"LossOfAutonomy", young("Perte d'autonomie : Non", "Perte d'autonomie : Oui"),
                 EligibilityStatus::Eligible, "perte-autonomie=true"},
        RuleCase{"Dependent", young("Patient dépendant : Non", "Patient dépendant : Oui"),
                 EligibilityStatus::Eligible, "patient-dependant=true"},
        RuleCase{"LivesInANursingHome",
                 young("Lieu de résidence actuel du patient : Domicile",
                       "Lieu de résidence actuel du patient : EHPAD"),
                 EligibilityStatus::Eligible, "patient-dependant=true",
                 IngestStatus::Incomplete},  // the nursing home's name is then required
        RuleCase{"NoCriterion", young(), EligibilityStatus::NotEligible,
                 "aucun-critere-inclusion=false"},
        // Exclusion.
        RuleCase{"Urgence",
                 {{"Urgence : Non", "Urgence : Oui"}},
                 EligibilityStatus::NotEligible,
                 "urgence=true"},
        RuleCase{"CardiologistAlreadyFollowing",
                 {{"Cardiologue traitant :", "Cardiologue traitant : Dr FICTIF-COEUR"}},
                 EligibilityStatus::ToReview,
                 "cardiologue-sans-accord=unknown"},
        RuleCase{"CardiologistRefused",
                 {{"Cardiologue traitant :",
                   "Cardiologue traitant : Dr FICTIF-COEUR\tAccord du cardiologue : Non"}},
                 EligibilityStatus::NotEligible,
                 "cardiologue-sans-accord=true"},
        RuleCase{"OutsideTheTerritory",
                 {{"5 rue Fictive 38500 Voiron", "5 rue Fictive 69003 Lyon"}},
                 EligibilityStatus::NotEligible,
                 "hors-territoire=true"},
        RuleCase{"NoNir",
                 {{kVoironNir, "NIR (15 chiffres) :"}},
                 EligibilityStatus::NotEligible,
                 "sans-nir=true",
                 IngestStatus::Incomplete},
        RuleCase{"NirMistyped",
                 {{kVoironNir, "NIR (15 chiffres) : 2 55 06 38 563 042 05"}},
                 EligibilityStatus::ToReview,
                 "sans-nir=unknown",
                 IngestStatus::Incomplete},
        RuleCase{"NirUnreadable",
                 {{kVoironNir, "NIR (15 chiffres) : (illisible)"}},
                 EligibilityStatus::ToReview,
                 "sans-nir=unknown",
                 IngestStatus::Incomplete},
        // The NIR's value on the line after its label (a PDF's text, a table): read.
        RuleCase{"NirOnTheNextLine",
                 {{"Prénom : Monique Andrée\tNIR (15 chiffres) : 2 55 06 38 563 042 04",
                   "Prénom : Monique Andrée\tNIR (15 chiffres) :\n2 55 06 38 563 042 04"}},
                 EligibilityStatus::Eligible,
                 "age-65-ans=true"},
        // Incomplete, whatever the eligibility: no consent, no motif.
        RuleCase{"ConsentNotTicked",
                 {{"\xE2\x98\x92 J'atteste", "\xE2\x98\x90 J'atteste"}},
                 EligibilityStatus::Eligible,
                 "age-65-ans=true",
                 IngestStatus::Incomplete},
        RuleCase{"NoMotif",
                 {{"Dépistage IC \xE2\x98\x92", "Dépistage IC \xE2\x98\x90"},
                  {"Dyspnée \xE2\x98\x92", "Dyspnée \xE2\x98\x90"}},
                 EligibilityStatus::Eligible,
                 "age-65-ans=true",
                 IngestStatus::Incomplete}),
    [](const ::testing::TestParamInfo<RuleCase>& p) { return std::string(p.param.name); });

// The incomplete ones say what is missing, by its code.
TEST(FicheVoiron, MissingConsentAndMotifAreTheGaps) {
  std::string text = replaced(voironPaper(), "\xE2\x98\x92 J'atteste", "\xE2\x98\x90 J'atteste");
  Read no_consent = ingest(text, "voiron-no-consent");
  EXPECT_TRUE(no_consent.result.issues.contains(Errc::FormConsentNotAttested));
  EXPECT_EQ(no_consent.bundle.of("Consent").size(), 0u);
  text = replaced(replaced(voironPaper(), "Dépistage IC \xE2\x98\x92", "Dépistage IC \xE2\x98\x90"),
                  "Dyspnée \xE2\x98\x92", "Dyspnée \xE2\x98\x90");
  Read no_motif = ingest(text, "voiron-no-motif");
  bool motif = false;
  for (const Issue& i : no_motif.result.issues.items())
    motif = motif || (i.code == Errc::FormRequiredMissing && linkIdOf(i) == "motif");
  EXPECT_TRUE(motif);
  EXPECT_STREQ(no_motif.bundle.one("ServiceRequest")["status"].GetString(), "draft");
}

}  // namespace
}  // namespace liaison::pipeline
