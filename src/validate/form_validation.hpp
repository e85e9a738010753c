#pragma once
// Mandatory fields of a form, from its Questionnaire: required items (when enabled),
// statements that must be attested (consent, declared documents), "one of" groups.

#include "core/error/error.hpp"
#include "core/form/form_response.hpp"

namespace liaison::validate {

// One issue per missing or refused field, with the item's FHIRPath and linkId.
IssueList validateMandatoryFields(const form::FormResponse& response);

}  // namespace liaison::validate
