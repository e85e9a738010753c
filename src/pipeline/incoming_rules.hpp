#pragma once
// What liaison takes from a FHIR Bundle it did not write (attached to a mail, posted to `POST /`)
// and which identifier makes a resource the same as a stored one (a Patient's INS, a
// Practitioner's RPPS or ADELI, an Organization's FINESS): data, in profiles/fhir/incoming.json
// (schemas/incoming.schema.json), to which an ESS adds its own identifiers (ess.json
// "identifiers"), so that a new identifier system needs no C++ change.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "core/error/result.hpp"

namespace liaison::pipeline {

struct IdentifierRule {
  std::string resource_type;
  std::vector<std::string> systems;  // as FHIR writes them: "urn:oid:…", "https://…"
  // A matricule INS: merges only when the nir module finds it well formed (structure, key), and
  // under its normalised form.
  bool ins = false;
};

// The identifier that makes a resource the same as a stored one: the rule's system (one
// spelling for "urn:oid:X" and a bare "X") and the value.
struct IdentifyingKey {
  std::string system;
  std::string value;
  bool ins = false;
  std::size_t index = 0;  // in the resource's identifier array
};

class IncomingRules {
 public:
  // The file's text (checked against its schema by the app before): every mistake an error.
  static Result<IncomingRules> parse(std::string_view json);
  // The rules of an "identifiers" array (incoming.json, or an ESS's additions).
  static Result<std::vector<IdentifierRule>> parseIdentifiers(const rapidjson::Value& array);
  // Those of the shipped profiles/fhir/incoming.json, for a deployment whose intake.json names
  // no file.
  static const IncomingRules& builtIn();

  void add(IdentifierRule rule) { identifiers_.push_back(std::move(rule)); }

  // Whether a Bundle from outside may carry a resource of that type.
  bool accepts(std::string_view type) const;
  const std::vector<std::string>& acceptedTypes() const { return accepted_; }
  const std::vector<IdentifierRule>& identifiers() const { return identifiers_; }

  // The first identifier of `resource` that a rule of `type` names. An INS the nir module finds
  // malformed is never one (it is not used to merge).
  std::optional<IdentifyingKey> identifying(std::string_view type,
                                            const rapidjson::Value& resource) const;
  std::optional<IdentifyingKey> identifying(std::string_view type, std::string_view json) const;

  // The CodeSystem of identity-review Tasks ("<canonicalBase>/CodeSystem/identity-review").
  const std::string& reviewSystem() const { return review_system_; }
  // The identifier system of identity-review Tasks ("<canonicalBase>/identity-review"): one
  // Task per stored Patient and incoming identity (identityReviewKey).
  const std::string& reviewKeySystem() const { return review_key_system_; }
  void setCanonicalBase(std::string_view base);

 private:
  std::vector<std::string> accepted_;
  std::vector<IdentifierRule> identifiers_;
  std::string review_system_ = "https://liaison.ess.example/fhir/CodeSystem/identity-review";
  std::string review_key_system_ = "https://liaison.ess.example/fhir/identity-review";
};

}  // namespace liaison::pipeline
