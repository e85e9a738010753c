#include "pipeline/message_intake.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>

#include "core/fhir/terminology.hpp"
#include "core/nir/nir.hpp"
#include "core/text/ascii.hpp"
#include "parse/cda/cda_document.hpp"
#include "parse/cda/xds_metadata.hpp"
#include "parse/form/value_parser.hpp"
#include "pipeline/codec.hpp"

namespace liaison::pipeline {
namespace {

using ascii::lower;

using namespace std::chrono;

// ---------------------------------------------------------------------------------------------
// Small helpers

bool endsWithNoCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == suffix;
}

// RFC 5322 date ("Mon, 16 Jan 2024 15:11:12 +0100") → FHIR dateTime, with glibc's strptime.
std::string fhirDateOfMail(const std::string& date) {
  if (date.empty()) return {};
  struct tm tm {};
  const char* rest = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S %z", &tm);
  if (rest == nullptr) rest = strptime(date.c_str(), "%d %b %Y %H:%M:%S %z", &tm);
  if (rest == nullptr) return {};
  // Offsets beyond ±14 h are not real zones: treat the date as unusable rather than invent one.
  const long offset = tm.tm_gmtoff;
  if (offset < -14 * 3600 || offset > 14 * 3600 || tm.tm_year < -1900 || tm.tm_year > 8099)
    return {};
  const int off_minutes = static_cast<int>(std::labs(offset) / 60);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, offset < 0 ? '-' : '+',
                off_minutes / 60, off_minutes % 60);
  return buf;
}

std::vector<std::pair<std::string, int>> countTypes(
    const std::vector<map::EmittedResource>& emitted, std::size_t from) {
  std::vector<std::pair<std::string, int>> counts;
  for (std::size_t i = from; i < emitted.size(); ++i) {
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& c) { return c.first == emitted[i].resource_type; });
    if (it == counts.end()) {
      counts.emplace_back(emitted[i].resource_type, 1);
    } else {
      ++it->second;
    }
  }
  return counts;
}

std::string fullUrlFrom(const std::vector<map::EmittedResource>& emitted, std::size_t from,
                        std::string_view key) {
  for (std::size_t i = emitted.size(); i-- > from;) {
    if (emitted[i].key == key) return emitted[i].full_url;
  }
  return {};
}

