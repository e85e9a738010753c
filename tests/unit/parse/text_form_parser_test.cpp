// FormTextReader / parseFormText: the fiche de demande typed or pasted into a mail body, and the
// value_parser helpers it is built on.

#include <gtest/gtest.h>
#include <iconv.h>

#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/form/form_response.hpp"
#include "parse/form/form_parser.hpp"
#include "parse/form/value_parser.hpp"
#include "support/test_support.hpp"

namespace liaison::parse {
namespace {

using form::AnswerValue;
using form::Coding;
using form::Questionnaire;

const Questionnaire& cardio() {
  return test::cardioPlus()->questionnaire;
}

ParsedForm read(std::string_view text) {
  return test::cardioPlus()->textReader().read(text);
}

std::size_t indexOf(std::string_view link_id) {
  const form::Item* item = cardio().find(link_id);
  EXPECT_NE(item, nullptr) << "no item " << link_id;
  return item == nullptr ? 0 : item->index;
}

std::string show(const AnswerValue& v) {
  switch (v.index()) {
    case 0:
      return std::get<bool>(v) ? "true" : "false";
    case 1:
      return "integer " + std::to_string(std::get<std::int64_t>(v));
    case 2: {
      char buf[48];
      std::snprintf(buf, sizeof buf, "decimal %.17g", std::get<form::Decimal>(v).value);
      return buf;
    }
    case 3:
      return "string \"" + std::get<std::string>(v) + "\"";
    case 4:
      return "date " + form::toString(std::get<form::Date>(v));
    default:
      return "coding " + std::get<Coding>(v).code + " (" + std::get<Coding>(v).display + ")";
  }
}

std::string describe(const ParsedForm& p) {
  std::string out;
  for (const form::Item& item : cardio().items()) {
    for (const form::Answer& a : p.response.answers(item.index))
      out += "  " + item.link_id + " = " + show(a.value) + " @" + a.location + "\n";
  }
  for (const Issue& i : p.issues.items())
    out +=
        "  issue " + std::string(info(i.code).code) + " @" + i.location + ": " + i.message + "\n";
  return out;
}

std::vector<std::string> issueLines(const ParsedForm& p, Errc code) {
  std::vector<std::string> out;
  for (const Issue& i : p.issues.items()) {
    if (i.code == code) out.push_back(i.location);
  }
  return out;
}

Coding code(std::string c) {
  return Coding{"", std::move(c), ""};
}

AnswerValue str(const char* s) {
  return AnswerValue{std::string(s)};
}

AnswerValue dec(double d) {
  return AnswerValue{form::Decimal{d}};
}

AnswerValue date(int y, int m, int d) {
  return AnswerValue{form::Date{y, m, d}};
}

// Checks the single answer of `link_id` (codings by code, decimals exactly).
::testing::AssertionResult answers(const ParsedForm& p, std::string_view link_id,
                                   const AnswerValue& expected) {
  auto given = p.response.answers(link_id);
  if (given.size() != 1) {
    return ::testing::AssertionFailure()
           << given.size() << " answers to " << link_id << ", expected " << show(expected) << "\n"
           << describe(p);
  }
  if (!form::sameAnswer(given[0].value, expected)) {
    return ::testing::AssertionFailure()
           << link_id << " = " << show(given[0].value) << ", expected " << show(expected) << "\n"
           << describe(p);
  }
  return ::testing::AssertionSuccess();
}

std::string lineOf(std::size_t n) {
  return "ligne " + std::to_string(n);
}

std::size_t lastLine(std::string_view text) {
  std::size_t n = 1;
  for (char c : text)
    n += c == '\n' ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------------------------------------
// One "Libellé : valeur" form (a few lines) → one answer, read without any issue (but the
// information that the value was derived, when `derived`: a height in metres…).

struct ValueCase {
  const char* name;
  std::string text;  // the answer is on its last line
  const char* link_id;
  AnswerValue expected;
  bool derived = false;
};

void PrintTo(const ValueCase& c, std::ostream* os) {
  *os << c.name;
}

class TextFormValue : public ::testing::TestWithParam<ValueCase> {};

TEST_P(TextFormValue, IsReadWithoutIssue) {
  const ValueCase& c = GetParam();
  ParsedForm p = read(c.text);
  EXPECT_TRUE(answers(p, c.link_id, c.expected));
  std::size_t derived = issueLines(p, Errc::FormValueDerived).size();
  EXPECT_EQ(derived, c.derived ? 1u : 0u) << describe(p);
  EXPECT_EQ(p.issues.size(), derived) << describe(p);
  EXPECT_TRUE(p.unrecognised.empty());
  auto given = p.response.answers(c.link_id);
  if (!given.empty()) {
    EXPECT_EQ(given[0].location, lineOf(lastLine(c.text)));
    if (const auto* coding = std::get_if<Coding>(&given[0].value)) {
      EXPECT_FALSE(coding->system.empty()) << "the Questionnaire's option, with its system";
      EXPECT_FALSE(coding->display.empty()) << "the Questionnaire's option, with its display";
    }
  }
  EXPECT_GE(p.recognised, 1u);
}

auto caseName = [](const ::testing::TestParamInfo<ValueCase>& p) {
  return std::string(p.param.name);
};

INSTANTIATE_TEST_SUITE_P(
    TextFormLabels, TextFormValue,
    ::testing::Values(
        ValueCase{"AliasLowerCase", "HTA : oui", "fdr-hta", code("Y")},
        ValueCase{"ExtraSpacesUpperValue", "  tabac   :   OUI  ", "fdr-tabac", code("Y")},
        ValueCase{"FullText", "Hypertension artérielle (HTA) : Non", "fdr-hta", code("N")},
        ValueCase{"AliasWithoutParentheses", "Hypertension artérielle : Non", "fdr-hta", code("N")},
        ValueCase{"Accents", "Sédentarité : Oui", "fdr-sedentarite", code("Y")},
        ValueCase{"NoAccents", "sedentarite : non", "fdr-sedentarite", code("N")},
        ValueCase{"UpperWithAccents", "SÉDENTARITÉ : Inconnu", "fdr-sedentarite",
                  code("asked-unknown")},
        ValueCase{"NoSpaceBeforeColon", "Tabac: oui", "fdr-tabac", code("Y")},
        ValueCase{"NoSpaceAtAll", "Tabac:non", "fdr-tabac", code("N")},
        ValueCase{"NoBreakSpaceBeforeColon", "Tabac\xC2\xA0: oui", "fdr-tabac", code("Y")},
        ValueCase{"NarrowNoBreakSpaceBeforeColon", "Tabac\xE2\x80\xAF: non", "fdr-tabac",
                  code("N")},
        ValueCase{"OtherAlias", "Tabagisme : Non", "fdr-tabac", code("N")},
        ValueCase{"DashBullet", "- Diabète : Oui", "fdr-diabete", code("Y")},
        ValueCase{"StarBullet", "* Angor : Non", "atcd-angor", code("N")},
        ValueCase{"Numbered", "3. Valvulopathie : Non", "atcd-valvulopathie", code("N")},
        ValueCase{"Tab", "Dyslipidémie\t:\tOui", "fdr-dyslipidemie", code("Y")},
        ValueCase{"TypographicApostrophe",
                  "Perte d\xE2\x80\x99"
                  "autonomie : Non",
                  "situation-perte-autonomie", code("N")},
        ValueCase{"LigatureAndHyphen", "Maladie thrombo-embolique : Non", "atcd-thrombo-embolique",
                  code("N")},
        ValueCase{"HyphenAsSpace", "Maladie thrombo embolique : Oui", "atcd-thrombo-embolique",
                  code("Y")}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    TextFormCheckboxes, TextFormValue,
    ::testing::Values(
        ValueCase{"MarksFirst", "Tabac : [x] Oui [ ] Non [ ] Inconnu", "fdr-tabac", code("Y")},
        ValueCase{"MarksFirstSecond", "Tabac : [ ] Oui [x] Non [ ] Inconnu", "fdr-tabac",
                  code("N")},
        ValueCase{"UpperX", "Tabac : [ ] Oui [X] Non", "fdr-tabac", code("N")},
        ValueCase{"SpacedX", "Tabac : [ ] Oui [ ] Non [ x ] Inconnu", "fdr-tabac",
                  code("asked-unknown")},
        ValueCase{"BallotBoxWithX", "Tabac : \xE2\x98\x92 Oui \xE2\x98\x90 Non", "fdr-tabac",
                  code("Y")},
        ValueCase{"BallotBoxWithCheck", "Tabac : \xE2\x98\x90 Oui \xE2\x98\x91 Non", "fdr-tabac",
                  code("N")},
        ValueCase{"CheckMark", "Tabac : \xE2\x9C\x93 Oui", "fdr-tabac", code("Y")},
        ValueCase{"Parentheses", "Tabac : ( ) Oui (x) Non", "fdr-tabac", code("N")},
        ValueCase{"LabelsFirst", "Tabac : Oui [x] Non [ ]", "fdr-tabac", code("Y")},
        ValueCase{"LabelsFirstSecond", "Tabac : Oui [ ] Non [x] Inconnu [ ]", "fdr-tabac",
                  code("N")},
        ValueCase{"LabelsFirstBoxes", "Tabac : Oui \xE2\x98\x90 Non \xE2\x98\x92", "fdr-tabac",
                  code("N")},
        ValueCase{"NoSpaceAfterMark", "Tabac : [x]Oui [ ]Non", "fdr-tabac", code("Y")},
        ValueCase{"LetterX", "Tabac : X Oui", "fdr-tabac", code("Y")},
        ValueCase{"LetterXNon", "Tabac : x Non", "fdr-tabac", code("N")},
        ValueCase{"CheckedOtherChoice", "Fonction : [ ] Médecin [x] IPA [ ] Infirmier(e)",
                  "demandeur-fonction", code("ipa")},
        ValueCase{"CheckedDisplayWithParentheses",
                  "Fonction : [ ] Médecin [ ] IPA [x] Infirmier(e) [ ] Pharmacien(ne)",
                  "demandeur-fonction", code("infirmier")},
        ValueCase{"GenderBoxes", "Sexe : \xE2\x98\x90 Masculin \xE2\x98\x92 Féminin",
                  "patient-sexe", code("female")}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    TextFormBooleans, TextFormValue,
    ::testing::Values(
        ValueCase{"Oui", "Ordonnances en cours : Oui", "doc-ordonnances", AnswerValue{true}},
        ValueCase{"Non", "Ordonnances en cours : non", "doc-ordonnances", AnswerValue{false}},
        ValueCase{"XAlone", "Pas de médecin traitant : X", "patient-sans-medecin-traitant",
                  AnswerValue{true}},
        ValueCase{"LowerXAlone", "ECG : x", "doc-ecg", AnswerValue{true}},
        ValueCase{"CheckedBoxAlone", "ECG : [x]", "doc-ecg", AnswerValue{true}},
        ValueCase{"UncheckedBoxAlone", "Dernière biologie : [ ]", "doc-biologie",
                  AnswerValue{false}},
        ValueCase{"BallotAlone", "ECG : \xE2\x98\x92", "doc-ecg", AnswerValue{true}},
        ValueCase{"OuiChecked", "Dernière biologie : [x] Oui [ ] Non", "doc-biologie",
                  AnswerValue{true}},
        ValueCase{"NonChecked", "Dernière biologie : [ ] Oui [x] Non", "doc-biologie",
                  AnswerValue{false}},
        ValueCase{"LabelsFirst", "Dernière biologie : Oui [ ] Non [x]", "doc-biologie",
                  AnswerValue{false}},
        ValueCase{"Fourni", "Biologie : fourni", "doc-biologie", AnswerValue{true}},
        ValueCase{"NonFournie", "Bilan biologique : Non fournie", "doc-biologie",
                  AnswerValue{false}},
        ValueCase{"ConsentAlias", "Consentement du patient : oui", "consentement-patient",
                  AnswerValue{true}},
        ValueCase{"ConsentStatementChecked",
                  "[x] J'atteste avoir informé le patient et recueilli son consentement à la "
                  "prise en charge par l'ESS",
                  "consentement-patient", AnswerValue{true}},
        ValueCase{"CheckboxLine", "\xE2\x98\x92 Ordonnances en cours", "doc-ordonnances",
                  AnswerValue{true}},
        ValueCase{"UncheckedCheckboxLine", "\xE2\x98\x90 Ordonnances en cours", "doc-ordonnances",
                  AnswerValue{false}},
        ValueCase{"BracketCheckboxLine", "- [x] ECG", "doc-ecg", AnswerValue{true}},
        ValueCase{"TrailingMark", "Dernière lettre cardiologique \xE2\x98\x92",
                  "doc-lettre-cardiologique", AnswerValue{true}},
        ValueCase{"CheckboxLineUnderHeading", "DOCUMENTS\n[x] CRH",
                  "doc-compte-rendu-hospitalisation", AnswerValue{true}}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    TextFormChoices, TextFormValue,
    ::testing::Values(
        ValueCase{"Inconnu", "Hérédité cardiovasculaire : Inconnu", "fdr-heredite",
                  code("asked-unknown")},
        ValueCase{"NSP", "Hérédité : NSP", "fdr-heredite", code("asked-unknown")},
        ValueCase{"NeSaitPas", "Hérédité : ne sait pas", "fdr-heredite", code("asked-unknown")},
        ValueCase{"QuestionMark", "Hérédité : ?", "fdr-heredite", code("asked-unknown")},
        ValueCase{"O", "Angor : O", "atcd-angor", code("Y")},
        ValueCase{"N", "Angor : N", "atcd-angor", code("N")},
        ValueCase{"GenderM", "Sexe : M", "patient-sexe", code("male")},
        ValueCase{"GenderF", "Sexe : F", "patient-sexe", code("female")},
        ValueCase{"GenderHomme", "Sexe : Homme", "patient-sexe", code("male")},
        ValueCase{"GenderDisplayNoAccent", "Genre : feminin", "patient-sexe", code("female")},
        ValueCase{"Display", "Fonction : Pharmacien(ne)", "demandeur-fonction", code("pharmacien")},
        ValueCase{"Code", "Type de structure : MSP", "demandeur-structure-type", code("msp")},
        ValueCase{"LongDisplay", "Type de structure : Maison de santé pluriprofessionnelle",
                  "demandeur-structure-type", code("msp")},
        ValueCase{"DisplayWithAccent", "Lieu de résidence : établissement",
                  "patient-lieu-residence", code("etablissement")},
        ValueCase{"SnomedOption", "Type de diabète : Type 1", "fdr-diabete-type",
                  code("46635009")}),
    caseName);

INSTANTIATE_TEST_SUITE_P(TextFormDates, TextFormValue,
                         ::testing::Values(ValueCase{"Slashes", "Date de naissance : 14/03/1952",
                                                     "patient-date-naissance", date(1952, 3, 14)},
                                           ValueCase{"Dashes", "Date de naissance : 14-03-1952",
                                                     "patient-date-naissance", date(1952, 3, 14)},
                                           ValueCase{"Dots", "Date de naissance : 14.03.1952",
                                                     "patient-date-naissance", date(1952, 3, 14)},
                                           ValueCase{"Iso", "Date de naissance : 1952-03-14",
                                                     "patient-date-naissance", date(1952, 3, 14)},
                                           ValueCase{"OneDigit", "Né(e) le : 4/3/1952",
                                                     "patient-date-naissance", date(1952, 3, 4)},
                                           ValueCase{"LeapDay", "Date de naissance : 29/02/1952",
                                                     "patient-date-naissance", date(1952, 2, 29)},
                                           ValueCase{"NoBreakSpaceAfterColon",
                                                     "Date de naissance :\xC2\xA0"
                                                     "14/03/1952",
                                                     "patient-date-naissance", date(1952, 3, 14)}),
                         caseName);

INSTANTIATE_TEST_SUITE_P(
    TextFormNumbers, TextFormValue,
    ::testing::Values(
        ValueCase{"DecimalCommaUnit", "Poids : 68,5 kg", "patient-poids", dec(68.5)},
        ValueCase{"DecimalPoint", "Poids : 72.5", "patient-poids", dec(72.5)},
        ValueCase{"WholeDecimal", "Poids (kg) : 80", "patient-poids", dec(80)},
        ValueCase{"UnitNoSpace", "Poids : 68,5kg", "patient-poids", dec(68.5)},
        ValueCase{"NoBreakSpaceUnit",
                  "Poids :\xC2\xA0"
                  "68,5\xC2\xA0kg",
                  "patient-poids", dec(68.5)},
        ValueCase{"HeightInMetres", "Taille : 1,62 m", "patient-taille", dec(162), true},
        ValueCase{"HeightInMetresNoUnit", "Taille : 1.62", "patient-taille", dec(162), true},
        ValueCase{"HeightInMetresShort", "Taille : 1,10 m", "patient-taille", dec(110), true},
        ValueCase{"HeightInMetresWord", "Taille : 1,62 mètre", "patient-taille", dec(162), true},
        ValueCase{"HeightInMetresWordPlural", "Taille : 1,75 Mètres", "patient-taille", dec(175),
                  true},
        ValueCase{"HeightInMetresOneDecimal", "Taille (cm) : 1,7", "patient-taille", dec(170),
                  true},
        ValueCase{"HeightInCm", "Taille : 162 cm", "patient-taille", dec(162)},
        ValueCase{"HeightInCmNoUnit", "Taille : 175", "patient-taille", dec(175)},
        ValueCase{"NotAHeight", "Durée du diabète : 2,5 ans", "fdr-diabete-duree", dec(2.5)},
        ValueCase{"PaquetsAnnees", "Paquets-années : 20 PA", "fdr-tabac-paquets-annees", dec(20)},
        ValueCase{"Integer", "Rang de naissance : 2", "patient-rang-naissance",
                  AnswerValue{std::int64_t{2}}},
        ValueCase{"IntegerAlias", "Rang : 1", "patient-rang-naissance",
                  AnswerValue{std::int64_t{1}}},
        ValueCase{"Year", "Année d'arrêt : 2009", "fdr-arret-tabac-annee",
                  AnswerValue{std::int64_t{2009}}}),
    caseName);

INSTANTIATE_TEST_SUITE_P(
    TextFormStrings, TextFormValue,
    ::testing::Values(
        ValueCase{"UniqueLabelOutsideSections", "Nom de naissance : LEGRAND",
                  "patient-nom-naissance", str("LEGRAND")},
        ValueCase{"TrimmedValue", "Nom de naissance :    LEGRAND   ", "patient-nom-naissance",
                  str("LEGRAND")},
        ValueCase{"NoBreakSpacesAroundValue", "Nom de naissance :\xC2\xA0LEGRAND\xC2\xA0",
                  "patient-nom-naissance", str("LEGRAND")},
        ValueCase{"ColonInValue", "Symptomatologie actuelle : dyspnée : stade II",
                  "symptomatologie", str("dyspnée : stade II")},
        ValueCase{"KeepsCase", "Prénom(s) : Jeanne Marie", "patient-prenoms", str("Jeanne Marie")},
        ValueCase{"Nir", "N° de sécurité sociale : 2 52 03 38 185 123 13", "patient-nir",
                  str("2 52 03 38 185 123 13")},
        ValueCase{"Mail", "MSSanté : claire.martin@medecin.mssante.example", "demandeur-mail",
                  str("claire.martin@medecin.mssante.example")}),
    caseName);

// The same label in two groups: the heading above it decides.
INSTANTIATE_TEST_SUITE_P(
    TextFormSections, TextFormValue,
    ::testing::Values(
        ValueCase{"NomDemandeur", "DEMANDEUR\nNom : MARTIN", "demandeur-nom", str("MARTIN")},
        ValueCase{"NomPatient", "PATIENT\nNom : DURAND", "patient-nom", str("DURAND")},
        ValueCase{"HeadingWithColon", "PATIENT :\nNom : DURAND", "patient-nom", str("DURAND")},
        ValueCase{"HeadingAlias", "Identité du patient\nPrénom : Jeanne", "patient-prenoms",
                  str("Jeanne")},
        ValueCase{"HeadingDecorated", "== Professionnel demandeur ==\nPrénom : Claire",
                  "demandeur-prenom", str("Claire")},
        ValueCase{"MarkdownHeading", "## Patient\nTéléphone : 06 00 00 00 02", "patient-telephone",
                  str("06 00 00 00 02")},
        ValueCase{"TelDemandeur", "DEMANDEUR\nTél : 04 76 00 00 01", "demandeur-telephone",
                  str("04 76 00 00 01")},
        ValueCase{"AdressePatient", "PATIENT\nAdresse : 3 place Victor Hugo", "patient-adresse",
                  str("3 place Victor Hugo")},
        ValueCase{"LastHeadingWins", "PATIENT\nDEMANDEUR\nNom : MARTIN", "demandeur-nom",
                  str("MARTIN")},
        ValueCase{"UniqueLabelInAnotherSection", "DEMANDEUR\nDate de naissance : 14/03/1952",
                  "patient-date-naissance", date(1952, 3, 14)}),
    caseName);

// ---------------------------------------------------------------------------------------------
// A value that cannot be read: no answer, one issue at the line, with the item's expression.

struct BadCase {
  const char* name;
  std::string text;
  const char* link_id;
  Errc code;
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

class TextFormBadValue : public ::testing::TestWithParam<BadCase> {};

TEST_P(TextFormBadValue, IsAnIssueAndNoAnswer) {
  const BadCase& c = GetParam();
  ParsedForm p = read(c.text);
  EXPECT_TRUE(p.response.answers(c.link_id).empty()) << describe(p);
  ASSERT_EQ(p.issues.size(), 1u) << describe(p);
  const Issue& issue = p.issues.items()[0];
  EXPECT_EQ(issue.code, c.code) << describe(p);
  EXPECT_EQ(issue.severity, info(c.code).severity);
  EXPECT_EQ(issue.location, lineOf(lastLine(c.text)));
  EXPECT_EQ(issue.expression, form::itemExpression(cardio(), indexOf(c.link_id)));
  EXPECT_FALSE(issue.message.empty());
  EXPECT_EQ(p.recognised, lastLine(c.text)) << "the line named an item";
}

INSTANTIATE_TEST_SUITE_P(
    TextFormInvalid, TextFormBadValue,
    ::testing::Values(
        BadCase{"February31", "Date de naissance : 31/02/1952", "patient-date-naissance",
                Errc::FormAnswerInvalid},
        BadCase{"February29NotLeap", "Date de naissance : 29/02/1951", "patient-date-naissance",
                Errc::FormAnswerInvalid},
        BadCase{"Month13", "Date de naissance : 14/13/1952", "patient-date-naissance",
                Errc::FormAnswerInvalid},
        BadCase{"TwoDigitYear", "Date de naissance : 14/03/52", "patient-date-naissance",
                Errc::FormAnswerInvalid},
        BadCase{"Words", "Date de naissance : le 14 mars", "patient-date-naissance",
                Errc::FormAnswerInvalid},
        BadCase{"NotANumber", "Poids : environ 70", "patient-poids", Errc::FormAnswerInvalid},
        BadCase{"Range", "Poids : 72 à 75 kg", "patient-poids", Errc::FormAnswerInvalid},
        BadCase{"NotAnInteger", "Rang de naissance : deux", "patient-rang-naissance",
                Errc::FormAnswerInvalid},
        BadCase{"NotAnOption", "Tabac : peut-être", "fdr-tabac", Errc::FormAnswerInvalid},
        BadCase{"NotAGender", "Sexe : X", "patient-sexe", Errc::FormAnswerInvalid},
        BadCase{"DashesAreNotUnknown", "Tabac : ---", "fdr-tabac", Errc::FormAnswerInvalid},
        BadCase{"PrefixOfAnOption", "Type de diabète : Type", "fdr-diabete-type",
                Errc::FormAnswerInvalid},
        BadCase{"NotABoolean", "Ordonnances en cours : à venir", "doc-ordonnances",
                Errc::FormAnswerInvalid},
        BadCase{"TwoBoxesSingleChoice", "Tabac : [x] Oui [x] Non [ ] Inconnu", "fdr-tabac",
                Errc::FormAnswerAmbiguous},
        BadCase{"TwoBoxesLabelsFirst", "Tabac : Oui \xE2\x98\x92 Non \xE2\x98\x92", "fdr-tabac",
                Errc::FormAnswerAmbiguous},
        BadCase{"TwoFunctions", "Fonction : [x] Médecin [x] IPA", "demandeur-fonction",
                Errc::FormAnswerAmbiguous},
        BadCase{"YesAndNoForABoolean", "ECG : [x] Oui [x] Non", "doc-ecg",
                Errc::FormAnswerAmbiguous}),
    [](const ::testing::TestParamInfo<BadCase>& p) { return std::string(p.param.name); });

// ---------------------------------------------------------------------------------------------

TEST(TextFormReader, NothingTickedLeavesTheItemUnanswered) {
  ParsedForm p = read("Tabac : [ ] Oui [ ] Non [ ] Inconnu\nECG : [ ] Oui [ ] Non");
  EXPECT_FALSE(p.response.answered(indexOf("fdr-tabac")));
  EXPECT_FALSE(p.response.answered(indexOf("doc-ecg")));
  EXPECT_TRUE(p.issues.empty()) << describe(p);
  EXPECT_EQ(p.recognised, 2u);
}

TEST(TextFormReader, EmptyValueLeavesTheItemUnanswered) {
  ParsedForm p = read("Cardiologue traitant :\nPoids :\nHTA :");
  EXPECT_FALSE(p.response.answered(indexOf("patient-cardiologue")));
  EXPECT_FALSE(p.response.answered(indexOf("patient-poids")));
  EXPECT_FALSE(p.response.answered(indexOf("fdr-hta")));
  EXPECT_TRUE(p.issues.empty()) << describe(p);
  EXPECT_EQ(p.recognised, 3u);
}

TEST(TextFormReader, AnswerFollowedByTextKeepsTheAnswerAndWarns) {
  ParsedForm p = read("FACTEURS DE RISQUE\nTabac : Oui, 20 PA");
  EXPECT_TRUE(answers(p, "fdr-tabac", code("Y")));
  ASSERT_EQ(p.issues.size(), 1u) << describe(p);
  const Issue& issue = p.issues.items()[0];
  EXPECT_EQ(issue.code, Errc::FormLineUnrecognised);
  EXPECT_EQ(issue.severity, Severity::Warning);
  EXPECT_EQ(issue.location, "ligne 2");
  EXPECT_EQ(issue.expression, form::itemExpression(cardio(), indexOf("fdr-tabac")));
  EXPECT_FALSE(p.issues.hasErrors());
}

TEST(TextFormReader, LongerOptionTextKeepsTheOptionAndWarns) {
  ParsedForm p = read(
      "Type de diabète : Type 2 (non insulinodépendant)\nFonction : Médecin cardiologue\n"
      "Tabac : Non fumeur");
  EXPECT_TRUE(answers(p, "fdr-diabete-type", code("44054006")));
  EXPECT_TRUE(answers(p, "demandeur-fonction", code("medecin")));
  EXPECT_TRUE(answers(p, "fdr-tabac", code("N")));
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised),
            (std::vector<std::string>{"ligne 1", "ligne 2", "ligne 3"}));
  EXPECT_EQ(p.issues.size(), 3u) << describe(p);
}

// "Nom :" with no heading names the requester's and the patient's: an error naming both, the
// line kept for the note, neither item answered nor said absent.
TEST(TextFormReader, AmbiguousLabelOutsideAnySectionIsAnErrorNamingBoth) {
  ParsedForm p = read("Nom : DUPONT\nPrénom : Luc\nTéléphone : 04 76 00 00 01\n");
  for (const char* id : {"demandeur-nom", "patient-nom", "demandeur-prenom", "patient-prenoms",
                         "demandeur-telephone", "patient-telephone"}) {
    EXPECT_FALSE(p.response.answered(indexOf(id))) << id;
    EXPECT_TRUE(p.response.unreadable(indexOf(id))) << id;
  }
  EXPECT_EQ(issueLines(p, Errc::FormLabelAmbiguous),
            (std::vector<std::string>{"ligne 1", "ligne 2", "ligne 3"}));
  const Issue& first = p.issues.items()[0];
  EXPECT_EQ(first.severity, Severity::Error);
  EXPECT_NE(first.message.find("demandeur-nom"), std::string::npos) << first.message;
  EXPECT_NE(first.message.find("patient-nom"), std::string::npos) << first.message;
  EXPECT_EQ(first.message.find("DUPONT"), std::string::npos) << "no name in an issue";
  ASSERT_EQ(p.unrecognised.size(), 3u);
  EXPECT_EQ(p.unrecognised[0].text, "Nom : DUPONT");
  EXPECT_EQ(p.unrecognised[0].origin, "ligne 1");
}

TEST(TextFormReader, AmbiguousLabelInAnUnrelatedSectionIsAnErrorToo) {
  ParsedForm p = read("FACTEURS DE RISQUE\nNom : DUPONT");
  EXPECT_FALSE(p.response.answered(indexOf("demandeur-nom")));
  EXPECT_FALSE(p.response.answered(indexOf("patient-nom")));
  EXPECT_EQ(issueLines(p, Errc::FormLabelAmbiguous), std::vector<std::string>{"ligne 2"});
}

// A label only one section has puts the reader in that section: "Nom :" after "Nom de
// naissance :" is the patient's, and a heading's section still holds for the labels it has.
TEST(TextFormReader, ALabelOnlyOneSectionHasOpensIt) {
  ParsedForm p = read("Nom de naissance : LEGRAND\nNom : DURAND\nPrénom : Jeanne");
  EXPECT_TRUE(answers(p, "patient-nom", str("DURAND")));
  EXPECT_TRUE(answers(p, "patient-prenoms", str("Jeanne")));
  EXPECT_TRUE(p.issues.empty()) << describe(p);

  ParsedForm q = read(
      "INFORMATION PATIENT\nUrgence : Non\nTéléphone : 06 00 00 00 02\nLe requérant "
      "intervient en tant que : IDE\nNom : DURAND");
  EXPECT_TRUE(answers(q, "situation-urgence", code("N")));
  EXPECT_TRUE(answers(q, "patient-telephone", str("06 00 00 00 02")));
  EXPECT_TRUE(answers(q, "demandeur-fonction", code("infirmier")));
  // The requester's line put the reader among the requester's labels.
  EXPECT_TRUE(answers(q, "demandeur-nom", str("DURAND")));
  EXPECT_TRUE(q.issues.empty()) << describe(q);
}

TEST(TextFormReader, HeadingsSwitchTheSection) {
  ParsedForm p = read(
      "PATIENT\nNom : DURAND\nPrénom : Jeanne\n\nDEMANDEUR\nNom : MARTIN\n"
      "Prénom : Claire\nTél : 04\nPATIENT\nTél : 06");
  EXPECT_TRUE(answers(p, "patient-nom", str("DURAND")));
  EXPECT_TRUE(answers(p, "patient-prenoms", str("Jeanne")));
  EXPECT_TRUE(answers(p, "demandeur-nom", str("MARTIN")));
  EXPECT_TRUE(answers(p, "demandeur-prenom", str("Claire")));
  EXPECT_TRUE(answers(p, "demandeur-telephone", str("04")));
  EXPECT_TRUE(answers(p, "patient-telephone", str("06")));
  EXPECT_EQ(p.response.answers("demandeur-nom")[0].location, "ligne 6");
  EXPECT_TRUE(p.issues.empty()) << describe(p);
  EXPECT_EQ(p.recognised, 9u);
}

TEST(TextFormReader, TextOnAHeadingLineIsReportedNotDropped) {
  ParsedForm p = read("Patient : DURAND Jeanne\nNom : DURAND");
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{"ligne 1"})
      << describe(p);
  // The heading still opens its section.
  EXPECT_TRUE(answers(p, "patient-nom", str("DURAND")));
}

TEST(TextFormReader, MotifOptionsOnePerLineUnderTheHeading) {
  ParsedForm p = read(
      "MOTIF DE LA DEMANDE\n"
      "\xE2\x98\x90 Dépistage d'HTA\n"
      "\xE2\x98\x92 Douleur thoracique\n"
      "\xE2\x98\x90 Dyspnée\n"
      "[x] Palpitations\n"
      "- [X] Suivi de trouble du rythme\n"
      "Symptomatologie actuelle : douleur à l'effort");
  auto motifs = p.response.answers("motif");
  ASSERT_EQ(motifs.size(), 3u) << describe(p);
  EXPECT_EQ(std::get<Coding>(motifs[0].value).code, "douleur-thoracique");
  EXPECT_EQ(std::get<Coding>(motifs[0].value).display, "Douleur thoracique");
  EXPECT_EQ(motifs[0].location, "ligne 3");
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "palpitations");
  EXPECT_EQ(motifs[1].location, "ligne 5");
  EXPECT_EQ(std::get<Coding>(motifs[2].value).code, "suivi-trouble-rythme");
  EXPECT_TRUE(answers(p, "symptomatologie", str("douleur à l'effort")));
  EXPECT_TRUE(p.issues.empty()) << describe(p);
  EXPECT_EQ(p.recognised, 7u);
}

TEST(TextFormReader, MotifOptionsOnePerLineAfterAnEmptyLabel) {
  ParsedForm p = read("Motif :\n[ ] Syncope\n[x] Dyspnée\n( ) Palpitations\n(x) Syncope");
  auto motifs = p.response.answers("motif");
  ASSERT_EQ(motifs.size(), 2u) << describe(p);
  EXPECT_EQ(std::get<Coding>(motifs[0].value).code, "dyspnee");
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "syncope");
  EXPECT_TRUE(p.issues.empty()) << describe(p);
}

TEST(TextFormReader, MotifsOnOneLine) {
  ParsedForm p = read("Motif : Douleur thoracique, Dyspnée");
  auto motifs = p.response.answers("motif");
  ASSERT_EQ(motifs.size(), 2u) << describe(p);
  EXPECT_EQ(std::get<Coding>(motifs[0].value).code, "douleur-thoracique");
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "dyspnee");
  EXPECT_EQ(motifs[1].location, "ligne 1");
  EXPECT_TRUE(p.issues.empty()) << describe(p);

