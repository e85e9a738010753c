#pragma once
// FHIR R4 serialisation of a form's answers as QuestionnaireResponse.item (nested like the
// Questionnaire; only answered items and the groups that hold them). Each answer carries where
// it was read (Answer::location) in the extension form::kExtAnswerSource (valueString).

#include <string>
#include <vector>

#include "core/form/form_response.hpp"

namespace liaison::map {

// Built once per Questionnaire: the JSON of each item's linkId and text is made here, so that
// writing a response only writes its answers.
class ResponseItemsWriter {
 public:
  explicit ResponseItemsWriter(const form::Questionnaire& questionnaire);
  std::string write(const form::FormResponse& response) const;  // a JSON array, "[]" when empty

 private:
  const form::Questionnaire* questionnaire_;
  std::vector<std::string> members_;  // per item: "\"linkId\":\"…\",\"text\":\"…\""
};

inline std::string writeResponseItems(const form::FormResponse& response) {
  return ResponseItemsWriter(response.questionnaire()).write(response);
}

}  // namespace liaison::map
