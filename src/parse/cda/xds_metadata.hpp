#pragma once
// IHE XDM METADATA.XML (XDS ebRIM 3.0 lcm:SubmitObjectsRequest) → submission set and document
// entries. Objects are recognised by their scheme UUIDs (classificationScheme,
// identificationScheme, objectType), never by position; slots by name.
// Pure: bytes in, values and issues out. XML hardening: see xml.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"

namespace liaison::parse {

// HL7 v2 CX, as in patientId: "value^^^&oid&ISO^type" (e.g. type NH, PI).
struct XdsIdentifier {
  std::string value;
  std::string oid;
  std::string type;
};

// A classification: nodeRepresentation, codingScheme slot, Name.
struct XdsCode {
  std::string code;
  std::string scheme;
  std::string display;
};

// HL7 v2 XCN, as in authorPerson / legalAuthenticator: "id^family^given^^^^^^&oid&ISO^...".
struct XdsPerson {
  std::string id;
  std::string family;
  std::string given;
  std::string oid;
};

// One HL7 v2 XPN of PID-5: family^given^further given names^…^…^…^name type.
struct XdsPatientName {
  std::string family;         // XPN.1
  std::string given;          // XPN.2
  std::string further_given;  // XPN.3 (PAM FR: the list of birth given names)
  std::string type;           // XPN.7: L (birth / legal name), D (used name) …
};

// sourcePatientInfo ("PID-n|…" values; HL7 v2 escapes \F\ \S\ \T\ \R\ \E\ decoded in
// every component). family / given: XPN.1 / XPN.2 of the first PID-5 value that has a family:
// its repetition of type L, else its first. PID-7, PID-8: the first.
struct XdsPatientInfo {
  std::string family;
  std::string given;
  std::string birth_date;
  std::string sex;
  // Every PID-5 value and every ~ repetition in it, in order; wholly empty ones (no family,
  // given or further given) are skipped; at most 100.
  std::vector<XdsPatientName> names;
  // XAD.9 (county / parish: the INSEE code) of the first PID-11 repetition of type (XAD.7) BDL
  // that has one.
  std::string birth_place;
};

struct XdsDocumentEntry {
  std::string entry_uuid;  // ExtrinsicObject@id (a urn:uuid or a symbolic id)
  std::string unique_id;
  std::string uri;   // URI slot; old XDS "1|…", "2|…" pieces joined in order
  std::string hash;  // lower-case hex SHA-1 (40 characters), empty when absent or invalid
  std::string mime_type;
  std::string title;
  std::string creation_time;
  std::string language;
  std::string service_start;
  std::string service_stop;
  std::optional<std::uint64_t> size;
  std::optional<XdsIdentifier> patient_id;
  std::optional<XdsIdentifier> source_patient_id;
  XdsPatientInfo source_patient_info;
  std::optional<XdsCode> class_code;
  std::optional<XdsCode> type_code;
  std::optional<XdsCode> format_code;
  std::optional<XdsCode> healthcare_facility_type;
  std::optional<XdsCode> practice_setting;
  std::vector<XdsCode> confidentiality;
  std::vector<XdsCode> event_codes;
  std::vector<XdsPerson> authors;
  std::vector<std::string> author_institutions;  // XON as written: "name^^^^^&oid&ISO^IDNST^^^id"
  std::vector<std::string> author_specialties;   // as written: "code^display^codingScheme"
  std::optional<XdsPerson> legal_authenticator;
};

struct XdsSubmissionSet {
  std::string unique_id;
  std::string source_id;
  std::string submission_time;
  std::string title;
  std::optional<XdsIdentifier> patient_id;
  std::optional<XdsCode> content_type;
  std::vector<XdsPerson> authors;
};

struct XdsSubmission {
  XdsSubmissionSet submission_set;
  std::vector<XdsDocumentEntry> documents;  // in document order
  IssueList issues;                         // warnings: missing or unreadable optional metadata
};

// Errors: XmlMalformed, XmlDoctypeForbidden, XmlTooComplex (see xml.hpp); XdsMetadataInvalid
// when the root is not a SubmitObjectsRequest or no stable DocumentEntry is present.
Result<XdsSubmission> parseXdsMetadata(std::string_view xml);

// The HL7 v2 pieces, exposed for the intake and for tests.
XdsIdentifier parseCx(std::string_view cx);
XdsPerson parseXcn(std::string_view xcn);

}  // namespace liaison::parse
