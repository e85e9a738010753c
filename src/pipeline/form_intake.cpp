#include "pipeline/form_intake.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/fhir/terminology.hpp"
#include "core/json/json_out.hpp"
#include "core/nir/nir.hpp"
#include "map/questionnaire_response.hpp"
#include "parse/document/form_document.hpp"
#include "parse/form/form_parser.hpp"
#include "pipeline/codec.hpp"
#include "pipeline/form_source.hpp"
#include "validate/form_validation.hpp"

namespace liaison::pipeline {
namespace {

using namespace std::chrono;
using JsonWriter = json::JsonOut;

// FR Core 2.1.0 identity reliability codes: a NIR typed into a form did not come from INSi.
constexpr std::string_view kIdentityProvisional = "PROV";
constexpr std::size_t kMinRecognisedLines = 3;

std::optional<int> ageInYears(const form::Date& birth, system_clock::time_point now) {
  if (birth.month == 0 || birth.day == 0) return std::nullopt;
  year_month_day today{floor<days>(now)};
  int age = static_cast<int>(today.year()) - birth.year;
  unsigned m = static_cast<unsigned>(today.month());
  unsigned d = static_cast<unsigned>(today.day());
  if (m < static_cast<unsigned>(birth.month) ||
      (m == static_cast<unsigned>(birth.month) && d < static_cast<unsigned>(birth.day))) {
    --age;
  }
  if (age < 0) return std::nullopt;
  return age;
}

// A .docx is a zip: its local file header's signature.
bool looksLikeZip(std::string_view bytes) {
  return bytes.substr(0, 4) == "PK\x03\x04";
}

// The lines of a form sent as a document (a PDF form or text, a .docx), each origin prefixed
// with the document's name when it has one, so that an answer's location names the file.
Result<parse::FormDocument> formDocument(std::string_view bytes, std::string_view name) {
  auto doc =
      parse::looksLikePdf(bytes) ? parse::formLinesOfPdf(bytes) : parse::formLinesOfDocx(bytes);
  if (!doc || name.empty()) return doc;
  for (parse::FormLine& line : doc->lines)
    line.origin = std::string(name) + ", " + line.origin;
  return doc;
}

bool looksLikeJson(std::string_view bytes) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  for (char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

const std::string* textAnswer(const form::FormResponse& r, const std::string& link_id) {
  if (link_id.empty()) return nullptr;
  const auto* v = r.first(link_id);
  return v == nullptr ? nullptr : std::get_if<std::string>(v);
}

const form::Item* itemOf(const form::Questionnaire& q, const std::string& link_id) {
  return link_id.empty() ? nullptr : q.find(link_id);
}

struct IdentityCheck {
  bool nir_valid = false;
  std::string normalized;
  bool birth_place_is_insee = false;
  validate::NirFinding finding = validate::NirFinding::Absent;
  std::string doubt;  // why the NIR is doubtful (codes only, never the number)
};

// NIR structure, key and consistency with sex, birth date and birth place of the form.
IdentityCheck checkIdentity(const EssProfile& ess, const form::FormResponse& r, IssueList& issues) {
  IdentityCheck out;
  const form::Questionnaire& q = ess.questionnaire;
  const std::string* nir_text = textAnswer(r, ess.identity.nir);
  if (nir_text == nullptr) {
    // A missing NIR is a mandatory-field issue already. "Sans NIR" only when the form has none,
    // not when its line was there and could not be read.
    const form::Item* item = itemOf(q, ess.identity.nir);
    if (item != nullptr && r.unreadable(item->index)) {
      out.finding = validate::NirFinding::Doubtful;
      out.doubt = "NIR illisible dans la fiche : à vérifier";
    }
    return out;
  }

  nir::Traits traits;
  if (const auto* sex = r.first(ess.identity.sex)) {
    if (const auto* c = std::get_if<form::Coding>(sex)) {
      if (c->code == "male") traits.sex = 'M';
      if (c->code == "female") traits.sex = 'F';
    }
  }
  if (const auto* birth = r.first(ess.identity.birth_date)) {
    if (const auto* d = std::get_if<form::Date>(birth)) {
      traits.birth_year = d->year;
      if (d->month != 0) traits.birth_month = d->month;
    }
  }
  const std::string* place = textAnswer(r, ess.identity.birth_place);
  std::string place_code;
  if (place != nullptr) {
    for (char c : *place) {
      if (c != ' ') place_code += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
  }
  auto normalized = nir::normalize(*nir_text);
  auto parts = normalized ? nir::decode(*normalized) : std::nullopt;
  if (place_code.size() == 5) {
    // A postal code and an INSEE code look alike: the code is the INSEE one when it is the
    // NIR's own, or when it can only be INSEE (Corsican letters, "99" for abroad).
    bool insee = (parts && parts->birth_place == place_code) ||
                 place_code.find_first_of("AB") != std::string::npos ||
                 place_code.substr(0, 2) == "99";
    out.birth_place_is_insee = insee;
    if (insee) {
      traits.birth_place_insee = place_code;
    } else if (auto dept = nir::departmentOfPostalCode(place_code)) {
      traits.birth_department = *dept;
    }
  }
  const form::Item* nir_item = itemOf(q, ess.identity.nir);
  std::string expression = form::itemExpression(q, nir_item->index);
  nir::CheckResult check = nir::check(*nir_text, traits, ess.identity.nir);
  for (Issue issue : check.issues.items()) {
    issue.expression = expression;
    issues.add(std::move(issue));
  }
  out.nir_valid = check.valid();
  out.normalized = std::move(check.normalized);
  if (out.nir_valid) {
    out.finding = validate::NirFinding::Valid;
  } else if (check.issues.contains(Errc::NirEmpty)) {
    out.finding = validate::NirFinding::Absent;
  } else if (check.issues.contains(Errc::NirProvisional)) {
    out.finding = validate::NirFinding::NotANir;  // a provisional number is no NIR at all
  } else {
    out.finding = validate::NirFinding::Doubtful;
    std::string codes;
    for (const Issue& issue : check.issues.items()) {
      if (issue.severity == Severity::Error || issue.severity == Severity::Fatal)
        codes += (codes.empty() ? "" : ", ") + std::string(info(issue.code).code);
    }
    out.doubt = "NIR présent mais non valide (" + codes + ") : à vérifier";
  }
  return out;
}

void checkBmi(const EssProfile& ess, const form::FormResponse& r, IssueList& issues) {
  const form::Questionnaire& q = ess.questionnaire;
  const form::Item* weight = q.find("patient-poids");
  const form::Item* height = q.find("patient-taille");
  if (weight == nullptr || height == nullptr || !r.answered(weight->index) ||
      !r.answered(height->index))
    return;
  const auto* w = std::get_if<form::Decimal>(&r.answers(weight->index).front().value);
  const auto* h = std::get_if<form::Decimal>(&r.answers(height->index).front().value);
  if (w == nullptr || h == nullptr || h->value <= 0) return;
  double bmi = w->value / std::pow(h->value / 100.0, 2);
  if (bmi < 10 || bmi > 80) {
    issues.add(Errc::FormBmiOutOfRange,
               "Poids et taille donnent un IMC invraisemblable : vérifier les unités (kg, cm).",
               form::itemExpression(q, height->index), height->link_id);
  }
}

void writeString(JsonWriter& w, std::string_view s) {
  w.String(s);
}

}  // namespace

std::string_view toString(IngestStatus s) {
  switch (s) {
    case IngestStatus::Accepted:
      return "accepted";
    case IngestStatus::Incomplete:
      return "incomplete";
    case IngestStatus::Quarantined:
      return "quarantined";
  }
  return "quarantined";
}

FormIntake::FormIntake(std::shared_ptr<const EssProfile> ess, const Clock& clock,
                       IntakeLimits limits)
    : ess_(std::move(ess)), clock_(&clock), limits_(limits) {}

IngestResult FormIntake::ingest(std::string_view bytes) const {
  BundleWriter bundle;
  IngestResult result = ingestInto(bytes, bundle);
  if (result.status != IngestStatus::Quarantined) result.bundle_json = bundle.finish();
  return result;
}

bool FormIntake::recognises(std::string_view bytes) const {
  if (looksLikeJson(bytes))
    return parse::parseQuestionnaireResponse(bytes, ess_->questionnaire).has_value();
  return ess_->textReader().read(bytes).recognised >= kMinRecognisedLines;
}

IngestResult FormIntake::ingestInto(std::string_view bytes, BundleWriter& bundle) const {
  if (isFormDocument(bytes)) return ingestDocumentInto(bytes, "", bundle);
  const EssProfile& ess = *ess_;
  if (bytes.size() > limits_.max_form_bytes) {
    return quarantined(
        makeError(Errc::InputTooLarge, "Le formulaire dépasse la taille maximale acceptée."));
  }
  if (bytes.substr(0, 8192).find('\0') != std::string_view::npos) {
    return quarantined(makeError(Errc::InputUnrecognised,
                                 "Contenu binaire : ni fiche de demande ni ressource FHIR."));
  }
  std::optional<parse::ParsedForm> parsed;
  if (looksLikeJson(bytes)) {
    auto qr = parse::parseQuestionnaireResponse(bytes, ess.questionnaire);
    if (!qr) return quarantined(qr.error());
    parsed.emplace(std::move(*qr));
  } else {
    parsed.emplace(ess.textReader().read(bytes));
    if (parsed->recognised < kMinRecognisedLines) {
      return quarantined(
          makeError(Errc::InputUnrecognised,
                    "Contenu non reconnu comme une fiche de demande " + ess.name + "."));
    }
  }
  return finish(std::move(*parsed), contentSeed(bytes), bundle);
}

bool FormIntake::isFormDocument(std::string_view bytes) {
  return parse::looksLikePdf(bytes) || looksLikeZip(bytes);
}

IngestResult FormIntake::ingestDocumentInto(std::string_view bytes, std::string_view name,
                                            BundleWriter& bundle) const {
  const EssProfile& ess = *ess_;
  auto doc = formDocument(bytes, name);
  if (!doc) return quarantined(doc.error());
  if (doc->lines.empty()) {
    // A scan: what the reader said (document-no-text), else that no line was found.
    if (!doc->issues.items().empty()) {
      const Issue& why = doc->issues.items().front();
      return quarantined(makeError(why.code, why.message));
    }
    return quarantined(makeError(Errc::DocumentNoText, "Le document ne contient aucun texte."));
  }
  parse::ParsedForm parsed = ess.textReader().readLines(doc->lines);
  if (parsed.recognised < kMinRecognisedLines) {
    return quarantined(
        makeError(Errc::InputUnrecognised,
                  "Document non reconnu comme une fiche de demande " + ess.name + "."));
  }
  parsed.issues.append(std::move(doc->issues));
  return finish(std::move(parsed), contentSeed(bytes), bundle);
}

IngestResult FormIntake::finish(parse::ParsedForm parsed_form, std::uint64_t seed,
                                BundleWriter& bundle) const {
  const EssProfile& ess = *ess_;
  const parse::ParsedForm* parsed = &parsed_form;
  const form::FormResponse& response = parsed->response;
  const system_clock::time_point now = clock_->now();

  IngestResult result;
  result.issues = std::move(parsed_form.issues);
  result.issues.append(validate::validateMandatoryFields(response));
  IdentityCheck identity = checkIdentity(ess, response, result.issues);
  checkBmi(ess, response, result.issues);
  result.status = result.issues.hasErrors() ? IngestStatus::Incomplete : IngestStatus::Accepted;

  validate::EligibilityFacts facts;
  facts.nir = identity.finding;
  facts.nir_doubt = identity.doubt;
  if (const auto* birth = response.first(ess.identity.birth_date)) {
    if (const auto* d = std::get_if<form::Date>(birth)) facts.age_years = ageInYears(*d, now);
  }
  if (const std::string* cp = textAnswer(response, ess.identity.postal_code)) {
    facts.department = nir::departmentOfPostalCode(*cp);
  }
  result.eligibility = ess.eligibility().evaluate(response, facts);

  FormSource source(response);
  std::string items = ess.responseWriter().write(response);
  if (items != "[]") source.setRawJson(Fact::ResponseItems, std::move(items));
  if (identity.nir_valid) {
    const auto& system = nir::identifierSystem(nir::IdentifierKind::InsNir);
    source.set(Fact::InsValue, identity.normalized);
    source.set(Fact::InsSystem, std::string(system.uri));
    source.set(Fact::InsType, std::string(system.fr_core_type));
    source.set(Fact::InsUse, std::string(system.use));
    source.set(Fact::IdentityStatus, std::string(kIdentityProvisional));
  }
  if (const std::string* place = textAnswer(response, ess.identity.birth_place)) {
    source.set(identity.birth_place_is_insee ? Fact::BirthPlaceInsee : Fact::BirthPlacePostalCode,
               *place);
  }
  source.set(Fact::RequestStatus, result.status == IngestStatus::Accepted ? "active" : "draft");
  std::string now_text = fhir::dateTimeOf(now);
  source.set(Fact::RequestAuthored, response.authored.value_or(now_text));
  source.set(Fact::Now, now_text);
  source.set(Fact::EssId, ess.id);
  source.set(Fact::EssName, ess.name);
  source.set(Fact::EssOrganizationName, ess.organization.name);
  source.set(Fact::EssIdentifierSystem, ess.organization.identifier_system);
  source.set(Fact::EssIdentifierValue, ess.organization.identifier_value);
  source.set(Fact::EssMailbox, ess.organization.mailbox);
  // Nothing the sender wrote is lost: what the reader did not understand goes to the request's
  // note, each piece with where it was.
  std::string unrecognised;
  for (const parse::FormLine& line : parsed->unrecognised) {
    if (!unrecognised.empty()) unrecognised += '\n';
    unrecognised += line.origin + " : " + line.text;
  }
  source.set(Fact::FormUnrecognised, std::move(unrecognised));

  const std::size_t first = bundle.emitted().size();
  bundle.append(ess.mapping(), source, seed);
  result.resources.assign(bundle.emitted().begin() + static_cast<std::ptrdiff_t>(first),
                          bundle.emitted().end());
  return result;
}

IngestResult quarantined(Error error, std::string message_id) {
  IngestResult r;
  r.status = IngestStatus::Quarantined;
  r.issues.add(error.code, error.detail);
  r.quarantine = std::move(error);
  r.message_id = std::move(message_id);
  return r;
}

std::string issueCodeSystem(std::string_view canonical_base) {
  return std::string(canonical_base) + "/CodeSystem/liaison-issue";
}

std::string operationOutcomeJson(const IngestResult& result, std::string_view issue_system) {
  return operationOutcomeJson(result.issues, "Demande complète : aucun problème relevé.",
                              issue_system);
}

std::string operationOutcomeJson(const IssueList& issues, std::string_view when_empty,
                                 std::string_view issue_system) {
  std::string out;
  JsonWriter w(out);
  w.StartObject();
  w.Key("resourceType");
  w.String("OperationOutcome");
  w.Key("issue");
  w.StartArray();
  for (const Issue& issue : issues.items()) {
    const ErrcInfo& row = info(issue.code);
    w.StartObject();
    w.Key("severity");
    writeString(w, toString(issue.severity));
    w.Key("code");
    writeString(w, row.issue_type);
    w.Key("details");
    w.StartObject();
    w.Key("coding");
    w.StartArray();
    w.StartObject();
    w.Key("system");
    writeString(w, issue_system);
    w.Key("code");
    writeString(w, row.code);
    w.EndObject();
    w.EndArray();
    if (!issue.message.empty()) {
      w.Key("text");
      writeString(w, issue.message);
    }
    w.EndObject();
    if (!issue.location.empty()) {
      w.Key("location");
      w.StartArray();
      writeString(w, issue.location);
      w.EndArray();
    }
    if (!issue.expression.empty()) {
      w.Key("expression");
      w.StartArray();
      writeString(w, issue.expression);
      w.EndArray();
    }
    w.EndObject();
  }
  if (issues.empty()) {
    w.StartObject();
    w.Key("severity");
    w.String("information");
    w.Key("code");
    w.String("informational");
    w.Key("details");
    w.StartObject();
    w.Key("text");
    w.String(when_empty);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

std::string reportLine(std::string_view input, const IngestResult& result,
                       std::string_view issue_system) {
  std::string out;
  JsonWriter w(out);
  w.StartObject();
  w.Key("input");
  writeString(w, input);
  w.Key("status");
  writeString(w, toString(result.status));
  if (!result.message_id.empty()) {
    w.Key("messageId");
    writeString(w, result.message_id);
  }
  if (result.quarantine) {
    w.Key("quarantine");
    w.StartObject();
    w.Key("code");
    writeString(w, info(result.quarantine->code).code);
    w.Key("reason");
    writeString(w, result.quarantine->detail);
    w.EndObject();
  }
  if (!result.bundle_json.empty()) {
    w.Key("bundle");
    w.RawValue(result.bundle_json.data(), result.bundle_json.size());
  }
  std::string outcome = operationOutcomeJson(result, issue_system);
  w.Key("outcome");
  w.RawValue(outcome.data(), outcome.size());
  if (!result.reports.empty()) {
    w.Key("report");
    w.StartArray();
    for (const MappingReport& r : result.reports) {
      w.StartObject();
      w.Key("document");
      writeString(w, r.document);
      w.Key("kind");
      writeString(w, r.kind);
      if (!r.mapping.empty()) {
        w.Key("mapping");
        writeString(w, r.mapping);
      }
      w.Key("mapped");
      w.StartObject();
      for (const auto& [type, count] : r.mapped) {
        w.Key(type);
        w.Int64(count);
      }
      w.EndObject();
      if (!r.entries.empty()) {
        w.Key("entries");
        w.StartObject();
        for (const auto& [mapping, count] : r.entries) {
          w.Key(mapping);
          w.Int64(count);
        }
        w.EndObject();
      }
      for (const auto& [key, list] :
           {std::pair{"textOnly", &r.text_only}, std::pair{"skipped", &r.skipped}}) {
        w.Key(key);
        w.StartArray();
        for (const std::string& item : *list)
          writeString(w, item);
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  if (result.eligibility) {
    w.Key("eligibility");
    w.StartObject();
    w.Key("status");
    writeString(w, validate::toString(result.eligibility->status));
    w.Key("reasons");
    w.StartArray();
    for (const auto& reason : result.eligibility->reasons) {
      w.StartObject();
      w.Key("code");
      writeString(w, reason.code);
      w.Key("kind");
      writeString(w, reason.kind);
      w.Key("text");
      writeString(w, reason.text);
      w.Key("met");
      if (reason.value == validate::Tri::Unknown) {
        w.String("unknown");
      } else {
        w.Bool(reason.value == validate::Tri::True);
      }
      if (!reason.detail.empty()) {
        w.Key("detail");
        writeString(w, reason.detail);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  return out;
}

}  // namespace liaison::pipeline
