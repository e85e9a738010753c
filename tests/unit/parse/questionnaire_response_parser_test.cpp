// parseQuestionnaireResponse: the sample QuestionnaireResponse, documents it refuses, and the
// answer-level issues it collects without stopping.

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "core/form/form_response.hpp"
#include "parse/form/form_parser.hpp"
#include "support/test_support.hpp"

namespace liaison::parse {
namespace {

using form::AnswerValue;
using form::Coding;
using form::Questionnaire;

constexpr const char* kCanonical =
    "https://liaison.example.org/fhir/Questionnaire/cardio-plus-fiche-demande";

const Questionnaire& cardio() {
  return test::cardioPlus()->questionnaire;
}

// A QuestionnaireResponse with the given top-level items.
std::string qr(const std::string& items, const std::string& canonical = kCanonical) {
  return R"({"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": ")" +
         canonical + R"(", "item": [)" + items + "]}";
}

// {"linkId": group, "item": [{"linkId": id, "answer": [answers]}]}
std::string grouped(const std::string& group, const std::string& id, const std::string& answers) {
  return R"({"linkId": ")" + group + R"(", "item": [{"linkId": ")" + id + R"(", "answer": [)" +
         answers + "]}]}";
}

ParsedForm parseOk(const std::string& json) {
  auto r = parseQuestionnaireResponse(json, cardio());
  EXPECT_TRUE(r.has_value()) << (r.has_value() ? "" : r.error().detail);
  if (!r.has_value()) return ParsedForm{form::FormResponse(cardio()), {}, 0};
  return std::move(r).value();
}

std::vector<Errc> codesOf(const IssueList& issues) {
  std::vector<Errc> out;
  for (const Issue& i : issues.items())
    out.push_back(i.code);
  return out;
}

std::string describe(const IssueList& issues) {
  std::string out;
  for (const Issue& i : issues.items()) {
    out += std::string(info(i.code).code) + " @" + i.expression + " " + i.location + ": " +
           i.message + "\n";
  }
  return out;
}

const Issue* findIssue(const IssueList& issues, Errc code) {
  for (const Issue& i : issues.items()) {
    if (i.code == code) return &i;
  }
  return nullptr;
}

const Coding* codingOf(const ParsedForm& p, std::string_view link_id) {
  const AnswerValue* v = p.response.first(link_id);
  return v == nullptr ? nullptr : std::get_if<Coding>(v);
}

class FormParserQuestionnaireResponseSample : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = parseQuestionnaireResponse(
        test::readRepoFile("samples/fiches/questionnaire-response.json"), cardio());
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    parsed_ = new ParsedForm(std::move(r).value());
  }
  static void TearDownTestSuite() {
    delete parsed_;
    parsed_ = nullptr;
  }
  static const ParsedForm& p() { return *parsed_; }

  static ParsedForm* parsed_;
};

ParsedForm* FormParserQuestionnaireResponseSample::parsed_ = nullptr;

TEST_F(FormParserQuestionnaireResponseSample, ParsesWithoutIssues) {
  EXPECT_TRUE(p().issues.empty()) << describe(p().issues);
  EXPECT_EQ(p().recognised, 62u);
  EXPECT_EQ(p().response.id, "exemple-fiche-cardio-plus");
  ASSERT_TRUE(p().response.authored.has_value());
  EXPECT_EQ(*p().response.authored, "2026-11-20T09:30:00+01:00");
  EXPECT_EQ(&p().response.questionnaire(), &cardio());
}

