// libFuzzer harness: the same bytes as a CDA R2 document (parseCda) and as an XDM METADATA.XML
// (parseXdsMetadata), both over the hardened Xerces reader (src/parse/cda).
// Invariants of a successful parse: what the error contract promises is there (a patient with an
// id, at least one DocumentEntry), narrative text stays under its cap, hashes are SHA-1 hex.

#include <cstddef>
#include <cstdint>
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
