#pragma once
// Reading typed values out of human text and FHIR primitives (shared by the form parsers).

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

// The option of a choice item named by `text` (display, code, alias of yes/no/unknown), if any.
std::optional<form::Coding> matchOption(const form::Item& item, std::string_view text);

// The normalised labels an option answers to: its display, its code, and for inclusive job
// titles both forms ("Infirmier(e)" → "infirmier", "infirmiere"). Readers index these once.
std::vector<std::string> optionLabels(const form::Coding& option);

// The code that usual shorthand stands for, from normalised text: "oui"/"o" → "Y", "non" → "N",
// "nsp"/"non renseigne" → "asked-unknown", "f"/"femme" → "female", "m"/"homme" → "male".
std::optional<std::string_view> shorthandCode(std::string_view normalized);

// Yes/no in free text: "oui", "non", "x", "vrai", "fourni", "non fourni"…
std::optional<bool> parseHumanBoolean(std::string_view s);

}  // namespace liaison::parse
