#include "pipeline/patient_identity.hpp"

#include <charconv>

#include "core/fhir/terminology.hpp"
#include "core/nir/nir.hpp"
#include "core/text/ascii.hpp"
#include "parse/form/value_parser.hpp"

namespace liaison::pipeline {
namespace {

// The first word of a list of given names ("CHLOE EMMA" → "CHLOE"; "Jean-Pierre Paul" →
// "Jean-Pierre"): the INS first given name when only the list is stated.
std::string firstWordOf(std::string_view list) {
  std::size_t start = list.find_first_not_of(" ,");
  if (start == std::string_view::npos) return {};
  std::size_t end = list.find_first_of(" ,", start);
  return std::string(list.substr(start, end == std::string_view::npos ? end : end - start));
}

void append(std::string& list, std::string_view word) {
  if (word.empty()) return;
  if (!list.empty()) list += ' ';
  list += word;
}

bool isInsOid(std::string_view oid) {
  return nir::kindOfSystem(oid) != nir::IdentifierKind::Unknown;
}

std::string comparable(std::string_view s) {
  return parse::normalizeLabel(s);
}

void compareTrait(const PatientTraits& a, const PatientTraits& b, std::string_view name,
                  const std::string& va, const std::string& vb, IssueList& issues) {
  if (va.empty() || vb.empty() || comparable(va) == comparable(vb)) return;
  issues.add(Errc::InsTraitsMismatch,
             "Trait « " + std::string(name) + " » différent entre " + a.where + " et " + b.where +
                 " (904).",
             {}, b.where);
}

void addMetadataClaim(const std::optional<parse::XdsIdentifier>& id, std::string where,
                      IdentityStatements& into) {
  if (id && isInsOid(id->oid)) into.metadata_ins.push_back({id->value, id->oid, std::move(where)});
}

}  // namespace

PatientTraits traitsOfCda(const parse::CdaPatient& p, std::string where) {
  PatientTraits t;
  t.where = std::move(where);
  std::vector<const std::string*> unqualified_families;
  std::string spouse_family;
  for (const auto& f : p.families) {
    if (f.text.empty()) continue;
    const bool br = ascii::hasToken(f.qualifier, "BR");
    const bool cl = ascii::hasToken(f.qualifier, "CL");
    if (br && t.birth_family.empty()) t.birth_family = f.text;
    if (cl && t.used_family.empty()) t.used_family = f.text;
    if (!br && !cl && ascii::hasToken(f.qualifier, "SP") && spouse_family.empty())
      spouse_family = f.text;
    if (!br && !cl && !ascii::hasToken(f.qualifier, "SP")) unqualified_families.push_back(&f.text);
  }
  std::size_t next = 0;
  if (t.birth_family.empty() && next < unqualified_families.size()) {
    t.birth_family = *unqualified_families[next++];
    t.derived.emplace_back("nom de naissance pris du nom sans qualificatif BR");
  }
  if (t.used_family.empty() && !spouse_family.empty()) {
    t.used_family = spouse_family;
    t.derived.emplace_back("nom utilisé pris du nom d'époux (qualificatif SP)");
  } else if (t.used_family.empty() && next < unqualified_families.size()) {
    t.used_family = *unqualified_families[next];
    t.derived.emplace_back("nom utilisé pris du second nom sans qualificatif");
  }

  for (const auto& g : p.givens) {
    if (g.text.empty()) continue;
    const bool br = ascii::hasToken(g.qualifier, "BR");
    const bool cl = ascii::hasToken(g.qualifier, "CL");
    if (br && t.first_given.empty()) t.first_given = g.text;
    if (cl && t.used_given.empty()) t.used_given = g.text;
    if (!br && !cl) append(t.birth_givens, g.text);
  }
  if (t.first_given.empty() && !t.birth_givens.empty()) {
    t.first_given = firstWordOf(t.birth_givens);
    t.derived.emplace_back("premier prénom pris du premier mot de la liste des prénoms");
  }
  if (t.birth_givens.empty() && !t.first_given.empty()) {
    t.birth_givens = t.first_given;
    t.derived.emplace_back("liste des prénoms réduite au premier prénom");
  }

  t.birth_date = fhir::dateOfTs(p.birth_time).value_or("");
  t.sex = p.sex;
  t.birth_place = p.birth_place_code;
  t.birth_place_name = !p.birth_place_name.empty() ? p.birth_place_name : p.birth_place_city;
  t.deceased = p.deceased;
  t.deceased_time = fhir::dateTimeOfTs(p.deceased_time).value_or("");
  if (!t.deceased_time.empty() && !t.deceased) t.deceased = true;
  t.multiple_birth = p.multiple_birth;
  t.birth_order = p.multiple_birth_order;
  return t;
}

PatientTraits traitsOfSourcePatientInfo(const parse::XdsPatientInfo& info, std::string where) {
  PatientTraits t;
  t.where = std::move(where);
  const parse::XdsPatientName* legal = nullptr;
  const parse::XdsPatientName* used = nullptr;
  for (const auto& n : info.names) {
    if (n.type == "L" && legal == nullptr) legal = &n;
    if (n.type == "D" && used == nullptr) used = &n;
  }
  if (legal == nullptr && !info.names.empty() && info.names.front().type.empty())
    legal = &info.names.front();
  if (legal != nullptr) {
    t.birth_family = legal->family;
    t.first_given = legal->given;
    t.birth_givens = legal->further_given;
  } else {
    t.birth_family = info.family;
    t.first_given = info.given;
  }
  if (used != nullptr) {
    t.used_family = used->family;
    t.used_given = used->given;
  }
  t.birth_date = fhir::dateOfTs(info.birth_date).value_or("");
  t.sex = info.sex;
  t.birth_place = info.birth_place;
  return t;
}

void stateFromCda(const parse::CdaPatient& patient, const std::string& path,
                  IdentityStatements& into) {
  const std::string where = path + " (recordTarget)";
  for (const parse::CdaId& id : patient.ids) {
    if (isInsOid(id.root) && !id.extension.empty())
      into.document_ins.push_back({id.extension, id.root, where});
  }
  into.document_traits.push_back(traitsOfCda(patient, where));
}

void stateFromMetadata(const parse::XdsSubmission& sub, IdentityStatements& into) {
  addMetadataClaim(sub.submission_set.patient_id, "METADATA.XML (SubmissionSet.patientId)", into);
  for (const parse::XdsDocumentEntry& doc : sub.documents) {
    const std::string where = "METADATA.XML (DocumentEntry " + doc.uri + ")";
    addMetadataClaim(doc.patient_id, where + ".patientId", into);
    const auto& info = doc.source_patient_info;
    if (!info.family.empty() || !info.names.empty() || !info.birth_date.empty() ||
        !info.sex.empty()) {
      into.metadata_traits.push_back(traitsOfSourcePatientInfo(info, where + ".sourcePatientInfo"));
    }
  }
}

PatientIdentity consolidateIdentity(const IdentityStatements& s, IssueList& issues) {
  PatientIdentity id;
  std::vector<const InsClaim*> claims;
  for (const InsClaim& c : s.document_ins)
    claims.push_back(&c);
  for (const InsClaim& c : s.metadata_ins)
    claims.push_back(&c);
  if (claims.empty()) {
    issues.add(
        Errc::InsMissing,
        "Aucun INS (matricule et OID) pour le patient du message : intégration manuelle (903).");
  } else {
    id.ins = *claims.front();
    for (const InsClaim* c : claims) {
      if (c->value != id.ins->value || c->oid != id.ins->oid) {
        issues.add(Errc::InsMismatch,
                   "INS différent entre " + id.ins->where + " et " + c->where +
                       " : intégration manuelle (904).",
                   {}, c->where);
      }
    }
  }

  // Traits: the first document is the reference; METADATA.XML and the other documents agree.
  std::vector<const PatientTraits*> traits;
  for (const PatientTraits& t : s.document_traits)
    traits.push_back(&t);
  for (const PatientTraits& t : s.metadata_traits)
    traits.push_back(&t);
  if (!traits.empty()) {
    const PatientTraits& ref = *traits.front();
    id.traits = ref;
    for (const PatientTraits* t : traits) {
      if (t == &ref) continue;
      compareTrait(ref, *t, "nom de naissance", ref.birth_family, t->birth_family, issues);
      compareTrait(ref, *t, "premier prénom", ref.first_given, t->first_given, issues);
      compareTrait(ref, *t, "date de naissance", ref.birth_date, t->birth_date, issues);
      compareTrait(ref, *t, "sexe", ref.sex, t->sex, issues);
      compareTrait(ref, *t, "lieu de naissance", ref.birth_place, t->birth_place, issues);
    }
  }
  if (!id.ins) return id;

  IssueList nir_issues;
  nir::checkSystem(id.ins->oid, nir_issues, id.ins->where);
  nir::Traits nt;
  const PatientTraits& t = id.traits;
  if (t.sex == "M" || t.sex == "F") nt.sex = t.sex[0];
  if (t.birth_date.size() >= 7) {
    int year = 0;
    int month = 0;
    std::from_chars(t.birth_date.data(), t.birth_date.data() + 4, year);
    std::from_chars(t.birth_date.data() + 5, t.birth_date.data() + 7, month);
    nt.birth_year = year;
    nt.birth_month = month;
  }
  if (t.birth_place.size() == 5) nt.birth_place_insee = t.birth_place;
  nir::CheckResult check = nir::check(id.ins->value, nt, id.ins->where);
  nir_issues.append(check.issues);
  issues.append(nir_issues);
  id.nir_valid = check.valid() && !nir_issues.hasErrors();
  id.normalized = check.normalized;

  // An INS travels with its traits (CI-SIS: mandatory, no nullFlavor): 905 when some miss. The
  // birth place is required of documents only (sourcePatientInfo has no field for it in IHE).
  std::vector<std::string> missing;
  if (t.birth_family.empty()) missing.emplace_back("nom de naissance");
  if (t.first_given.empty()) missing.emplace_back("premier prénom");
  if (t.birth_date.empty()) missing.emplace_back("date de naissance");
  if (t.sex.empty()) missing.emplace_back("sexe");
  if (!s.document_traits.empty() && t.birth_place.empty())
    missing.emplace_back("lieu de naissance");
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing)
      list += (list.empty() ? "" : ", ") + m;
    issues.add(Errc::InsTraitsIncomplete,
               "INS présent mais traits incomplets (" + list + ") : intégration manuelle (905).",
               {}, id.ins->where);
  }
  return id;
}

}  // namespace liaison::pipeline
