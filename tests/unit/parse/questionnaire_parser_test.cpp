// parseQuestionnaire: the shipped Cardio+ Questionnaire, and profiles it must refuse.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "core/form/questionnaire.hpp"
#include "parse/form/form_parser.hpp"
#include "support/test_support.hpp"

namespace liaison::parse {
namespace {

using form::AnswerValue;
using form::Coding;
using form::EnableOperator;
using form::Item;
using form::ItemType;
using form::Questionnaire;

constexpr const char* kShippedPath = "profiles/cardio-plus/questionnaire-fiche-demande.json";
constexpr const char* kUrl =
    "https://liaison.example.org/fhir/Questionnaire/cardio-plus-fiche-demande";
constexpr const char* kV2_0136 = "http://terminology.hl7.org/CodeSystem/v2-0136";

class QuestionnaireParserShipped : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto parsed = parseQuestionnaire(test::readRepoFile(kShippedPath));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().detail;
    q_ = new Questionnaire(std::move(parsed).value());
  }
  static void TearDownTestSuite() {
    delete q_;
    q_ = nullptr;
  }

  static const Item& item(std::string_view link_id) {
    const Item* it = q_->find(link_id);
    EXPECT_NE(it, nullptr) << "no item " << link_id;
    if (it == nullptr) std::abort();
    return *it;
  }

  static std::vector<std::string> linkIds(const std::vector<std::size_t>& indexes) {
    std::vector<std::string> out;
    for (std::size_t i : indexes)
      out.push_back(q_->at(i).link_id);
    return out;
  }

  static std::vector<std::string> codes(const Item& it) {
    std::vector<std::string> out;
    for (const Coding& c : it.options)
      out.push_back(c.code);
    return out;
  }

  static Questionnaire* q_;
};

Questionnaire* QuestionnaireParserShipped::q_ = nullptr;

TEST_F(QuestionnaireParserShipped, ReadsTheHeader) {
  EXPECT_EQ(q_->url, kUrl);
  EXPECT_EQ(q_->version, "1.0.0");
  EXPECT_EQ(q_->name, "CardioPlusFicheDemande");
  EXPECT_EQ(q_->title.rfind("Cardio+ — fiche de demande", 0), 0u) << q_->title;
}

TEST_F(QuestionnaireParserShipped, ReadsEveryItemInDocumentOrderWithDenseIndexes) {
  ASSERT_EQ(q_->items().size(), 74u);
  for (std::size_t i = 0; i < q_->items().size(); ++i) {
    const Item& it = q_->at(i);
    EXPECT_EQ(it.index, i);
    ASSERT_NE(q_->find(it.link_id), nullptr) << it.link_id;
    EXPECT_EQ(q_->find(it.link_id)->index, i) << it.link_id;
  }
  // Depth first: a group comes right before its first child.
  EXPECT_EQ(q_->at(0).link_id, "consentement");
  EXPECT_EQ(q_->at(1).link_id, "consentement-patient");
  EXPECT_EQ(q_->at(2).link_id, "demandeur");
  EXPECT_EQ(q_->at(3).link_id, "demandeur-nom");
  EXPECT_EQ(q_->items().back().link_id, "doc-autres");
  EXPECT_EQ(q_->find("no-such-item"), nullptr);
  EXPECT_EQ(q_->find(""), nullptr);
}

TEST_F(QuestionnaireParserShipped, RootsAreTheNineGroups) {
  EXPECT_EQ(linkIds(q_->roots()),
            (std::vector<std::string>{"consentement", "demandeur", "patient", "situation",
                                      "facteurs-risque", "antecedents", "antecedents-non-cv",
                                      "demande", "documents"}));
  for (std::size_t root : q_->roots()) {
    EXPECT_EQ(q_->at(root).type, ItemType::Group) << q_->at(root).link_id;
    EXPECT_FALSE(q_->at(root).parent.has_value()) << q_->at(root).link_id;
  }
}

