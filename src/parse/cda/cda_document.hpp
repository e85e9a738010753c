#pragma once
// CDA R2 (CI-SIS volets: LDL-SES, TLM-DA, PPS, unstructured N1 …) → header, patient traits,
// sections and clinical statements (entries). One SAX pass, no tree. Pure: bytes in, values and
// issues out. XML hardening: see xml.hpp. Texts are as written, white space
// collapsed (narrative: see CdaSection::text).

#include <cstddef>
#include <cstdint>
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

// An address (patientRole/addr …), as written. An addr with a nullFlavor, or with nothing in it,
// is not kept.
struct CdaAddress {
  std::string use;  // @use (H, HP, WP, PST …)
  // In document order: each streetAddressLine, deliveryAddressLine, additionalLocator, careOf
  // is a line; consecutive parts of one kind share a line, space-joined: street (houseNumber,
  // houseNumberNumeric, buildingNumberSuffix, streetNameType, streetNameBase, streetName,
  // direction), unit (unitType, unitID), delivery (postBox, deliveryInstallation*, deliveryMode*).
  // An addr of free text only (no part) is one line.
  std::vector<std::string> lines;
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
  // birthplace/place/addr/county (INSEE code, CI-SIS); without a county, addr/country when it
  // holds an INSEE code (5 digits, or 2A/2B + 3 digits: ANS ConceptMap mappingPatientCDAFHIR).
  std::string birth_place_code;
  std::string birth_place_city;
  std::vector<std::string> telecoms;  // patientRole/telecom@value, in order
  int multiple_birth_order = 0;       // sdtc:multipleBirthOrderNumber, 0 when absent

  // The name parts as written, each with its @qualifier as written (space-separated tokens, ""
  // when none), in document order: the first name element only (at most 100 of each).
  struct NamePart {
    std::string text;
    std::string qualifier;
  };
  std::vector<NamePart> families;
  std::vector<NamePart> givens;
  std::string birth_place_name;        // birthplace/place/name
  std::optional<bool> deceased;        // sdtc:deceasedInd@value (true/false; else a warning)
  std::string deceased_time;           // sdtc:deceasedTime@value, as written
  std::optional<bool> multiple_birth;  // sdtc:multipleBirthInd@value (true/false; else a warning)
  std::vector<CdaAddress> addresses;   // patientRole/addr, in order (at most 100)
  std::vector<CdaTelecom> telecom_details;  // patientRole/telecom with a @value (at most 100)
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

// A value carried by a clinical statement (observation/value, doseQuantity …), as written.
// A number that does not read as one (PQ, REAL, INT, MO, IVL_PQ bounds, BL not true/false) is
// kept as written, with a CdaValueInvalid warning.
struct CdaValue {
  std::string type;   // xsi:type without its prefix (PQ, CD, CE, CV, CO, CS, ST, ED, BL, INT,
                      // REAL, TS, MO, IVL_PQ, IVL_TS …); "" when there is none. doseQuantity:
                      // "PQ" (@value), or "IVL_PQ" when it has low/high (as FR-Traitement has)
  std::string value;  // @value (any type: PQ, INT, REAL, BL, TS, MO …), else IVL center@value;
                      // ST, ED, SC: the text content (ED: or the narrative its reference names)
  std::string unit;   // @unit (PQ), MO @currency; IVL: the first low/high @unit when no @unit
  CdaCode code;       // @code/@codeSystem/@displayName when present (CD, CE, CV, CO, CS, SC)
  std::string low;    // IVL_* low@value
  std::string high;   // IVL_* high@value
  std::string text;   // originalText of a coded value (or the narrative its reference names)
  bool null = false;  // @nullFlavor present: nothing was measured
};

// One clinical statement of a section: an entry's act, observation, organizer, procedure,
// encounter, substanceAdministration, supply, observationMedia or regionOfInterest, and every
// statement nested in it (component, entryRelationship, precondition/criterion), in the order
// they start. Which ones become FHIR resources is data (mappings/mssante/entries/*.json),
// decided by the intake. Every "first" below is the first such child element of the statement.
// At most kMaxCdaEntries per document (beyond: one warning, the rest is not read).
struct CdaEntry {
  std::size_t section = 0;  // index into CdaDocument::sections (the innermost enclosing one)
  int parent = -1;   // index into CdaDocument::entries of the enclosing statement; -1 at the top
  std::string kind;  // the element's local name: observation, organizer, act, procedure …
  std::string mood;  // @moodCode as written ("" when absent: EVN by default)
  std::string class_code;                 // @classCode
  bool negated = false;                   // @negationInd = "true"
  std::vector<std::string> template_ids;  // "root" or "root|extension" (at most 32)
  CdaId id;                               // the first id with a root
  CdaCode code;                           // the first code
  std::string code_text;  // code/originalText's own text (its reference, if any, feeds `text`)
  // The narrative element (same section first, else any) named by text/reference (@value "#x"
  // or "x"); else text's own content; else, with no text reference, the one code/originalText
  // names. References are resolved once the document is read: they may point forward.
  std::string text;
  std::string status;         // statusCode@code
  std::string time;           // first effectiveTime: @value, else low@value, else center@value
  std::string time_low;       // effectiveTime/low@value
  std::string time_high;      // effectiveTime/high@value
  CdaValue value;             // the first value
  CdaCode interpretation;     // the first interpretationCode
  CdaCode target_site;        // the first targetSiteCode
  CdaValue dose;              // doseQuantity
  CdaCode route;              // routeCode
  CdaCode material;           // consumable/manufacturedProduct/manufacturedMaterial/code
  std::string material_name;  // manufacturedMaterial/name
  // The first participant/participantRole/playingEntity (or playingDevice: FR-Dispositif-
  // medical)/code: the allergen of FR-Allergie-ou-hypersensibilite.
  CdaCode participant;
  std::string participant_name;      // playingEntity/name, else its code/originalText (or ref.)
  std::string reference_range_low;   // first referenceRange/observationRange/value low@value
  std::string reference_range_high;  // … high@value
  std::string reference_range_unit;  // … value@unit, else low/high @unit
  std::uint64_t line = 0;            // where it starts, for the report
};

// relatedDocument: the document this one replaces (RPLC), appends to (APND) or transforms.
struct CdaRelatedDocument {
  std::string type_code;  // @typeCode as written: RPLC, APND, XFRM
  CdaId id;               // parentDocument's first id with a root
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
  std::vector<CdaRelatedDocument> related_documents;  // in order (at most 16)

  IssueList issues;  // warnings: values that could not be read (CdaValueInvalid) …
};

inline constexpr std::size_t kMaxSectionText = 64 * 1024;
inline constexpr std::size_t kMaxCdaEntries = 10'000;
// One text of an entry (text, code_text, value texts, names) and one narrative element with an
// ID; cut on a UTF-8 character boundary.
inline constexpr std::size_t kMaxEntryText = 8 * 1024;
// All the entries' texts of one document together (references may repeat a narrative element):
// beyond, texts stay empty and one warning says so.
inline constexpr std::size_t kMaxEntryTextTotal = 8u << 20;

// Errors: XmlMalformed, XmlDoctypeForbidden, XmlTooComplex (see xml.hpp); CdaInvalid (root is
// not {urn:hl7-org:v3}ClinicalDocument, or no body); CdaRecordTargetMissing; CdaPatientIdMissing
// (no recordTarget/patientRole/id with a root and without nullFlavor).
Result<CdaDocument> parseCda(std::string_view xml);

}  // namespace liaison::parse