  ParsedForm q = read("Motifs : syncope; palpitations + dyspnée");
  EXPECT_EQ(q.response.answers("motif").size(), 3u) << describe(q);

  ParsedForm boxes = read(
      "Motif de la demande : \xE2\x98\x92 Dyspnée \xE2\x98\x90 Syncope "
      "\xE2\x98\x92 Palpitations");
  ASSERT_EQ(boxes.response.answers("motif").size(), 2u) << describe(boxes);
  EXPECT_EQ(std::get<Coding>(boxes.response.answers("motif")[1].value).code, "palpitations");
}

TEST(TextFormReader, MotifLinesAccumulateAndDuplicatesAreDropped) {
  ParsedForm p = read("Motif : Dyspnée\nMotif : Syncope, Dyspnée");
  auto motifs = p.response.answers("motif");
  ASSERT_EQ(motifs.size(), 2u) << describe(p);
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "syncope");
  EXPECT_TRUE(p.issues.empty()) << describe(p) << "motif repeats";
}

TEST(TextFormReader, UnknownMotifIsInvalidAndTheOthersKept) {
  ParsedForm p = read("Motif : Dyspnée, Migraine");
  EXPECT_TRUE(answers(p, "motif", code("dyspnee")));
  ASSERT_EQ(p.issues.size(), 1u) << describe(p);
  EXPECT_EQ(p.issues.items()[0].code, Errc::FormAnswerInvalid);
  EXPECT_EQ(p.issues.items()[0].location, "ligne 1");
}

