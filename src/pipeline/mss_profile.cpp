#include "pipeline/mss_profile.hpp"

#include <rapidjson/document.h>

#include <algorithm>

namespace liaison::pipeline {

const FactSchema& mssVocabulary() {
  static const FactSchema schema({
      // the message
      "message.id",
      "message.subject",
      "message.from",
      "message.fromName",
      "message.date",
      "message.received",
      "message.text",
      // the patient, consolidated from METADATA.XML, the CDA documents and the headers
      "patient.ins.value",
      "patient.ins.system",
      "patient.ins.type",
      "patient.ins.use",
      "patient.identityStatus",
      "patient.birthFamily",
      "patient.usedFamily",
      "patient.firstGiven",
      "patient.givens",
      "patient.gender",
      "patient.birthDate",
      "patient.birthPlace.insee",
      "patient.birthPlace.city",
      "patient.birthOrder",
      "patient.toIdentify",
      // resources already in the Bundle
      "bundle.patient",
      "bundle.document",
      "bundle.author",
      "bundle.custodian",
      "bundle.request",
      // the ESS that receives the message
      "ess.name",
      "ess.organization.name",
      "ess.organization.identifier.system",
      "ess.organization.identifier.value",
      "ess.mailbox",
      // one document of the XDM archive
      "doc.path",
      "doc.entryUuid",
      "doc.masterIdentifier.system",
      "doc.masterIdentifier.value",
      "doc.code",
      "doc.type",
      "doc.class",
      "doc.format",
      "doc.title",
      "doc.date",
      "doc.instant",
      "doc.confidentiality",
      "doc.contentType",
      "doc.language",
      "doc.data",
      "doc.size",
      "doc.hash",
      "doc.pdf.data",
      "doc.pdf.size",
      "doc.pdf.hash",
      "doc.serviceEvent",
      "doc.period.start",
      "doc.period.end",
      "doc.facilityType",
      "doc.practiceSetting",
      "author.rpps",
      "author.idnps",
      "author.family",
      "author.given",
      "author.specialty",
      "author.org.name",
      "author.org.finess",
      "author.org.idnst",
      "custodian.name",
      "custodian.finess",
      "custodian.idnst",
      "encounter.start",
      "encounter.end",
      "encounter.facilityType",
      "vitals",    // records: code, value, unit, time
      "sections",  // records: code, title, text
      // one attachment kept as is
      "attachment.filename",
      "attachment.contentType",
      "attachment.kind",
      "attachment.description",
      "attachment.data",
      "attachment.size",
      "attachment.hash",
  });
  return schema;
}

namespace {

Error configError(const std::string& why) {
  return makeError(Errc::ConfigInvalid, "MSSanté intake: " + why);
}

std::string stringAt(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

}  // namespace

Result<MssFiles> mssFiles(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return configError("not a JSON object");
  MssFiles f{stringAt(doc, "patient"),
             stringAt(doc, "document"),
             {},
             stringAt(doc, "attachment"),
             stringAt(doc, "toQualify")};
  if (doc.HasMember("documentTypes") && doc["documentTypes"].IsArray()) {
    for (const auto& t : doc["documentTypes"].GetArray()) {
      if (t.IsString()) f.document_types.emplace_back(t.GetString());
    }
  }
  if (f.patient.empty() || f.document.empty() || f.attachment.empty() || f.to_qualify.empty()) {
    return configError("patient, document, attachment and toQualify name mapping files");
  }
  return f;
}

Result<std::shared_ptr<const MssProfile>> MssProfile::load(const MssMappingTexts& texts) {
  auto profile = std::make_shared<MssProfile>();
  const FactSchema& schema = mssVocabulary();
  auto compile = [&](const std::string& text,
                     std::vector<map::Mapping>& into) -> std::optional<Error> {
    auto m = map::Mapping::compile(text, schema);
    if (!m) return m.error();
    into.push_back(std::move(*m));
    return std::nullopt;
  };
  if (auto e = compile(texts.patient, profile->patient_)) return *e;
  if (auto e = compile(texts.document, profile->document_)) return *e;
  if (auto e = compile(texts.attachment, profile->attachment_)) return *e;
  if (auto e = compile(texts.to_qualify, profile->to_qualify_)) return *e;
  for (const std::string& t : texts.document_types) {
    if (auto e = compile(t, profile->types_)) return *e;
    if (profile->types_.back().appliesTo().empty()) {
      return configError("document type mapping " + profile->types_.back().name() +
                         " has no appliesTo");
    }
  }
  return std::shared_ptr<const MssProfile>(std::move(profile));
}

const map::Mapping* MssProfile::documentTypeFor(
    std::string_view code, const std::vector<std::string>& template_ids) const {
  auto lists = [](const map::Mapping& m, const char* selector) -> const std::vector<std::string>* {
    auto it = m.appliesTo().find(selector);
    return it == m.appliesTo().end() ? nullptr : &it->second;
  };
  for (const map::Mapping& m : types_) {
    if (const auto* ids = lists(m, "templateId")) {
      for (const std::string& t : template_ids) {
        std::string_view root = std::string_view(t).substr(0, t.find('|'));
        if (std::find(ids->begin(), ids->end(), root) != ids->end()) return &m;
      }
    }
  }
  for (const map::Mapping& m : types_) {
    if (const auto* codes = lists(m, "documentCode")) {
      if (std::find(codes->begin(), codes->end(), code) != codes->end()) return &m;
    }
  }
  return nullptr;
}

}  // namespace liaison::pipeline
