#pragma once
// FHIR R4 serialisation of a form's answers as QuestionnaireResponse.item (nested like the
// Questionnaire; only answered items and the groups that hold them).

#include <string>

#include "core/form/form_response.hpp"

namespace liaison::map {

std::string writeResponseItems(const form::FormResponse& response);  // a JSON array

}  // namespace liaison::map
