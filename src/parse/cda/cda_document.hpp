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

// An address (patientRole/addr …), as written.
struct CdaAddress {
  std::string use;                 // @use (H, HP, WP, PST …)
  std::vector<std::string> lines;  // streetAddressLine, or houseNumber + streetName …, in order
  std::string postal_code;
  std::string city;
  std::string county;  // INSEE code in French documents, when given
  std::string country;
};

struct CdaTelecom {
  std::string use;    // @use
  std::string value;  // tel:…, mailto:…, fax:…, as written
};

// recordTarget/patientRole. Traits per CI-SIS (french-e-health.md §2.5) and the ANS ConceptMap
// mappingPatientCDAFHIR (IG document-core): what each qualifier of name/family and name/given
// means is decided by the intake (pipeline/patient_identity), the parser keeps them apart.
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

  // The name parts as written, each with its @qualifier (space-separated tokens, "" when none),
  // in document order: the first name element only.
  struct NamePart {
    std::string text;
    std::string qualifier;
  };
  std::vector<NamePart> families;
  std::vector<NamePart> givens;
  std::string birth_place_name;             // birthplace/place/name
  std::optional<bool> deceased;             // sdtc:deceasedInd@value
  std::string deceased_time;                // sdtc:deceasedTime@value, as written
  std::optional<bool> multiple_birth;       // sdtc:multipleBirthInd@value
  std::vector<CdaAddress> addresses;        // patientRole/addr
  std::vector<CdaTelecom> telecom_details;  // patientRole/telecom, with @use
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

// A value carried by a clinical statement (observation/value, doseQuantity …), as written.
struct CdaValue {
  std::string type;   // xsi:type without its prefix (PQ, CD, CE, CV, CO, ST, ED, BL, INT, REAL,
                      // TS, IVL_PQ …); "" when there is none (doseQuantity: "PQ")
  std::string value;  // @value (PQ, INT, REAL, BL, TS, MO), or the text content (ST, ED)
  std::string unit;   // @unit (PQ, IVL_PQ)
  CdaCode code;       // CD, CE, CV, CO (originalText in `text`)
  std::string low;    // IVL_PQ / IVL_TS low@value
  std::string high;   // IVL_PQ / IVL_TS high@value
  std::string text;   // originalText of a coded value
  bool null = false;  // @nullFlavor present: nothing was measured
};

// One clinical statement of a section: an entry's act, observation, organizer, procedure,
// encounter, substanceAdministration or supply, and every statement nested in it
// (component, entryRelationship). Which ones become FHIR resources is data
// (mappings/mssante/entries/*.json), decided by the intake.
struct CdaEntry {
  std::size_t section = 0;  // index into CdaDocument::sections (the innermost enclosing one)
  int parent = -1;   // index into CdaDocument::entries of the enclosing statement; -1 at the top
  std::string kind;  // the element's local name: observation, organizer, act, procedure …
  std::string mood;  // @moodCode as written ("" when absent: EVN by default)
  std::string class_code;                 // @classCode
  bool negated = false;                   // @negationInd = "true"
  std::vector<std::string> template_ids;  // "root" or "root|extension"
  CdaId id;                               // the first id with a root
  CdaCode code;
  std::string code_text;   // code/originalText (its text; a reference is resolved in `text`)
  std::string text;        // text of the statement, or of the narrative element its reference names
  std::string status;      // statusCode@code
  std::string time;        // effectiveTime@value, or its low / center
  std::string time_low;    // effectiveTime/low@value
  std::string time_high;   // effectiveTime/high@value
  CdaValue value;          // the first value
  CdaCode interpretation;  // interpretationCode
  CdaCode target_site;     // targetSiteCode
  CdaValue dose;           // doseQuantity
  CdaCode route;           // routeCode
  CdaCode material;        // consumable/…/manufacturedMaterial/code
  std::string material_name;         // manufacturedMaterial/name
  CdaCode participant;               // participant/participantRole/playingEntity/code (allergen)
  std::string participant_name;      // playingEntity/name
  std::string reference_range_low;   // referenceRange/observationRange/value low@value
  std::string reference_range_high;  // referenceRange/observationRange/value high@value
  std::string reference_range_unit;
  std::uint64_t line = 0;  // where it starts, for the report
};

// relatedDocument: the document this one replaces (RPLC), appends to (APND) or transforms.
struct CdaRelatedDocument {
  std::string type_code;  // RPLC, APND, XFRM
  CdaId id;               // parentDocument/id
  CdaId set_id;           // parentDocument/setId
  std::string version;    // parentDocument/versionNumber@value
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
  std::vector<CdaEntry> entries;     // every clinical statement, in document order
  std::vector<CdaVital> vitals;      // (to be replaced by entries)
  std::vector<CdaRelatedDocument> related_documents;

  IssueList issues;  // warnings: values that could not be read (CdaValueInvalid) …
};

inline constexpr std::size_t kMaxSectionText = 64 * 1024;

// Errors: XmlMalformed, XmlDoctypeForbidden, XmlTooComplex (see xml.hpp); CdaInvalid (root is
// not {urn:hl7-org:v3}ClinicalDocument, or no body); CdaRecordTargetMissing; CdaPatientIdMissing
// (no recordTarget/patientRole/id with a root and without nullFlavor).
Result<CdaDocument> parseCda(std::string_view xml);

}  // namespace liaison::parse
