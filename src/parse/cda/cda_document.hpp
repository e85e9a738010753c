#pragma once
// CDA R2 (CI-SIS volets: LDL-SES, TLM-DA, PPS, unstructured N1 …) → header, patient traits,
// sections and vital signs. One SAX pass, no tree. Pure: bytes in, values and issues out.
// XML hardening: see xml.hpp.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"

namespace liaison::parse {

struct CdaId {
  std::string root;
  std::string extension;
};

struct CdaCode {
  std::string code;
  std::string system;  // @codeSystem (an OID)
  std::string display;
};

// recordTarget/patientRole. Traits per CI-SIS (french-e-health.md §2.5).
struct CdaPatient {
  std::vector<CdaId> ids;          // ids with a root and no nullFlavor, in order
  std::string birth_family;        // family@qualifier BR, else the first unqualified family
  std::string used_family;         // family@qualifier CL, else a second unqualified family
  std::string first_given;         // given@qualifier BR
  std::string birth_given;         // unqualified given elements, space-joined (INS list of given)
  std::string used_given;          // given@qualifier CL
  std::vector<std::string> given;  // every given element, in order
  std::string sex;                 // administrativeGenderCode@code as written (M/F/U expected)
  std::string birth_time;          // as written
  std::string birth_place_code;    // birthplace/place/addr/county (INSEE code)
  std::string birth_place_city;
  std::vector<std::string> telecoms;  // patientRole/telecom@value, in order
  int multiple_birth_order = 0;       // sdtc:multipleBirthOrderNumber, 0 when absent
};

// author/assignedAuthor, legalAuthenticator/assignedEntity, informationRecipient/intendedRecipient.
struct CdaAuthor {
  std::vector<CdaId> ids;
  std::string family;
  std::string given;                    // given elements, space-joined
  CdaCode specialty;                    // assignedAuthor/code (assignedEntity/code)
  std::string time;                     // author/time, legalAuthenticator/time
  std::vector<CdaId> organization_ids;  // representedOrganization / receivedOrganization
  std::string organization_name;
};

// An observation with a LOINC code and a PQ value.
struct CdaVital {
  CdaCode code;
  std::string value;           // as written (decimal text)
  std::string unit;            // UCUM, from @unit
  std::string effective_time;  // the observation's, else its organizer's (@value or low@value)
  std::string section_code;    // code of the innermost enclosing section
};

struct CdaSection {
  CdaCode code;
  std::string title;
  std::string text;  // narrative block flattened to plain text, at most kMaxSectionText bytes
  std::vector<std::string> template_ids;  // "root" or "root|extension"
};

struct CdaDocument {
  CdaId id;
  CdaId set_id;
  std::string version;
  CdaCode code;
  std::string title;
  std::string effective_time;
  std::string confidentiality;
  std::string language;
  std::vector<std::string> template_ids;  // "root" or "root|extension"
  std::optional<CdaPatient> patient;
  std::vector<CdaAuthor> authors;
  std::vector<CdaId> custodian_ids;
  std::string custodian_name;
  std::optional<CdaAuthor> legal_authenticator;
  std::vector<CdaAuthor> recipients;
  CdaCode service_event_code;  // first documentationOf/serviceEvent
  std::string service_event_start;
  std::string service_event_end;
  std::string encounter_start;
  std::string encounter_end;
  CdaCode encounter_facility_type;
  std::vector<CdaId> encounter_location_ids;

  // Body: nonXMLBody (N1) or structuredBody (N3).
  bool structured = false;
  std::string non_xml_media_type;
  std::string non_xml_data;          // bytes (base64 decoded when representation="B64")
  std::vector<CdaSection> sections;  // every section, nested ones included, in document order
  std::vector<CdaVital> vitals;

  IssueList issues;  // warnings: values that could not be read (CdaValueInvalid) …
};

inline constexpr std::size_t kMaxSectionText = 64 * 1024;

// Errors: XmlMalformed, XmlDoctypeForbidden, XmlTooComplex (see xml.hpp); CdaInvalid (root is
// not {urn:hl7-org:v3}ClinicalDocument, or no body); CdaRecordTargetMissing; CdaPatientIdMissing
// (no recordTarget/patientRole/id with a root and without nullFlavor).
Result<CdaDocument> parseCda(std::string_view xml);

}  // namespace liaison::parse