TEST_F(FormParserQuestionnaireResponseSample, ReadsBooleansAndStrings) {
  ASSERT_NE(p().response.first("consentement-patient"), nullptr);
  EXPECT_EQ(*p().response.first("consentement-patient"), AnswerValue{true});
  EXPECT_EQ(*p().response.first("doc-ecg"), AnswerValue{true});
  EXPECT_EQ(*p().response.first("demandeur-nom"), AnswerValue{std::string("MARTIN")});
  EXPECT_EQ(*p().response.first("patient-nir"), AnswerValue{std::string("2 52 03 38 185 123 13")});
  EXPECT_EQ(*p().response.first("atcd-non-cardiovasculaires"),
            AnswerValue{std::string("hypothyroïdie substituée,\narthrose des genoux")});
  EXPECT_EQ(p().response.first("patient-cardiologue"), nullptr);
  EXPECT_EQ(p().response.first("patient-sans-medecin-traitant"), nullptr);
}

TEST_F(FormParserQuestionnaireResponseSample, ReadsDatesDecimalsAndIntegers) {
  EXPECT_EQ(*p().response.first("patient-date-naissance"), AnswerValue{(form::Date{1952, 3, 14})});
  EXPECT_EQ(*p().response.first("patient-poids"), AnswerValue{form::Decimal{68.5}});
  EXPECT_EQ(*p().response.first("patient-taille"), AnswerValue{form::Decimal{162.0}});
  EXPECT_EQ(*p().response.first("fdr-diabete-duree"), AnswerValue{form::Decimal{12.0}});
  EXPECT_EQ(*p().response.first("patient-rang-naissance"), AnswerValue{std::int64_t{1}});
  EXPECT_EQ(*p().response.first("fdr-arret-tabac-annee"), AnswerValue{std::int64_t{2009}});
}

TEST_F(FormParserQuestionnaireResponseSample, ReadsCodingsAsTheQuestionnaireOptions) {
  const Coding* sexe = codingOf(p(), "patient-sexe");
  ASSERT_NE(sexe, nullptr);
  EXPECT_EQ(sexe->system, "http://hl7.org/fhir/administrative-gender");
  EXPECT_EQ(sexe->code, "female");
  EXPECT_EQ(sexe->display, "Féminin");

  const Coding* heredite = codingOf(p(), "fdr-heredite");
  ASSERT_NE(heredite, nullptr);
  EXPECT_EQ(heredite->code, "asked-unknown");
  EXPECT_EQ(heredite->system, "http://terminology.hl7.org/CodeSystem/data-absent-reason");
  EXPECT_EQ(codingOf(p(), "fdr-tabac")->code, "N");
  EXPECT_EQ(codingOf(p(), "fdr-hta")->code, "Y");
  EXPECT_EQ(codingOf(p(), "fdr-diabete-type")->code, "44054006");
  EXPECT_EQ(codingOf(p(), "demandeur-fonction")->display, "Médecin");
}

TEST_F(FormParserQuestionnaireResponseSample, KeepsEveryMotifInOrder) {
  auto motifs = p().response.answers("motif");
  ASSERT_EQ(motifs.size(), 3u);
  EXPECT_EQ(std::get<Coding>(motifs[0].value).code, "dyspnee");
  EXPECT_EQ(std::get<Coding>(motifs[0].value).display, "Dyspnée");
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "palpitations");
  EXPECT_EQ(std::get<Coding>(motifs[2].value).code, "suivi-trouble-rythme");
  EXPECT_EQ(motifs[2].location, "QuestionnaireResponse.item[7].item[0].answer[2]");
}

TEST_F(FormParserQuestionnaireResponseSample, LocatesAnswersByFhirPath) {
  auto date = p().response.answers("patient-date-naissance");
  ASSERT_EQ(date.size(), 1u);
  EXPECT_EQ(date[0].location, "QuestionnaireResponse.item[2].item[4].answer[0]");
  EXPECT_EQ(p().response.answers("consentement-patient")[0].location,
            "QuestionnaireResponse.item[0].item[0].answer[0]");
}

