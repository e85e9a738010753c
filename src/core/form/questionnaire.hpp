#pragma once
// The form definition (a FHIR R4 Questionnaire, loaded from profiles/) as the pipeline sees it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error/error.hpp"
#include "core/form/answer.hpp"

namespace liaison::form {

// Extensions of ours on Questionnaire items (canonical base: kExtensionBase).
inline constexpr std::string_view kExtensionBase =
    "https://liaison.example.org/fhir/StructureDefinition/";
// On items and groups: another label people write for it (valueString, repeated).
inline constexpr std::string_view kExtLabelAlias = "questionnaire-label-alias";
inline constexpr std::string_view kExtRequiredTrue =
    "questionnaire-required-true";  // valueCode: errc code
inline constexpr std::string_view kExtRequiredOneOf =
    "questionnaire-required-one-of";  // valueString: linkIds
// On groups: a word that may follow the label of any of its items before the colon (the paper
// form's "Ordonnances en cours  Fourni : Oui"), valueString, repeated.
inline constexpr std::string_view kExtLabelSuffix = "questionnaire-label-suffix";
// On the Questionnaire: the labels of the line that dates the request ("Date :"), valueString.
inline constexpr std::string_view kExtAuthoredLabel = "questionnaire-authored-label";
// On the Questionnaire: the titles printed at the top of the form ("Fiche de demande E.S.S.
// Cardio+"), valueString: a line that is only one of them is the form's, not unrecognised text.
inline constexpr std::string_view kExtTitleAlias = "questionnaire-title-alias";
// On an address item: the items its postal code and commune are derived into when they are
// not answered (valueString: a linkId).
inline constexpr std::string_view kExtAddressPostalCode = "questionnaire-address-postal-code";
inline constexpr std::string_view kExtAddressCity = "questionnaire-address-city";
// On QuestionnaireResponse answers written by liaison: where the answer was read (valueString:
// "ligne 12", "champ PDF patient_nom", a FHIRPath of the received QuestionnaireResponse).
inline constexpr std::string_view kExtAnswerSource = "questionnaire-answer-source";
// HL7's: the unit of a decimal or integer item (valueCoding, UCUM).
inline constexpr std::string_view kExtUnit =
    "http://hl7.org/fhir/StructureDefinition/questionnaire-unit";

enum class ItemType : std::uint8_t {
  Group,
  Display,
  Boolean,
  Decimal,
  Integer,
  Date,
  DateTime,
  String,
  Text,
  Choice,
  OpenChoice
};
std::optional<ItemType> itemTypeFromString(std::string_view s);
std::string_view toString(ItemType t);

enum class EnableOperator : std::uint8_t { Exists, Equal, NotEqual };

struct EnableWhen {
  std::string question;  // linkId
  EnableOperator op = EnableOperator::Equal;
  AnswerValue answer;  // for Exists: Bool
};

struct Item {
  std::string link_id;
  std::string text;
  ItemType type = ItemType::String;
  bool required = false;
  bool repeats = false;
  // answerOption.valueCoding, or the concepts of the contained ValueSet of answerValueSet.
  std::vector<Coding> options;
  // Per option (same index): other words people write for it (the ValueSet concept's
  // designations: "NSP" for asked-unknown, "MG" for a médecin…).
  std::vector<std::vector<std::string>> option_aliases;
  std::vector<EnableWhen> enable_when;
  bool enable_when_all = false;  // enableBehavior "all" (default "any")
  std::optional<AnswerValue> initial;
  std::vector<std::string> aliases;          // extra labels for the plain-text form
  std::optional<Errc> required_true;         // the answer must be `true`, else this issue
  std::vector<std::string> required_one_of;  // on groups: at least one of these linkIds answered
  std::vector<std::string> label_suffixes;   // on groups: kExtLabelSuffix
  std::string unit;                          // UCUM code (kExtUnit), e.g. "kg", "cm", "a"
  std::string address_postal_code;           // linkId (kExtAddressPostalCode)
  std::string address_city;                  // linkId (kExtAddressCity)
  std::vector<std::size_t> children;         // indexes into Questionnaire::items()
  std::optional<std::size_t> parent;
  std::size_t index = 0;
};

class Questionnaire {
 public:
  std::string url;
  std::string version;
  std::string name;
  std::string title;
  std::vector<std::string> authored_labels;  // kExtAuthoredLabel
  std::vector<std::string> title_aliases;    // kExtTitleAlias (the title is one too)

  // Items in document order (depth first); index 0.. are dense and used by FormResponse.
  const std::vector<Item>& items() const { return items_; }
  const std::vector<std::size_t>& roots() const { return roots_; }
  const Item* find(std::string_view link_id) const;
  const Item& at(std::size_t index) const { return items_[index]; }

  // Built by the parser (parse/form) only.
  std::size_t addItem(Item item);
  void addRoot(std::size_t index) { roots_.push_back(index); }
  void addChild(std::size_t parent, std::size_t child) { items_[parent].children.push_back(child); }
  void index();  // builds the linkId lookup; call once after all items are added

 private:
  std::vector<Item> items_;
  std::vector<std::size_t> roots_;
  std::unordered_map<std::string_view, std::size_t> by_link_id_;
};

// FHIRPath to an item of a QuestionnaireResponse, e.g.
// QuestionnaireResponse.item.where(linkId='patient').item.where(linkId='patient-nir')
std::string itemExpression(const Questionnaire& questionnaire, std::size_t item);

// Option of a choice item whose code equals `code` (any system), or nullptr.
const Coding* findOption(const Item& item, std::string_view code);

}  // namespace liaison::form