TEST_F(QuestionnaireParserShipped, ChildrenAndParentsLinkBothWays) {
  std::size_t with_parent = 0;
  for (const Item& it : q_->items()) {
    if (it.parent) {
      ++with_parent;
      const Item& parent = q_->at(*it.parent);
      EXPECT_EQ(parent.type, ItemType::Group) << it.link_id;
      EXPECT_NE(std::find(parent.children.begin(), parent.children.end(), it.index),
                parent.children.end())
          << it.link_id << " missing from " << parent.link_id << ".children";
    }
    for (std::size_t child : it.children) {
      ASSERT_TRUE(q_->at(child).parent.has_value());
      EXPECT_EQ(*q_->at(child).parent, it.index);
    }
  }
  EXPECT_EQ(with_parent, 74u - 9u);

  EXPECT_EQ(linkIds(item("consentement").children),
            (std::vector<std::string>{"consentement-patient"}));
  EXPECT_EQ(linkIds(item("demande").children),
            (std::vector<std::string>{"motif", "symptomatologie"}));
  const Item& patient = item("patient");
  ASSERT_EQ(patient.children.size(), 20u);
  EXPECT_EQ(q_->at(patient.children.front()).link_id, "patient-nom");
  EXPECT_EQ(q_->at(patient.children.back()).link_id, "patient-taille");
  EXPECT_EQ(item("documents").children.size(), 6u);
  EXPECT_EQ(item("patient-nir").parent, patient.index);
}

TEST_F(QuestionnaireParserShipped, ReadsItemTypes) {
  EXPECT_EQ(item("consentement").type, ItemType::Group);
  EXPECT_EQ(item("consentement-patient").type, ItemType::Boolean);
  EXPECT_EQ(item("demandeur-nom").type, ItemType::String);
  EXPECT_EQ(item("demandeur-fonction").type, ItemType::Choice);
  EXPECT_EQ(item("patient-date-naissance").type, ItemType::Date);
  EXPECT_EQ(item("patient-rang-naissance").type, ItemType::Integer);
  EXPECT_EQ(item("patient-poids").type, ItemType::Decimal);
  EXPECT_EQ(item("fdr-diabete-duree").type, ItemType::Decimal);
  EXPECT_EQ(item("fdr-arret-tabac-annee").type, ItemType::Integer);
  EXPECT_EQ(item("atcd-autres").type, ItemType::Text);
  EXPECT_EQ(item("doc-ecg").type, ItemType::Boolean);
  EXPECT_EQ(item("motif").type, ItemType::Choice);
}

TEST_F(QuestionnaireParserShipped, ReadsRequiredAndRepeatsFlags) {
  EXPECT_TRUE(item("consentement").required);
  EXPECT_TRUE(item("patient-nir").required);
  EXPECT_TRUE(item("doc-ordonnances").required);
  EXPECT_FALSE(item("demandeur-rpps").required);
  EXPECT_FALSE(item("patient-rang-naissance").required);
  EXPECT_FALSE(item("doc-ecg").required);
  EXPECT_FALSE(item("situation").required);

  EXPECT_TRUE(item("motif").required);
  EXPECT_TRUE(item("motif").repeats);
  std::size_t repeating = 0;
  for (const Item& it : q_->items())
    repeating += it.repeats ? 1 : 0;
  EXPECT_EQ(repeating, 1u) << "only the motif repeats";
}

TEST_F(QuestionnaireParserShipped, ReadsAnswerOptionCodings) {
  const Item& sexe = item("patient-sexe");
  ASSERT_EQ(sexe.options.size(), 2u);
  EXPECT_EQ(sexe.options[0].system, "http://hl7.org/fhir/administrative-gender");
  EXPECT_EQ(sexe.options[0].code, "male");
  EXPECT_EQ(sexe.options[0].display, "Masculin");
  EXPECT_EQ(sexe.options[1].code, "female");
  EXPECT_EQ(sexe.options[1].display, "Féminin");

  const Item& tabac = item("fdr-tabac");
  EXPECT_EQ(codes(tabac), (std::vector<std::string>{"Y", "N", "asked-unknown"}));
  EXPECT_EQ(tabac.options[0].system, kV2_0136);
  EXPECT_EQ(tabac.options[0].display, "Oui");
  EXPECT_EQ(tabac.options[2].system, "http://terminology.hl7.org/CodeSystem/data-absent-reason");
  EXPECT_EQ(tabac.options[2].display, "Inconnu");

  EXPECT_EQ(codes(item("fdr-diabete-type")),
            (std::vector<std::string>{"46635009", "44054006", "73211009"}));
  EXPECT_EQ(item("fdr-diabete-type").options[1].system, "http://snomed.info/sct");

  const Item& motif = item("motif");
  ASSERT_EQ(motif.options.size(), 13u);
  EXPECT_EQ(motif.options[4].code, "dyspnee");
  EXPECT_EQ(motif.options[4].display, "Dyspnée");
  EXPECT_EQ(motif.options[4].system,
            "https://liaison.example.org/fhir/CodeSystem/motif-cardio-plus");

  EXPECT_TRUE(item("patient-nom").options.empty());
  ASSERT_NE(form::findOption(motif, "syncope"), nullptr);
  EXPECT_EQ(form::findOption(motif, "syncope")->display, "Syncope");
  EXPECT_EQ(form::findOption(motif, "Syncope"), nullptr) << "codes are case-sensitive";
}