// The sample QuestionnaireResponse and fiche-complete.txt describe the same request.
TEST_F(FormParserQuestionnaireResponseSample, AnswersLikeTheSameFormTypedAsText) {
  ParsedForm text = test::cardioPlus()->textReader().read(
      test::readRepoFile("samples/fiches/fiche-complete.txt"));
  for (const form::Item& item : cardio().items()) {
    auto a = p().response.answers(item.index);
    auto b = text.response.answers(item.index);
    ASSERT_EQ(a.size(), b.size()) << item.link_id;
    for (std::size_t k = 0; k < a.size(); ++k)
      EXPECT_TRUE(form::sameAnswer(a[k].value, b[k].value)) << item.link_id << " #" << k;
  }
}

// --- the whole document ---------------------------------------------------------------------

TEST(FormParserQuestionnaireResponse, AcceptsACanonicalWithOrWithoutVersion) {
  const std::string items = grouped("patient", "patient-nom", R"({"valueString": "DURAND"})");
  for (const std::string& canonical :
       {std::string(kCanonical), std::string(kCanonical) + "|1.0.0"}) {
    auto r = parseQuestionnaireResponse(qr(items, canonical), cardio());
    ASSERT_TRUE(r.has_value()) << canonical << ": " << r.error().detail;
    EXPECT_EQ(*r->response.first("patient-nom"), AnswerValue{std::string("DURAND")});
    EXPECT_TRUE(r->issues.empty());
    EXPECT_EQ(r->recognised, 1u);
  }
}

TEST(FormParserQuestionnaireResponse, AcceptsAnEmptyResponse) {
  auto r =
      parseQuestionnaireResponse(R"({"resourceType": "QuestionnaireResponse", "questionnaire": ")" +
                                     std::string(kCanonical) + R"("})",
                                 cardio());
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->recognised, 0u);
  EXPECT_TRUE(r->issues.empty());
  EXPECT_FALSE(r->response.authored.has_value());
  EXPECT_EQ(r->response.id, "");
}

TEST(FormParserQuestionnaireResponse, MalformedJsonIsJsonMalformedWithItsPosition) {
  // Line 3 ends after the comma; the closing brace on line 4 is the error.
  const std::string json =
      "{\n  \"resourceType\": \"QuestionnaireResponse\",\n  \"status\": \"completed\",\n}";
  auto r = parseQuestionnaireResponse(json, cardio());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::JsonMalformed);
  EXPECT_NE(r.error().detail.find("line 4, column 1"), std::string::npos) << r.error().detail;

  auto truncated = parseQuestionnaireResponse(R"({"resourceType": "Questionn)", cardio());
  ASSERT_FALSE(truncated.has_value());
  EXPECT_EQ(truncated.error().code, Errc::JsonMalformed);
  EXPECT_NE(truncated.error().detail.find("line 1, column "), std::string::npos);

  for (std::string_view bad :
       {std::string_view(""), std::string_view("Nom : DURAND"), std::string_view("{\"a\": 1,}"),
        std::string_view("{\"resourceType\": \"QuestionnaireResponse\"} {}")}) {
    auto e = parseQuestionnaireResponse(bad, cardio());
    ASSERT_FALSE(e.has_value()) << bad;
    EXPECT_EQ(e.error().code, Errc::JsonMalformed) << bad;
  }
}

TEST(FormParserQuestionnaireResponse, JsonWithoutResourceTypeIsFhirStructure) {
  for (std::string_view json : {std::string_view(R"({"item": []})"), std::string_view("[1, 2]"),
                                std::string_view(R"({"resourceType": 42})")}) {
    auto r = parseQuestionnaireResponse(json, cardio());
    ASSERT_FALSE(r.has_value()) << json;
    EXPECT_EQ(r.error().code, Errc::FhirStructure) << json;
    EXPECT_FALSE(r.error().detail.empty());
  }
}

TEST(FormParserQuestionnaireResponse, OtherResourcesAreUnsupported) {
  auto r = parseQuestionnaireResponse(R"({"resourceType": "Patient", "id": "p1"})", cardio());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::FhirResourceUnsupported);
  EXPECT_NE(r.error().detail.find("Patient"), std::string::npos) << r.error().detail;

  auto q = parseQuestionnaireResponse(
      test::readRepoFile("profiles/cardio-plus/questionnaire-fiche-demande.json"), cardio());
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().code, Errc::FhirResourceUnsupported);
}

