#pragma once
// How MSSanté messages become FHIR: the mapping files of mappings/mssante/ (the message's
// patient, every CDA document, one per document type, attachments, messages to qualify), named
// by profiles/mssante/intake.json, compiled once against the message vocabulary.

#include <memory>
#include <string>
#include <vector>

#include "core/error/result.hpp"
#include "map/mapping.hpp"
#include "pipeline/facts.hpp"

namespace liaison::pipeline {

// The names the MSSanté mappings read (see mappings/README.md, "Facts of MSSanté messages").
const FactSchema& mssVocabulary();

struct MssFiles {
  std::string patient;
  std::string document;
  std::vector<std::string> document_types;
  std::string attachment;
  std::string to_qualify;
};
Result<MssFiles> mssFiles(std::string_view intake_config_json);

struct MssMappingTexts {
  std::string patient;
  std::string document;
  std::vector<std::string> document_types;
  std::string attachment;
  std::string to_qualify;
};

class MssProfile {
 public:
  static Result<std::shared_ptr<const MssProfile>> load(const MssMappingTexts& texts);

  const map::Mapping& patient() const { return patient_[0]; }
  const map::Mapping& document() const { return document_[0]; }
  const map::Mapping& attachment() const { return attachment_[0]; }
  const map::Mapping& toQualify() const { return to_qualify_[0]; }

  // The mapping for a document of that code and those templateIds ("root" or "root|ext"),
  // by the "appliesTo" of the files (templateId first, then documentCode); nullptr if none.
  const map::Mapping* documentTypeFor(std::string_view code,
                                      const std::vector<std::string>& template_ids) const;

 private:
  // Vectors of one: Mapping has no default constructor.
  std::vector<map::Mapping> patient_, document_, attachment_, to_qualify_, types_;
};

}  // namespace liaison::pipeline
