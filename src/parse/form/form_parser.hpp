#pragma once
// Reads the ESS request form ("fiche de demande") and its definition.
//   - parseQuestionnaire: the FHIR R4 Questionnaire of profiles/ → form::Questionnaire
//   - parseQuestionnaireResponse: a FHIR R4 QuestionnaireResponse (JSON) → answers
//   - parseFormText: the same form as typed or pasted into a mail body ("Libellé : valeur")
// Pure: bytes in, values and issues out.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"
#include "core/form/form_response.hpp"
#include "core/form/questionnaire.hpp"

namespace liaison::parse {

Result<form::Questionnaire> parseQuestionnaire(std::string_view json);

// One line of a form as another reader found it (a PDF's text layer, a PDF form field, a Word
// paragraph…), with where it came from: "ligne 12", "champ PDF patient_nom", "page 2, ligne 7".
// `text` is UTF-8 and holds no line break; `origin` becomes the location of what is read from it
// (Answer::location, issues) and is shown to people as it is.
struct FormLine {
  std::string text;
  std::string origin;
};

struct ParsedForm {
  form::FormResponse response;
  IssueList issues;
  std::size_t recognised = 0;  // answers read (text input: lines matched to an item)
  // Text input: what was not understood (whole lines, or what followed an answer), each with
  // its origin, so that it reaches the people who read the request (a warning each too).
  std::vector<FormLine> unrecognised = {};
};

// Fails (a value, not an exception) when the bytes are not JSON, not a QuestionnaireResponse,
// or answer another Questionnaire. Answer-level problems are issues in the result.
Result<ParsedForm> parseQuestionnaireResponse(std::string_view json,
                                              const form::Questionnaire& questionnaire);

// Reads the plain-text form. Built once per Questionnaire (it indexes labels and aliases).
// read() never fails: lines it cannot read become warnings; `recognised` tells whether the
// text looked like this form at all. Accepts UTF-8 (with or without BOM) and windows-1252.
class FormTextReader {
 public:
  explicit FormTextReader(const form::Questionnaire& questionnaire);
  // A whole text: decoded, split into lines (origin "ligne N", from 1), then readLines().
  ParsedForm read(std::string_view text) const;
  // Lines that come from elsewhere, in reading order; each answer's location is the origin of
  // the line it was read from.
  ParsedForm readLines(std::span<const FormLine> lines) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

inline ParsedForm parseFormText(std::string_view text, const form::Questionnaire& questionnaire) {
  return FormTextReader(questionnaire).read(text);
}

}  // namespace liaison::parse
