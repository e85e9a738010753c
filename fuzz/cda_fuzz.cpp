// libFuzzer harness: the same bytes as a CDA R2 document (parseCda) and as an XDM METADATA.XML
// (parseXdsMetadata), both over the hardened Xerces reader (src/parse/cda).
// Invariants of a successful parse: what the error contract promises is there (a patient with an
// id, at least one DocumentEntry), narrative and entry texts stay under their caps, entries point
// at their section and at an enclosing earlier entry, hashes are SHA-1 hex.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "parse/cda/cda_document.hpp"
#include "parse/cda/xds_metadata.hpp"

namespace {

using liaison::fuzz::require;

bool isLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void checkCda(std::string_view xml) {
  const auto result = liaison::parse::parseCda(xml);
  if (!result) return;
  const liaison::parse::CdaDocument& doc = *result;
  // Without a recordTarget/patientRole/id with a root, parseCda returns an error.
  require(doc.patient.has_value());
  require(!doc.patient->ids.empty());
  for (const auto& id : doc.patient->ids)
    require(!id.root.empty());
  require(doc.patient->multiple_birth_order >= 0);
  for (const auto& section : doc.sections)
    require(section.text.size() <= liaison::parse::kMaxSectionText);
  // Entries: bounded, each inside a section, nested under an earlier entry of the same section.
  using liaison::parse::kMaxEntryText;
  require(doc.entries.size() <= liaison::parse::kMaxCdaEntries);
  for (std::size_t i = 0; i < doc.entries.size(); ++i) {
    const auto& e = doc.entries[i];
    require(e.section < doc.sections.size());
    require(e.parent >= -1 && e.parent < static_cast<long>(i));
    if (e.parent >= 0) {
      const auto& up = doc.entries[static_cast<std::size_t>(e.parent)];
      require(up.section == e.section);
      require(up.line <= e.line);
    }
    require(!e.kind.empty());
    require(e.template_ids.size() <= 32);
    for (const std::string* t :
         {&e.text, &e.code_text, &e.value.text, &e.material_name, &e.participant_name}) {
      require(t->size() <= kMaxEntryText);
    }
    if (e.value.type == "ST" || e.value.type == "ED")
      require(e.value.value.size() <= kMaxEntryText);
  }
  const auto& p = *doc.patient;
  require(p.families.size() <= 100 && p.givens.size() <= 100);
  require(p.addresses.size() <= 100 && p.telecom_details.size() <= 100);
  for (const auto& a : p.addresses) {
    require(!a.lines.empty() || !a.postal_code.empty() || !a.city.empty() || !a.county.empty() ||
            !a.country.empty());
  }
  require(doc.related_documents.size() <= 16);
}

void checkXds(std::string_view xml) {
  const auto result = liaison::parse::parseXdsMetadata(xml);
  if (!result) return;
  const liaison::parse::XdsSubmission& submission = *result;
  // Without a DocumentEntry, parseXdsMetadata returns an error.
  require(!submission.documents.empty());
  for (const auto& doc : submission.documents) {
    require(doc.hash.empty() || (doc.hash.size() == 40 && isLowerHex(doc.hash)));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view xml = liaison::fuzz::asText(data, size);
  checkCda(xml);
  checkXds(xml);
  // The HL7 v2 CX / XCN splitters take any text.
  if (size <= 1024) {
    (void)liaison::parse::parseCx(xml);
    (void)liaison::parse::parseXcn(xml);
  }
  return 0;
}