TEST(TextFormReader, AHeadingEndsTheOptionList) {
  ParsedForm p = read("Motif :\n[x] Dyspnée\nDOCUMENTS\n[x] Syncope");
  EXPECT_TRUE(answers(p, "motif", code("dyspnee")));
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{"ligne 4"})
      << describe(p);
}

TEST(TextFormReader, DocumentsAsCheckboxLines) {
  ParsedForm p = read(
      "DOCUMENTS\n"
      "\xE2\x98\x92 Ordonnances en cours\n"
      "\xE2\x98\x90 Dernière biologie\n"
      "[x] Dernière lettre cardiologique\n"
      "Compte-rendu d'hospitalisation \xE2\x98\x92\n"
      "[ ] ECG");
  EXPECT_TRUE(answers(p, "doc-ordonnances", AnswerValue{true}));
  EXPECT_TRUE(answers(p, "doc-biologie", AnswerValue{false}));
  EXPECT_TRUE(answers(p, "doc-lettre-cardiologique", AnswerValue{true}));
  EXPECT_TRUE(answers(p, "doc-compte-rendu-hospitalisation", AnswerValue{true}));
  // An empty box is "not provided" for a document the form requires, and says nothing of one
  // it does not ("[ ] ECG", "☐ Pas de médecin traitant": printed on every form).
  EXPECT_FALSE(p.response.answered(indexOf("doc-ecg")));
  EXPECT_EQ(p.response.answers("doc-biologie")[0].location, "ligne 3");
  EXPECT_TRUE(p.issues.empty()) << describe(p);
  EXPECT_EQ(p.recognised, 6u);
  ParsedForm none = read("ECG : [ ]\n\xE2\x98\x90 Pas de médecin traitant");
  EXPECT_FALSE(none.response.answered(indexOf("doc-ecg")));
  EXPECT_FALSE(none.response.answered(indexOf("patient-sans-medecin-traitant")));
  EXPECT_TRUE(none.issues.empty()) << describe(none);
  EXPECT_EQ(none.recognised, 2u);
}