TEST_F(QuestionnaireParserShipped, ReadsEnableWhenEquals) {
  const Item& pa = item("fdr-tabac-paquets-annees");
  ASSERT_EQ(pa.enable_when.size(), 1u);
  EXPECT_EQ(pa.enable_when[0].question, "fdr-tabac");
  EXPECT_EQ(pa.enable_when[0].op, EnableOperator::Equal);
  const auto* c = std::get_if<Coding>(&pa.enable_when[0].answer);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->code, "Y");
  EXPECT_EQ(c->system, kV2_0136);
  EXPECT_FALSE(pa.enable_when_all);

  const Item& etab = item("patient-etablissement");
  ASSERT_EQ(etab.enable_when.size(), 1u);
  EXPECT_EQ(etab.enable_when[0].question, "patient-lieu-residence");
  EXPECT_EQ(etab.enable_when[0].op, EnableOperator::Equal);
  ASSERT_TRUE(std::holds_alternative<Coding>(etab.enable_when[0].answer));
  EXPECT_EQ(std::get<Coding>(etab.enable_when[0].answer).code, "etablissement");

  for (const char* id : {"fdr-diabete-type", "fdr-diabete-duree"}) {
    ASSERT_EQ(item(id).enable_when.size(), 1u) << id;
    EXPECT_EQ(item(id).enable_when[0].question, "fdr-diabete") << id;
  }
  EXPECT_TRUE(item("patient-nom").enable_when.empty());
}

TEST_F(QuestionnaireParserShipped, ReadsEnableWhenExists) {
  const Item& accord = item("patient-accord-cardiologue");
  ASSERT_EQ(accord.enable_when.size(), 1u);
  EXPECT_EQ(accord.enable_when[0].question, "patient-cardiologue");
  EXPECT_EQ(accord.enable_when[0].op, EnableOperator::Exists);
  ASSERT_TRUE(std::holds_alternative<bool>(accord.enable_when[0].answer));
  EXPECT_TRUE(std::get<bool>(accord.enable_when[0].answer));
}

TEST_F(QuestionnaireParserShipped, ReadsInitialValue) {
  const Item& rang = item("patient-rang-naissance");
  ASSERT_TRUE(rang.initial.has_value());
  ASSERT_TRUE(std::holds_alternative<std::int64_t>(*rang.initial));
  EXPECT_EQ(std::get<std::int64_t>(*rang.initial), 1);
  EXPECT_FALSE(item("patient-nom").initial.has_value());
}

// The aliases in the order the Questionnaire gives them (these first ones; the paper form's
// labels and other variants follow, see text_form_parser_test and form_labels_test).
std::vector<std::string> firstAliases(const Item& it, std::size_t n) {
  return {it.aliases.begin(),
          it.aliases.begin() + static_cast<std::ptrdiff_t>(std::min(n, it.aliases.size()))};
}