TEST(FormParserQuestionnaireResponse, AnotherQuestionnaireIsAMismatch) {
  const std::string items = grouped("patient", "patient-nom", R"({"valueString": "DURAND"})");
  for (const std::string& canonical : {std::string("https://example.org/Questionnaire/other"),
                                       std::string("https://example.org/Questionnaire/other|1.0.0"),
                                       std::string(kCanonical) + "-v2", std::string("")}) {
    auto r = parseQuestionnaireResponse(qr(items, canonical), cardio());
    ASSERT_FALSE(r.has_value()) << canonical;
    EXPECT_EQ(r.error().code, Errc::QuestionnaireMismatch) << canonical;
    EXPECT_NE(r.error().detail.find(kCanonical), std::string::npos) << r.error().detail;
  }
  auto none = parseQuestionnaireResponse(R"({"resourceType": "QuestionnaireResponse", "item": []})",
                                         cardio());
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Errc::QuestionnaireMismatch);
}

// --- answer-level issues: collected, never stopping ------------------------------------------

TEST(FormParserQuestionnaireResponse, WrongValueTypeIsInvalidWithItsFhirPath) {
  ParsedForm p =
      parseOk(qr(grouped("consentement", "consentement-patient", R"({"valueString": "oui"})") +
                 "," + grouped("documents", "doc-ordonnances", R"({"valueBoolean": true})")));
  ASSERT_EQ(p.issues.size(), 1u) << describe(p.issues);
  const Issue& issue = p.issues.items()[0];
  EXPECT_EQ(issue.code, Errc::FormAnswerInvalid);
  EXPECT_EQ(issue.severity, Severity::Error);
  EXPECT_EQ(issue.expression, "QuestionnaireResponse.item[0].item[0].answer[0]");
  EXPECT_EQ(issue.location, "consentement-patient");
  EXPECT_NE(issue.message.find("texte non accepté"), std::string::npos) << issue.message;
  EXPECT_FALSE(p.response.answered(cardio().find("consentement-patient")->index));
  // The rest of the form is still read.
  EXPECT_EQ(*p.response.first("doc-ordonnances"), AnswerValue{true});
  EXPECT_EQ(p.recognised, 1u);
}

struct BadAnswer {
  const char* name;
  const char* group;
  const char* link_id;
  const char* answer;
};

void PrintTo(const BadAnswer& c, std::ostream* os) {
  *os << c.name;
}

class FormParserQuestionnaireResponseInvalid : public ::testing::TestWithParam<BadAnswer> {};