TEST(TextFormReader, FreeTextContinuesUntilAnEmptyLine) {
  ParsedForm p = read(
      "Symptomatologie actuelle : essoufflement à l'effort\n"
      "depuis 3 mois (2 étages),\n"
      "palpitations nocturnes.\n"
      "\n"
      "Merci de votre retour.");
  EXPECT_TRUE(answers(p, "symptomatologie",
                      str("essoufflement à l'effort\ndepuis 3 mois (2 étages),\n"
                          "palpitations nocturnes.")));
  EXPECT_EQ(p.response.answers("symptomatologie")[0].location, "ligne 1");
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{"ligne 5"});
  EXPECT_EQ(p.issues.size(), 1u) << describe(p);
}

TEST(TextFormReader, FreeTextMayStartOnTheNextLine) {
  ParsedForm p = read(
      "Autres antécédents cardiovasculaires :\nFA paroxystique\nHTA gravidique\n\n"
      "HTA : Oui");
  EXPECT_TRUE(answers(p, "atcd-autres", str("FA paroxystique\nHTA gravidique")));
  EXPECT_EQ(p.response.answers("atcd-autres")[0].location, "ligne 2");
  EXPECT_TRUE(answers(p, "fdr-hta", code("Y")));
  EXPECT_TRUE(p.issues.empty()) << describe(p);
}