TEST_F(QuestionnaireParserShipped, ReadsLabelAliasesInOrder) {
  EXPECT_EQ(firstAliases(item("patient-nir"), 6),
            (std::vector<std::string>{"NIR", "N° de sécurité sociale", "Numéro de sécurité sociale",
                                      "Matricule INS", "INS", "N° INS"}));
  EXPECT_EQ(firstAliases(item("fdr-hta"), 3),
            (std::vector<std::string>{"HTA", "Hypertension artérielle", "Hypertension"}));
  EXPECT_EQ(firstAliases(item("demande"), 3),
            (std::vector<std::string>{"Motif", "Motifs", "Demande"}));
  // Other extensions are not aliases.
  for (const std::string& a : item("consentement-patient").aliases)
    EXPECT_NE(a, "form-consent-not-attested");
  EXPECT_GE(item("consentement-patient").aliases.size(), 4u);
}

TEST_F(QuestionnaireParserShipped, MapsRequiredTrueToIssueCodes) {
  ASSERT_TRUE(item("consentement-patient").required_true.has_value());
  EXPECT_EQ(*item("consentement-patient").required_true, Errc::FormConsentNotAttested);
  for (const char* id : {"doc-ordonnances", "doc-lettre-cardiologique",
                         "doc-compte-rendu-hospitalisation", "doc-biologie"}) {
    ASSERT_TRUE(item(id).required_true.has_value()) << id;
    EXPECT_EQ(*item(id).required_true, Errc::FormDocumentNotProvided) << id;
  }
  EXPECT_FALSE(item("doc-ecg").required_true.has_value());
  EXPECT_FALSE(item("patient-sans-medecin-traitant").required_true.has_value());
}

TEST_F(QuestionnaireParserShipped, ReadsRequiredOneOfOnThePatientGroup) {
  EXPECT_EQ(
      item("patient").required_one_of,
      (std::vector<std::string>{"patient-medecin-traitant", "patient-sans-medecin-traitant"}));
  for (const Item& it : q_->items()) {
    if (it.link_id != "patient") {
      EXPECT_TRUE(it.required_one_of.empty()) << it.link_id;
    }
  }
}

TEST_F(QuestionnaireParserShipped, ItemExpressionFollowsTheParents) {
  EXPECT_EQ(form::itemExpression(*q_, item("patient-nir").index),
            "QuestionnaireResponse.item.where(linkId='patient').item.where(linkId='patient-nir')");
  EXPECT_EQ(form::itemExpression(*q_, item("consentement").index),
            "QuestionnaireResponse.item.where(linkId='consentement')");
  EXPECT_EQ(form::itemExpression(*q_, item("motif").index),
            "QuestionnaireResponse.item.where(linkId='demande').item.where(linkId='motif')");
}

TEST_F(QuestionnaireParserShipped, TheProfileLoaderSeesTheSameQuestionnaire) {
  const Questionnaire& loaded = test::cardioPlus()->questionnaire;
  ASSERT_EQ(loaded.items().size(), q_->items().size());
  for (std::size_t i = 0; i < q_->items().size(); ++i)
    EXPECT_EQ(loaded.at(i).link_id, q_->at(i).link_id);
  EXPECT_EQ(loaded.url, q_->url);
}

// --- small Questionnaires, built to exercise one rule each ------------------------------------

std::string questionnaire(const std::string& items, const std::string& extra = {}) {
  return R"({"resourceType": "Questionnaire", "url": "https://example.org/Questionnaire/q", )" +
         extra + R"("item": [)" + items + "]}";
}

std::string ext(const std::string& name, const std::string& value) {
  return R"({"url": "https://liaison.example.org/fhir/StructureDefinition/)" + name + R"(", )" +
         value + "}";
}

struct Rejected {
  const char* name;
  std::string json;
  std::string detail_part;  // the detail must contain this
};

void PrintTo(const Rejected& c, std::ostream* os) {
  *os << c.name;
}

class QuestionnaireParserRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(QuestionnaireParserRejects, WithProfileInvalidAndADetail) {
  const Rejected& c = GetParam();
  auto r = parseQuestionnaire(c.json);
  ASSERT_FALSE(r.has_value()) << c.name;
  EXPECT_EQ(r.error().code, Errc::ProfileInvalid);
  EXPECT_NE(r.error().detail.find(c.detail_part), std::string::npos)
      << "detail: " << r.error().detail << "\nexpected to contain: " << c.detail_part;
}