std::string firstOfType(const std::vector<map::EmittedResource>& emitted, std::string_view type) {
  for (const auto& e : emitted) {
    if (e.resource_type == type) return e.full_url;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// The patient of the message: INS and traits from every place that states them.

struct InsClaim {
  std::string value;
  std::string oid;
  std::string where;
};

struct Traits {
  std::string birth_family;
  std::string first_given;
  std::string givens;
  std::string used_family;
  std::string birth_date;  // FHIR date
  std::string sex;         // M / F / U
  std::string birth_place;
  std::string birth_city;
  int birth_order = 0;
  std::string where;
};

struct Identity {
  std::optional<InsClaim> ins;
  bool nir_valid = false;
  std::string normalized;
  Traits traits;
};

bool isInsOid(std::string_view oid) {
  return nir::kindOfSystem(oid) != nir::IdentifierKind::Unknown;
}

std::string comparable(std::string_view s) {
  return parse::normalizeLabel(s);
}

void compareTrait(const Traits& a, const Traits& b, std::string_view name, const std::string& va,
                  const std::string& vb, IssueList& issues) {
  if (va.empty() || vb.empty() || comparable(va) == comparable(vb)) return;
  issues.add(Errc::InsTraitsMismatch,
             "Trait « " + std::string(name) + " » différent entre " + a.where + " et " + b.where +
                 " (904).",
             {}, b.where);
}

Identity consolidate(const std::vector<parse::XdsSubmission>& submissions,
                     const std::vector<const parse::CdaDocument*>& cdas,
                     const std::vector<std::string>& cda_paths, IssueList& issues) {
  Identity id;
  // The documents are authoritative (they are what the author signed); METADATA.XML restates
  // them, so its claims are compared with the CDA's, not the other way round.
  std::vector<InsClaim> claims;
  std::vector<InsClaim> metadata_claims;
  std::vector<Traits> traits;
  for (std::size_t s = 0; s < submissions.size(); ++s) {
    const auto& sub = submissions[s];
    if (sub.submission_set.patient_id && isInsOid(sub.submission_set.patient_id->oid)) {
      metadata_claims.push_back({sub.submission_set.patient_id->value,
                                 sub.submission_set.patient_id->oid,
                                 "METADATA.XML (SubmissionSet.patientId)"});
    }
    for (std::size_t d = 0; d < sub.documents.size(); ++d) {
      const auto& doc = sub.documents[d];
      std::string where = "METADATA.XML (DocumentEntry " + doc.uri + ")";
      if (doc.patient_id && isInsOid(doc.patient_id->oid)) {
        metadata_claims.push_back(
            {doc.patient_id->value, doc.patient_id->oid, where + ".patientId"});
      }
      const auto& info = doc.source_patient_info;
      if (!info.family.empty() || !info.birth_date.empty() || !info.sex.empty()) {
        Traits t;
        t.birth_family = info.family;
        t.first_given = info.given;
        t.birth_date = fhir::dateOfTs(info.birth_date).value_or("");
        t.sex = info.sex;
        t.where = where + ".sourcePatientInfo";
        traits.push_back(std::move(t));
      }
    }
  }
  std::optional<Traits> cda_traits;
  for (std::size_t i = 0; i < cdas.size(); ++i) {
    if (!cdas[i]->patient) continue;
    const parse::CdaPatient& p = *cdas[i]->patient;
    const std::string where = cda_paths[i] + " (recordTarget)";
    for (const parse::CdaId& pid : p.ids) {
      if (isInsOid(pid.root) && !pid.extension.empty())
        claims.push_back({pid.extension, pid.root, where});
    }
    Traits t;
    t.birth_family = p.birth_family;
    t.first_given =
        !p.first_given.empty() ? p.first_given : (p.given.empty() ? "" : p.given.front());
    for (const std::string& g : p.given)
      t.givens += (t.givens.empty() ? "" : " ") + g;
    t.used_family = p.used_family;
    t.birth_date = fhir::dateOfTs(p.birth_time).value_or("");
    t.sex = p.sex;
    t.birth_place = p.birth_place_code;
    t.birth_city = p.birth_place_city;
    t.birth_order = p.multiple_birth_order;
    t.where = where;
    if (!cda_traits) cda_traits = t;
    traits.push_back(std::move(t));
  }

  claims.insert(claims.end(), metadata_claims.begin(), metadata_claims.end());
  if (claims.empty()) {
    issues.add(
        Errc::InsMissing,
        "Aucun INS (matricule et OID) pour le patient du message : intégration manuelle (903).");
  } else {
    id.ins = claims.front();
    for (const InsClaim& c : claims) {
      if (c.value != id.ins->value || c.oid != id.ins->oid) {
        issues.add(Errc::InsMismatch,
                   "INS différent entre " + id.ins->where + " et " + c.where +
                       " : intégration manuelle (904).",
                   {}, c.where);
      }
    }
  }
  // Traits: the first CDA is the reference; METADATA.XML and the other documents must agree.
  if (!traits.empty()) {
    const Traits& ref = cda_traits ? *cda_traits : traits.front();
    id.traits = ref;
    for (const Traits& t : traits) {
      if (&t == &ref) continue;
      compareTrait(ref, t, "nom de naissance", ref.birth_family, t.birth_family, issues);
      compareTrait(ref, t, "premier prénom", ref.first_given, t.first_given, issues);
      compareTrait(ref, t, "date de naissance", ref.birth_date, t.birth_date, issues);
      compareTrait(ref, t, "sexe", ref.sex, t.sex, issues);
    }
  }
  if (id.ins) {
    IssueList nir_issues;
    nir::checkSystem(id.ins->oid, nir_issues, id.ins->where);
    nir::Traits nt;
    if (id.traits.sex == "M" || id.traits.sex == "F") nt.sex = id.traits.sex[0];
    if (id.traits.birth_date.size() >= 7) {
      nt.birth_year = std::stoi(id.traits.birth_date.substr(0, 4));
      nt.birth_month = std::stoi(id.traits.birth_date.substr(5, 2));
    }
    if (id.traits.birth_place.size() == 5) nt.birth_place_insee = id.traits.birth_place;
    nir::CheckResult check = nir::check(id.ins->value, nt, id.ins->where);
    nir_issues.append(check.issues);
    issues.append(nir_issues);
    id.nir_valid = check.valid() && !nir_issues.hasErrors();
    id.normalized = check.normalized;
    // An INS travels with its traits (CI-SIS: mandatory, no nullFlavor): 905 when some miss.
    std::vector<std::string> missing;
    if (id.traits.birth_family.empty()) missing.emplace_back("nom de naissance");
    if (id.traits.first_given.empty()) missing.emplace_back("premier prénom");
    if (id.traits.birth_date.empty()) missing.emplace_back("date de naissance");
    if (id.traits.sex.empty()) missing.emplace_back("sexe");
    if (cda_traits && id.traits.birth_place.empty()) missing.emplace_back("lieu de naissance");
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing)
        list += (list.empty() ? "" : ", ") + m;
      issues.add(Errc::InsTraitsIncomplete,
                 "INS présent mais traits incomplets (" + list + ") : intégration manuelle (905).",
                 {}, id.ins->where);
    }
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// Facts

void addMessageFacts(Facts& f, const parse::MimeMessage& m, const std::string& now,
                     const EssProfile& ess) {
  f.text("message.id", m.message_id)
      .text("message.subject", m.subject)
      .text("message.from", m.from)
      .text("message.fromName", m.from_name.empty() ? m.from : m.from_name)
      .text("message.date", fhirDateOfMail(m.date).empty() ? now : fhirDateOfMail(m.date))
      .text("message.received", now)
      .text("message.text", m.text_body);
  f.text("ess.name", ess.name)
      .text("ess.organization.name", ess.organization.name)
      .text("ess.organization.identifier.system", ess.organization.identifier_system)
      .text("ess.organization.identifier.value", ess.organization.identifier_value)
      .text("ess.mailbox", ess.organization.mailbox);
}

void addPatientFacts(Facts& f, const Identity& id) {
  if (id.ins && id.nir_valid) {
    const auto& system = nir::identifierSystem(nir::kindOfSystem(id.ins->oid));
    f.text("patient.ins.value", id.normalized)
        .text("patient.ins.system", std::string(system.uri))
        .text("patient.ins.type", std::string(system.fr_core_type))
        .text("patient.ins.use", std::string(system.use))
        .text("patient.identityStatus", "PROV");
  }
  const Traits& t = id.traits;
  f.text("patient.birthFamily", t.birth_family)
      .text("patient.usedFamily", t.used_family == t.birth_family ? "" : t.used_family)
      .text("patient.firstGiven", t.first_given)
      .text("patient.givens", t.givens.empty() ? t.first_given : t.givens)
      .text("patient.birthDate", t.birth_date)
      .text("patient.birthPlace.insee", t.birth_place)
      .text("patient.birthPlace.city", t.birth_city);
  if (t.sex == "M") f.text("patient.gender", "male");
  if (t.sex == "F") f.text("patient.gender", "female");
  if (t.sex == "U") f.text("patient.gender", "unknown");
  if (t.birth_order > 0) f.integer("patient.birthOrder", t.birth_order);
  if (!id.ins) f.boolean("patient.toIdentify", true);
}

void addCode(Facts& f, std::string_view name, const parse::CdaCode& c) {
  if (!c.code.empty()) f.coding(name, fhir::systemOfOid(c.system), c.code, c.display);
}

void addXdsCode(Facts& f, std::string_view name, const std::optional<parse::XdsCode>& c) {
  if (c && !c->code.empty()) f.coding(name, fhir::systemOfOid(c->scheme), c->code, c->display);
}

// idNat_PS "8" + RPPS, idNat_Struct "1" + FINESS (spec digest §3.2–3.3).
std::string rppsOf(const std::vector<parse::CdaId>& ids, std::string& idnps) {
  for (const auto& id : ids) {
    if (id.root == "1.2.250.1.71.4.2.1" && !id.extension.empty()) {
      idnps = id.extension;
      if (id.extension.size() == 12 && id.extension[0] == '8') return id.extension.substr(1);
    }
  }
  return {};
}

std::string finessOf(const std::vector<parse::CdaId>& ids, std::string& idnst) {
  for (const auto& id : ids) {
    if (id.root == "1.2.250.1.71.4.2.2" && !id.extension.empty()) {
      idnst = id.extension;
      if (id.extension.size() == 10 && id.extension[0] == '1') return id.extension.substr(1);
    }
  }
  return {};
}

// XDS uniqueId "root^extension", an OID or a UUID → masterIdentifier (IHE MHD rules).
void addMasterIdentifier(Facts& f, std::string_view unique_id) {
  if (unique_id.empty()) return;
  if (std::size_t caret = unique_id.find('^'); caret != std::string_view::npos) {
    f.text("doc.masterIdentifier.system", "urn:oid:" + std::string(unique_id.substr(0, caret)));
    f.text("doc.masterIdentifier.value", std::string(unique_id.substr(caret + 1)));
  } else if (unique_id.find('-') != std::string_view::npos &&
             unique_id.find('.') == std::string_view::npos) {
    f.text("doc.masterIdentifier.system", "urn:ietf:rfc:3986");
    f.text("doc.masterIdentifier.value", "urn:uuid:" + lower(unique_id));
  } else {
    f.text("doc.masterIdentifier.system", "urn:ietf:rfc:3986");
    f.text("doc.masterIdentifier.value", "urn:oid:" + std::string(unique_id));
  }
}

// The vital-signs section (LOINC 8716-3) is mapped when its entries are; other sections stay text.
constexpr std::string_view kVitalSignsSection = "8716-3";

// `raw_sha1`: the SHA-1 of `bytes` when already computed (checked against METADATA.XML), or "".
void addDocumentFacts(Facts& f, const std::string& path, std::string_view bytes,
                      std::string_view raw_sha1, const parse::XdsDocumentEntry& entry,
                      const parse::CdaDocument& cda, const std::string& now) {
  f.text("doc.path", path)
      .text("doc.entryUuid", entry.entry_uuid.rfind("urn:", 0) == 0 ? entry.entry_uuid : "");
  std::string cda_id =
      cda.id.extension.empty() ? cda.id.root : cda.id.root + "^" + cda.id.extension;
  addMasterIdentifier(f, !entry.unique_id.empty() ? entry.unique_id : cda_id);
  addCode(f, "doc.code", cda.code);
  if (entry.type_code) {
    addXdsCode(f, "doc.type", entry.type_code);
  } else {
    addCode(f, "doc.type", cda.code);
  }
  addXdsCode(f, "doc.class", entry.class_code);
  addXdsCode(f, "doc.format", entry.format_code);
  addXdsCode(f, "doc.facilityType", entry.healthcare_facility_type);
  addXdsCode(f, "doc.practiceSetting", entry.practice_setting);
  for (const auto& c : entry.confidentiality) {
    if (!c.code.empty())
      f.coding("doc.confidentiality", fhir::systemOfOid(c.scheme), c.code, c.display);
  }
  if (entry.confidentiality.empty() && !cda.confidentiality.empty()) {
    f.coding("doc.confidentiality", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
             cda.confidentiality, "");
  }
  f.text("doc.title", !cda.title.empty() ? cda.title : entry.title);
  f.text("doc.date", fhir::dateTimeOfTs(cda.effective_time).value_or(""));
  // DocumentReference.date is an instant: the CDA's time when it has a zone, else XDS creationTime
  // (UTC by definition), else the time of intake.
  std::string instant = fhir::instantOfTs(cda.effective_time).value_or("");
  if (instant.empty() && !entry.creation_time.empty())
    instant = fhir::instantOfTs(entry.creation_time + "+0000").value_or("");
  f.text("doc.instant", instant.empty() ? now : instant);
  f.text("doc.contentType", entry.mime_type.empty() ? "text/xml" : entry.mime_type);
  f.text("doc.language", !cda.language.empty() ? cda.language : entry.language);
  f.text("doc.data", base64(bytes));
  f.integer("doc.size", static_cast<std::int64_t>(bytes.size()));
  f.text("doc.hash", raw_sha1.empty() ? sha1Base64(bytes) : base64(raw_sha1));
  if (!cda.non_xml_data.empty() && cda.non_xml_media_type == "application/pdf") {
    f.text("doc.pdf.data", base64(cda.non_xml_data));
    f.integer("doc.pdf.size", static_cast<std::int64_t>(cda.non_xml_data.size()));
    f.text("doc.pdf.hash", sha1Base64(cda.non_xml_data));
  }
  addCode(f, "doc.serviceEvent", cda.service_event_code);
  f.text("doc.period.start", fhir::dateTimeOfTs(!cda.encounter_start.empty() ? cda.encounter_start
                                                                             : entry.service_start)
                                 .value_or(""));
  f.text("doc.period.end",
         fhir::dateTimeOfTs(!cda.encounter_end.empty() ? cda.encounter_end : entry.service_stop)
             .value_or(""));

  if (!cda.authors.empty()) {
    const parse::CdaAuthor& a = cda.authors.front();
    std::string idnps;
    std::string idnst;
    f.text("author.rpps", rppsOf(a.ids, idnps)).text("author.idnps", idnps);
    f.text("author.family", a.family).text("author.given", a.given);
    addCode(f, "author.specialty", a.specialty);
    f.text("author.org.finess", finessOf(a.organization_ids, idnst))
        .text("author.org.idnst", idnst);
    f.text("author.org.name", a.organization_name);
  }
  std::string idnst;
  f.text("custodian.finess", finessOf(cda.custodian_ids, idnst)).text("custodian.idnst", idnst);
  f.text("custodian.name", cda.custodian_name);
  f.text("encounter.start", fhir::dateTimeOfTs(cda.encounter_start).value_or(""));
  f.text("encounter.end", fhir::dateTimeOfTs(cda.encounter_end).value_or(""));
  addCode(f, "encounter.facilityType", cda.encounter_facility_type);

  const std::string doc_date = fhir::dateTimeOfTs(cda.effective_time).value_or("");
  for (const parse::CdaVital& v : cda.vitals) {
    char* end = nullptr;
    const double value = std::strtod(v.value.c_str(), &end);
    if (v.value.empty() || end == nullptr || *end != '\0') continue;  // the parser reported it
    std::string time = fhir::dateTimeOfTs(v.effective_time).value_or(doc_date);
    f.record("vitals",
             {{"code", f.keepCoding(fhir::systemOfOid(v.code.system), v.code.code, v.code.display)},
              {"value", map::Value::ofDecimal(value)},
              {"unit", f.keepText(v.unit)},
              {"time", f.keepText(time)}});
  }
  for (const parse::CdaSection& s : cda.sections) {
    f.record("sections",
             {{"code", f.keepCoding(fhir::systemOfOid(s.code.system), s.code.code, s.code.display)},
              {"title", f.keepText(!s.title.empty() ? s.title : s.code.display)},
              {"text", f.keepText(s.text)}});
  }
}

void addAttachmentFacts(Facts& f, std::string_view filename, std::string_view content_type,
                        std::string_view kind, std::string_view description,
                        std::string_view bytes) {
  f.text("attachment.filename", std::string(filename))
      .text("attachment.contentType",
            std::string(content_type.empty() ? "application/octet-stream" : content_type))
      .text("attachment.kind", std::string(kind))
      .text("attachment.description", std::string(description))
      .text("attachment.data", base64(bytes))
      .integer("attachment.size", static_cast<std::int64_t>(bytes.size()))
      .text("attachment.hash", sha1Base64(bytes));
}

std::string kindOf(const parse::MimeAttachment& a) {
  if (a.content_type == "application/pdf" || endsWithNoCase(a.filename, ".pdf"))
    return "Document PDF";
  if (a.content_type.rfind("image/", 0) == 0) return "Image";
  if (a.content_type.rfind("text/", 0) == 0) return "Texte";
  return "Pièce jointe";
}

bool isXdmName(std::string_view filename) {
  return lower(filename) == "ihe_xdm.zip";
}

bool looksLikeXml(std::string_view bytes) {
  std::size_t i = 0;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  while (i < bytes.size() &&
         (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t'))
    ++i;
  return i < bytes.size() && bytes[i] == '<';
}

bool isJsonAttachment(const parse::MimeAttachment& a) {
  return a.content_type.find("json") != std::string::npos || endsWithNoCase(a.filename, ".json");
}

// A FHIR Bundle sent as an attachment: its entries join the message's transaction, each with a
// fullUrl and a request (POST of its type when the sender gave none). False when the bytes are
// not a Bundle of resources.
bool copyBundle(std::string_view bytes, std::uint64_t seed, BundleWriter& bundle, IssueList& issues,
                const std::string& where) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(bytes.data(), bytes.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("resourceType") ||
      !doc["resourceType"].IsString() ||
      std::string_view(doc["resourceType"].GetString()) != "Bundle") {
    return false;
  }
  if (!doc.HasMember("entry") || !doc["entry"].IsArray()) return false;
  json::JsonOut& w = bundle.entries();
  std::size_t index = 0;
  for (const auto& entry : doc["entry"].GetArray()) {
    const std::string here = where + " entry[" + std::to_string(index++) + "]";
    if (!entry.IsObject() || !entry.HasMember("resource") || !entry["resource"].IsObject() ||
        !entry["resource"].HasMember("resourceType") ||
        !entry["resource"]["resourceType"].IsString()) {
      issues.add(Errc::FhirStructure, "Entrée de Bundle sans ressource : ignorée.", {}, here);
      continue;
    }
    const std::string type = entry["resource"]["resourceType"].GetString();
    std::string full_url = entry.HasMember("fullUrl") && entry["fullUrl"].IsString()
                               ? entry["fullUrl"].GetString()
                               : "urn:uuid:" + map::deriveUuid(seed, here);
    w.StartObject();
    w.Key("fullUrl");
    w.String(full_url);
    w.Key("resource");
    json::JsonOutSax sax{w};
    entry["resource"].Accept(sax);
    w.Key("request");
    if (entry.HasMember("request") && entry["request"].IsObject() &&
        entry["request"].HasMember("method") && entry["request"].HasMember("url")) {
      entry["request"].Accept(sax);
    } else {
      w.StartObject();
      w.Key("method");
      w.String("POST");
      w.Key("url");
      w.String(type);
      w.EndObject();
    }
    w.EndObject();
    bundle.emitted().push_back({"attachment-entry", type, full_url});
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

bool looksLikeMail(std::string_view bytes) {
  if (bytes.substr(0, 5) == "From ") return true;  // mbox
  static constexpr std::string_view kFields[] = {
      "from:",    "received:", "message-id:", "mime-version:", "return-path:",
      "subject:", "to:",       "date:",       "delivered-to:", "x-"};
  std::string_view first = bytes.substr(0, bytes.find('\n'));
  std::string head = lower(first.substr(0, 32));
  for (std::string_view f : kFields) {
    if (head.rfind(f, 0) == 0) return true;
  }
  return false;
}

MessageIntake::MessageIntake(std::shared_ptr<const MssProfile> mss,
                             std::shared_ptr<const EssProfile> ess, const Clock& clock,
                             MessageLimits limits)
    : mss_(std::move(mss)),
      ess_(std::move(ess)),
      clock_(&clock),
      limits_(limits),
      forms_(ess_, clock) {}

IngestResult MessageIntake::ingest(std::string_view bytes) const {
  auto parsed = parse::parseMime(bytes, limits_.mime);
  if (!parsed) return quarantined(parsed.error());
  const parse::MimeMessage& mail = *parsed;
  const std::string now = fhir::dateTimeOf(clock_->now());
  const std::uint64_t seed = contentSeed(bytes);
  const FactSchema& vocabulary = mssVocabulary();

  IngestResult r;
  r.message_id = mail.message_id;
  r.issues.append(mail.issues);
  BundleWriter bundle;
  bool to_qualify = false;

  // The IHE_XDM.ZIP, by its name (MSSanté) or, failing that, any zip holding
  // IHE_XDM/…/METADATA.XML.
  const parse::MimeAttachment* xdm_part = nullptr;
  std::optional<parse::XdmArchive> archive;
  for (const auto& a : mail.attachments) {
    if (isXdmName(a.filename)) {
      if (!parse::looksLikeZip(a.bytes)) {
        return quarantined(
            makeError(Errc::XdmNotZip, "La pièce jointe IHE_XDM.ZIP n'est pas une archive zip."),
            mail.message_id);
      }
      auto zip = parse::readXdm(a.bytes, limits_.zip);
      if (!zip) return quarantined(zip.error(), mail.message_id);
      xdm_part = &a;
      archive = std::move(*zip);
      break;
    }
  }
  if (!xdm_part) {
    for (const auto& a : mail.attachments) {
      if (!parse::looksLikeZip(a.bytes)) continue;
      auto zip = parse::readXdm(a.bytes, limits_.zip);
      if (zip && !zip->submissionSets().empty()) {
        xdm_part = &a;
        archive = std::move(*zip);
        break;
      }
    }
  }

  if (archive) {
    // ---- IHE XDM: METADATA.XML of each submission set, each document checked against it.
    const std::vector<std::string> subsets = archive->submissionSets();
    if (subsets.empty()) {
      return quarantined(makeError(Errc::XdmNoMetadata, "IHE_XDM.ZIP sans METADATA.XML."),
                         mail.message_id);
    }
    struct Doc {
      std::string path;
      const parse::XdmEntry* entry;
      const parse::XdsDocumentEntry* meta;
      std::optional<parse::CdaDocument> cda;
      std::string sha1;  // raw, when METADATA.XML gave a hash to check
    };
    std::vector<parse::XdsSubmission> submissions;
    submissions.reserve(subsets.size());  // Doc::meta points into these
    std::vector<Doc> docs;
    for (const std::string& subset : subsets) {
      const parse::XdmEntry* metadata = archive->find(subset + "/METADATA.XML");
      auto sub = parse::parseXdsMetadata(metadata != nullptr ? std::string_view(metadata->bytes)
                                                             : std::string_view{});
      if (!sub) return quarantined(sub.error(), mail.message_id);
      submissions.push_back(std::move(*sub));
      r.issues.append(submissions.back().issues);
      for (const parse::XdsDocumentEntry& e : submissions.back().documents) {
        const parse::XdmEntry* file = archive->resolve(subset, e.uri);
        if (file == nullptr) {
          return quarantined(makeError(Errc::XdmDocumentMissing,
                                       "METADATA.XML décrit " + e.uri + ", absent de l'archive."),
                             mail.message_id);
        }
        std::string digest = e.hash.empty() ? std::string() : sha1(file->bytes);
        if (!e.hash.empty() && lower(e.hash) != hexOf(digest)) {
          return quarantined(makeError(Errc::XdmHashMismatch, "Empreinte SHA-1 de " + file->path +
                                                                  " différente de METADATA.XML."),
                             mail.message_id);
        }
        if (e.size && *e.size != file->bytes.size()) {
          return quarantined(makeError(Errc::XdmSizeMismatch,
                                       "Taille de " + file->path + " différente de METADATA.XML."),
                             mail.message_id);
        }
        Doc doc{file->path, file, &e, std::nullopt, std::move(digest)};
        if (e.mime_type.find("xml") != std::string::npos ||
            (e.mime_type.empty() && looksLikeXml(file->bytes))) {
          auto cda = parse::parseCda(file->bytes);
          if (!cda) return quarantined(cda.error(), mail.message_id);
          for (Issue issue : cda->issues.items()) {
            if (issue.location.empty()) issue.location = file->path;
            r.issues.add(std::move(issue));
          }
          doc.cda = std::move(*cda);
        }
        docs.push_back(std::move(doc));
      }
    }

    // ---- One patient for the message.
    std::vector<const parse::CdaDocument*> cdas;
    std::vector<std::string> cda_paths;
    for (const Doc& d : docs) {
      if (d.cda) {
        cdas.push_back(&*d.cda);
        cda_paths.push_back(d.path);
      }
    }
    Identity identity = consolidate(submissions, cdas, cda_paths, r.issues);

    // X-MSS-INS says whether the archive holds a qualified INS; X-MSS-CODECDA lists the CDA codes.
    if (auto ins_header = mail.header("X-MSS-INS")) {
      const bool says_ins = lower(*ins_header).find('o') != std::string::npos;
      const bool has_ins =
          identity.ins.has_value() && !r.issues.contains(Errc::InsTraitsIncomplete);
      if (says_ins != has_ins) {
        r.issues.add(Errc::MssHeaderMismatch,
                     says_ins ? "En-tête X-MSS-INS: O, mais pas d'INS complet dans l'archive."
                              : "En-tête X-MSS-INS: N, mais l'archive porte un INS.",
                     {}, "X-MSS-INS");
      }
    }
    if (auto codes_header = mail.header("X-MSS-CODECDA")) {
      for (const parse::CdaDocument* c : cdas) {
        if (codes_header->find(c->code.code) == std::string::npos) {
          r.issues.add(Errc::MssHeaderMismatch,
                       "En-tête X-MSS-CODECDA sans le code du document " + c->code.code + ".", {},
                       "X-MSS-CODECDA");
        }
      }
    }

    Facts patient_facts(vocabulary);
    addMessageFacts(patient_facts, mail, now, *ess_);
    addPatientFacts(patient_facts, identity);
    bundle.append(mss_->patient(), patient_facts, seed);
    const std::string patient_url = bundle.fullUrlOf("patient");

    for (std::size_t i = 0; i < docs.size(); ++i) {
      const Doc& d = docs[i];
      const std::size_t first = bundle.emitted().size();
      const std::uint64_t doc_seed = seed ^ contentSeed(d.path);
      MappingReport report;
      report.document = d.path;
      Facts f(vocabulary);
      addMessageFacts(f, mail, now, *ess_);
      f.text("bundle.patient", patient_url);
      if (!d.cda) {
        addAttachmentFacts(f, d.path, d.meta->mime_type, "Document", d.meta->title, d.entry->bytes);
        bundle.append(mss_->attachment(), f, doc_seed);
        report.kind = d.meta->mime_type.empty() ? "document" : d.meta->mime_type;
        report.mapping = mss_->attachment().name();
        report.text_only.push_back("document non CDA gardé tel quel");
      } else {
        const parse::CdaDocument& cda = *d.cda;
        addDocumentFacts(f, d.path, d.entry->bytes, d.sha1, *d.meta, cda, now);
        bundle.append(mss_->document(), f, doc_seed);
        report.kind =
            "CDA " + cda.code.code + (cda.structured ? " (structuré)" : " (non structuré)");
        report.mapping = mss_->document().name();
        f.text("bundle.document", fullUrlFrom(bundle.emitted(), first, "document"));
        f.text("bundle.author", fullUrlFrom(bundle.emitted(), first, "author-role"));
        f.text("bundle.custodian", fullUrlFrom(bundle.emitted(), first, "custodian"));
        const map::Mapping* type = mss_->documentTypeFor(cda.code.code, cda.template_ids);
        bool vitals_mapped = false;
        if (type != nullptr) {
          const std::size_t before = bundle.emitted().size();
          bundle.append(*type, f, doc_seed ^ 0x5bd1e995ULL);
          report.mapping += " + " + type->name();
          for (std::size_t k = before; k < bundle.emitted().size(); ++k) {
            vitals_mapped = vitals_mapped || bundle.emitted()[k].key.rfind("vital#", 0) == 0;
          }
        } else {
          r.issues.add(Errc::CdaDocumentUnsupported,
                       "Pas de correspondance FHIR pour le type de document " + cda.code.code +
                           " : gardé comme DocumentReference.",
                       {}, d.path);
          report.skipped.push_back("type de document " + cda.code.code +
                                   " sans correspondance : entrées non reprises");
        }
        for (const parse::CdaSection& s : cda.sections) {
          if (vitals_mapped && s.code.code == kVitalSignsSection) continue;
          report.text_only.push_back("section « " + (!s.title.empty() ? s.title : s.code.code) +
                                     " »");
        }
        if (!vitals_mapped && !cda.vitals.empty()) {
          report.skipped.push_back(std::to_string(cda.vitals.size()) +
                                   " signe(s) vital(aux) non repris");
        }
        for (const Issue& issue : cda.issues.items()) {
          if (issue.code == Errc::CdaValueInvalid) report.skipped.push_back(issue.message);
        }
        if (!cda.structured)
          report.text_only.push_back("corps non structuré (" + cda.non_xml_media_type + ")");
      }
      report.mapped = countTypes(bundle.emitted(), first);
      r.reports.push_back(std::move(report));
    }

    // Other parts of the mail (the PDF rendition…), kept as they are.
    for (const auto& a : mail.attachments) {
      if (&a == xdm_part) continue;
      const std::size_t first = bundle.emitted().size();
      Facts f(vocabulary);
      addMessageFacts(f, mail, now, *ess_);
      f.text("bundle.patient", patient_url);
      addAttachmentFacts(f, a.filename, a.content_type, kindOf(a), "Pièce jointe du message",
                         a.bytes);
      bundle.append(mss_->attachment(), f, seed ^ contentSeed(a.part_path));
      r.reports.push_back({a.filename.empty() ? "partie " + a.part_path : a.filename,
                           a.content_type,
                           mss_->attachment().name(),
                           countTypes(bundle.emitted(), first),
                           {"pièce jointe gardée telle quelle"},
                           {}});
    }
  } else {
    // ---- No XDM: FHIR attachments, a form in the body, or a request to qualify.
    std::string patient_url;
    bool handled = false;
    auto takeForm = [&](std::string_view form_bytes, const std::string& where,
                        const std::string& kind) {
      const std::size_t first = bundle.emitted().size();
      IngestResult form = forms_.ingestInto(form_bytes, bundle);
      if (form.status == IngestStatus::Quarantined) return false;
      for (Issue issue : form.issues.items()) {
        if (issue.location.empty()) issue.location = where;
        r.issues.add(std::move(issue));
      }
      r.eligibility = form.eligibility;
      r.reports.push_back(
          {where, kind, ess_->mapping().name(), countTypes(bundle.emitted(), first), {}, {}});
      if (patient_url.empty()) patient_url = fullUrlFrom(bundle.emitted(), first, "patient");
      return true;
    };
    std::vector<const parse::MimeAttachment*> kept;
    for (const auto& a : mail.attachments) {
      if (isJsonAttachment(a) && !handled) {
        if (takeForm(a.bytes, a.filename, "fiche de demande (FHIR)")) {
          handled = true;
          continue;
        }
        const std::size_t first = bundle.emitted().size();
        if (copyBundle(a.bytes, seed, bundle, r.issues, a.filename)) {
          handled = true;
          r.reports.push_back(
              {a.filename, "Bundle FHIR", "", countTypes(bundle.emitted(), first), {}, {}});
          if (patient_url.empty()) patient_url = firstOfType(bundle.emitted(), "Patient");
          continue;
        }
      }
      kept.push_back(&a);
    }
    if (!handled && !mail.text_body.empty() && forms_.recognises(mail.text_body)) {
      handled = takeForm(mail.text_body, "corps du message", "fiche de demande (texte)");
    }
    if (!handled && mail.text_body.empty() && kept.empty()) {
      return quarantined(makeError(Errc::MessageEmpty, "Message sans texte ni pièce jointe."),
                         mail.message_id);
    }
    if (!handled) {
      // PDF only or free text: the secretariat qualifies it; the patient is to be identified.
      to_qualify = true;
      r.issues.add(Errc::MessageToQualify,
                   "Demande non structurée : à qualifier par le secrétariat.");
      Facts f(vocabulary);
      addMessageFacts(f, mail, now, *ess_);
      addPatientFacts(f, Identity{});
      bundle.append(mss_->patient(), f, seed);
      patient_url = bundle.fullUrlOf("patient");
      f.text("bundle.patient", patient_url);
      const std::size_t first = bundle.emitted().size();
      bundle.append(mss_->toQualify(), f, seed ^ 1);
      r.reports.push_back({"message",
                           "demande à qualifier",
                           mss_->toQualify().name(),
                           countTypes(bundle.emitted(), first),
                           {},
                           {}});
      if (!mail.text_body.empty()) {
        Facts body(vocabulary);
        addMessageFacts(body, mail, now, *ess_);
        body.text("bundle.patient", patient_url)
            .text("bundle.request", bundle.fullUrlOf("request"));
        addAttachmentFacts(body, "message.txt", "text/plain; charset=utf-8", "Texte du message",
                           mail.subject, mail.text_body);
        const std::size_t at = bundle.emitted().size();
        bundle.append(mss_->attachment(), body, seed ^ 2);
        r.reports.push_back({"corps du message",
                             "texte libre",
                             mss_->attachment().name(),
                             countTypes(bundle.emitted(), at),
                             {"texte libre"},
                             {}});
      }
    }
    if (patient_url.empty()) patient_url = firstOfType(bundle.emitted(), "Patient");
    for (const parse::MimeAttachment* a : kept) {
      const std::size_t first = bundle.emitted().size();
      Facts f(vocabulary);
      addMessageFacts(f, mail, now, *ess_);
      f.text("bundle.patient", patient_url);
      if (to_qualify) f.text("bundle.request", bundle.fullUrlOf("request"));
      addAttachmentFacts(f, a->filename, a->content_type, kindOf(*a), "Pièce jointe du message",
                         a->bytes);
      bundle.append(mss_->attachment(), f, seed ^ contentSeed(a->part_path));
      r.reports.push_back({a->filename.empty() ? "partie " + a->part_path : a->filename,
                           a->content_type,
                           mss_->attachment().name(),
                           countTypes(bundle.emitted(), first),
                           {"pièce jointe gardée telle quelle"},
                           {}});
    }
  }

  r.status =
      (r.issues.hasErrors() || to_qualify) ? IngestStatus::Incomplete : IngestStatus::Accepted;
  r.resources = bundle.emitted();
  r.bundle_json = bundle.finish();
  return r;
}

}  // namespace liaison::pipeline