// Only "text" items run over several lines: a line after a name, a NIR or a phone number is not
// part of it.
TEST(TextFormReader, SingleLineItemsDoNotSwallowTheNextLine) {
  ParsedForm p = read(
      "PATIENT\nPrénom : Jeanne\nMerci de la recevoir rapidement.\n"
      "NIR : 2 52 03 38 185 123 13\nCordialement");
  EXPECT_TRUE(answers(p, "patient-prenoms", str("Jeanne")));
  EXPECT_TRUE(answers(p, "patient-nir", str("2 52 03 38 185 123 13")));
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised),
            (std::vector<std::string>{"ligne 3", "ligne 5"}));
}

TEST(TextFormReader, ALabelEndsFreeText) {
  ParsedForm p = read("Symptomatologie actuelle : dyspnée\nHTA : Oui\nstade II");
  EXPECT_TRUE(answers(p, "symptomatologie", str("dyspnée")));
  EXPECT_TRUE(answers(p, "fdr-hta", code("Y")));
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{"ligne 3"});
}

TEST(TextFormReader, ANoBreakSpaceLineEndsFreeTextLikeAnEmptyLine) {
  ParsedForm p = read("Symptomatologie actuelle : dyspnée\n\xC2\xA0\nCordialement");
  EXPECT_TRUE(answers(p, "symptomatologie", str("dyspnée")));
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{"ligne 3"})
      << describe(p);
}

TEST(TextFormReader, UnrecognisedLinesAreWarningsWithTheirLineNumber) {
  ParsedForm p = read("Bonjour,\n\nHTA : Oui\nJe vous adresse ce patient.\n-----\n\nCordialement");
  EXPECT_TRUE(answers(p, "fdr-hta", code("Y")));
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised),
            (std::vector<std::string>{"ligne 1", "ligne 4", "ligne 7"}));
  ASSERT_EQ(p.issues.size(), 3u) << describe(p) << "separator lines are not reported";
  for (const Issue& i : p.issues.items()) {
    EXPECT_EQ(i.severity, Severity::Warning);
    EXPECT_TRUE(i.expression.empty());
  }
  EXPECT_FALSE(p.issues.hasErrors());
  EXPECT_EQ(p.recognised, 1u);
}

TEST(TextFormReader, RepeatedLabelKeepsTheFirstAnswer) {
  ParsedForm p = read("HTA : Oui\nNom de naissance : LEGRAND\nHTA : Non");
  EXPECT_TRUE(answers(p, "fdr-hta", code("Y")));
  ASSERT_EQ(p.issues.size(), 1u) << describe(p);
  const Issue& issue = p.issues.items()[0];
  EXPECT_EQ(issue.code, Errc::FormAnswerRepeated);
  EXPECT_EQ(issue.severity, Severity::Warning);
  EXPECT_EQ(issue.location, "ligne 3");
  EXPECT_EQ(issue.expression, form::itemExpression(cardio(), indexOf("fdr-hta")));
  EXPECT_EQ(p.response.answers("fdr-hta")[0].location, "ligne 1");
}

TEST(TextFormReader, TheSameItemUnderTwoLabelsIsRepeatedToo) {
  ParsedForm p = read("Sédentarité : Oui\nSEDENTARITE : Non\nHypertension : Non\nHTA : Oui");
  EXPECT_TRUE(answers(p, "fdr-sedentarite", code("Y")));
  EXPECT_TRUE(answers(p, "fdr-hta", code("N")));
  EXPECT_EQ(issueLines(p, Errc::FormAnswerRepeated),
            (std::vector<std::string>{"ligne 2", "ligne 4"}));
}

TEST(TextFormReader, EmptyInputGivesNothing) {
  for (std::string_view text :
       {std::string_view(""), std::string_view("\n\n\r\n"), std::string_view("\xEF\xBB\xBF")}) {
    ParsedForm p = read(text);
    EXPECT_EQ(p.recognised, 0u);
    EXPECT_TRUE(p.issues.empty()) << describe(p);
    for (const form::Item& item : cardio().items())
      EXPECT_FALSE(p.response.answered(item.index)) << item.link_id;
  }
}

TEST(TextFormReader, RecognisedCountsTheFormLines) {
  ParsedForm p = read("Bonjour,\nDEMANDEUR\nNom : MARTIN\nvoici ma demande\nHTA : Oui\n");
  EXPECT_EQ(p.recognised, 3u);
  ParsedForm mail = read(test::readRepoFile("samples/fiches/not-a-form.txt"));
  EXPECT_EQ(mail.recognised, 0u);
  EXPECT_EQ(issueLines(mail, Errc::FormLineUnrecognised),
            (std::vector<std::string>{"ligne 1", "ligne 3", "ligne 4", "ligne 5"}));
  for (const form::Item& item : cardio().items())
    EXPECT_FALSE(mail.response.answered(item.index)) << item.link_id;
}

TEST(TextFormReader, ParseFormTextAndAReusedReaderAgree) {
  const std::string text = "PATIENT\nNom : DURAND\nHTA : Oui\nbla";
  FormTextReader reader(cardio());
  ParsedForm first = reader.read(text);
  ParsedForm other = reader.read("HTA : Non");
  ParsedForm again = reader.read(text);
  ParsedForm once = parseFormText(text, cardio());
  for (const ParsedForm* p : {&again, &once}) {
    EXPECT_TRUE(answers(*p, "patient-nom", str("DURAND")));
    EXPECT_TRUE(answers(*p, "fdr-hta", code("Y")));
    EXPECT_EQ(p->recognised, first.recognised);
    EXPECT_EQ(p->issues.size(), first.issues.size());
  }
  EXPECT_TRUE(answers(other, "fdr-hta", code("N")));
  EXPECT_FALSE(other.response.answered(indexOf("patient-nom")));
}

