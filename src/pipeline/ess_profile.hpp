#pragma once
// Everything intake needs to know about one ESS: who it is, its form (Questionnaire), how the
// form maps to FHIR (mapping file), which items carry the patient's identity, and its
// eligibility rules. All of it is data (profiles/, mappings/); this is the loaded form.

#include <memory>
#include <string>
#include <vector>

#include "core/error/result.hpp"
#include "core/form/questionnaire.hpp"
#include "map/mapping.hpp"
#include "map/questionnaire_response.hpp"
#include "parse/form/form_parser.hpp"
#include "pipeline/incoming_rules.hpp"
#include "validate/eligibility.hpp"

namespace liaison::pipeline {

// linkIds of the form items holding the patient's identity traits.
struct IdentityItems {
  std::string nir;
  std::string sex;
  std::string birth_date;
  std::string birth_place;  // postal or INSEE code of the birth place
  std::string postal_code;  // of the residence (territory)
};

struct EssOrganization {
  std::string name;
  std::string identifier_system;
  std::string identifier_value;
  std::string mailbox;  // MSSanté address of the ESS
};

// Which received mails open a request (a ServiceRequest) for this ESS ("requests" in ess.json).
// A document that does not open one is linked to the patient's open request, if any.
struct RequestRules {
  // Codes of CDA documents (ClinicalDocument/code) that open a request: by default the referral
  // note (57133-1) and the telemedicine request (TLM-DA, 75496-0).
  std::vector<std::string> document_codes{"57133-1", "75496-0"};
  bool forms = true;         // a fiche de demande (text or QuestionnaireResponse)
  bool unstructured = true;  // free text or PDF only: a draft request "to qualify"

  bool opens(std::string_view document_code) const;
};

// The file names an ESS configuration refers to (relative to the configuration file).
struct EssFiles {
  std::string questionnaire;
  std::string mapping;
};
Result<EssFiles> essFiles(std::string_view ess_config_json);

class EssProfile {
 public:
  // `canonical_base`: the deployment's base of liaison's own canonical URLs ("${canonical}" in
  // the mapping, MssProfile::canonicalBase()).
  static Result<std::shared_ptr<const EssProfile>> load(std::string_view ess_config_json,
                                                        std::string_view questionnaire_json,
                                                        std::string_view mapping_json,
                                                        std::string_view canonical_base);

  std::string id;
  std::string name;
  EssOrganization organization;
  IdentityItems identity;
  RequestRules requests;
  // Identifiers this ESS adds to those that merge (ess.json "identifiers", after the
  // deployment's profiles/fhir/incoming.json).
  std::vector<IdentifierRule> identifiers;
  std::string canonical_base;
  form::Questionnaire questionnaire;

  const map::Mapping& mapping() const { return *mapping_; }
  const validate::EligibilityRules& eligibility() const { return *eligibility_; }
  const parse::FormTextReader& textReader() const { return *text_reader_; }
  const map::ResponseItemsWriter& responseWriter() const { return *response_writer_; }

 private:
  std::unique_ptr<map::Mapping> mapping_;
  std::unique_ptr<validate::EligibilityRules> eligibility_;
  std::unique_ptr<parse::FormTextReader> text_reader_;
  std::unique_ptr<map::ResponseItemsWriter> response_writer_;
};

}  // namespace liaison::pipeline