TEST_P(FormParserQuestionnaireResponseInvalid, IsFormAnswerInvalidAndNotKept) {
  const BadAnswer& c = GetParam();
  ParsedForm p = parseOk(qr(grouped(c.group, c.link_id, c.answer)));
  ASSERT_EQ(p.issues.size(), 1u) << describe(p.issues);
  EXPECT_EQ(p.issues.items()[0].code, Errc::FormAnswerInvalid);
  EXPECT_EQ(p.issues.items()[0].expression, "QuestionnaireResponse.item[0].item[0].answer[0]");
  EXPECT_EQ(p.issues.items()[0].location, c.link_id);
  EXPECT_TRUE(p.response.answers(c.link_id).empty());
  EXPECT_EQ(p.recognised, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    FormParser, FormParserQuestionnaireResponseInvalid,
    ::testing::Values(
        BadAnswer{"CodeNotInOptions", "patient", "patient-sexe",
                  R"({"valueCoding": {"system": "http://hl7.org/fhir/administrative-gender",
                                      "code": "other"}})"},
        BadAnswer{"CodeFromAnotherSystem", "facteurs-risque", "fdr-tabac",
                  R"({"valueCoding": {"system": "http://example.org/yesno", "code": "Y"}})"},
        BadAnswer{"StringNotAnOption", "facteurs-risque", "fdr-tabac",
                  R"({"valueString": "peut-être"})"},
        BadAnswer{"BooleanForAChoice", "facteurs-risque", "fdr-tabac", R"({"valueBoolean": true})"},
        BadAnswer{"DecimalForAnInteger", "patient", "patient-rang-naissance",
                  R"({"valueDecimal": 1.5})"},
        BadAnswer{"StringForADecimal", "patient", "patient-poids", R"({"valueString": "68,5"})"},
        BadAnswer{"ImpossibleDate", "patient", "patient-date-naissance",
                  R"({"valueDate": "1952-02-30"})"},
        BadAnswer{"HumanDate", "patient", "patient-date-naissance",
                  R"({"valueDate": "14/03/1952"})"},
        BadAnswer{"StringForADate", "patient", "patient-date-naissance",
                  R"({"valueString": "1952-03-14"})"},
        BadAnswer{"IntegerForAString", "patient", "patient-nom", R"({"valueInteger": 12})"},
        BadAnswer{"BooleanAsString", "documents", "doc-ecg", R"({"valueBoolean": "true"})"},
        BadAnswer{"NoValue", "documents", "doc-ecg", R"({})"},
        BadAnswer{"CodingWithoutCode", "patient", "patient-sexe",
                  R"({"valueCoding": {"display": "Féminin"}})"}),
    [](const ::testing::TestParamInfo<BadAnswer>& p) { return std::string(p.param.name); });

TEST(FormParserQuestionnaireResponse, UnknownLinkIdIsAWarningAndTheRestIsRead) {
  ParsedForm p = parseOk(qr(R"({"linkId": "patient", "item": [
      {"linkId": "patient-groupe-sanguin", "answer": [{"valueString": "A+"}]},
      {"linkId": "patient-nom", "answer": [{"valueString": "DURAND"}]}]})"));
  ASSERT_EQ(p.issues.size(), 1u) << describe(p.issues);
  const Issue& issue = p.issues.items()[0];
  EXPECT_EQ(issue.code, Errc::FormUnknownItem);
  EXPECT_EQ(issue.severity, Severity::Warning);
  EXPECT_EQ(issue.expression, "QuestionnaireResponse.item[0].item[0]");
  EXPECT_EQ(issue.location, "patient-groupe-sanguin");
  EXPECT_FALSE(p.issues.hasErrors());
  EXPECT_EQ(*p.response.first("patient-nom"), AnswerValue{std::string("DURAND")});
  EXPECT_EQ(p.recognised, 1u);
}

TEST(FormParserQuestionnaireResponse, ItemsUnderAnUnknownGroupAreStillRead) {
  ParsedForm p = parseOk(qr(R"({"linkId": "section-1", "item": [
      {"linkId": "patient-nom", "answer": [{"valueString": "DURAND"}]}]})"));
  ASSERT_EQ(codesOf(p.issues), std::vector<Errc>{Errc::FormUnknownItem});
  EXPECT_EQ(*p.response.first("patient-nom"), AnswerValue{std::string("DURAND")});
}

TEST(FormParserQuestionnaireResponse, ItemWithoutLinkIdIsAStructureIssue) {
  ParsedForm p = parseOk(qr(R"({"text": "Nom", "answer": [{"valueString": "DURAND"}]},)" +
                            grouped("patient", "patient-nom", R"({"valueString": "DURAND"})")));
  ASSERT_EQ(codesOf(p.issues), std::vector<Errc>{Errc::FhirStructure});
  EXPECT_EQ(p.issues.items()[0].expression, "QuestionnaireResponse.item[0]");
  EXPECT_EQ(p.recognised, 1u);
}