// Lines another reader found (a PDF's text layer, a form field): each answer and issue is located
// by the origin its line came with, and read() is readLines() over "ligne N".
TEST(TextFormReader, LinesFromElsewhereKeepTheirOrigin) {
  const std::vector<FormLine> lines = {{"PATIENT", "page 1, ligne 3"},
                                       {"Nom : DURAND", "champ PDF patient_nom"},
                                       {"bla", "page 2, ligne 7"},
                                       {"HTA : Oui", "page 2, ligne 8"}};
  ParsedForm p = test::cardioPlus()->textReader().readLines(lines);
  EXPECT_TRUE(answers(p, "patient-nom", str("DURAND")));
  EXPECT_EQ(p.response.answers("patient-nom")[0].location, "champ PDF patient_nom");
  EXPECT_EQ(p.response.answers("fdr-hta")[0].location, "page 2, ligne 8");
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{"page 2, ligne 7"});

  ParsedForm text = read("PATIENT\r\nNom : DURAND\r\nbla\r\nHTA : Oui");
  EXPECT_EQ(text.response.answers("patient-nom")[0].location, "ligne 2");
  EXPECT_EQ(issueLines(text, Errc::FormLineUnrecognised), std::vector<std::string>{"ligne 3"});
}

// --- the sample forms ------------------------------------------------------------------------

TEST(TextFormSample, CompleteFormReadsEveryGroup) {
  ParsedForm p = read(test::readRepoFile("samples/fiches/fiche-complete.txt"));
  // Consentement
  EXPECT_TRUE(answers(p, "consentement-patient", AnswerValue{true}));
  EXPECT_EQ(p.response.answers("consentement-patient")[0].location, "ligne 5");
  // Demandeur
  EXPECT_TRUE(answers(p, "demandeur-nom", str("MARTIN")));
  EXPECT_TRUE(answers(p, "demandeur-prenom", str("Claire")));
  EXPECT_TRUE(answers(p, "demandeur-fonction", code("medecin")));
  EXPECT_TRUE(answers(p, "demandeur-rpps", str("10101010101")));
  EXPECT_TRUE(answers(p, "demandeur-structure-type", code("msp")));
  EXPECT_TRUE(answers(p, "demandeur-adresse", str("12 rue des Alpes, 38250 Villard-de-Lans")));
  EXPECT_TRUE(answers(p, "demandeur-telephone", str("04 76 00 00 01")));
  // Patient
  EXPECT_TRUE(answers(p, "patient-nom", str("DURAND")));
  EXPECT_TRUE(answers(p, "patient-nom-naissance", str("LEGRAND")));
  EXPECT_TRUE(answers(p, "patient-prenoms", str("Jeanne Marie")));
  EXPECT_TRUE(answers(p, "patient-nir", str("2 52 03 38 185 123 13")));
  EXPECT_TRUE(answers(p, "patient-date-naissance", date(1952, 3, 14)));
  EXPECT_TRUE(answers(p, "patient-rang-naissance", AnswerValue{std::int64_t{1}}));
  EXPECT_TRUE(answers(p, "patient-sexe", code("female")));
  EXPECT_TRUE(answers(p, "patient-lieu-residence", code("domicile")));
  EXPECT_TRUE(answers(p, "patient-telephone", str("06 00 00 00 02")));
  EXPECT_TRUE(answers(p, "patient-adresse", str("3 place Victor Hugo")));
  EXPECT_TRUE(answers(p, "patient-medecin-traitant", str("Dr Claire MARTIN")));
  EXPECT_FALSE(p.response.answered(indexOf("patient-cardiologue")));
  EXPECT_FALSE(p.response.answered(indexOf("patient-etablissement")));
  EXPECT_TRUE(answers(p, "patient-poids", dec(68.5)));
  EXPECT_TRUE(answers(p, "patient-taille", dec(162)));
  // Situation
  EXPECT_TRUE(answers(p, "situation-precarite", code("N")));
  EXPECT_TRUE(answers(p, "situation-urgence", code("N")));
  // Facteurs de risque
  EXPECT_TRUE(answers(p, "fdr-tabac", code("N")));
  EXPECT_TRUE(answers(p, "fdr-arret-tabac", code("Y")));
  EXPECT_TRUE(answers(p, "fdr-arret-tabac-annee", AnswerValue{std::int64_t{2009}}));
  EXPECT_TRUE(answers(p, "fdr-diabete-type", code("44054006")));
  EXPECT_TRUE(answers(p, "fdr-diabete-duree", dec(12)));
  EXPECT_TRUE(answers(p, "fdr-hta", code("Y")));
  EXPECT_TRUE(answers(p, "fdr-heredite", code("asked-unknown")));
  EXPECT_TRUE(answers(p, "fdr-sedentarite", code("Y")));
  // Antécédents
  EXPECT_TRUE(answers(p, "atcd-trouble-rythme", code("Y")));
  EXPECT_TRUE(answers(p, "atcd-anticoagulant", code("Y")));
  EXPECT_TRUE(answers(p, "atcd-valvulopathie", code("N")));
  EXPECT_TRUE(
      answers(p, "atcd-autres", str("fibrillation atriale paroxystique découverte en 2021")));
  EXPECT_TRUE(answers(p, "atcd-non-cardiovasculaires",
                      str("hypothyroïdie substituée,\narthrose des genoux")));
  // Demande
  auto motifs = p.response.answers("motif");
  ASSERT_EQ(motifs.size(), 3u) << describe(p);
  EXPECT_EQ(std::get<Coding>(motifs[0].value).code, "dyspnee");
  EXPECT_EQ(motifs[0].location, "ligne 77");
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "palpitations");
  EXPECT_EQ(std::get<Coding>(motifs[2].value).code, "suivi-trouble-rythme");
  EXPECT_EQ(motifs[2].location, "ligne 82");
  EXPECT_TRUE(answers(p, "symptomatologie",
                      str("essoufflement à l'effort depuis 3 mois (2 étages),\n"
                          "palpitations nocturnes.")));
  // Documents
  for (const char* id : {"doc-ordonnances", "doc-lettre-cardiologique",
                         "doc-compte-rendu-hospitalisation", "doc-biologie", "doc-ecg"})
    EXPECT_TRUE(answers(p, id, AnswerValue{true}));
  EXPECT_TRUE(answers(p, "doc-autres", str("Holter ECG de 2021")));

  // Every line is the form's (its title too: questionnaire-title-alias); the height, given in
  // metres, is converted.
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{});
  EXPECT_TRUE(p.unrecognised.empty());
  EXPECT_EQ(issueLines(p, Errc::FormValueDerived), std::vector<std::string>{"ligne 35"});
  EXPECT_EQ(p.issues.size(), 1u) << describe(p);
  EXPECT_GE(p.recognised, 80u);
}

TEST(TextFormSample, IncompleteFormReadsWhatIsThere) {
  ParsedForm p = read(test::readRepoFile("samples/fiches/fiche-incomplete.txt"));
  EXPECT_TRUE(answers(p, "demandeur-nom", str("BERNARD")));
  EXPECT_TRUE(answers(p, "demandeur-fonction", code("ipa")));
  EXPECT_TRUE(answers(p, "demandeur-mail", str("luc.bernard@ipa.mssante.example")));
  EXPECT_TRUE(answers(p, "patient-nom", str("PETIT")));
  EXPECT_TRUE(answers(p, "patient-prenoms", str("Paul")));
  EXPECT_TRUE(answers(p, "patient-nir", str("1 46 08 69 123 045 38")));
  EXPECT_TRUE(answers(p, "patient-date-naissance", date(1946, 8, 21)));
  EXPECT_TRUE(answers(p, "patient-lieu-naissance", str("69123")));
  EXPECT_TRUE(answers(p, "patient-sexe", code("male")));
  EXPECT_TRUE(answers(p, "patient-code-postal", str("69003")));
  EXPECT_TRUE(answers(p, "patient-sans-medecin-traitant", AnswerValue{true}));
  EXPECT_TRUE(answers(p, "fdr-tabac", code("Y")));
  EXPECT_TRUE(answers(p, "fdr-tabac-paquets-annees", dec(40)));
  EXPECT_TRUE(answers(p, "fdr-hta", code("Y")));
  EXPECT_TRUE(answers(p, "fdr-diabete", code("N")));
  auto motifs = p.response.answers("motif");
  ASSERT_EQ(motifs.size(), 2u) << describe(p);
  EXPECT_EQ(std::get<Coding>(motifs[0].value).code, "douleur-thoracique");
  EXPECT_EQ(std::get<Coding>(motifs[1].value).code, "dyspnee");
  EXPECT_TRUE(answers(p, "doc-ordonnances", AnswerValue{false}));
  // What the form lacks stays unanswered (the validator reports it, not the parser).
  for (const char* id : {"consentement-patient", "patient-medecin-traitant", "fdr-sedentarite",
                         "atcd-angor", "doc-biologie", "demandeur-rpps"})
    EXPECT_FALSE(p.response.answered(indexOf(id))) << id;
  // Greeting and signature: warnings, and their text kept for the request's note.
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised),
            (std::vector<std::string>{"ligne 1", "ligne 3", "ligne 34", "ligne 35"}));
  EXPECT_EQ(p.issues.size(), 4u) << describe(p);
  ASSERT_EQ(p.unrecognised.size(), 4u);
  EXPECT_EQ(p.unrecognised[0].text, "Bonjour,");
  EXPECT_EQ(p.unrecognised[3].text, "Luc Bernard");
  EXPECT_EQ(p.unrecognised[3].origin, "ligne 35");
  EXPECT_EQ(p.recognised, 24u);
}

