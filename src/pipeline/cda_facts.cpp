// A CDA document → the facts the MSSanté mappings read: its header (identity, type, author,
// custodian, encounter), its sections and, one record each, its clinical entries.

#include "pipeline/cda_facts.hpp"

#include <algorithm>
#include <charconv>

#include "core/fhir/terminology.hpp"
#include "core/text/ascii.hpp"

namespace liaison::pipeline {
namespace {

std::optional<double> decimalOf(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return d;
}

map::Value keepTime(Facts& f, std::string_view ts) {
  return f.keepText(fhir::dateTimeOfTs(ts).value_or(""));
}

map::Value decimalValue(std::string_view s) {
  if (auto d = decimalOf(s)) return map::Value::ofDecimal(*d);
  return {};
}

bool isNumeric(std::string_view type) {
  return type == "PQ" || type == "INT" || type == "REAL";
}
bool isCoded(std::string_view type) {
  return type == "CD" || type == "CE" || type == "CV" || type == "CO" || type == "CS";
}

}  // namespace

// CDA values → mapping values: numbers as decimals, codes as Codings, times as FHIR dateTimes.
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

// An identifier written as XDS writes a uniqueId ("root^extension", an OID or a UUID) → FHIR
// system and value (IHE MHD rules for DocumentReference.masterIdentifier).
std::pair<std::string, std::string> identifierOf(std::string_view unique_id) {
  if (unique_id.empty()) return {};
  if (std::size_t caret = unique_id.find('^'); caret != std::string_view::npos) {
    return {"urn:oid:" + std::string(unique_id.substr(0, caret)),
            std::string(unique_id.substr(caret + 1))};
  }
  if (unique_id.find('-') != std::string_view::npos &&
      unique_id.find('.') == std::string_view::npos) {
    return {"urn:ietf:rfc:3986", "urn:uuid:" + ascii::lower(unique_id)};
  }
  return {"urn:ietf:rfc:3986", "urn:oid:" + std::string(unique_id)};
}

std::string uniqueIdOf(const parse::CdaId& id) {
  return id.extension.empty() ? id.root : id.root + "^" + id.extension;
}

std::string keyOf(const std::pair<std::string, std::string>& identifier) {
  return identifier.first + "|" + identifier.second;
}

std::int64_t versionOf(std::string_view v) {
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc{} && ptr == v.data() + v.size() && n > 0 ? n : 0;
}

map::Value keepCoding(Facts& f, const parse::CdaCode& c) {
  return f.keepCoding(fhir::systemOfOid(c.system), c.code, c.display);
}

// One CDA entry as the record entry mappings read (mappings/README.md, "CDA entries").
void addEntryRecord(Facts& f, const parse::CdaDocument& doc, std::size_t index,
                    const std::string& doc_date) {
  const parse::CdaEntry& e = doc.entries[index];
  const parse::CdaEntry* parent =
      e.parent >= 0 && static_cast<std::size_t>(e.parent) < doc.entries.size()
          ? &doc.entries[static_cast<std::size_t>(e.parent)]
          : nullptr;
  const parse::CdaSection* section =
      e.section < doc.sections.size() ? &doc.sections[e.section] : nullptr;

  // The time of a measure is its own, else that of the statements around it, else the document's.
  std::string_view time = !e.time.empty() ? std::string_view(e.time) : e.time_low;
  for (const parse::CdaEntry* p = parent; time.empty() && p != nullptr;
       p = p->parent >= 0 ? &doc.entries[static_cast<std::size_t>(p->parent)] : nullptr) {
    time = !p->time.empty() ? std::string_view(p->time) : p->time_low;
  }
  std::string time_text = fhir::dateTimeOfTs(time).value_or("");
  if (time_text.empty()) time_text = doc_date;
  // A problem's or an allergy's clinical status is that of the concern around it.
  std::string_view concern = parent != nullptr && !parent->status.empty()
                                 ? std::string_view(parent->status)
                                 : std::string_view(e.status);
  if (concern.empty()) concern = "active";

  // What the CI-SIS nests in a problem or an allergy (its direct children): the status
  // (FR-Statut-du-probleme, LOINC 33999-4), the severity (FR-Severite, SEV) and, for an allergy,
  // the reaction (an FR-Probleme, IHE PCC Problem Entry, by MFST). Its subtree follows it.
  const parse::CdaValue* status_value = nullptr;
  const parse::CdaValue* severity = nullptr;
  const parse::CdaEntry* reaction = nullptr;
  for (std::size_t j = index + 1;
       j < doc.entries.size() && doc.entries[j].parent >= static_cast<int>(index); ++j) {
    const parse::CdaEntry& c = doc.entries[j];
    if (c.parent != static_cast<int>(index) || c.value.null) continue;
    if (c.code.code == "33999-4" && status_value == nullptr) {
      status_value = &c.value;
    } else if (c.code.code == "SEV" && severity == nullptr) {
      severity = &c.value;
    } else if (reaction == nullptr &&
               std::any_of(c.template_ids.begin(), c.template_ids.end(), [](std::string_view t) {
                 return t.substr(0, t.find('|')) == "1.3.6.1.4.1.19376.1.5.3.1.4.5";
               })) {
      reaction = &c;
    }
  }
  auto codedOf = [&](const parse::CdaValue* x) {
    return x != nullptr && isCoded(x->type) ? keepCoding(f, x->code) : map::Value{};
  };

  const parse::CdaValue& v = e.value;
  auto id = identifierOf(e.id.root.empty() ? "" : uniqueIdOf(e.id));
  const std::string start = !e.time_low.empty() ? e.time_low : e.time;
  f.record("entries",
           {{"kind", f.keepText(e.kind)},
            {"mood", f.keepText(e.mood.empty() ? "EVN" : e.mood)},
            {"classCode", f.keepText(e.class_code)},
            {"status", f.keepText(e.status)},
            {"concernStatus", f.keepText(std::string(concern))},
            {"negated", e.negated ? map::Value::ofBool(true) : map::Value{}},
            {"code", keepCoding(f, e.code)},
            {"codeText", f.keepText(!e.code_text.empty() ? e.code_text : e.code.display)},
            {"text", f.keepText(e.text)},
            {"idSystem", f.keepText(id.first)},
            {"idValue", f.keepText(id.second)},
            {"time", f.keepText(time_text)},
            {"start", keepTime(f, start)},
            {"end", keepTime(f, e.time_high)},
            {"valueType", f.keepText(v.null ? "" : v.type)},
            {"quantity", !v.null && isNumeric(v.type) ? decimalValue(v.value) : map::Value{}},
            {"unit", f.keepText(v.unit)},
            {"coded", !v.null && isCoded(v.type) ? keepCoding(f, v.code) : map::Value{}},
            {"valueText", f.keepText(!v.text.empty() ? v.text : v.code.display)},
            {"string",
             !v.null && (v.type == "ST" || v.type == "ED") ? f.keepText(v.value) : map::Value{}},
            {"boolean", !v.null && v.type == "BL" && (v.value == "true" || v.value == "false")
                            ? map::Value::ofBool(v.value == "true")
                            : map::Value{}},
            {"valueLow", decimalValue(v.low)},
            {"valueHigh", decimalValue(v.high)},
            {"interpretation", keepCoding(f, e.interpretation)},
            {"site", keepCoding(f, e.target_site)},
            // FR-Traitement writes a dose as IVL_PQ (low = high) as often as PQ.
            {"dose", decimalValue(!e.dose.value.empty() ? e.dose.value : e.dose.low)},
            {"doseUnit", f.keepText(e.dose.unit)},
            {"route", keepCoding(f, e.route)},
            {"material", keepCoding(f, e.material)},
            {"materialName", f.keepText(e.material_name)},
            {"allergen", keepCoding(f, e.participant)},
            {"allergenName", f.keepText(e.participant_name)},
            {"refLow", decimalValue(e.reference_range_low)},
            {"refHigh", decimalValue(e.reference_range_high)},
            {"refUnit", f.keepText(e.reference_range_unit)},
            {"clinicalStatus", codedOf(status_value)},
            {"severity", codedOf(severity)},
            {"reaction", codedOf(reaction != nullptr ? &reaction->value : nullptr)},
            {"reactionText", reaction == nullptr             ? map::Value{}
                             : !reaction->value.text.empty() ? f.keepText(reaction->value.text)
                             : !reaction->value.code.display.empty()
                                 ? f.keepText(reaction->value.code.display)
                                 : f.keepText(reaction->text)},
            {"section", f.keepText(section != nullptr ? section->title : "")},
            {"sectionCode", section != nullptr ? keepCoding(f, section->code) : map::Value{}},
            {"parentCode", parent != nullptr ? keepCoding(f, parent->code) : map::Value{}}});
}

std::string addCdaFacts(Facts& f, std::string_view path, const parse::XdsDocumentEntry& entry,
                        const parse::CdaDocument& cda, const std::string& now) {
  f.text("doc.path", std::string(path))
      .text("doc.entryUuid", entry.entry_uuid.rfind("urn:", 0) == 0 ? entry.entry_uuid : "");
  auto master = identifierOf(!entry.unique_id.empty() ? entry.unique_id : uniqueIdOf(cda.id));
  f.text("doc.masterIdentifier.system", master.first)
      .text("doc.masterIdentifier.value", master.second);
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
  const std::string doc_date = fhir::dateTimeOfTs(cda.effective_time).value_or("");
  f.text("doc.date", doc_date);
  // DocumentReference.date is an instant: the CDA's time when it has a zone, else XDS
  // creationTime (UTC by definition), else the time of intake.
  std::string instant = fhir::instantOfTs(cda.effective_time).value_or("");
  if (instant.empty() && !entry.creation_time.empty())
    instant = fhir::instantOfTs(entry.creation_time + "+0000").value_or("");
  f.text("doc.instant", instant.empty() ? now : instant);
  const std::string content_type = entry.mime_type.empty() ? "text/xml" : entry.mime_type;
  f.text("doc.contentType", content_type);
  f.text("doc.language", !cda.language.empty() ? cda.language : entry.language);
  if (const std::int64_t v = versionOf(cda.version); v > 0) f.integer("doc.version", v);
  for (const parse::CdaRelatedDocument& rel : cda.related_documents) {
    if (rel.type_code != "RPLC" || rel.id.root.empty()) continue;
    auto replaced = identifierOf(uniqueIdOf(rel.id));
    f.record("doc.replaces", {{"system", f.keepText(std::move(replaced.first))},
                              {"value", f.keepText(std::move(replaced.second))}});
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
  for (const parse::CdaSection& s : cda.sections) {
    f.record("sections", {{"code", keepCoding(f, s.code)},
                          {"title", f.keepText(!s.title.empty() ? s.title : s.code.display)},
                          {"text", f.keepText(s.text)}});
  }
  return content_type;
}

// Sections whose entries no mapping read stay text: the report says which.
void reportSections(const parse::CdaDocument& cda, const std::vector<bool>& taken,
                    MappingReport& report) {
  std::vector<int> unread(cda.sections.size(), 0);
  std::vector<int> read(cda.sections.size(), 0);
  std::vector<bool> subtree_taken(cda.entries.size(), false);
  // Entries come in document order, children after their parent: propagate upwards backwards.
  for (std::size_t k = cda.entries.size(); k-- > 0;) {
    if (taken[k]) subtree_taken[k] = true;
    const int p = cda.entries[k].parent;
    if (subtree_taken[k] && p >= 0) subtree_taken[static_cast<std::size_t>(p)] = true;
  }
  for (std::size_t k = 0; k < cda.entries.size(); ++k) {
    const parse::CdaEntry& e = cda.entries[k];
    if (e.parent >= 0 || e.section >= cda.sections.size()) continue;
    (subtree_taken[k] ? read : unread)[e.section]++;
  }
  for (std::size_t s = 0; s < cda.sections.size(); ++s) {
    const parse::CdaSection& section = cda.sections[s];
    const std::string name =
        "section « " + (!section.title.empty() ? section.title : section.code.code) + " »";
    if (unread[s] > 0) {
      report.text_only.push_back(name + " : " + std::to_string(unread[s]) +
                                 " entrée(s) gardée(s) en texte");
    } else if (read[s] == 0 && !section.text.empty()) {
      // A section with neither text nor entries of its own (a chapter around subsections)
      // keeps nothing.
      report.text_only.push_back(name);
    }
  }
}

// `raw_sha1`: the SHA-1 of the bytes when already computed (checked against METADATA.XML).
}  // namespace liaison::pipeline