const std::string kBoolA = R"({"linkId": "a", "text": "A", "type": "boolean"})";

INSTANTIATE_TEST_SUITE_P(
    QuestionnaireParser, QuestionnaireParserRejects,
    ::testing::Values(
        Rejected{"NotJson", "{\n  \"resourceType\": \"Questionnaire\",\n  oops\n}",
                 "Questionnaire JSON: "},
        Rejected{"NotJsonPosition", "{\n  \"resourceType\": \"Questionnaire\",\n  oops\n}",
                 "line 3, column 3"},
        Rejected{"Empty", "", "Questionnaire JSON"},
        Rejected{"NotAQuestionnaire", R"({"resourceType": "Patient", "id": "p"})",
                 "not a Questionnaire"},
        Rejected{"NoResourceType", R"({"url": "https://example.org/q", "item": []})",
                 "not a Questionnaire"},
        Rejected{"JsonArray", "[1, 2]", "not a Questionnaire"},
        Rejected{"NoUrl", R"({"resourceType": "Questionnaire", "item": [)" + kBoolA + "]}",
                 "without url"},
        Rejected{"EmptyUrl",
                 R"({"resourceType": "Questionnaire", "url": "", "item": [)" + kBoolA + "]}",
                 "without url"},
        Rejected{"NoItems", R"({"resourceType": "Questionnaire", "url": "https://example.org/q"})",
                 "without items"},
        Rejected{"ItemWithoutLinkId", questionnaire(R"({"text": "A", "type": "boolean"})"),
                 "without linkId"},
        Rejected{"NestedItemWithoutLinkId",
                 questionnaire(R"({"linkId": "g", "type": "group", "item": [{"type": "string"}]})"),
                 "without linkId"},
        Rejected{"ItemWithoutType", questionnaire(R"({"linkId": "a"})"), "without linkId or type"},
        Rejected{"UnknownItemType", questionnaire(R"({"linkId": "weight", "type": "quantity"})"),
                 "item weight: unsupported type"},
        Rejected{"MisspelledItemType", questionnaire(R"({"linkId": "b", "type": "Boolean"})"),
                 "item b: unsupported type"},
        Rejected{"DuplicateLinkId",
                 questionnaire(kBoolA + "," + R"({"linkId": "a", "type": "string"})"),
                 "duplicate linkId a"},
        Rejected{
            "DuplicateLinkIdAcrossGroups",
            questionnaire(R"({"linkId": "g1", "type": "group", "item": [)" + kBoolA +
                          R"(]}, {"linkId": "g2", "type": "group", "item": [)" + kBoolA + "]}"),
            "duplicate linkId a"},
        Rejected{"EnableWhenOnUnknownItem",
                 questionnaire(kBoolA + "," +
                               R"({"linkId": "b", "type": "string", "enableWhen": [
                     {"question": "zz", "operator": "=", "answerBoolean": true}]})"),
                 "enableWhen on unknown zz"},
        Rejected{"UnsupportedEnableWhenOperator",
                 questionnaire(kBoolA + "," +
                               R"({"linkId": "b", "type": "string", "enableWhen": [
                     {"question": "a", "operator": ">", "answerBoolean": true}]})"),
                 "item b: enableWhen operator not supported"},
        Rejected{"EnableWhenWithoutOperator",
                 questionnaire(kBoolA + "," +
                               R"({"linkId": "b", "type": "string", "enableWhen": [
                     {"question": "a", "answerBoolean": true}]})"),
                 "item b: bad enableWhen"},
        Rejected{"EnableWhenWithoutAnswer",
                 questionnaire(kBoolA + "," +
                               R"({"linkId": "b", "type": "string", "enableWhen": [
                     {"question": "a", "operator": "="}]})"),
                 "item b: enableWhen without answer"},
        Rejected{
            "UnknownIssueCodeInRequiredTrue",
            questionnaire(R"({"linkId": "c", "type": "boolean", "extension": [)" +
                          ext("questionnaire-required-true", R"("valueCode": "consent-missing")") +
                          "]}"),
            "item c: unknown issue code"},
        Rejected{"RequiredTrueWithoutCode",
                 questionnaire(R"({"linkId": "c", "type": "boolean", "extension": [)" +
                               ext("questionnaire-required-true", R"("valueString": "x")") + "]}"),
                 "item c: unknown issue code"},
        Rejected{"RequiredOneOfUnknownItem",
                 questionnaire(R"({"linkId": "g", "type": "group", "extension": [)" +
                               ext("questionnaire-required-one-of", R"("valueString": "a zz")") +
                               "], \"item\": [" + kBoolA + "]}"),
                 "required-one-of names unknown zz"},
        Rejected{"AnswerOptionWithoutCoding",
                 questionnaire(R"({"linkId": "s", "type": "choice", "answerOption": [
                     {"valueString": "Oui"}]})"),
                 "item s: answerOption without valueCoding"}),
    [](const ::testing::TestParamInfo<Rejected>& p) { return std::string(p.param.name); });

