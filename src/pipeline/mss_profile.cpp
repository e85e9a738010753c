#include "pipeline/mss_profile.hpp"

#include <rapidjson/document.h>

#include <algorithm>

#include "core/text/ascii.hpp"

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
      "message.text",  // the body as the sender typed it (decoded; HTML converted to text)
      "message.inReplyTo",
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
      "patient.usedGiven",
      "patient.gender",
      "patient.birthDate",
      "patient.birthPlace.insee",
      "patient.birthPlace.name",
      "patient.deceased",
      "patient.deceasedTime",
      "patient.multipleBirth",
      "patient.birthOrder",
      "patient.toIdentify",
      "patient.addresses",  // records: use, line1, line2, line3, postalCode, city, country
      "patient.telecoms",   // records: system, value, use
      // resources already in the Bundle
      "bundle.patient",
      "bundle.document",
      "bundle.documents",  // every DocumentReference of the message so far, in order
      "bundle.author",
      "bundle.custodian",
      "bundle.encounter",
      "bundle.request",
      "bundle.ess",
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
      "doc.url",
      "doc.size",
      "doc.hash",
      "doc.version",
      "doc.replaces",  // records: system, value (relatedDocument RPLC: the documents it replaces)
      "doc.pdf.url",
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
      "sections",  // records: code, title, text
      "entries",   // records: the CDA entries a mapping selects (mappings/README.md)
      // one attachment kept as is
      "attachment.filename",
      "attachment.contentType",
      "attachment.kind",
      "attachment.description",
      "attachment.url",
      "attachment.size",
      "attachment.hash",
  });
  return schema;
}

const std::vector<std::string>& defaultTraceHeaders() {
  // RFC 5321 trace fields, what delivery agents add (Delivered-To, X-Original-To, Envelope-To),
  // and the verdicts and signatures relays stamp on the way (authentication results, ARC, spam
  // and virus scores): none of them is part of what the sender wrote.
  static const std::vector<std::string> fields{
      "received",
      "return-path",
      "delivered-to",
      "x-original-to",
      "envelope-to",
      "x-envelope-to",
      "x-envelope-from",
      "x-received",
      "received-spf",
      "authentication-results",
      "arc-seal",
      "arc-message-signature",
      "arc-authentication-results",
      "x-spam-status",
      "x-spam-score",
      "x-spam-flag",
      "x-spam-level",
      "x-spam-checker-version",
      "x-virus-scanned",
      "x-virus-status",
      "x-mailer-daemon",
      "x-ms-exchange-organization-authas",
      "x-forwarded-to",
      "x-forwarded-for",
      "dkim-signature",
      "x-google-dkim-signature",
      "x-gm-message-state",
  };
  return fields;
}

namespace {

Error configError(const std::string& why) {
  return makeError(Errc::ConfigInvalid, "MSSanté intake: " + why);
}

std::string stringAt(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

bool hasRoot(const std::vector<std::string>& ids, const std::vector<std::string>& wanted) {
  for (const std::string& t : ids) {
    std::string_view root = std::string_view(t).substr(0, t.find('|'));
    if (std::find(wanted.begin(), wanted.end(), root) != wanted.end()) return true;
  }
  return false;
}

bool in(const std::vector<std::string>& list, std::string_view v) {
  return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}

const std::vector<std::string>* selector(const map::Mapping& m, const char* name) {
  auto it = m.appliesTo().find(name);
  return it == m.appliesTo().end() ? nullptr : &it->second;
}

EntrySelector selectorOf(const map::Mapping& m) {
  EntrySelector s;
  auto take = [&](const char* name, std::vector<std::string>& into) {
    if (const auto* v = selector(m, name)) into = *v;
  };
  take("entryTemplateId", s.entry_templates);
  take("sectionTemplateId", s.section_templates);
  take("sectionCode", s.section_codes);
  take("entryKind", s.kinds);
  take("entryMood", s.moods);
  take("entryValueType", s.value_types);
  return s;
}

}  // namespace

bool EntrySelector::matches(const parse::CdaDocument& doc, const parse::CdaEntry& e) const {
  bool selected = !entry_templates.empty() && hasRoot(e.template_ids, entry_templates);
  if (!selected && e.section < doc.sections.size()) {
    const parse::CdaSection& s = doc.sections[e.section];
    selected = (!section_templates.empty() && hasRoot(s.template_ids, section_templates)) ||
               (!section_codes.empty() && std::find(section_codes.begin(), section_codes.end(),
                                                    s.code.code) != section_codes.end());
  }
  if (!selected) return false;
  const std::string_view mood = e.mood.empty() ? "EVN" : std::string_view(e.mood);
  return in(kinds, e.kind) && in(moods, mood) && in(value_types, e.value.type);
}

Result<std::shared_ptr<const MssProfile>> MssProfile::load(std::string_view json,
                                                           const Reader& read) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  // Unknown settings, types: schemas/mss-intake.schema.json, checked by the app before.
  if (doc.HasParseError() || !doc.IsObject()) return configError("not a JSON object");