TEST(FormParserQuestionnaireResponse, SecondAnswerToANonRepeatingItemIsRepeatedAndDropped) {
  ParsedForm p = parseOk(qr(grouped("patient", "patient-nom",
                                    R"({"valueString": "DURAND"}, {"valueString": "DUPONT"})")));
  ASSERT_EQ(p.issues.size(), 1u) << describe(p.issues);
  const Issue& issue = p.issues.items()[0];
  EXPECT_EQ(issue.code, Errc::FormAnswerRepeated);
  EXPECT_EQ(issue.severity, Severity::Warning);
  EXPECT_EQ(issue.expression, "QuestionnaireResponse.item[0].item[0].answer[1]");
  auto answers = p.response.answers("patient-nom");
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].value, AnswerValue{std::string("DURAND")});
  EXPECT_EQ(p.recognised, 1u);
}

TEST(FormParserQuestionnaireResponse, TheSameItemTwiceIsRepeatedToo) {
  ParsedForm p =
      parseOk(qr(grouped("facteurs-risque", "fdr-hta", R"({"valueString": "Oui"})") + "," +
                 grouped("facteurs-risque", "fdr-hta", R"({"valueString": "Non"})")));
  ASSERT_EQ(codesOf(p.issues), std::vector<Errc>{Errc::FormAnswerRepeated});
  EXPECT_EQ(p.issues.items()[0].expression, "QuestionnaireResponse.item[1].item[0].answer[0]");
  EXPECT_EQ(codingOf(p, "fdr-hta")->code, "Y");
}

TEST(FormParserQuestionnaireResponse, RepeatingItemKeepsEveryAnswer) {
  ParsedForm p = parseOk(qr(grouped("demande", "motif",
                                    R"({"valueCoding": {"code": "syncope"}},
                                       {"valueString": "Douleur thoracique"},
                                       {"valueCoding": {"code": "syncope"}})")));
  EXPECT_TRUE(p.issues.empty()) << describe(p.issues);
  auto motifs = p.response.answers("motif");
  ASSERT_EQ(motifs.size(), 3u);
  EXPECT_EQ(std::get<Coding>(motifs[0].value).code, "syncope");
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "douleur-thoracique");
  EXPECT_EQ(p.recognised, 3u);
}

TEST(FormParserQuestionnaireResponse, ReadsItemsNestedInAnswers) {
  ParsedForm p = parseOk(qr(R"({"linkId": "facteurs-risque", "item": [
      {"linkId": "fdr-tabac", "answer": [{"valueCoding": {"code": "Y"}, "item": [
          {"linkId": "fdr-tabac-paquets-annees", "answer": [{"valueDecimal": 25.5}]}]}]}]})"));
  EXPECT_TRUE(p.issues.empty()) << describe(p.issues);
  EXPECT_EQ(codingOf(p, "fdr-tabac")->code, "Y");
  auto pa = p.response.answers("fdr-tabac-paquets-annees");
  ASSERT_EQ(pa.size(), 1u);
  EXPECT_EQ(pa[0].value, AnswerValue{form::Decimal{25.5}});
  EXPECT_EQ(pa[0].location, "QuestionnaireResponse.item[0].item[0].answer[0].item[0].answer[0]");
  EXPECT_EQ(p.recognised, 2u);
}

TEST(FormParserQuestionnaireResponse, IntegerIsAcceptedForADecimal) {
  ParsedForm p = parseOk(qr(grouped("patient", "patient-poids", R"({"valueInteger": 80})") + "," +
                            grouped("patient", "patient-taille", R"({"valueDecimal": 172})")));
  EXPECT_TRUE(p.issues.empty()) << describe(p.issues);
  const AnswerValue* poids = p.response.first("patient-poids");
  ASSERT_NE(poids, nullptr);
  ASSERT_TRUE(std::holds_alternative<form::Decimal>(*poids));
  EXPECT_EQ(std::get<form::Decimal>(*poids).value, 80.0);
  EXPECT_EQ(*p.response.first("patient-taille"), AnswerValue{form::Decimal{172.0}});
}

