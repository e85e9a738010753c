#include "pipeline/ess_profile.hpp"

#include <rapidjson/document.h>

#include "pipeline/form_source.hpp"

namespace liaison::pipeline {
namespace {

Error configError(const std::string& why) {
  return makeError(Errc::ConfigInvalid, "ESS configuration: " + why);
}

std::string stringAt(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject() || !obj.HasMember(key) || !obj[key].IsString()) return {};
  return obj[key].GetString();
}

Result<rapidjson::Document> parseConfig(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return configError("not a JSON object");
  if (!doc.HasMember("form") || !doc["form"].IsObject()) return configError("\"form\" is required");
  return doc;
}

Result<RequestRules> requestRules(const rapidjson::Value& doc) {
  RequestRules rules;
  if (!doc.HasMember("requests")) return rules;
  const auto& r = doc["requests"];
  if (!r.IsObject()) return configError("\"requests\" must be an object");
  for (auto m = r.MemberBegin(); m != r.MemberEnd(); ++m) {
    const std::string_view name = m->name.GetString();
    if (name == "documentCodes") {
      if (!m->value.IsArray()) return configError("requests.documentCodes must be an array");
      rules.document_codes.clear();
      for (const auto& c : m->value.GetArray()) {
        if (!c.IsString()) return configError("requests.documentCodes lists codes");
        rules.document_codes.emplace_back(c.GetString());
      }
    } else if (name == "forms" || name == "unstructured") {
      if (!m->value.IsBool())
        return configError("requests." + std::string(name) + " is true or false");
      (name == "forms" ? rules.forms : rules.unstructured) = m->value.GetBool();
    }  // other settings: schemas/ess.schema.json, checked by the app before
  }
  return rules;
}

}  // namespace

bool RequestRules::opens(std::string_view code) const {
  for (const std::string& c : document_codes) {
    if (c == code) return true;
  }
  return false;
}

Result<EssFiles> essFiles(std::string_view json) {
  auto doc = parseConfig(json);
  if (!doc) return doc.error();
  EssFiles files{stringAt((*doc)["form"], "questionnaire"), stringAt((*doc)["form"], "mapping")};
  if (files.questionnaire.empty() || files.mapping.empty()) {
    return configError("form.questionnaire and form.mapping name the form's files");
  }
  return files;
}

Result<std::shared_ptr<const EssProfile>> EssProfile::load(std::string_view ess_json,
                                                           std::string_view questionnaire_json,
                                                           std::string_view mapping_json,
                                                           std::string_view canonical_base) {
  auto doc = parseConfig(ess_json);
  if (!doc) return doc.error();
  auto profile = std::make_shared<EssProfile>();
  profile->id = stringAt(*doc, "id");
  profile->name = stringAt(*doc, "name");
  if (profile->id.empty() || profile->name.empty())
    return configError("\"id\" and \"name\" are required");
  if (doc->HasMember("organization")) {
    const auto& org = (*doc)["organization"];
    profile->organization.name = stringAt(org, "name");
    profile->organization.mailbox = stringAt(org, "mailbox");
    if (org.IsObject() && org.HasMember("identifier")) {
      profile->organization.identifier_system = stringAt(org["identifier"], "system");
      profile->organization.identifier_value = stringAt(org["identifier"], "value");
    }
  }
  auto requests = requestRules(*doc);
  if (!requests) return requests.error();
  profile->requests = std::move(*requests);
  if (auto it = doc->FindMember("identifiers"); it != doc->MemberEnd()) {
    auto identifiers = IncomingRules::parseIdentifiers(it->value);
    if (!identifiers) return configError(identifiers.error().detail);
    profile->identifiers = std::move(*identifiers);
  }
  const auto& identity = (*doc)["form"]["identity"];
  profile->identity = {stringAt(identity, "nir"), stringAt(identity, "sex"),
                       stringAt(identity, "birthDate"), stringAt(identity, "birthPlace"),
                       stringAt(identity, "postalCode")};

  auto q = parse::parseQuestionnaire(questionnaire_json);
  if (!q) return q.error();
  profile->questionnaire = std::move(*q);
  for (const std::string* id :
       {&profile->identity.nir, &profile->identity.sex, &profile->identity.birth_date,
        &profile->identity.birth_place, &profile->identity.postal_code}) {
    if (!id->empty() && profile->questionnaire.find(*id) == nullptr) {
      return configError("form.identity names " + *id + ", which the Questionnaire does not have");
    }
  }
  if (profile->identity.nir.empty()) return configError("form.identity.nir is required");

  profile->canonical_base = canonical_base;
  FormSchema schema(profile->questionnaire);
  auto mapping =
      map::Mapping::compile(mapping_json, schema, {{"canonical", std::string(canonical_base)}});
  if (!mapping) return mapping.error();
  if (!mapping->sourceName().empty() && mapping->sourceName() != profile->questionnaire.url) {
    return configError("the mapping reads " + mapping->sourceName() +
                       ", not this ESS's Questionnaire");
  }
  profile->mapping_ = std::make_unique<map::Mapping>(std::move(*mapping));

  auto rules = validate::EligibilityRules::parse(ess_json, profile->questionnaire);
  if (!rules) return rules.error();
  profile->eligibility_ = std::make_unique<validate::EligibilityRules>(std::move(*rules));
  // The reader and the writer keep a pointer to the Questionnaire: the profile is not moved after
  // this.
  profile->text_reader_ = std::make_unique<parse::FormTextReader>(profile->questionnaire);
  profile->response_writer_ = std::make_unique<map::ResponseItemsWriter>(profile->questionnaire);
  return std::shared_ptr<const EssProfile>(std::move(profile));
}

}  // namespace liaison::pipeline