// --- encodings and line ends -----------------------------------------------------------------

std::string replaceAll(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

std::string toWindows1252(const std::string& utf8) {
  iconv_t cd = iconv_open("WINDOWS-1252", "UTF-8");
  EXPECT_NE(cd, reinterpret_cast<iconv_t>(-1));
  std::string out(utf8.size(), '\0');
  std::string in_copy = utf8;
  char* in = in_copy.data();
  std::size_t in_left = in_copy.size();
  char* dst = out.data();
  std::size_t out_left = out.size();
  std::size_t rc = iconv(cd, &in, &in_left, &dst, &out_left);
  EXPECT_NE(rc, static_cast<std::size_t>(-1)) << "not encodable in windows-1252";
  iconv_close(cd);
  out.resize(out.size() - out_left);
  return out;
}

// Every item has the same answers (strings byte for byte) and the issues are at the same lines.
void expectSameForm(const ParsedForm& a, const ParsedForm& b) {
  for (const form::Item& item : cardio().items()) {
    auto x = a.response.answers(item.index);
    auto y = b.response.answers(item.index);
    ASSERT_EQ(x.size(), y.size()) << item.link_id << "\n" << describe(b);
    for (std::size_t k = 0; k < x.size(); ++k) {
      EXPECT_TRUE(form::sameAnswer(x[k].value, y[k].value))
          << item.link_id << ": " << show(x[k].value) << " vs " << show(y[k].value);
      EXPECT_EQ(x[k].location, y[k].location) << item.link_id;
    }
  }
  ASSERT_EQ(a.issues.size(), b.issues.size()) << describe(b);
  for (std::size_t i = 0; i < a.issues.size(); ++i) {
    EXPECT_EQ(a.issues.items()[i].code, b.issues.items()[i].code);
    EXPECT_EQ(a.issues.items()[i].location, b.issues.items()[i].location);
  }
  EXPECT_EQ(a.recognised, b.recognised);
}

TEST(TextFormEncoding, CrLfLineEndsReadTheSame) {
  const std::string lf = test::readRepoFile("samples/fiches/fiche-complete.txt");
  const std::string crlf = replaceAll(lf, "\n", "\r\n");
  ASSERT_NE(crlf, lf);
  ParsedForm a = read(lf);
  ParsedForm b = read(crlf);
  expectSameForm(a, b);
  for (const form::Item& item : cardio().items()) {
    for (const form::Answer& ans : b.response.answers(item.index)) {
      if (const auto* s = std::get_if<std::string>(&ans.value)) {
        EXPECT_EQ(s->find('\r'), std::string::npos) << item.link_id;
      }
    }
  }
}

TEST(TextFormEncoding, Utf8ByteOrderMarkIsIgnored) {
  ParsedForm p = read("\xEF\xBB\xBF[x] Ordonnances en cours\nHTA : Oui");
  EXPECT_TRUE(answers(p, "doc-ordonnances", AnswerValue{true}));
  EXPECT_EQ(p.response.answers("doc-ordonnances")[0].location, "ligne 1");
  EXPECT_TRUE(p.issues.empty()) << describe(p);

  const std::string sample = test::readRepoFile("samples/fiches/fiche-complete.txt");
  expectSameForm(read(sample), read("\xEF\xBB\xBF" + sample));
}

TEST(TextFormEncoding, Windows1252ReadsLikeUtf8) {
  ParsedForm p = read(
      "PATIENT\n"
      "Pr\xE9nom(s) : H\xE9l\xE8ne\n"
      "Sexe : F\xE9minin\n"
      "Lieu de r\xE9sidence : \xC9tablissement\n"
      "Nom de l\x92\xE9tablissement : EHPAD Les C\xE8"
      "dres\n"
      "S\xC9"
      "DENTARIT\xC9 : Oui\n"
      "Symptomatologie actuelle : \x93"
      "dyspn\xE9"
      "e\x94 \x96 \x9C"
      "d\xE8mes\n");
  EXPECT_TRUE(answers(p, "patient-prenoms", str("Hélène")));
  EXPECT_TRUE(answers(p, "patient-sexe", code("female")));
  EXPECT_TRUE(answers(p, "patient-lieu-residence", code("etablissement")));
  EXPECT_TRUE(answers(p, "patient-etablissement", str("EHPAD Les Cèdres")));
  EXPECT_TRUE(answers(p, "fdr-sedentarite", code("Y")));
  EXPECT_TRUE(answers(p, "symptomatologie", str("“dyspnée” – œdèmes")));
  EXPECT_TRUE(p.issues.empty()) << describe(p);
}

TEST(TextFormEncoding, Windows1252SamplesReadLikeUtf8) {
  const std::string incomplete = test::readRepoFile("samples/fiches/fiche-incomplete.txt");
  expectSameForm(read(incomplete), read(toWindows1252(incomplete)));

  // fiche-complete.txt with the marks windows-1252 lacks written as [x] / [ ].
  std::string complete = test::readRepoFile("samples/fiches/fiche-complete.txt");
  complete = replaceAll(complete, "\xE2\x98\x92", "[x]");
  complete = replaceAll(complete, "\xE2\x98\x90", "[ ]");
  const std::string cp1252 = toWindows1252(complete);
  ASSERT_NE(cp1252, complete);
  ParsedForm a = read(complete);
  expectSameForm(a, read(cp1252));
  EXPECT_TRUE(answers(a, "atcd-non-cardiovasculaires",
                      str("hypothyroïdie substituée,\narthrose des genoux")));
}

// ---------------------------------------------------------------------------------------------
// value_parser helpers.

TEST(ValueParserDate, ReadsHumanDates) {
  struct Case {
    std::string_view text;
    form::Date expected;
  };
  for (const Case& c : std::vector<Case>{{"14/03/1952", {1952, 3, 14}},
                                         {"14-03-1952", {1952, 3, 14}},
                                         {"14.03.1952", {1952, 3, 14}},
                                         {"14 03 1952", {1952, 3, 14}},
                                         {"1952-03-14", {1952, 3, 14}},
                                         {"4/3/1952", {1952, 3, 4}},
                                         {"  14/03/1952 \t", {1952, 3, 14}},
                                         {"29/02/2000", {2000, 2, 29}},
                                         {"31/12/1999", {1999, 12, 31}}}) {
    auto d = parseHumanDate(c.text);
    ASSERT_TRUE(d.has_value()) << c.text;
    EXPECT_EQ(*d, c.expected) << c.text;
  }
}

TEST(ValueParserDate, RejectsWhatIsNotAFullValidDate) {
  for (
      std::string_view text :
      {"31/02/1952", "29/02/1951", "29/02/1900", "31/04/2001",   "00/03/1952",       "14/00/1952",
       "14/13/1952", "32/01/1952", "14/03/52",   "14/03/19522",  "1952/03/14",       "1952-3-14",
       "1952-02-30", "03/1952",    "1952",       "14/03/1952/1", "14/03/1952 10:00", "14 mars 1952",
       "14/03/1799", "",           "  ",         "abc",          "1a/03/1952"}) {
    EXPECT_FALSE(parseHumanDate(text).has_value()) << text;
  }
}

TEST(ValueParserDate, ReadsFhirDatesWithTheirPrecision) {
  EXPECT_EQ(parseFhirDate("1952"), (form::Date{1952, 0, 0}));
  EXPECT_EQ(parseFhirDate("1952-03"), (form::Date{1952, 3, 0}));
  EXPECT_EQ(parseFhirDate("1952-03-14"), (form::Date{1952, 3, 14}));
  EXPECT_EQ(parseFhirDate("1952-03-14T08:30:00+01:00"), (form::Date{1952, 3, 14}));
  for (std::string_view text : {"195", "1952-3", "1952-13", "1952-02-30", "1952-03-14 08:30",
                                "14/03/1952", "1952/03/14", ""})
    EXPECT_FALSE(parseFhirDate(text).has_value()) << text;
  EXPECT_TRUE(isValidDate(2024, 2, 29));
  EXPECT_FALSE(isValidDate(2023, 2, 29));
  EXPECT_FALSE(isValidDate(2023, 4, 31));
}

TEST(ValueParserDecimal, ReadsTheNumberAndItsUnit) {
  struct Case {
    std::string_view text;
    double value;
    std::string_view unit;
  };
  for (const Case& c : std::vector<Case>{{"68,5 kg", 68.5, "kg"},
                                         {"72.5", 72.5, ""},
                                         {"1,62 m", 1.62, "m"},
                                         {"1,62m", 1.62, "m"},
                                         {"  80  ", 80, ""},
                                         {"162 cm", 162, "cm"},
                                         {"12 ans", 12, "ans"},
                                         {"20 PA", 20, "pa"},
                                         {"68,5\xC2\xA0Kg", 68.5, "kg"},
                                         {"3 années", 3, "annees"},
                                         {"0,5", 0.5, ""},
                                         {"72,", 72, ""}}) {
    std::string unit = "unset";
    auto v = parseHumanDecimal(c.text, &unit);
    ASSERT_TRUE(v.has_value()) << c.text;
    EXPECT_DOUBLE_EQ(*v, c.value) << c.text;
    EXPECT_EQ(unit, c.unit) << c.text;
  }
  auto no_unit = parseHumanDecimal("68,5 kg");
  ASSERT_TRUE(no_unit.has_value());
  EXPECT_DOUBLE_EQ(*no_unit, 68.5);
}

TEST(ValueParserDecimal, RejectsWhatIsNotOneNumber) {
  for (std::string_view text :
       {"", "kg", "abc", ",5", "-5", "72 à 75", "1.2.3", "1,234,5", "1m62", "environ 70"}) {
    EXPECT_FALSE(parseHumanDecimal(text).has_value()) << text;
  }
}

TEST(ValueParserInteger, ReadsWholeNumbers) {
  EXPECT_EQ(parseHumanInteger("12"), 12);
  EXPECT_EQ(parseHumanInteger(" 2009 "), 2009);
  EXPECT_EQ(parseHumanInteger("0"), 0);
  EXPECT_EQ(parseHumanInteger("1er"), 1);
  EXPECT_EQ(parseHumanInteger("12 ans"), 12);
  for (std::string_view text :
       {"", "abc", "deux", "-3", "1 2", "1,5", "12 à 15", "99999999999999999999999", "x12"})
    EXPECT_FALSE(parseHumanInteger(text).has_value()) << text;
}

TEST(ValueParserLabel, Normalizes) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  for (const Case& c : std::vector<Case>{
           {"Prénom(s) :", "prenom s"},
           {"Œdème", "oedeme"},
           {"œdème des membres", "oedeme des membres"},
           {"Né(e)\xC2\xA0le", "ne e le"},
           {"l\xE2\x80\x99"
            "examen",
            "l examen"},
           {"L'ESS", "l ess"},
           {"  ÉTABLISSEMENT  ", "etablissement"},
           {"N° RPPS", "n rpps"},
           {"Sédentarité", "sedentarite"},
           {"SÉDENTARITÉ", "sedentarite"},
           {"Hérédité CV", "heredite cv"},
           {"Âge ÇA Ê Ë Î Ï Ô Ù Û Ü à â ç è ê ë î ï ô ù û ü ÿ",
            "age ca e e i i o u u u a a c e e e i i o u u u y"},
           {"Paquets-années", "paquets annees"},
           {"Type 2", "type 2"},
           {"a\t--\tb", "a b"},
           {"Dyspnée — stade II", "dyspnee stade ii"},
           {"", ""},
           {":", ""},
       }) {
    EXPECT_EQ(normalizeLabel(c.text), c.expected) << c.text;
  }
}

