#pragma once
// The patient of an MSSanté message: INS and traits read from every place that states them (the
// CDA recordTarget, METADATA.XML sourcePatientInfo and patientId), as the ANS maps them, then
// consolidated into one identity with the MDN rules 903 (no INS), 904 (INS or traits differ) and
// 905 (INS without its traits).
//
// Names follow the ANS ConceptMap mappingPatientCDAFHIR (IG document-core) and PAM FR for PID-5:
//   CDA family@BR  / PID-5 type L XPN.1  → nom de naissance    → name[official].family
//   CDA family@CL  / PID-5 type D XPN.1  → nom utilisé         → name[usual].family
//   CDA given (no qualifier) / L XPN.3   → liste des prénoms   → official birth-list-given-name
//   CDA given@BR   / PID-5 type L XPN.2  → premier prénom      → name[official].given
//   CDA given@CL   / PID-5 type D XPN.2  → prénom utilisé      → name[usual].given
// Documents that leave the qualifiers out are read with fallbacks, each named in `derived` so that
// the report says so (mappings/README.md has the table).

#include <optional>
#include <string>
#include <vector>

#include "core/error/error.hpp"
#include "parse/cda/cda_document.hpp"
#include "parse/cda/xds_metadata.hpp"

namespace liaison::pipeline {

struct PatientTraits {
  std::string birth_family;  // nom de naissance
  std::string used_family;   // nom utilisé ("" when the sender states none)
  std::string first_given;   // premier prénom
  std::string birth_givens;  // liste des prénoms de naissance, as stated (space-separated)
  std::string used_given;    // prénom utilisé
  std::string birth_date;    // FHIR date
  std::string sex;           // M, F or U as written
  std::string birth_place;   // INSEE code of the birth place (commune, or 99 + country)
  std::string birth_place_name;
  std::optional<bool> deceased;
  std::string deceased_time;  // FHIR dateTime
  std::optional<bool> multiple_birth;
  int birth_order = 0;  // rank among twins, 0 when not stated
  // Traits liaison inferred because the sender did not state them as the ANS asks, in French
  // (e.g. "premier prénom pris du premier mot de la liste des prénoms").
  std::vector<std::string> derived;
  std::string where;  // where they were read, for issues ("DOC0001.XML (recordTarget)")

  bool empty() const {
    return birth_family.empty() && first_given.empty() && birth_date.empty() && sex.empty();
  }
};

PatientTraits traitsOfCda(const parse::CdaPatient& patient, std::string where);
PatientTraits traitsOfSourcePatientInfo(const parse::XdsPatientInfo& info, std::string where);

// An INS as one place states it: matricule and OID.
struct InsClaim {
  std::string value;
  std::string oid;
  std::string where;
};

struct PatientIdentity {
  std::optional<InsClaim> ins;  // the reference claim (documents first), when any
  bool nir_valid = false;       // structure, key and consistency with the traits
  std::string normalized;       // the matricule as checked (15 characters)
  PatientTraits traits;         // the reference traits (the first document's)
};

// Everything a message says about its patient. Documents are authoritative (they are what the
// author signed); METADATA.XML restates them and is compared with them.
struct IdentityStatements {
  std::vector<InsClaim> document_ins;  // recordTarget ids with an INS OID, in document order
  std::vector<InsClaim> metadata_ins;  // SubmissionSet and DocumentEntry patientId
  std::vector<PatientTraits> document_traits;
  std::vector<PatientTraits> metadata_traits;
};

// Adds the INS ids of a CDA recordTarget and its traits to `into`.
void stateFromCda(const parse::CdaPatient& patient, const std::string& path,
                  IdentityStatements& into);
// Adds the patientIds and sourcePatientInfo of a METADATA.XML to `into`.
void stateFromMetadata(const parse::XdsSubmission& submission, IdentityStatements& into);

// One identity for the message: issues InsMissing (903), InsMismatch and InsTraitsMismatch
// (904), InsTraitsIncomplete (905), and those of the NIR check (structure, key, consistency).
PatientIdentity consolidateIdentity(const IdentityStatements& statements, IssueList& issues);

}  // namespace liaison::pipeline
