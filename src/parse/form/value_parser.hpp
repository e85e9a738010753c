#pragma once
// Reading typed values out of human text and FHIR primitives (shared by the form parsers).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/form/answer.hpp"
#include "core/form/questionnaire.hpp"

namespace liaison::parse {

// FHIR date / dateTime: YYYY, YYYY-MM, YYYY-MM-DD, or a dateTime (the date part is kept).
std::optional<form::Date> parseFhirDate(std::string_view s);

// A full date as people write it: 12/03/1950, 12-03-1950, 12.03.1950, 1950-03-12, 12/03/50 (no).
std::optional<form::Date> parseHumanDate(std::string_view s);

bool isValidDate(int year, int month, int day);

// A decimal number with '.' or ',' and an optional unit after it ("72,5 kg"); the unit
// (lower-cased, trimmed) is returned in `unit` when given.
std::optional<double> parseHumanDecimal(std::string_view s, std::string* unit = nullptr);
std::optional<long long> parseHumanInteger(std::string_view s);

// Lower case, accents removed, punctuation as single spaces, trimmed: "Prénom(s) :" → "prenom s".
std::string normalizeLabel(std::string_view s);

// normalizeLabel() for an answer: a lone "?" stays "?" (unknown).
std::string normalizeAnswer(std::string_view text);

// What labels are compared by: normalizeLabel() without its spaces, so that case, accents,
// punctuation and spacing do not matter ("E.S.S." = "ESS", "Paquets / an" = "paquets-an").
std::string compactKey(std::string_view normalized);
inline std::string labelKey(std::string_view s) {
  return compactKey(normalizeLabel(s));
}
// labelKey(s), and for each byte i of s (and s.size()) the length of the key of s[0, i): the key
// of any tail s[i, end) is then key.substr(offsets[i]), with no second pass.
std::string compactKeyWithOffsets(std::string_view s, std::vector<std::uint32_t>& offsets);
// The text without its parenthesised parts: "Poids (kg)" → "Poids ", "NIR (15 chiffres)" → "NIR ".
std::string withoutParentheses(std::string_view s);

// The option of a choice item named by `text` (display, code, or one of its aliases), if any.
std::optional<form::Coding> matchOption(const form::Item& item, std::string_view text);

// The normalised labels option `option` of `item` answers to: its display, its code, its aliases
// (designations in the Questionnaire), and for inclusive job titles both forms ("Infirmier(e)" →
// "infirmier", "infirmiere"). Readers index these once.
std::vector<std::string> optionLabels(const form::Item& item, std::size_t option);

// Yes/no in free text: "oui", "non", "x", "vrai", "fourni", "non fourni"…
std::optional<bool> parseHumanBoolean(std::string_view s);

// Words that say "nothing to report" in a free-text field ("-", "néant", "aucun", "non",
// "sans objet"…): the field is then not answered.
bool isNoneWord(std::string_view s);

// A number written with a unit, converted to the item's UCUM unit ("kg", "cm", "a"): "72 kgs",
// "1,65 m", "1m65", "72500 g", "12 ans". `converted` tells that the number changed (metres to
// centimetres…); `rest` gets text after the unit. Nothing when the unit is not one of the
// item's dimension, or the text is not one number.
struct Measure {
  double value = 0;
  bool converted = false;
  std::string unit_written;  // normalised, "" when none
  std::string rest;          // text after the number and its unit
};
std::optional<Measure> parseMeasure(std::string_view s, std::string_view ucum_unit);

}  // namespace liaison::parse