TEST(ValueParserBoolean, ReadsYesAndNo) {
  for (std::string_view text : {"oui", "OUI", "Oui", " oui ", "o", "yes", "x", "X", "vrai", "true",
                                "1", "fourni", "Fournie", "joint"})
    EXPECT_EQ(parseHumanBoolean(text), std::optional<bool>(true)) << text;
  for (std::string_view text : {"non", "NON", "n", "no", "faux", "false", "0", "non fourni",
                                "Non fournie", "absent", "aucun", "non joint", "non-fourni"})
    EXPECT_EQ(parseHumanBoolean(text), std::optional<bool>(false)) << text;
  for (std::string_view text : {"", "peut-être", "oui non", "nsp", "inconnu", "ouix", "2"})
    EXPECT_FALSE(parseHumanBoolean(text).has_value()) << text;
}

struct OptionCase {
  const char* link_id;
  std::string_view text;
  const char* code;  // nullptr: no option
};

TEST(ValueParserOption, MatchesDisplaysCodesAndSynonyms) {
  for (const OptionCase& c : std::vector<OptionCase>{
           {"fdr-tabac", "Oui", "Y"},
           {"fdr-tabac", "oui", "Y"},
           {"fdr-tabac", "OUI", "Y"},
           {"fdr-tabac", "O", "Y"},
           {"fdr-tabac", "yes", "Y"},
           {"fdr-tabac", "x", "Y"},
           {"fdr-tabac", "Y", "Y"},
           {"fdr-tabac", "Non", "N"},
           {"fdr-tabac", "n", "N"},
           {"fdr-tabac", "no", "N"},
           {"fdr-tabac", "Inconnu", "asked-unknown"},
           {"fdr-tabac", "inconnue", "asked-unknown"},
           {"fdr-tabac", "NSP", "asked-unknown"},
           {"fdr-tabac", "ne sait pas", "asked-unknown"},
           {"fdr-tabac", "Je ne sais pas", "asked-unknown"},
           {"fdr-tabac", "non connu", "asked-unknown"},
           {"fdr-tabac", "NS", "asked-unknown"},
           {"fdr-tabac", "?", "asked-unknown"},
           {"fdr-tabac", " ? ", "asked-unknown"},
           {"fdr-tabac", "asked-unknown", "asked-unknown"},
           {"fdr-tabac", "peut-être", nullptr},
           {"fdr-tabac", "", nullptr},
           {"fdr-tabac", "--", nullptr},
           {"fdr-tabac", "Oui, 20 PA", nullptr},
           {"patient-sexe", "M", "male"},
           {"patient-sexe", "m", "male"},
           {"patient-sexe", "H", "male"},
           {"patient-sexe", "Homme", "male"},
           {"patient-sexe", "Masculin", "male"},
           {"patient-sexe", "F", "female"},
           {"patient-sexe", "femme", "female"},
           {"patient-sexe", "FÉMININ", "female"},
           {"patient-sexe", "female", "female"},
           {"patient-sexe", "Oui", nullptr},
           {"patient-sexe", "X", nullptr},
           {"patient-sexe", "?", nullptr},
           {"fdr-diabete-type", "Type 2", "44054006"},
           {"fdr-diabete-type", "type 1", "46635009"},
           {"fdr-diabete-type", "44054006", "44054006"},
           {"fdr-diabete-type", "Type", nullptr},
           {"fdr-diabete-type", "Type 2 (non insulinodépendant)", nullptr},
           {"demandeur-fonction", "IPA", "ipa"},
           {"demandeur-fonction", "Infirmier(e)", "infirmier"},
           {"demandeur-fonction", "infirmier (e)", "infirmier"},
           {"demandeur-fonction", "Infirmier(e) en pratique avancée (IPA)", "ipa"},
           {"demandeur-fonction", "médecin", "medecin"},
           {"demandeur-fonction", "Oui", nullptr},
           {"motif", "Somnolence diurne / ronflement", "somnolence-ronflement"},
           {"motif", "suivi d’insuffisance cardiaque", "suivi-insuffisance-cardiaque"},
       }) {
    const form::Item* item = cardio().find(c.link_id);
    ASSERT_NE(item, nullptr) << c.link_id;
    auto opt = matchOption(*item, c.text);
    if (c.code == nullptr) {
      EXPECT_FALSE(opt.has_value()) << c.link_id << " '" << c.text << "' matched " << opt->code;
    } else {
      ASSERT_TRUE(opt.has_value()) << c.link_id << " '" << c.text << "'";
      EXPECT_EQ(opt->code, c.code) << c.link_id << " '" << c.text << "'";
      // The option itself, with the Questionnaire's system and French display.
      const Coding* expected = form::findOption(*item, c.code);
      ASSERT_NE(expected, nullptr);
      EXPECT_EQ(opt->system, expected->system);
      EXPECT_EQ(opt->display, expected->display);
    }
  }
}

// A title line the Questionnaire does not name stays unrecognised text, kept with its place.
TEST(TextFormSample, OnlyTheFormsOwnTitlesAreTakenForIt) {
  std::string text = test::readRepoFile("samples/fiches/fiche-complete.txt");
  text.replace(0, text.find('\n'), "FICHE DE LIAISON DU CABINET");
  const ParsedForm p = read(text);
  EXPECT_EQ(issueLines(p, Errc::FormLineUnrecognised), std::vector<std::string>{"ligne 1"});
  ASSERT_EQ(p.unrecognised.size(), 1u);
  EXPECT_EQ(p.unrecognised[0].text, "FICHE DE LIAISON DU CABINET");
  text.replace(0, text.find('\n'), "Fiche de demande de prise en charge - ESS Cardio+ AURA");
  EXPECT_TRUE(read(text).unrecognised.empty());
}

}  // namespace
}  // namespace liaison::parse