TEST(QuestionnaireParserSmall, ReadsOperatorsBehaviourAndExtensions) {
  const std::string json = questionnaire(
      R"({"linkId": "g", "text": "Groupe", "type": "group", "extension": [)" +
          ext("questionnaire-required-one-of", R"("valueString": "  a   b ")") + "," +
          ext("questionnaire-label-alias", R"("valueString": "Section G")") +
          R"(], "item": [
        {"linkId": "a", "text": "A", "type": "boolean", "extension": [)" +
          ext("questionnaire-required-true", R"("valueCode": "form-required-missing")") + "," +
          R"({"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden",
              "valueBoolean": true}]},
        {"linkId": "b", "text": "B", "type": "open-choice", "enableBehavior": "all",
         "enableWhen": [{"question": "a", "operator": "!=", "answerBoolean": false},
                        {"question": "a", "operator": "exists", "answerBoolean": false}],
         "answerOption": [{"valueCoding": {"code": "x", "display": "Ex"}}]},
        {"linkId": "c", "text": "C", "type": "dateTime", "initial": [{"valueDate": "2020-05"}]},
        {"linkId": "d", "text": "D", "type": "display"}
      ]})",
      R"("version": "2", "name": "Q", "title": "T", )");
  auto r = parseQuestionnaire(json);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  const Questionnaire& q = *r;
  EXPECT_EQ(q.version, "2");
  EXPECT_EQ(q.name, "Q");
  EXPECT_EQ(q.title, "T");
  ASSERT_EQ(q.items().size(), 5u);

  const Item& g = *q.find("g");
  EXPECT_EQ(g.required_one_of, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(g.aliases, (std::vector<std::string>{"Section G"}));
  EXPECT_EQ(g.children.size(), 4u);

  const Item& a = *q.find("a");
  EXPECT_EQ(a.required_true, Errc::FormRequiredMissing);
  EXPECT_TRUE(a.aliases.empty()) << "extensions of other bases are ignored";
  EXPECT_FALSE(a.required);

  const Item& b = *q.find("b");
  EXPECT_EQ(b.type, ItemType::OpenChoice);
  EXPECT_TRUE(b.enable_when_all);
  ASSERT_EQ(b.enable_when.size(), 2u);
  EXPECT_EQ(b.enable_when[0].op, EnableOperator::NotEqual);
  EXPECT_EQ(b.enable_when[0].answer, AnswerValue{false});
  EXPECT_EQ(b.enable_when[1].op, EnableOperator::Exists);
  EXPECT_EQ(b.enable_when[1].answer, AnswerValue{false});
  ASSERT_EQ(b.options.size(), 1u);
  EXPECT_EQ(b.options[0].system, "");
  EXPECT_EQ(b.options[0].display, "Ex");

  const Item& c = *q.find("c");
  EXPECT_EQ(c.type, ItemType::DateTime);
  ASSERT_TRUE(c.initial.has_value());
  EXPECT_EQ(*c.initial, AnswerValue{(form::Date{2020, 5, 0})});

  EXPECT_EQ(q.find("d")->type, ItemType::Display);
}

TEST(QuestionnaireParserSmall, AcceptsAnEmptyItemList) {
  auto r = parseQuestionnaire(questionnaire(""));
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_TRUE(r->items().empty());
  EXPECT_TRUE(r->roots().empty());
}

}  // namespace
}  // namespace liaison::parse
