#pragma once
// Reads the ESS request form ("fiche de demande") and its definition.
//   - parseQuestionnaire: the FHIR R4 Questionnaire of profiles/ → form::Questionnaire
//   - parseQuestionnaireResponse: a FHIR R4 QuestionnaireResponse (JSON) → answers
//   - parseFormText: the same form as typed or pasted into a mail body ("Libellé : valeur")
// Pure: bytes in, values and issues out.

#include <memory>
#include <string>
#include <string_view>

#include "core/error/result.hpp"
#include "core/form/form_response.hpp"
#include "core/form/questionnaire.hpp"

namespace liaison::parse {

Result<form::Questionnaire> parseQuestionnaire(std::string_view json);

struct ParsedForm {
  form::FormResponse response;
  IssueList issues;
  std::size_t recognised = 0;  // answers read (text input: lines matched to an item)
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
  ParsedForm read(std::string_view text) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

inline ParsedForm parseFormText(std::string_view text, const form::Questionnaire& questionnaire) {
  return FormTextReader(questionnaire).read(text);
}

}  // namespace liaison::parse
