#include "pipeline/incoming_rules.hpp"

#include <algorithm>

#include "core/nir/nir.hpp"
#include "parse/json/json_util.hpp"

namespace liaison::pipeline {
namespace {

Error configError(const std::string& why) {
  return makeError(Errc::ConfigInvalid, "incoming resources: " + why);
}

std::string_view stringOf(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

// "urn:oid:1.2.3" and "1.2.3" are one system (CDA roots, bare OIDs some senders write).
std::string_view withoutOidPrefix(std::string_view system) {
  constexpr std::string_view kPrefix = "urn:oid:";
  return system.substr(0, kPrefix.size()) == kPrefix ? system.substr(kPrefix.size()) : system;
}

// The shipped profiles/fhir/incoming.json, less its descriptions (a unit test keeps them equal).
constexpr std::string_view kBuiltIn = R"({
  "acceptedResourceTypes": ["Patient", "Practitioner", "PractitionerRole", "Organization",
    "ServiceRequest", "Observation", "Condition", "AllergyIntolerance", "MedicationStatement",
    "Encounter", "CarePlan", "Communication", "DocumentReference", "QuestionnaireResponse",
    "Consent"],
  "identifiers": [
    {"resourceType": "Patient", "systems": ["urn:oid:1.2.250.1.213.1.4.8",
      "urn:oid:1.2.250.1.213.1.4.9", "urn:oid:1.2.250.1.213.1.4.10",
      "urn:oid:1.2.250.1.213.1.4.11"], "check": "ins"},
    {"resourceType": "Practitioner", "systems": ["https://rpps.esante.gouv.fr",
      "urn:oid:1.2.250.1.71.4.2.1"]},
    {"resourceType": "Organization", "systems": ["https://finess.esante.gouv.fr",
      "urn:oid:1.2.250.1.71.4.2.2"]}
  ]
})";

}  // namespace

Result<std::vector<IdentifierRule>> IncomingRules::parseIdentifiers(const rapidjson::Value& array) {
  if (!array.IsArray()) return configError("identifiers must be an array");
  std::vector<IdentifierRule> out;
  for (const auto& r : array.GetArray()) {
    IdentifierRule rule;
    rule.resource_type = std::string(stringOf(r, "resourceType"));
    if (rule.resource_type.empty()) return configError("an identifier rule names no resourceType");
    auto systems = r.FindMember("systems");
    if (systems == r.MemberEnd() || !systems->value.IsArray() || systems->value.Empty())
      return configError("the identifier rule of " + rule.resource_type + " lists no systems");
    for (const auto& s : systems->value.GetArray()) {
      if (!s.IsString() || s.GetStringLength() == 0)
        return configError("the identifier rule of " + rule.resource_type +
                           " lists a system that is not a string");
      rule.systems.emplace_back(s.GetString(), s.GetStringLength());
    }
    const std::string_view check = stringOf(r, "check");
    if (!check.empty() && check != "ins")
      return configError("unknown check " + std::string(check) + " (ins expected)");
    rule.ins = check == "ins";
    out.push_back(std::move(rule));
  }
  return out;
}

Result<IncomingRules> IncomingRules::parse(std::string_view json) {
  rapidjson::Document doc;
  if (json::parseExternalJson(doc, json) || !doc.IsObject())
    return configError("not a JSON object");
  IncomingRules rules;
  auto types = doc.FindMember("acceptedResourceTypes");
  if (types == doc.MemberEnd() || !types->value.IsArray())
    return configError("acceptedResourceTypes must be an array");
  for (const auto& t : types->value.GetArray()) {
    if (!t.IsString()) return configError("acceptedResourceTypes lists resource types");
    rules.accepted_.emplace_back(t.GetString(), t.GetStringLength());
  }
  auto identifiers = doc.FindMember("identifiers");
  if (identifiers == doc.MemberEnd()) return configError("identifiers is required");
  auto parsed = parseIdentifiers(identifiers->value);
  if (!parsed) return parsed.error();
  rules.identifiers_ = std::move(*parsed);
  return rules;
}

const IncomingRules& IncomingRules::builtIn() {
  static const IncomingRules rules = [] {
    auto r = parse(kBuiltIn);
    return r ? std::move(*r) : IncomingRules{};
  }();
  return rules;
}

void IncomingRules::setCanonicalBase(std::string_view base) {
  review_system_ = std::string(base) + "/CodeSystem/identity-review";
  review_key_system_ = std::string(base) + "/identity-review";
}

bool IncomingRules::accepts(std::string_view type) const {
  return std::find(accepted_.begin(), accepted_.end(), type) != accepted_.end();
}

std::optional<IdentifyingKey> IncomingRules::identifying(std::string_view type,
                                                         const rapidjson::Value& resource) const {
  if (!resource.IsObject()) return std::nullopt;
  auto ids = resource.FindMember("identifier");
  if (ids == resource.MemberEnd() || !ids->value.IsArray()) return std::nullopt;
  // The rules' order decides (RPPS before idNat_PS), not the order the sender wrote them in.
  for (const IdentifierRule& rule : identifiers_) {
    if (rule.resource_type != type) continue;
    for (const std::string& system : rule.systems) {
      const std::string_view wanted = withoutOidPrefix(system);
      rapidjson::SizeType index = 0;
      for (const auto& id : ids->value.GetArray()) {
        const rapidjson::SizeType at = index++;
        if (withoutOidPrefix(stringOf(id, "system")) != wanted) continue;
        std::string value(stringOf(id, "value"));
        if (value.empty()) continue;
        if (rule.ins) {
          nir::CheckResult check = nir::check(value);
          if (!check.valid()) continue;  // a malformed INS merges nothing
          value = std::move(check.normalized);
        }
        return IdentifyingKey{system, std::move(value), rule.ins, at};
      }
    }
  }
  return std::nullopt;
}

std::optional<IdentifyingKey> IncomingRules::identifying(std::string_view type,
                                                         std::string_view json) const {
  rapidjson::Document doc;
  if (json::parseExternalJson(doc, json) || !doc.IsObject()) return std::nullopt;
  return identifying(type, doc);
}

}  // namespace liaison::pipeline
