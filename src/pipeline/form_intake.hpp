#pragma once
// Intake of one ESS request form: read (QuestionnaireResponse JSON or plain text), check
// (mandatory fields, NIR/INS and traits, eligibility), map to a FHIR transaction Bundle.
// Nothing is dropped: a form with gaps is "incomplete", unreadable input is "quarantined".

#include <memory>
#include <string>
#include <string_view>

#include "core/error/error.hpp"
#include "core/ports/clock.hpp"
#include "core/ports/store.hpp"
#include "map/mapping.hpp"
#include "parse/form/form_parser.hpp"
#include "pipeline/bundle_writer.hpp"
#include "pipeline/ess_profile.hpp"
#include "validate/eligibility.hpp"

namespace liaison::pipeline {

enum class IngestStatus : std::uint8_t { Accepted, Incomplete, Quarantined };
std::string_view toString(IngestStatus s);

// What became of one document of a message: for the secretariat and for audits.
struct MappingReport {
  std::string document;  // path in the archive, attachment name, or "body"
  std::string kind;      // e.g. "CDA 11490-0", "PDF", "fiche de demande"
  std::string mapping;   // mapping files used, " + " between them
  std::vector<std::pair<std::string, int>> mapped;   // resource type → count
  std::vector<std::pair<std::string, int>> entries;  // CDA entries read, by mapping file
  std::vector<std::string> text_only;  // kept only as text (narrative sections, free text)
  std::vector<std::string> skipped;    // not mapped, and why
};

// The resources a Bundle holds for one document (a CDA of the archive, an attachment): stored
// once per document identity, whatever the number of mails that bring it.
struct DocumentGroup {
  DocumentIdentity identity;
  std::string document;                // fullUrl of its DocumentReference
  std::vector<std::string> resources;  // fullUrls of what derives from it (not the document)
};

struct IngestResult {
  IngestStatus status = IngestStatus::Quarantined;
  std::optional<Error> quarantine;  // why, when quarantined
  std::string bundle_json;          // the transaction Bundle (absent when quarantined)
  std::vector<map::EmittedResource> resources;
  IssueList issues;
  std::optional<validate::Eligibility> eligibility;
  std::vector<MappingReport> reports;
  std::string message_id;                // of the mail, when the input was one
  std::vector<BinaryContent> binaries;   // documents' bytes, referenced as Binary/<id>
  std::vector<DocumentGroup> documents;  // in Bundle order
};

struct IntakeLimits {
  std::size_t max_form_bytes = 4 * 1024 * 1024;
};

class FormIntake {
 public:
  FormIntake(std::shared_ptr<const EssProfile> ess, const Clock& clock, IntakeLimits limits = {});

  IngestResult ingest(std::string_view bytes) const;

  // The same, writing the resources into a Bundle others fill too (a form in a mail body);
  // result.bundle_json stays empty, result.resources lists what was written.
  IngestResult ingestInto(std::string_view bytes, BundleWriter& bundle) const;

  // Whether the bytes read as this ESS's form at all (cheap enough to try on a mail body).
  bool recognises(std::string_view bytes) const;

  // A form sent as a document: a PDF (its filled form fields, else its text layer) or a Word
  // .docx, read through the same labels as the text form. ingestInto takes those too; this names
  // the document (`name`, e.g. the attachment's file name) in every answer's location. A document
  // that is not this ESS's form (a letter, a scan: document-no-text) is "quarantined" with why:
  // the caller decides whether that is an error (a form sent alone) or not (an attachment).
  IngestResult ingestDocumentInto(std::string_view bytes, std::string_view name,
                                  BundleWriter& bundle) const;
  static bool isFormDocument(std::string_view bytes);  // a PDF or a zip (.docx)

 private:
  IngestResult finish(parse::ParsedForm parsed, std::uint64_t seed, BundleWriter& bundle) const;

  std::shared_ptr<const EssProfile> ess_;
  const Clock* clock_;
  IntakeLimits limits_;
};

// The result of an input that is quarantined: that status, the reason, and the reason as its
// one issue (so that its OperationOutcome says why).
IngestResult quarantined(Error error, std::string message_id = {});

// The CodeSystem of liaison's error codes (errc.def), under the deployment's canonical base.
std::string issueCodeSystem(std::string_view canonical_base);

// The FHIR OperationOutcome of a result (always at least one issue), compact JSON; each issue's
// details.coding has `issue_system` (issueCodeSystem) and its stable code.
std::string operationOutcomeJson(const IngestResult& result, std::string_view issue_system);
// The same for any issues; `when_empty` is the information issue's text when there are none.
std::string operationOutcomeJson(const IssueList& issues, std::string_view when_empty,
                                 std::string_view issue_system);

// One line of `liaison ingest` output: {"input", "status", "bundle", "outcome", "eligibility"}.
std::string reportLine(std::string_view input, const IngestResult& result,
                       std::string_view issue_system);

}  // namespace liaison::pipeline