TEST(FormParserQuestionnaireResponse, StringMatchingAnOptionIsAcceptedForAChoice) {
  ParsedForm p = parseOk(qr(
      R"({"linkId": "patient", "item": [
          {"linkId": "patient-sexe", "answer": [{"valueString": "Féminin"}]},
          {"linkId": "patient-lieu-residence", "answer": [{"valueString": "établissement"}]}]},)" +
      grouped("facteurs-risque", "fdr-tabac", R"({"valueString": "NSP"})")));
  EXPECT_TRUE(p.issues.empty()) << describe(p.issues);
  const Coding* sexe = codingOf(p, "patient-sexe");
  ASSERT_NE(sexe, nullptr);
  EXPECT_EQ(sexe->code, "female");
  EXPECT_EQ(sexe->system, "http://hl7.org/fhir/administrative-gender");
  EXPECT_EQ(codingOf(p, "patient-lieu-residence")->code, "etablissement");
  EXPECT_EQ(codingOf(p, "fdr-tabac")->code, "asked-unknown");
}

TEST(FormParserQuestionnaireResponse, CodingWithoutSystemTakesTheOption) {
  ParsedForm p = parseOk(qr(
      grouped("patient", "patient-sexe", R"({"valueCoding": {"code": "male", "display": "M"}})")));
  EXPECT_TRUE(p.issues.empty()) << describe(p.issues);
  const Coding* sexe = codingOf(p, "patient-sexe");
  ASSERT_NE(sexe, nullptr);
  EXPECT_EQ(sexe->system, "http://hl7.org/fhir/administrative-gender");
  EXPECT_EQ(sexe->display, "Masculin");
}

TEST(FormParserQuestionnaireResponse, DateTimeAndPartialDatesKeepTheirPrecision) {
  ParsedForm p = parseOk(qr(grouped("patient", "patient-date-naissance",
                                    R"({"valueDateTime": "1952-03-14T08:00:00Z"})")));
  EXPECT_TRUE(p.issues.empty()) << describe(p.issues);
  EXPECT_EQ(*p.response.first("patient-date-naissance"), AnswerValue{(form::Date{1952, 3, 14})});

  ParsedForm partial =
      parseOk(qr(grouped("patient", "patient-date-naissance", R"({"valueDate": "1952-03"})")));
  EXPECT_EQ(*partial.response.first("patient-date-naissance"),
            AnswerValue{(form::Date{1952, 3, 0})});
}

TEST(FormParserQuestionnaireResponse, CollectsEveryIssueInOnePass) {
  ParsedForm p = parseOk(qr(
      R"({"linkId": "patient", "item": [
          {"linkId": "patient-nom", "answer": [{"valueString": "DURAND"}, {"valueString": "X"}]},
          {"linkId": "patient-date-naissance", "answer": [{"valueDate": "1952-13-01"}]},
          {"linkId": "patient-inconnu", "answer": [{"valueString": "?"}]},
          {"linkId": "patient-sexe", "answer": [{"valueCoding": {"code": "F"}}]},
          {"linkId": "patient-commune", "answer": [{"valueString": "Grenoble"}]}]})"));
  EXPECT_EQ(codesOf(p.issues), (std::vector<Errc>{Errc::FormAnswerRepeated, Errc::FormAnswerInvalid,
                                                  Errc::FormUnknownItem, Errc::FormAnswerInvalid}))
      << describe(p.issues);
  EXPECT_TRUE(p.issues.hasErrors());
  EXPECT_EQ(findIssue(p.issues, Errc::FormAnswerInvalid)->expression,
            "QuestionnaireResponse.item[0].item[1].answer[0]");
  EXPECT_EQ(*p.response.first("patient-commune"), AnswerValue{std::string("Grenoble")});
  EXPECT_EQ(p.recognised, 2u);
}

}  // namespace
}  // namespace liaison::parse
