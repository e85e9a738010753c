#pragma once
// How MSSanté messages become FHIR: the mapping files of mappings/mssante/ (the message's
// patient, every CDA document, one per document type, one per kind of CDA entry, the request a
// document opens, the mail itself, attachments, messages to qualify), named by
// profiles/mssante/intake.json, compiled once against the message vocabulary.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error/result.hpp"
#include "map/mapping.hpp"
#include "parse/cda/cda_document.hpp"
#include "pipeline/facts.hpp"
#include "pipeline/incoming_rules.hpp"

namespace liaison::pipeline {

// The names the MSSanté mappings read (see mappings/README.md, "Facts of MSSanté messages").
const FactSchema& mssVocabulary();

// Which CDA entries a mapping reads (its "appliesTo" selectors, see mappings/README.md): an entry
// is selected by its templateIds (entryTemplateId), or, when none of those match, by its section
// (sectionTemplateId or sectionCode); and then only when its kind, moodCode and value type are
// in entryKind, entryMood and entryValueType (each when given).
struct EntrySelector {
  std::vector<std::string> entry_templates;
  std::vector<std::string> section_templates;
  std::vector<std::string> section_codes;
  std::vector<std::string> kinds;
  std::vector<std::string> moods;  // "EVN" also matches an entry without moodCode
  std::vector<std::string> value_types;

  bool selectsAny() const {
    return !entry_templates.empty() || !section_templates.empty() || !section_codes.empty();
  }
  bool matches(const parse::CdaDocument& doc, const parse::CdaEntry& entry) const;
};

struct SelectingMapping {
  map::Mapping mapping;
  EntrySelector select;
};

class MssProfile {
 public:
  // Reads profiles/mssante/intake.json and, through `read` (a path relative to that file → its
  // text, or an error), the mapping files it names. Every mistake is an error naming the file.
  using Reader = std::function<Result<std::string>(const std::string& relative_path)>;
  static Result<std::shared_ptr<const MssProfile>> load(std::string_view intake_json,
                                                        const Reader& read);

  const map::Mapping& ess() const { return mappings_[kEss]; }
  const map::Mapping& patient() const { return mappings_[kPatient]; }
  const map::Mapping& document() const { return mappings_[kDocument]; }
  const map::Mapping& attachment() const { return mappings_[kAttachment]; }
  const map::Mapping& toQualify() const { return mappings_[kToQualify]; }
  const map::Mapping& request() const { return mappings_[kRequest]; }
  const map::Mapping& communication() const { return mappings_[kCommunication]; }

  // The mapping for a document of that code and those templateIds ("root" or "root|ext"),
  // by the "appliesTo" of the files (templateId first, then documentCode); nullptr if none.
  const SelectingMapping* documentTypeFor(std::string_view code,
                                          const std::vector<std::string>& template_ids) const;
  // The mappings of CDA entries, for documents of any type, in file order.
  const std::vector<SelectingMapping>& entryMappings() const { return entries_; }

  // Header fields that relays add or rewrite (lower case): left out of a mail's content key.
  const std::vector<std::string>& traceHeaders() const { return trace_headers_; }

  // The base of liaison's own canonical URLs (CodeSystems, extensions): "${canonical}" in mapping
  // files, the issue CodeSystem of OperationOutcomes. One setting for the deployment.
  const std::string& canonicalBase() const { return canonical_base_; }

  // What a Bundle from outside may carry and which identifiers merge ("incoming": a file like
  // profiles/fhir/incoming.json; IncomingRules::builtIn() when intake.json names none).
  const IncomingRules& incoming() const { return incoming_; }

 private:
  enum Slot : std::size_t {
    kEss,
    kPatient,
    kDocument,
    kAttachment,
    kToQualify,
    kRequest,
    kCommunication,
    kSlots
  };
  std::vector<map::Mapping> mappings_;  // by Slot (Mapping has no default constructor)
  std::vector<SelectingMapping> types_;
  std::vector<SelectingMapping> entries_;
  std::vector<std::string> trace_headers_;
  std::string canonical_base_;
  IncomingRules incoming_;
};

// The trace header fields of RFC 5321/5322 and of common relays, when intake.json names none.
const std::vector<std::string>& defaultTraceHeaders();

}  // namespace liaison::pipeline
