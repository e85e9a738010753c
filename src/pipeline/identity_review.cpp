#include "pipeline/identity_review.hpp"

#include <charconv>

#include "core/json/json_out.hpp"
#include "core/nir/nir.hpp"
#include "parse/form/value_parser.hpp"
#include "pipeline/codec.hpp"

namespace liaison::pipeline {
namespace {

using Value = rapidjson::Value;

constexpr std::string_view kBirthListGivenName =
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name";
constexpr std::string_view kBirthPlace =
    "http://hl7.org/fhir/StructureDefinition/patient-birthPlace";
constexpr std::string_view kInseeCode =
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code";

std::string_view stringOf(const Value& object, const char* key) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

const Value* arrayOf(const Value& object, const char* key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsArray() ? &it->value : nullptr;
}

const Value* extensionOf(const Value& element, std::string_view url) {
  if (const Value* extensions = arrayOf(element, "extension")) {
    for (const Value& e : extensions->GetArray())
      if (stringOf(e, "url") == url) return &e;
  }
  return nullptr;
}

struct Trait {
  const char* code;
  const char* label;
  std::string FhirIdentityTraits::*member;
};

constexpr Trait kTraits[] = {
    {"birth-family", "nom de naissance", &FhirIdentityTraits::birth_family},
    {"first-given", "premier prénom", &FhirIdentityTraits::first_given},
    {"given-names", "liste des prénoms", &FhirIdentityTraits::birth_givens},
    {"birth-date", "date de naissance", &FhirIdentityTraits::birth_date},
    {"gender", "sexe", &FhirIdentityTraits::gender},
    {"birth-place", "lieu de naissance", &FhirIdentityTraits::birth_place},
};

}  // namespace

FhirIdentityTraits identityTraitsOf(const Value& patient) {
  FhirIdentityTraits t;
  if (const Value* names = arrayOf(patient, "name")) {
    const Value* official = nullptr;
    for (const Value& n : names->GetArray()) {
      if (stringOf(n, "use") == "official") {
        official = &n;
        break;
      }
    }
    if (official == nullptr && !names->Empty()) official = &(*names)[0];
    if (official != nullptr && official->IsObject()) {
      t.birth_family = std::string(stringOf(*official, "family"));
      if (const Value* given = arrayOf(*official, "given")) {
        for (const Value& g : given->GetArray()) {
          if (g.IsString() && t.first_given.empty()) t.first_given = g.GetString();
        }
      }
      if (const Value* list = extensionOf(*official, kBirthListGivenName))
        t.birth_givens = std::string(stringOf(*list, "valueString"));
    }
  }
  t.birth_date = std::string(stringOf(patient, "birthDate"));
  t.gender = std::string(stringOf(patient, "gender"));
  if (const Value* place = extensionOf(patient, kBirthPlace)) {
    auto address = place->FindMember("valueAddress");
    if (address != place->MemberEnd()) {
      if (const Value* insee = extensionOf(address->value, kInseeCode)) {
        auto coding = insee->FindMember("valueCoding");
        if (coding != insee->MemberEnd())
          t.birth_place = std::string(stringOf(coding->value, "code"));
      }
    }
  }
  return t;
}

InsCheck checkInsOf(const Value& patient, std::string_view prefix) {
  InsCheck out;
  const Value* ids = arrayOf(patient, "identifier");
  if (ids == nullptr) return out;
  const FhirIdentityTraits t = identityTraitsOf(patient);
  nir::Traits traits;
  if (t.gender == "male") traits.sex = 'M';
  if (t.gender == "female") traits.sex = 'F';
  if (t.birth_date.size() >= 7) {
    int year = 0;
    int month = 0;
    std::from_chars(t.birth_date.data(), t.birth_date.data() + 4, year);
    std::from_chars(t.birth_date.data() + 5, t.birth_date.data() + 7, month);
    if (year > 0) traits.birth_year = year;
    if (month > 0) traits.birth_month = month;
  }
  if (t.birth_place.size() == 5) traits.birth_place_insee = t.birth_place;
  for (rapidjson::SizeType j = 0; j < ids->Size(); ++j) {
    const Value& id = (*ids)[j];
    const std::string_view system = stringOf(id, "system");
    if (nir::kindOfSystem(system) == nir::IdentifierKind::Unknown) continue;
    const std::string location = std::string(prefix) + "identifier[" + std::to_string(j) + "]";
    nir::checkSystem(system, out.issues, location);
    nir::CheckResult check = nir::check(stringOf(id, "value"), traits, location);
    if (!check.valid()) out.refused.push_back(j);
    out.issues.append(check.issues);
  }
  return out;
}

std::vector<std::string> differingTraits(const Value& stored, const Value& incoming) {
  const FhirIdentityTraits a = identityTraitsOf(stored);
  const FhirIdentityTraits b = identityTraitsOf(incoming);
  std::vector<std::string> out;
  for (const Trait& trait : kTraits) {
    const std::string& x = a.*trait.member;
    const std::string& y = b.*trait.member;
    if (x.empty() || y.empty()) continue;
    if (parse::normalizeLabel(x) != parse::normalizeLabel(y)) out.emplace_back(trait.code);
  }
  return out;
}

std::string traitLabels(const std::vector<std::string>& codes) {
  std::string out;
  for (const std::string& code : codes) {
    for (const Trait& trait : kTraits) {
      if (code != trait.code) continue;
      if (!out.empty()) out += ", ";
      out += trait.label;
    }
  }
  return out;
}

std::string identityReviewKey(std::string_view patient, const Value& incoming) {
  const FhirIdentityTraits t = identityTraitsOf(incoming);
  std::string key(patient);
  for (const Trait& trait : kTraits) {
    key += '\n';
    key += parse::normalizeLabel(t.*trait.member);
  }
  return sha256Hex(key);
}

std::string identityReviewTask(std::string_view review_system, std::string_view key_system,
                               std::string_view key, std::string_view patient,
                               const std::vector<std::string>& differing, const Value& incoming,
                               std::string_view now, std::string_view source) {
  std::string out;
  json::JsonOut w(out);
  json::JsonOutSax sax{w};
  auto coding = [&](std::string_view system, std::string_view code, std::string_view display) {
    w.StartObject();
    w.Key("coding");
    w.StartArray();
    w.StartObject();
    w.Key("system");
    w.String(system);
    w.Key("code");
    w.String(code);
    if (!display.empty()) {
      w.Key("display");
      w.String(display);
    }
    w.EndObject();
    w.EndArray();
    w.EndObject();
  };
  w.StartObject();
  w.Key("resourceType");
  w.String("Task");
  // The incoming Patient as received, for the reviewer (its own id would mean nothing here).
  w.Key("contained");
  w.StartArray();
  w.StartObject();
  w.Key("resourceType");
  w.String("Patient");
  w.Key("id");
  w.String("incoming");
  if (incoming.IsObject()) {
    for (const auto& m : incoming.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "resourceType" || name == "id" || name == "meta" || name == "contained") continue;
      w.Key(name);
      m.value.Accept(sax);
    }
  }
  w.EndObject();
  w.EndArray();
  w.Key("identifier");
  w.StartArray();
  w.StartObject();
  w.Key("system");
  w.String(key_system);
  w.Key("value");
  w.String(key);
  w.EndObject();
  w.EndArray();
  w.Key("status");
  w.String("requested");
  w.Key("intent");
  w.String("order");
  w.Key("code");
  coding(review_system, "identity-conflict",
         "Identité à vérifier : traits différents pour un même INS");
  w.Key("description");
  w.String("Identité à vérifier (" + std::string(source) +
           ") : traits différents de ceux du patient enregistré sous cet INS (" +
           traitLabels(differing) +
           "). Le patient enregistré est gardé tel quel ; les données reçues lui sont rattachées.");
  w.Key("focus");
  w.StartObject();
  w.Key("reference");
  w.String(patient);
  w.EndObject();
  w.Key("for");
  w.StartObject();
  w.Key("reference");
  w.String(patient);
  w.EndObject();
  w.Key("authoredOn");
  w.String(now);
  w.Key("lastModified");
  w.String(now);
  w.Key("input");
  w.StartArray();
  w.StartObject();
  w.Key("type");
  coding(review_system, "incoming-identity", "Identité reçue");
  w.Key("valueReference");
  w.StartObject();
  w.Key("reference");
  w.String("#incoming");
  w.EndObject();
  w.EndObject();
  for (const std::string& trait : differing) {
    w.StartObject();
    w.Key("type");
    coding(review_system, "differing-trait", "Trait différent");
    w.Key("valueCode");
    w.String(trait);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace liaison::pipeline
