#pragma once
// A stored identity is never silently kept nor silently overwritten: when an incoming Patient
// claims the INS of a stored one whose traits (birth name, given names, birth date, sex, birth
// place) differ, the stored Patient stays as it is, what came is linked to it, and the conflict
// is recorded as a Task for an identity review — the worklist "Identités à vérifier", resolved
// by `$confirm-identity` (workflow issue).
//
// Why a Task and not a Flag: a review is work with a state (requested → completed, or
// cancelled), an owner and inputs (the incoming identity, the traits that differ) and an output
// (the decision); a Flag is a standing alert with none of those. Task.focus and Task.for name
// the stored Patient; the incoming Patient is contained, as received, and is Task.input.

#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "core/error/error.hpp"

namespace liaison::pipeline {

// The INS traits of a FHIR Patient (FR Core Patient INS), compared as the ANS compares them:
// case, accents and spacing aside.
struct FhirIdentityTraits {
  std::string birth_family;  // name[official].family (else the first name's)
  std::string first_given;   // name[official].given[0]
  std::string birth_givens;  // birth-list-given-name extension ("" when not stated)
  std::string birth_date;
  std::string gender;
  std::string birth_place;  // INSEE code (patient-birthPlace … fr-core-address-insee-code)
};

FhirIdentityTraits identityTraitsOf(const rapidjson::Value& patient);

// The INS identifiers of a Patient (any system the nir module knows, bare OID or urn:oid:)
// checked as the form path checks a typed NIR: system, structure, key, and consistency with the
// Patient's own sex, birth date and birth place. Issues are located at `prefix` +
// "identifier[j]"; `refused` lists the j of those the check refuses (they must not merge).
struct InsCheck {
  IssueList issues;
  std::vector<std::size_t> refused;
};
InsCheck checkInsOf(const rapidjson::Value& patient, std::string_view prefix);

// The traits both Patients state and that differ, as codes of the identity-review CodeSystem
// (profiles/fhir/CodeSystem-identity-review.json): birth-family, first-given, given-names,
// birth-date, gender, birth-place. A trait one side leaves out is not a difference.
std::vector<std::string> differingTraits(const rapidjson::Value& stored,
                                         const rapidjson::Value& incoming);

// French labels of those codes, for issues ("nom de naissance, date de naissance").
std::string traitLabels(const std::vector<std::string>& codes);

// What makes two reviews the same: the stored Patient and the incoming traits (compared as
// above). A message that brings a discrepancy already under review adds no second Task.
std::string identityReviewKey(std::string_view patient, const rapidjson::Value& incoming);

// The identity-review Task (JSON, without id and meta): status requested, code
// identity-conflict of `review_system`, focus and for `patient` ("Patient/<id>"), the incoming
// Patient contained (its id replaced by "incoming") and named by an input, one input per
// differing trait, identified by `key` in `key_system`. `source` says where it came from
// ("message 12", "POST /").
std::string identityReviewTask(std::string_view review_system, std::string_view key_system,
                               std::string_view key, std::string_view patient,
                               const std::vector<std::string>& differing,
                               const rapidjson::Value& incoming, std::string_view now,
                               std::string_view source);

}  // namespace liaison::pipeline
