#pragma once
// Intake of one ESS request form: read (QuestionnaireResponse JSON or plain text), check
// (mandatory fields, NIR/INS and traits, eligibility), map to a FHIR transaction Bundle.
// Nothing is dropped: a form with gaps is "incomplete", unreadable input is "quarantined".

#include <memory>
#include <string>
#include <string_view>

#include "core/error/error.hpp"
#include "core/ports/clock.hpp"
#include "map/mapping.hpp"
#include "pipeline/ess_profile.hpp"
#include "validate/eligibility.hpp"

namespace liaison::pipeline {

enum class IngestStatus : std::uint8_t { Accepted, Incomplete, Quarantined };
std::string_view toString(IngestStatus s);

struct IngestResult {
  IngestStatus status = IngestStatus::Quarantined;
  std::optional<Error> quarantine;  // why, when quarantined
  std::string bundle_json;          // the transaction Bundle (absent when quarantined)
  std::vector<map::EmittedResource> resources;
  IssueList issues;
  std::optional<validate::Eligibility> eligibility;
};

struct IntakeLimits {
  std::size_t max_form_bytes = 4 * 1024 * 1024;
};

class FormIntake {
 public:
  FormIntake(std::shared_ptr<const EssProfile> ess, const Clock& clock, IntakeLimits limits = {});

  IngestResult ingest(std::string_view bytes) const;

 private:
  std::shared_ptr<const EssProfile> ess_;
  const Clock* clock_;
  IntakeLimits limits_;
};

// The FHIR OperationOutcome of a result (always at least one issue), compact JSON.
std::string operationOutcomeJson(const IngestResult& result);

// One line of `liaison ingest` output: {"input", "status", "bundle", "outcome", "eligibility"}.
std::string reportLine(std::string_view input, const IngestResult& result);

}  // namespace liaison::pipeline