  auto profile = std::make_shared<MssProfile>();
  profile->canonical_base_ = stringAt(doc, "canonicalBase");
  if (profile->canonical_base_.empty() || profile->canonical_base_.back() == '/' ||
      (profile->canonical_base_.rfind("https://", 0) != 0 &&
       profile->canonical_base_.rfind("http://", 0) != 0))
    return configError("canonicalBase must be an http(s) URL without a trailing slash");
  const map::Mapping::Variables globals{{"canonical", profile->canonical_base_}};
  const FactSchema& schema = mssVocabulary();
  auto compile = [&](const std::string& file) -> Result<map::Mapping> {
    auto text = read(file);
    if (!text) return text.error();
    auto m = map::Mapping::compile(*text, schema, globals);
    if (!m) return makeError(m.error().code, file + ": " + m.error().detail);
    return std::move(*m);
  };
  static constexpr const char* kSlotNames[kSlots] = {
      "ess", "patient", "document", "attachment", "toQualify", "request", "communication"};
  for (const char* slot : kSlotNames) {
    const std::string file = stringAt(doc, slot);
    if (file.empty()) return configError(std::string(slot) + " must name a mapping file");
    auto m = compile(file);
    if (!m) return m.error();
    profile->mappings_.push_back(std::move(*m));
  }
  auto list = [&](const char* name, std::vector<SelectingMapping>& into) -> std::optional<Error> {
    if (!doc.HasMember(name)) return std::nullopt;
    if (!doc[name].IsArray()) return configError(std::string(name) + " must be an array");
    for (const auto& f : doc[name].GetArray()) {
      if (!f.IsString()) return configError(std::string(name) + " lists file names");
      auto m = compile(f.GetString());
      if (!m) return m.error();
      EntrySelector s = selectorOf(*m);
      into.push_back({std::move(*m), std::move(s)});
    }
    return std::nullopt;
  };
  if (auto e = list("documentTypes", profile->types_)) return *e;
  for (const SelectingMapping& t : profile->types_) {
    if (!selector(t.mapping, "templateId") && !selector(t.mapping, "documentCode"))
      return configError("document type mapping " + t.mapping.name() +
                         " has no appliesTo templateId or documentCode");
  }
  if (auto e = list("entries", profile->entries_)) return *e;
  for (const SelectingMapping& t : profile->entries_) {
    if (!t.select.selectsAny())
      return configError("entry mapping " + t.mapping.name() +
                         " selects no entry (appliesTo entryTemplateId, sectionTemplateId or "
                         "sectionCode)");
  }
  if (doc.HasMember("traceHeaders")) {
    if (!doc["traceHeaders"].IsArray()) return configError("traceHeaders must be an array");
    for (const auto& h : doc["traceHeaders"].GetArray()) {
      if (!h.IsString()) return configError("traceHeaders lists header field names");
      profile->trace_headers_.push_back(ascii::lower(h.GetString()));
    }
  } else {
    profile->trace_headers_ = defaultTraceHeaders();
  }
  if (const std::string file = stringAt(doc, "incoming"); !file.empty()) {
    auto text = read(file);
    if (!text) return text.error();
    auto rules = IncomingRules::parse(*text);
    if (!rules) return makeError(rules.error().code, file + ": " + rules.error().detail);
    profile->incoming_ = std::move(*rules);
  } else {
    profile->incoming_ = IncomingRules::builtIn();
  }
  profile->incoming_.setCanonicalBase(profile->canonical_base_);
  return std::shared_ptr<const MssProfile>(std::move(profile));
}

const SelectingMapping* MssProfile::documentTypeFor(
    std::string_view code, const std::vector<std::string>& template_ids) const {
  for (const SelectingMapping& m : types_) {
    if (const auto* ids = selector(m.mapping, "templateId"); ids && hasRoot(template_ids, *ids))
      return &m;
  }
  for (const SelectingMapping& m : types_) {
    if (const auto* codes = selector(m.mapping, "documentCode")) {
      if (std::find(codes->begin(), codes->end(), code) != codes->end()) return &m;
    }
  }
  return nullptr;
}

}  // namespace liaison::pipeline
