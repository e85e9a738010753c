#include "rest/fhir_api.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "core/fhir/terminology.hpp"
#include "core/json/json_out.hpp"
#include "core/nir/nir.hpp"
#include "map/mapping.hpp"
#include "parse/json/json_util.hpp"
#include "pipeline/codec.hpp"
#include "pipeline/stored_intake.hpp"
#include "rest/http_date.hpp"
#include "rest/routes.hpp"
#include "rest/search_query.hpp"
#include "rest/sessions.hpp"
#include "rest/target.hpp"
#include "rest/transaction.hpp"

namespace liaison::rest {
namespace {

constexpr std::string_view kFhirJson = "application/fhir+json; charset=utf-8";
// A request whose audit record cannot be written fails closed: 503, nothing served or written.
constexpr std::string_view kAuditDown = "Journal d'audit indisponible ; réessayer.";

// ---------------------------------------------------------------------------------------------
// Responses

http::Response json(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.push_back({"Content-Type", std::string(kFhirJson)});
  r.body = std::move(body);
  return r;
}

// The CodeSystem of error codes of the request being handled (the deployment's canonical base),
// set by FhirApi::handle for the thread that runs it: the many error exits below write
// OperationOutcomes without carrying it through every call.
thread_local std::string_view tls_issue_system;

// An OperationOutcome of one issue, written as the intake writes them.
std::string outcomeJson(Errc code, std::string_view text, std::string_view where = {}) {
  IssueList issues;
  issues.add(code, std::string(text), std::string(where));
  return pipeline::operationOutcomeJson(issues, "", tls_issue_system);
}

http::Response failure(Errc code, std::string_view text, std::string_view where = {}) {
  http::Response r = json(info(code).http_status, outcomeJson(code, text, where));
  // A transient failure (the database unavailable or too slow, a serialization conflict): the
  // client may try again, and says so to its HTTP library.
  if (info(code).retry == Retry::Transient && r.status == 503)
    r.headers.push_back({"Retry-After", "5"});
  return r;
}

http::Response failure(const Error& e) {
  // Store errors carry PostgreSQL's message (tables, constraints, values): never for clients,
  // whatever their status (db-conflict is a 409); the stable code says what happened.
  const ErrcInfo& i = info(e.code);
  if (i.http_status >= 500) return failure(e.code, "Erreur du serveur ; réessayer plus tard.");
  if (i.code.starts_with("db-"))
    return failure(e.code, "Conflit avec une écriture concurrente ; réessayer.");
  return failure(e.code, e.detail);
}

void addVersionHeaders(http::Response& r, const StoredResource& s) {
  r.headers.push_back({"ETag", "W/\"" + std::to_string(s.version) + "\""});
  if (auto date = httpDate(s.last_updated)) r.headers.push_back({"Last-Modified", *date});
}

// ---------------------------------------------------------------------------------------------
// Bundles

struct BundleEntry {
  const StoredResource* resource;
  const char* mode;  // "match" | "include" | "outcome" | nullptr (history)
};

std::string bundleJson(std::string_view type, std::string_view base,
                       const std::vector<BundleEntry>& entries, std::optional<std::int64_t> total,
                       std::string_view self, std::string_view next) {
  std::string out;
  json::JsonOut w(out);
  w.StartObject();
  w.Key("resourceType");
  w.String("Bundle");
  w.Key("type");
  w.String(type);
  if (total) {
    w.Key("total");
    w.Int64(*total);
  }
  w.Key("link");
  w.StartArray();
  w.StartObject();
  w.Key("relation");
  w.String("self");
  w.Key("url");
  w.String(self);
  w.EndObject();
  if (!next.empty()) {
    w.StartObject();
    w.Key("relation");
    w.String("next");
    w.Key("url");
    w.String(next);
    w.EndObject();
  }
  w.EndArray();
  if (!entries.empty()) {
    w.Key("entry");
    w.StartArray();
    for (const BundleEntry& e : entries) {
      const StoredResource& r = *e.resource;
      w.StartObject();
      if (!r.id.empty()) {  // an OperationOutcome about the search has none
        w.Key("fullUrl");
        w.String(std::string(base) + "/" + r.type + "/" + r.id);
      }
      if (!r.deleted && !r.json.empty()) {
        w.Key("resource");
        w.RawValue(r.json.data(), r.json.size());
      }
      if (e.mode != nullptr) {
        w.Key("search");
        w.StartObject();
        w.Key("mode");
        w.String(e.mode);
        w.EndObject();
      } else {
        w.Key("request");
        w.StartObject();
        w.Key("method");
        w.String(r.deleted ? "DELETE" : (r.version == 1 ? "POST" : "PUT"));
        w.Key("url");
        w.String(r.version == 1 && !r.deleted ? r.type : r.type + "/" + r.id);
        w.EndObject();
        w.Key("response");
        w.StartObject();
        w.Key("status");
        w.String(r.deleted ? "204" : (r.version == 1 ? "201" : "200"));
        w.Key("etag");
        w.String("W/\"" + std::to_string(r.version) + "\"");
        w.Key("lastModified");
        w.String(r.last_updated);
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return out;
}

// The query without our paging cursor, to build self and next links.
std::string queryWithout(const Target& t, std::string_view drop) {
  std::string out;
  for (const auto& [name, value] : t.query) {
    if (name == drop) continue;
    out += (out.empty() ? "" : "&") + urlEncode(name) + "=" + urlEncode(value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

// If-Match: W/"3" or "3" → 3.
std::optional<std::int64_t> ifMatch(const http::Request& r) {
  std::string_view v = r.header("If-Match");
  if (v.empty()) return std::nullopt;
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  char* end = nullptr;
  const std::string text(v);
  const long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || n < 1) return -1;  // never a current version: 412
  return n;
}

http::Response resourceResponse(int status, std::string body, const StoredVersion& v,
                                std::string_view base) {
  http::Response r = json(status, std::move(body));
  r.headers.push_back({"ETag", "W/\"" + std::to_string(v.version) + "\""});
  if (auto date = httpDate(v.last_updated)) r.headers.push_back({"Last-Modified", *date});
  r.headers.push_back({"Location", std::string(base) + "/" + v.type + "/" + v.id + "/_history/" +
                                       std::to_string(v.version)});
  return r;
}

// $validate: what liaison itself can say of a resource — JSON, type, id, and for a Patient its
// INS (system, structure, key, consistency with sex and birth date).
std::string validateResource(std::string_view type, std::string_view body) {
  IssueList issues;
  rapidjson::Document doc;
  if (auto bad = json::parseExternalJson(doc, body); bad && bad->code != Errc::JsonMalformed) {
    issues.add(bad->code, bad->detail);
  } else if (!doc.IsObject()) {
    issues.add(Errc::RestBodyInvalid, "Le corps n'est pas un objet JSON.");
  } else if (!doc.HasMember("resourceType") || !doc["resourceType"].IsString() ||
             std::string_view(doc["resourceType"].GetString()) != type) {
    issues.add(Errc::RestBodyInvalid, "resourceType attendu : " + std::string(type) + ".",
               "resourceType");
  } else if (type == "Patient" && doc.HasMember("identifier") && doc["identifier"].IsArray()) {
    nir::Traits traits;
    if (doc.HasMember("gender") && doc["gender"].IsString()) {
      const std::string_view g = doc["gender"].GetString();
      if (g == "male") traits.sex = 'M';
      if (g == "female") traits.sex = 'F';
    }
    if (doc.HasMember("birthDate") && doc["birthDate"].IsString() &&
        doc["birthDate"].GetStringLength() >= 7) {
      const std::string d = doc["birthDate"].GetString();
      traits.birth_year = std::atoi(d.substr(0, 4).c_str());
      traits.birth_month = std::atoi(d.substr(5, 2).c_str());
    }
    rapidjson::SizeType i = 0;
    for (const auto& id : doc["identifier"].GetArray()) {
      const std::string where = "Patient.identifier[" + std::to_string(i++) + "]";
      if (!id.IsObject() || !id.HasMember("system") || !id["system"].IsString() ||
          !id.HasMember("value") || !id["value"].IsString())
        continue;
      const std::string_view system = id["system"].GetString();
      if (nir::kindOfSystem(system) == nir::IdentifierKind::Unknown) continue;
      nir::checkSystem(system, issues, where + ".system");
      nir::CheckResult check = nir::check(id["value"].GetString(), traits, where + ".value");
      issues.append(check.issues);
    }
  }
  return pipeline::operationOutcomeJson(issues, "Aucun problème relevé.", tls_issue_system);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Metrics

void Metrics::request(std::string_view method, int status, double seconds) {
  const int klass = status >= 100 && status < 600 ? status / 100 - 1 : 5;
  by_class_[method == "GET" ? 0 : 1][klass].fetch_add(1, std::memory_order_relaxed);
  std::size_t bucket = 0;
  while (bucket < kBucketCount && seconds > kBuckets[bucket])
    ++bucket;
  latency_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::ingest(pipeline::IngestStatus status, bool duplicate) {
  ingests_[static_cast<int>(status)][duplicate ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::text() const {
  std::string out;
  out += "# HELP liaison_http_requests_total HTTP requests by method and status class.\n";
  out += "# TYPE liaison_http_requests_total counter\n";
  static constexpr const char* kClass[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
  for (int m = 0; m < 2; ++m) {
    for (int c = 0; c < 6; ++c) {
      out += "liaison_http_requests_total{method=\"" + std::string(m == 0 ? "GET" : "other") +
             "\",code=\"" + kClass[c] + "\"} " + std::to_string(by_class_[m][c].load()) + "\n";
    }
  }
  out += "# HELP liaison_http_request_duration_seconds Time to answer a request.\n";
  out += "# TYPE liaison_http_request_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < kBucketCount; ++b) {
    cumulative += latency_[b].load();
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBuckets[b]);
    out += "liaison_http_request_duration_seconds_bucket{le=\"" + std::string(le) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += latency_[kBucketCount].load();
  out += "liaison_http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) +
         "\n";
  char sum[48];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(latency_sum_us_.load()) / 1e6);
  out += "liaison_http_request_duration_seconds_sum " + std::string(sum) + "\n";
  out += "liaison_http_request_duration_seconds_count " + std::to_string(cumulative) + "\n";
  out += "# HELP liaison_ingest_total Messages ingested through the API, by outcome.\n";
  out += "# TYPE liaison_ingest_total counter\n";
  static constexpr const char* kStatus[] = {"accepted", "incomplete", "quarantined"};
  for (int s = 0; s < 3; ++s) {
    for (int d = 0; d < 2; ++d) {
      out += "liaison_ingest_total{status=\"" + std::string(kStatus[s]) + "\",duplicate=\"" +
             (d ? "true" : "false") + "\"} " + std::to_string(ingests_[s][d].load()) + "\n";
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

std::string capabilityStatement(const map::SearchParameters& search, std::string_view base_url,
                                std::string_view canonical_base) {
  std::string out;
  json::JsonOut w(out);
  w.StartObject();
  w.Key("resourceType");
  w.String("CapabilityStatement");
  w.Key("status");
  w.String("active");
  w.Key("date");  // this build's, not the request's: the statement changes with the binary
  w.String(buildDate());
  w.Key("kind");
  w.String("instance");
  w.Key("software");
  w.StartObject();
  w.Key("name");
  w.String("liaison");
  w.EndObject();
  w.Key("implementation");
  w.StartObject();
  w.Key("description");
  w.String("liaison: passerelle FHIR / MSSanté des ESS");
  w.Key("url");
  w.String(base_url);
  w.EndObject();
  w.Key("fhirVersion");
  w.String("4.0.1");
  w.Key("format");
  w.StartArray();
  w.String("application/fhir+json");
  w.EndArray();
  w.Key("rest");
  w.StartArray();
  w.StartObject();
  w.Key("mode");
  w.String("server");
  // Who may do what: authenticated by certificate or token, authorized by role (README, Security).
  w.Key("security");
  w.StartObject();
  w.Key("cors");
  w.Bool(false);
  w.Key("service");
  w.StartArray();
  w.StartObject();
  w.Key("coding");
  w.StartArray();
  w.StartObject();
  w.Key("system");
  w.String("http://terminology.hl7.org/CodeSystem/restful-security-service");
  w.Key("code");
  w.String("Certificates");
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.Key("description");
  w.String(
      "Certificat client (TLS mutuel) ou jeton Bearer ; chaque interaction est permise ou non "
      "selon les rôles du client (politique du déploiement).");
  w.EndObject();
  w.Key("resource");
  w.StartArray();
  for (const std::string& type : search.resources()) {
    w.StartObject();
    w.Key("type");
    w.String(type);
    w.Key("interaction");
    w.StartArray();
    for (const char* code : {"read", "vread", "update", "delete", "history-instance",
                             "history-type", "create", "search-type"}) {
      w.StartObject();
      w.Key("code");
      w.String(code);
      w.EndObject();
    }
    w.EndArray();
    w.Key("versioning");
    w.String("versioned");
    w.Key("readHistory");
    w.Bool(true);
    w.Key("updateCreate");
    w.Bool(true);
    w.Key("conditionalCreate");
    w.Bool(true);
    w.Key("conditionalDelete");
    w.String("not-supported");
    std::vector<std::string> includes;
    for (const map::SearchParameter* p : search.of(type)) {
      if (p->kind == SearchKind::Reference) includes.push_back(type + ":" + p->name);
    }
    if (!includes.empty()) {
      w.Key("searchInclude");
      w.StartArray();
      for (const std::string& i : includes)
        w.String(i);
      w.EndArray();
    }
    w.Key("searchParam");
    w.StartArray();
    for (const map::SearchParameter* p : search.of(type)) {
      w.StartObject();
      w.Key("name");
      w.String(p->name);
      w.Key("type");
      w.String(p->kind == SearchKind::Token    ? "token"
               : p->kind == SearchKind::String ? "string"
               : p->kind == SearchKind::Date   ? "date"
                                               : "reference");
      w.EndObject();
    }
    w.StartObject();
    w.Key("name");
    w.String("_lastUpdated");
    w.Key("type");
    w.String("date");
    w.EndObject();
    w.EndArray();
    w.EndObject();
  }
  // Documents' bytes (DocumentReference.content.attachment.url): read only, not searchable.
  w.StartObject();
  w.Key("type");
  w.String("Binary");
  w.Key("interaction");
  w.StartArray();
  w.StartObject();
  w.Key("code");
  w.String("read");
  w.EndObject();
  w.EndArray();
  w.EndObject();
  // The audit trail (permission audit: admin): read and searched, never written through the API.
  w.StartObject();
  w.Key("type");
  w.String("AuditEvent");
  w.Key("interaction");
  w.StartArray();
  for (const char* code : {"read", "search-type"}) {
    w.StartObject();
    w.Key("code");
    w.String(code);
    w.EndObject();
  }
  w.EndArray();
  w.Key("searchParam");
  w.StartArray();
  for (const auto& [name, kind] :
       {std::pair{"patient", "reference"}, std::pair{"date", "date"}, std::pair{"agent", "token"},
        std::pair{"subtype", "token"}, std::pair{"action", "token"}}) {
    w.StartObject();
    w.Key("name");
    w.String(name);
    w.Key("type");
    w.String(kind);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.Key("interaction");
  w.StartArray();
  w.StartObject();
  w.Key("code");
  w.String("transaction");
  w.EndObject();
  w.EndArray();
  w.Key("operation");
  w.StartArray();
  w.StartObject();
  w.Key("name");
  w.String("validate");
  w.Key("definition");
  w.String("http://hl7.org/fhir/OperationDefinition/Resource-validate");
  w.EndObject();
  w.StartObject();
  w.Key("name");
  w.String("ingest");
  w.Key("definition");
  w.String(std::string(canonical_base) + "/OperationDefinition/ingest");
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return out;
}

// A store borrowed from the pool for one request; a broken connection is not returned.
class FhirApi::Lease {
 public:
  Lease(FhirApi& api, std::unique_ptr<Store> store) : api_(api), store_(std::move(store)) {}
  // Scoped to the request's ESS (Store::setEss): the database shows and takes those rows only.
  Lease(FhirApi& api, std::unique_ptr<Store> store, std::span<const std::string> ess)
      : Lease(api, std::move(store)) {
    store_->setEss(ess);
  }
  ~Lease() {
    if (store_ && !broken_) api_.release(std::move(store_));
  }
  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }
  template <typename T>
  const Result<T>& check(const Result<T>& r) {
    if (!r && info(r.error().code).retry == Retry::Transient) broken_ = true;
    return r;
  }

 private:
  FhirApi& api_;
  std::unique_ptr<Store> store_;
  bool broken_ = false;
};

FhirApi::FhirApi(StoreFactory connect, const map::SearchParameters& search,
                 const pipeline::MessageIntake& messages, const pipeline::FormIntake& forms,
                 const Clock& clock, ApiOptions options)
    : connect_(std::move(connect)),
      search_(&search),
      messages_(&messages),
      forms_(&forms),
      clock_(&clock),
      options_(std::move(options)),
      issue_system_(pipeline::issueCodeSystem(messages.canonicalBase())) {}

FhirApi::~FhirApi() = default;

http::Response FhirApi::errorResponse(Errc code, std::string_view text) const {
  const std::string_view saved = tls_issue_system;
  tls_issue_system = issue_system_;
  http::Response r = failure(code, text);
  tls_issue_system = saved;
  return r;
}

SearchLimits FhirApi::limits() const {
  return {options_.default_count, options_.max_count};
}

Result<std::unique_ptr<Store>> FhirApi::acquire() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      auto s = std::move(pool_.back());
      pool_.pop_back();
      return s;
    }
  }
  return connect_();
}

void FhirApi::release(std::unique_ptr<Store> store) {
  store->setEss({});  // the next request sees nothing until it says which ESS it is of
  std::lock_guard lock(pool_mutex_);
  pool_.push_back(std::move(store));
}

// The ESS a request reads and writes: the one it names (X-ESS, which authorize() checked the
// principal belongs to), else the principal's (one, several, or "*": every ESS; none: it sees
// nothing). A write (a message, a transaction, create, update, delete) goes to one ESS: a
// principal of several, or of every ESS, must name it; otherwise 400 rest-ess-required.
namespace {
std::vector<std::string> requestEss(const auth::Principal& principal, std::string_view named,
                                    auth::Interaction interaction, std::optional<Error>& refused) {
  using auth::Interaction;
  std::vector<std::string> ess =
      named.empty() ? principal.ess : std::vector<std::string>{std::string(named)};
  const bool writes = interaction == Interaction::Ingest ||
                      interaction == Interaction::Transaction ||
                      interaction == Interaction::Create || interaction == Interaction::Update ||
                      interaction == Interaction::Delete;
  if (writes && (ess.size() != 1 || ess.front() == "*")) {
    refused = makeError(Errc::RestEssRequired,
                        "Écriture : préciser l'ESS concerné par l'en-tête X-ESS (ce client " +
                            std::string(ess.empty() ? "n'en a aucun" : "en a plusieurs") + ")");
  }
  return ess;
}
}  // namespace

// What one request carries through its handler: the route it matched and what the audit records.
struct FhirApi::Call {
  const http::Request& request;
  const Target& target;
  const RouteMatch& match;
  const auth::Principal* principal;
  auth::Interaction interaction;  // the route's, or Transaction for a Bundle posted to /
  std::string base;
  std::string what;                        // the audit's entity: "Patient/123", "Patient?name"
  char action = 0;                         // the audit's action (C R U D); 0: nothing to audit
  std::vector<std::string> patients = {};  // whose data was returned or written (ids, once each)
  std::string role = {};                   // the role that allowed the interaction
  bool audited = false;  // its record committed with the write itself (FhirApi::auditIn)
  // The ESS whose rows it reads and writes (requestEss): a write's is one ESS.
  std::vector<std::string> ess = {};
};

namespace {

// The patient a resource is about: the Patient itself, else the Patient its `patient` or
// `subject` search parameter points to (the references the store indexes for `patient=`).
void notePatientsOf(std::vector<std::string>& patients, const map::SearchParameters& search,
                    std::string_view type, std::string_view id, std::string_view json) {
  auto note = [&patients](std::string_view patient) {
    if (!patient.empty() && std::find(patients.begin(), patients.end(), patient) == patients.end())
      patients.emplace_back(patient);
  };
  if (type == "Patient") {
    note(id);
    return;
  }
  if (json.empty()) return;  // a deleted version
  for (const IndexEntry& e : search.extract(type, json)) {
    if (e.kind == SearchKind::Reference && (e.param == "patient" || e.param == "subject") &&
        e.second.rfind("Patient/", 0) == 0)
      note(std::string_view(e.second).substr(8));
  }
}

// The audit action of an interaction on patient data (0: not patient data).
char auditAction(auth::Interaction i) {
  switch (i) {
    case auth::Interaction::Read:
    case auth::Interaction::Vread:
    case auth::Interaction::HistoryInstance:
    case auth::Interaction::HistoryType:
    case auth::Interaction::Search:
    case auth::Interaction::AuditSearch:
    case auth::Interaction::AuditRead:
      return 'R';
    case auth::Interaction::Create:
    case auth::Interaction::Ingest:
    case auth::Interaction::Transaction:
      return 'C';
    case auth::Interaction::Update:
      return 'U';
    case auth::Interaction::Delete:
      return 'D';
    default:
      return 0;
  }
}

// The AuditEvent subtype: each interaction its own FHIR restful-interaction code (vread,
// history-instance, search-type…); a message posted to / is a create, the outbox a read.
std::string auditSubtype(auth::Interaction i) {
  switch (i) {
    case auth::Interaction::Ingest:
      return "create";
    case auth::Interaction::Outbox:
    case auth::Interaction::AuditRead:
      return "read";
    case auth::Interaction::AuditSearch:
      return "search-type";
    default:
      return std::string(auth::toString(i));
  }
}

// The patients a transaction-response Bundle's entries wrote (response.location
// "Type/id/_history/n"), each resource read back for its patient through `read` (in the write's
// transaction, before it commits, so that the audit record commits with it).
using ReadBack =
    std::function<Result<std::optional<StoredResource>>(std::string_view, std::string_view)>;
void notePatientsOfResponse(std::vector<std::string>& patients, const map::SearchParameters& search,
                            const ReadBack& read, std::string_view bundle) {
  rapidjson::Document doc;
  if (json::parseExternalJson(doc, bundle) || !doc.IsObject() || !doc.HasMember("entry") ||
      !doc["entry"].IsArray())
    return;
  for (const auto& entry : doc["entry"].GetArray()) {
    if (!entry.IsObject() || !entry.HasMember("response") || !entry["response"].IsObject())
      continue;
    const auto& response = entry["response"];
    if (!response.HasMember("location") || !response["location"].IsString()) continue;
    const std::string_view location = response["location"].GetString();
    const std::size_t slash = location.find('/');
    if (slash == std::string_view::npos) continue;
    const std::string_view type = location.substr(0, slash);
    std::string_view id = location.substr(slash + 1);
    id = id.substr(0, id.find('/'));
    if (type == "Patient") {
      notePatientsOf(patients, search, type, id, "");
      continue;
    }
    if (auto r = read(type, id); r && *r) notePatientsOf(patients, search, type, id, (*r)->json);
  }
}

// The patients an AuditEvent of the trail names (entity.what.reference "Patient/<id>"): whose
// data an admin's read of the trail shows.
void notePatientsOfAuditEvent(std::vector<std::string>& patients, std::string_view event) {
  rapidjson::Document doc;
  if (json::parseExternalJson(doc, event) || !doc.IsObject() || !doc.HasMember("entity") ||
      !doc["entity"].IsArray())
    return;
  for (const auto& e : doc["entity"].GetArray()) {
    if (!e.IsObject() || !e.HasMember("what") || !e["what"].IsObject() ||
        !e["what"].HasMember("reference") || !e["what"]["reference"].IsString())
      continue;
    const std::string_view ref = e["what"]["reference"].GetString();
    if (ref.rfind("Patient/", 0) != 0) continue;
    const std::string_view id = ref.substr(8);
    if (std::find(patients.begin(), patients.end(), id) == patients.end())
      patients.emplace_back(id);
  }
}

// The client's IP address without its port, as the server gives it ("127.0.0.1:5555",
// "[::1]:5555"): FHIR's AuditEvent.agent.network.address.
std::string addressOf(std::string_view remote) {
  if (!remote.empty() && remote.front() == '[') {
    const std::size_t close = remote.find(']');
    return std::string(remote.substr(1, close == std::string_view::npos ? remote.npos : close - 1));
  }
  if (std::count(remote.begin(), remote.end(), ':') == 1)
    remote = remote.substr(0, remote.find(':'));
  return std::string(remote);
}

// The audit trail's record of one request: who (principal, role, ESS, credential, address),
// what, when, and the outcome of its answer's status.
AuditRecord auditRecordOf(const Clock& clock, const http::Request& request,
                          const auth::Principal* principal, const std::string& role, char action,
                          std::string subtype, std::string what, int status,
                          std::vector<std::string> patients) {
  const std::string agent = principal == nullptr
                                ? "anonymous:" + request.remote
                                : std::string(auth::toString(principal->kind)) + ":" +
                                      principal->id + " role=" + (role.empty() ? "-" : role) +
                                      " (" + principal->credential + ")";
  const std::string outcome = status < 400 ? "0" : (status < 500 ? "4" : "8");
  AuditRecord record{fhir::instantOf(clock.now()), agent,           std::string(1, action),
                     std::move(subtype),           std::move(what), outcome};
  if (principal != nullptr) {
    record.principal = std::string(auth::toString(principal->kind)) + ":" + principal->id;
    record.ess = principal->ess;
  }
  record.role = role;
  record.patients = std::move(patients);
  record.address = addressOf(request.remote);
  return record;
}

http::Response authRequired(std::string_view why) {
  http::Response r = failure(Errc::AuthRequired, why);
  // Bearer tokens are the one HTTP scheme; client certificates are asked for by TLS itself.
  r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"liaison\""});
  return r;
}

}  // namespace

http::Response FhirApi::handle(const http::Request& request) {
  const auto started = std::chrono::steady_clock::now();
  tls_issue_system = issue_system_;
  const Target target = parseTarget(request.target);
  auto match = matchRoute(routes(), request.method, target.path,
                          [this](std::string_view type) { return !search_->of(type).empty(); });
  const bool open =
      match && auth::requiredPermission(match->route->interaction) == auth::Permission::None;

  // Who is asking: once, before routing; /healthz alone is open.
  auth::Authentication authn;
  if (!open && options_.authenticator != nullptr) {
    authn = options_.authenticator->authenticate(
        auth::Credentials{request.client_subject, &request.client_san,
                          request.header("Authorization"), request.header("Cookie"), request.method,
                          request.header("X-CSRF-Token"), request.header("Origin")});
  }
  const auth::Principal* principal = authn.principal ? &*authn.principal : nullptr;

  http::Response response;
  std::string what;
  char action = 0;
  std::string role;
  std::vector<std::string> patients;
  std::string subtype;
  if (!open && authn.status == auth::Authentication::Status::Invalid) {
    // A session's own refusals (expired, CSRF) have their codes; a wrong credential is 401.
    response = authn.error == Errc::AuthRequired ? authRequired(authn.reason)
                                                 : failure(authn.error, authn.reason);
  } else if (!open && principal == nullptr) {
    // Nothing is said of the path (not even 404) to whoever has not authenticated.
    response = authRequired("Authentification requise : certificat client ou jeton (Bearer)");
  } else if (!match) {
    response = failure(match.error());
    if (const std::string allow = allowedMethods(routes(), target.path);
        match.error().code == Errc::RestMethodNotAllowed && !allow.empty())
      response.headers.push_back({"Allow", allow});
  } else {
    auth::Interaction interaction = match->route->interaction;
    // POST / carries a message or a transaction Bundle: not the same permission.
    if (interaction == auth::Interaction::Ingest &&
        request.header("Content-Type").find("json") != std::string_view::npos &&
        isTransactionBundle(request.body))
      interaction = auth::Interaction::Transaction;
    static const auth::Policy kNoPolicy;
    const auth::Policy& policy = options_.policy != nullptr ? *options_.policy : kNoPolicy;
    // The ESS the request names (X-ESS) is its compartment: the principal must belong to it.
    const std::string_view named_ess = request.header("X-ESS");
    const auth::Decision decision =
        auth::authorize(principal, policy, interaction, match->type, named_ess);
    std::vector<std::string> ess;
    std::optional<Error> no_ess;
    if (decision == auth::Decision::Allow && principal != nullptr)
      ess = requestEss(*principal, named_ess, interaction, no_ess);
    if (decision == auth::Decision::Allow && no_ess) {
      response = failure(*no_ess);
      action = auditAction(interaction);
      subtype = auditSubtype(interaction);
      what = match->type.empty() ? std::string(match->route->pattern)
                                 : match->type + (match->id.empty() ? "" : "/" + match->id);
    } else if (decision == auth::Decision::Allow) {
      if (principal != nullptr) {
        for (const std::string& r : principal->roles) {
          if (policy.allows(r, auth::requiredPermission(interaction), match->type)) {
            role = r;
            break;
          }
        }
      }
      Call call{request, target, *match, principal, interaction, options_.base_url, {}, 0};
      call.role = role;
      call.ess = std::move(ess);
      response = dispatch(call);
      what = std::move(call.what);
      action = call.audited ? 0 : call.action;  // a write's record committed with it
      patients = std::move(call.patients);
      subtype = auditSubtype(interaction);
    } else {
      response =
          failure(Errc::Forbidden, "Accès refusé : " + std::string(auth::toString(interaction)) +
                                       (match->type.empty() ? "" : " " + match->type) +
                                       " n'est pas permis à ce client");
      // A refused attempt on patient data is part of who tried to see what.
      action = auditAction(interaction);
      subtype = auditSubtype(interaction);
      what = match->type.empty() ? std::string(match->route->pattern)
                                 : match->type + (match->id.empty() ? "" : "/" + match->id);
    }
  }
  if (action != 0) {
    // The audit trail of patient data: who (principal, role, ESS, credential, address), what,
    // when, outcome.
    AuditRecord record = auditRecordOf(*clock_, request, principal, role, action, subtype, what,
                                       response.status, std::move(patients));
    if (options_.audit_log != nullptr) {
      // Fail closed: what the trail does not hold is not sent (the record is committed first).
      if (!options_.audit_log->record(std::move(record)))
        response = failure(Errc::DbUnavailable, kAuditDown);
    } else {
      // An unrecorded read of patient data is not served (nor is it when no connection is).
      auto store = acquire();
      bool written = false;
      if (store) {
        Lease lease(*this, std::move(*store));
        written = static_cast<bool>(lease.check(lease->audit(record)));
      }
      if (!written) response = failure(Errc::DbUnavailable, kAuditDown);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.request(request.method, response.status, seconds);
  return response;
}

// The route table's handler column: each Handler to the member function that serves it.
http::Response FhirApi::dispatch(Call& call) {
  switch (call.match.route->handler) {
    case Handler::Health:
      return health();
    case Handler::Metrics: {
      http::Response r;
      r.headers.push_back({"Content-Type", "text/plain; version=0.0.4"});
      r.body = metrics_.text();
      if (options_.more_metrics) r.body += options_.more_metrics();
      return r;
    }
    case Handler::Capabilities:
      return json(200, capabilityStatement(*search_, call.base, messages_->canonicalBase()));
    case Handler::Outbox:
      return outbox(call);
    case Handler::Post:
      return post(call);
    case Handler::Binary:
      return binary(call);
    case Handler::Read:
    case Handler::Vread:
      return read(call);
    case Handler::History:
      return history(call);
    case Handler::Search:
      return searchType(call);
    case Handler::Create:
    case Handler::Update:
    case Handler::Delete:
    case Handler::Validate:
      return write(call);
    case Handler::AuditSearch:
    case Handler::AuditRead:
      return auditTrail(call);
    case Handler::Login:
    case Handler::Logout:
    case Handler::Session:
      return session(call);
  }
  return failure(Errc::RestNotFound, "Chemin inconnu");
}

// GET /healthz: the process is up and answering (200, whatever the database). The database's
// state is the last background check's, read from memory: /healthz borrows no connection, so it
// answers while the pool is exhausted or the database slow, and a database outage — shared by
// every instance — does not make a load balancer take them all out or an orchestrator restart
// healthy processes (requests then answer 503 db-unavailable, which says what is wrong).
http::Response FhirApi::health() {
  std::string body = R"({"status":"ok","database":")";
  const DatabaseHealth* db = options_.database_health;
  const int state = db != nullptr ? db->state.load() : DatabaseHealth::Unknown;
  body += state == DatabaseHealth::Ok            ? "ok"
          : state == DatabaseHealth::Unavailable ? "unavailable"
                                                 : "unknown";
  body += '"';
  if (db != nullptr && db->checked_at_unix_ms.load() > 0) {
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    body += R"(,"databaseCheckedSecondsAgo":)" +
            std::to_string(std::max<std::int64_t>(0, now_ms - db->checked_at_unix_ms) / 1000);
  }
  body += '}';
  http::Response r;
  r.headers.push_back({"Content-Type", "application/json"});
  r.headers.push_back({"Cache-Control", "no-store"});
  r.body = std::move(body);
  return r;
}

// GET /outbox — the mails liaison sends (acknowledgements, notices) and what became of them:
// for operators to see failures (5xx) and retries. Recipients are professionals' addresses.
http::Response FhirApi::outbox(Call& call) {
  std::string status;
  int count = options_.default_count;
  for (const auto& [name, value] : call.target.query) {
    if (name == "status") {
      static const std::set<std::string> known{"pending", "sending",   "sent",
                                               "failed",  "delivered", "displayed"};
      if (!known.count(value))
        return failure(Errc::RestSearchInvalid,
                       "status : pending, sending, sent, failed, "
                       "delivered ou displayed");
      status = value;
    } else if (name == "_count") {
      auto n = parseCount(value, options_.max_count);
      if (!n) return failure(n.error());
      count = std::max(*n, 1);  // no count-only page here: at least one row
    } else {
      return failure(Errc::RestSearchUnknown, "Paramètre inconnu pour /outbox : " + name);
    }
  }
  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store), call.ess);
  Outbox* outbox = lease->outbox();
  if (outbox == nullptr) return failure(Errc::RestNotFound, "Pas de boîte d'envoi");
  auto rows = lease.check(outbox->list(status, count));
  if (!rows) return failure(rows.error());
  call.action = 'R';
  call.what = "outbox" + (status.empty() ? "" : "?status=" + status);
  std::string body;
  json::JsonOut w(body);
  w.StartObject();
  w.Key("mails");
  w.StartArray();
  for (const OutboxEntry& e : *rows) {
    w.StartObject();
    w.Key("id");
    w.Int64(e.id);
    w.Key("kind");
    w.String(e.kind);
    w.Key("messageId");
    w.String(e.message_id);
    w.Key("to");
    w.StartArray();
    for (const std::string& to : e.recipients)
      w.String(to);
    w.EndArray();
    w.Key("status");
    w.String(e.status);
    w.Key("attempts");
    w.Int64(e.attempts);
    w.Key("nextAttemptAt");
    w.String(e.next_attempt_at);
    w.Key("createdAt");
    w.String(e.created_at);
    if (!e.sent_at.empty()) {
      w.Key("sentAt");
      w.String(e.sent_at);
    }
    if (!e.last_error.empty()) {
      w.Key("lastError");
      w.String(e.last_error);
    }
    if (!e.report.empty()) {
      w.Key("report");
      w.String(e.report);
    }
    if (e.journal_id != 0) {
      w.Key("journal");
      w.Int64(e.journal_id);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  http::Response r;
  r.headers.push_back({"Content-Type", "application/json"});
  r.body = std::move(body);
  return r;
}

// POST / — a message, as the mailbox would deliver it: journal, ingest, store.
http::Response FhirApi::post(Call& call) {
  if (call.request.body.empty()) return failure(Errc::RestBodyInvalid, "Corps de requête vide");
  call.action = 'C';
  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store), call.ess);
  const std::string_view type = call.request.header("Content-Type");
  if (call.interaction == auth::Interaction::Transaction) {
    call.what = "Bundle (transaction)";
    return transaction(*lease, call);
  }
  const bool mail =
      type.find("message/rfc822") != std::string_view::npos ||
      (type.find("json") == std::string_view::npos && pipeline::looksLikeMail(call.request.body));
  pipeline::StoredIntake intake(*lease, *messages_, *forms_, *search_, *clock_);
  intake.writeAs(call.ess.front());  // requestEss: one ESS for a write
  if (options_.answer) intake.answerWith(options_.answer);
  // The message's record commits with its resources and outcome (a duplicate writes neither:
  // its read of the first outcome is recorded after, as any read).
  bool witnessed = false;
  intake.witnessWith([this, &call, &witnessed](StoreTransaction& tx, std::int64_t journal_id,
                                               std::string_view response) -> Result<Unit> {
    call.what = "message " + std::to_string(journal_id);
    call.patients.clear();
    notePatientsOfResponse(
        call.patients, *search_,
        [&tx](std::string_view t, std::string_view id) { return tx.read(t, id); }, response);
    witnessed = static_cast<bool>(auditIn(tx, call));
    // Unavailable (transient): the intake retries, then fails without an outcome, the message
    // kept in the journal; never quarantined for the trail's sake.
    if (!witnessed) return makeError(Errc::DbUnavailable, std::string(kAuditDown));
    return Unit{};
  });
  // The journal's source names the configured client: the transport that vouches for the message.
  const std::string source =
      "api:" + (call.principal != nullptr ? call.principal->id : call.request.remote);
  auto stored = lease.check(intake.ingest(call.request.body, source, mail));
  if (!stored) return failure(stored.error());
  call.audited = witnessed && !stored->duplicate;
  if (!call.audited) {
    call.what = "message " + std::to_string(stored->journal_id);
    call.patients.clear();
    notePatientsOfResponse(
        call.patients, *search_,
        [&lease](std::string_view t, std::string_view id) { return lease->read(t, id); },
        stored->response_json);
  }
  metrics_.ingest(stored->result.status, stored->duplicate);
  // A Parameters resource: the outcome, the status, and the transaction-response Bundle.
  std::string body;
  json::JsonOut w(body);
  w.StartObject();
  w.Key("resourceType");
  w.String("Parameters");
  w.Key("parameter");
  w.StartArray();
  w.StartObject();
  w.Key("name");
  w.String("status");
  w.Key("valueCode");
  w.String(pipeline::toString(stored->result.status));
  w.EndObject();
  w.StartObject();
  w.Key("name");
  w.String("journal");
  w.Key("valueInteger");
  w.Int64(stored->journal_id);
  w.EndObject();
  w.StartObject();
  w.Key("name");
  w.String("duplicate");
  w.Key("valueBoolean");
  w.Bool(stored->duplicate);
  w.EndObject();
  w.StartObject();
  w.Key("name");
  w.String("outcome");
  w.Key("resource");
  w.RawValue(stored->outcome_json.data(), stored->outcome_json.size());
  w.EndObject();
  if (!stored->response_json.empty()) {
    w.StartObject();
    w.Key("name");
    w.String("response");
    w.Key("resource");
    w.RawValue(stored->response_json.data(), stored->response_json.size());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  const int status = stored->result.status == pipeline::IngestStatus::Quarantined ? 422
                     : stored->duplicate                                          ? 200
                                                                                  : 201;
  return json(status, std::move(body));
}

// GET /Type/id and /Type/id/_history/vid
http::Response FhirApi::read(Call& call) {
  const std::string& type = call.match.type;
  const std::string& id = call.match.id;
  const bool version = call.match.route->handler == Handler::Vread;
  call.action = 'R';
  call.what = type + "/" + id;
  if (version) call.what += "/_history/" + std::to_string(call.match.version);
  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store), call.ess);
  auto r = version ? lease.check(lease->vread(type, id, call.match.version))
                   : lease.check(lease->read(type, id));
  if (!r) return failure(r.error());
  if (!*r)
    return failure(Errc::RestNotFound,
                   (version ? "Version inconnue : " : "Ressource inconnue : ") + call.what);
  if ((*r)->deleted)
    return failure(Errc::RestGone,
                   (version ? "Version supprimée : " : "Ressource supprimée : ") + call.what);
  notePatientsOf(call.patients, *search_, type, id, (*r)->json);
  http::Response resp = json(200, (*r)->json);
  addVersionHeaders(resp, **r);
  return resp;
}

// History of an instance or of the type.
http::Response FhirApi::history(Call& call) {
  const std::string& type = call.match.type;
  const std::string& id = call.match.id;
  call.action = 'R';
  call.what = type + (id.empty() ? "" : "/" + id) + "/_history";
  int count = options_.default_count;
  std::string after;
  for (const auto& [name, value] : call.target.query) {
    if (name == "_count") {
      auto n = parseCount(value, options_.max_count);
      if (!n) return failure(n.error());
      count = std::max(*n, 1);  // no count-only history: at least one entry
    }
    if (name == "_cursor") after = value;
  }
  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store), call.ess);
  auto page = lease.check(lease->history(type, id, count, after));
  if (!page) return failure(page.error());
  if (!id.empty() && page->resources.empty() && after.empty())
    return failure(Errc::RestNotFound, "Ressource inconnue : " + type + "/" + id);
  std::vector<BundleEntry> entries;
  for (const StoredResource& r : page->resources) {
    entries.push_back({&r, nullptr});
    notePatientsOf(call.patients, *search_, r.type, r.id, r.json);
  }
  const std::string path = call.base + "/" + call.what;
  const std::string q = queryWithout(call.target, "_cursor");
  const std::string self = path + (q.empty() ? "" : "?" + q);
  const std::string next = page->next.empty() ? ""
                                              : path + "?" + (q.empty() ? "" : q + "&") +
                                                    "_cursor=" + urlEncode(page->next);
  return json(200, bundleJson("history", call.base, entries, std::nullopt, self, next));
}

// GET /Type?…
http::Response FhirApi::searchType(Call& call) {
  const std::string& type = call.match.type;
  const std::string& base = call.base;
  call.action = 'R';
  auto parsed = parseSearch(type, call.target, *search_, limits(), base);
  call.what = type + "?" + (parsed ? parsed->names : "");
  if (!parsed) return failure(parsed.error());
  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store), call.ess);
  auto page = lease.check(lease->search(parsed->request));
  if (!page) return failure(page.error());
  std::vector<BundleEntry> entries;
  for (const StoredResource& r : page->resources)
    entries.push_back({&r, "match"});
  // _include: the resources the page's references point to, once each, in the order they are
  // met, at most max_includes of them, read in one query.
  std::vector<std::string> references;
  bool truncated = false;
  std::set<std::string> seen;
  for (const StoredResource& r : page->resources)
    seen.insert(r.type + "/" + r.id);
  for (const auto& [source, param] : parsed->includes) {
    for (const StoredResource& r : page->resources) {
      for (const IndexEntry& e : search_->extract(r.type, r.json)) {
        if (e.kind != SearchKind::Reference || e.param != param->name) continue;
        if (e.second.find('/') == std::string::npos || seen.count(e.second) != 0) continue;
        if (references.size() >= static_cast<std::size_t>(std::max(options_.max_includes, 0))) {
          truncated = true;
          continue;
        }
        seen.insert(e.second);
        references.push_back(e.second);
      }
    }
  }
  std::vector<StoredResource> included;
  if (!references.empty()) {
    auto targets = lease.check(lease->readCurrent(references));
    if (!targets) return failure(targets.error());
    included = std::move(*targets);
  }
  for (const StoredResource& r : included)
    entries.push_back({&r, "include"});
  StoredResource warning;
  if (truncated) {
    warning.type = "OperationOutcome";
    warning.json = outcomeJson(
        Errc::RestIncludesTruncated,
        "Ressources incluses limitées à " + std::to_string(options_.max_includes) +
            " par page (limits.maxIncludes) : demander des pages plus petites (_count)");
    entries.push_back({&warning, "outcome"});
  }
  for (const BundleEntry& e : entries) {
    if (e.resource != &warning)
      notePatientsOf(call.patients, *search_, e.resource->type, e.resource->id, e.resource->json);
  }
  const std::string path = base + "/" + type;
  const std::string q = queryWithout(call.target, "_cursor");
  const std::string self = path + (q.empty() ? "" : "?" + q);
  const std::string next = page->next.empty() ? ""
                                              : path + "?" + (q.empty() ? "" : q + "&") +
                                                    "_cursor=" + urlEncode(page->next);
  return json(200, bundleJson("searchset", base, entries, page->total, self, next));
}

// GET /Binary/{id}: a document's bytes as they were received, with their Content-Type; as the
// FHIR Binary resource (base64) when asked for FHIR JSON (Accept or _format), as FHIR says.
http::Response FhirApi::binary(Call& call) {
  const http::Request& request = call.request;
  const Target& t = call.target;
  const std::string& id = call.match.id;
  call.action = 'R';
  call.what = "Binary/" + id;
  const std::string& what = call.what;
  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store), call.ess);
  auto found = lease.check(lease->readBinary(id));
  if (!found) return failure(found.error());
  if (!*found) return failure(Errc::RestNotFound, "Ressource inconnue : " + what);
  // Whose document it is: the patients of the DocumentReferences that attach it.
  auto patients = lease.check(lease->patientsOfBinary(id));
  if (!patients) return failure(patients.error());
  call.patients = std::move(*patients);
  const BinaryContent& b = **found;
  // A content type from a mail header, kept as received: sent only if it is a plain token.
  std::string content_type = b.content_type;
  if (content_type.empty() || std::any_of(content_type.begin(), content_type.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      }))
    content_type = "application/octet-stream";

  bool fhir_json = request.header("Accept").find("fhir+json") != std::string_view::npos ||
                   request.header("Accept").find("json+fhir") != std::string_view::npos;
  for (const auto& [name, value] : t.query) {
    if (name == "_format")
      fhir_json = value == "json" || value.find("fhir+json") != std::string::npos ||
                  value == "application/json";
  }
  http::Response r;
  if (fhir_json) {
    std::string body;
    json::JsonOut w(body);
    w.StartObject();
    w.Key("resourceType");
    w.String("Binary");
    w.Key("id");
    w.String(b.id);
    w.Key("meta");
    w.StartObject();
    w.Key("versionId");
    w.String("1");
    w.EndObject();
    w.Key("contentType");
    w.String(content_type);
    w.Key("data");
    w.String(pipeline::base64(b.bytes));
    w.EndObject();
    r = json(200, std::move(body));
    r.headers.push_back({"ETag", "W/\"1\""});
  } else {
    r.headers.push_back({"Content-Type", content_type});
    // The bytes never change under their hash: a strong validator.
    r.headers.push_back({"ETag", "\"" + b.id + "\""});
    r.headers.push_back({"X-Content-Type-Options", "nosniff"});
    // Received content served from the API's origin runs nothing there (an HTML or XML part
    // with scripts); a PDF is left to the browser's viewer, which a sandbox would block.
    if (content_type.rfind("application/pdf", 0) != 0)
      r.headers.push_back({"Content-Security-Policy", "sandbox"});
    r.body = b.bytes;
  }
  // Patient data: kept by no cache, shared or private.
  r.headers.push_back({"Cache-Control", "private, no-store"});
  r.headers.push_back({"Vary", "Accept"});
  return r;
}

// GET /AuditEvent?… and /AuditEvent/{id}: the audit trail as FHIR AuditEvents (the view
// audit_event_fhir), newest first, for the admin role; this read is audited like any other,
// naming the patients of the events it returns.
http::Response FhirApi::auditTrail(Call& call) {
  const bool one = call.match.route->handler == Handler::AuditRead;
  call.action = 'R';
  AuditQuery query;
  if (one) {
    call.what = "AuditEvent/" + call.match.id;
    query.id = call.match.id;
    query.count = 1;
  } else {
    auto parsed = parseAuditSearch(call.target, limits(), call.base);
    call.what = "AuditEvent?" + (parsed ? parsed->names : "");
    if (!parsed) return failure(parsed.error());
    query = std::move(parsed->query);
  }
  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store));
  auto page = lease.check(lease->searchAudit(query));
  if (!page) return failure(page.error());
  for (const StoredResource& r : page->resources)
    notePatientsOfAuditEvent(call.patients, r.json);
  if (one) {
    if (page->resources.empty())
      return failure(Errc::RestNotFound, "Ressource inconnue : " + call.what);
    return json(200, page->resources.front().json);
  }
  std::vector<BundleEntry> entries;
  for (const StoredResource& r : page->resources)
    entries.push_back({&r, "match"});
  const std::string path = call.base + "/AuditEvent";
  const std::string q = queryWithout(call.target, "_cursor");
  const std::string self = path + (q.empty() ? "" : "?" + q);
  const std::string next = page->next.empty() ? ""
                                              : path + "?" + (q.empty() ? "" : q + "&") +
                                                    "_cursor=" + urlEncode(page->next);
  return json(200, bundleJson("searchset", call.base, entries, std::nullopt, self, next));
}

Result<Unit> FhirApi::auditIn(StoreTransaction& tx, const Call& call) const {
  return tx.audit(auditRecordOf(*clock_, call.request, call.principal, call.role, call.action,
                                auditSubtype(call.interaction), call.what, 200, call.patients));
}

bool FhirApi::isTransactionBundle(std::string_view body) {
  rapidjson::Document doc;
  return !json::parseExternalJson(doc, body) && doc.IsObject() && doc.HasMember("resourceType") &&
         doc["resourceType"].IsString() &&
         std::string_view(doc["resourceType"].GetString()) == "Bundle" && doc.HasMember("type") &&
         doc["type"].IsString() && std::string_view(doc["type"].GetString()) == "transaction";
}

http::Response FhirApi::transaction(Store& store, Call& call) {
  auto tx = store.begin();
  if (!tx) return failure(tx.error());
  // A new salt per request: a client that posts the same Bundle twice creates twice (FHIR).
  static std::atomic<std::uint64_t> requests{0};
  const std::uint64_t salt =
      requests.fetch_add(1) ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  // Each entry needs the permission of its own interaction (a DELETE entry, that of delete).
  const auth::Principal* principal = call.principal;
  const auth::Policy* policy = options_.policy;
  auto permitted = [principal, policy](auth::Interaction interaction, std::string_view type) {
    static const auth::Policy kNoPolicy;
    return auth::authorize(principal, policy != nullptr ? *policy : kNoPolicy, interaction, type,
                           "") == auth::Decision::Allow;
  };
  TransactionContext context{store,    **tx,      *search_,
                             limits(), call.base, fhir::instantOf(clock_->now()),
                             salt,     permitted, &messages_->incoming()};
  auto reply = processTransaction(call.request.body, context);
  if (!reply) return failure(reply.error());  // the store's message never reaches the client
  if (reply->refused) {
    const TransactionRefusal& r = *reply->refused;
    return failure(r.error.code, r.error.detail, r.expression);
  }
  // Whose data it wrote, read back in the transaction; its record commits with it.
  StoreTransaction& t = **tx;
  notePatientsOfResponse(
      call.patients, *search_,
      [&t](std::string_view type, std::string_view id) { return t.read(type, id); },
      reply->response_json);
  if (auto a = auditIn(t, call); !a) return failure(Errc::DbUnavailable, kAuditDown);
  if (auto c = (*tx)->commit(); !c) return failure(c.error());
  call.audited = true;
  return json(200, std::move(reply->response_json));
}

http::Response FhirApi::write(Call& call) {
  const http::Request& request = call.request;
  const std::string& type = call.match.type;
  const std::string& base = call.base;
  std::string& what = call.what;
  char& action = call.action;
  const std::string now = fhir::instantOf(clock_->now());
  // POST /Type/$validate
  if (call.match.route->handler == Handler::Validate)
    return json(200, validateResource(type, request.body));
  const bool create = call.match.route->handler == Handler::Create;
  const bool remove = call.match.route->handler == Handler::Delete;

  auto store = acquire();
  if (!store) return failure(store.error());
  Lease lease(*this, std::move(*store), call.ess);

  if (remove) {
    action = 'D';
    what = type + "/" + call.match.id;
    // Whose data is deleted: the current version's patient.
    auto current = lease.check(lease->read(type, call.match.id));
    if (!current) return failure(current.error());
    if (*current) notePatientsOf(call.patients, *search_, type, call.match.id, (*current)->json);
    auto tx = lease->begin();
    if (!tx) return failure(tx.error());
    auto removed = lease.check((*tx)->remove(type, call.match.id, ifMatch(request)));
    if (!removed) return failure(removed.error());
    if (!*removed) return failure(Errc::RestNotFound, "Ressource inconnue : " + what);
    if (auto a = lease.check(auditIn(**tx, call)); !a)
      return failure(Errc::DbUnavailable, kAuditDown);
    if (auto c = lease.check((*tx)->commit()); !c) return failure(c.error());
    call.audited = true;
    http::Response r = json(200, outcomeJson(Errc::RestGone, "Ressource supprimée : " + what));
    r.headers.push_back({"ETag", "W/\"" + std::to_string((*removed)->version) + "\""});
    return r;
  }

  std::string id;
  if (create) {
    action = 'C';
    what = type;
    // Conditional create: If-None-Exist is a search; one match is the answer, more is an error.
    if (const std::string_view condition = request.header("If-None-Exist"); !condition.empty()) {
      auto parsed =
          parseSearch(type, parseTarget("?" + std::string(condition)), *search_, limits(), base);
      if (!parsed) return failure(parsed.error());
      parsed->request.count = 2;
      auto page = lease.check(lease->search(parsed->request));
      if (!page) return failure(page.error());
      if (page->resources.size() > 1)
        return failure(Errc::RestPreconditionFailed, "If-None-Exist : plusieurs correspondances");
      if (page->resources.size() == 1) {
        const StoredResource& found = page->resources.front();
        what = type + "/" + found.id;
        notePatientsOf(call.patients, *search_, found.type, found.id, found.json);
        return resourceResponse(200, found.json,
                                {found.type, found.id, found.version, found.last_updated}, base);
      }
    }
    static std::atomic<std::uint64_t> counter{0};
    const std::uint64_t seed =
        std::hash<std::string_view>{}(request.body) ^
        static_cast<std::uint64_t>(clock_->now().time_since_epoch().count()) ^
        (counter.fetch_add(1) * 0x9E3779B97F4A7C15ULL);
    id = map::deriveUuid(seed, type);
  } else {
    action = 'U';
    id = call.match.id;
    what = type + "/" + id;
  }
  auto prepared = pipeline::prepareResource(request.body, type, id, now, create);
  if (!prepared) return failure(prepared.error());
  auto tx = lease->begin();
  if (!tx) return failure(tx.error());
  if (auto key = messages_->incoming().identifying(type, *prepared)) {
    auto holder = lease.check((*tx)->holderOf(type, key->system, key->value, id));
    if (!holder) return failure(holder.error());
    if (holder->id != id)
      return failure(Errc::RestIdentifierTaken,
                     type + "/" + holder->id + " porte déjà cet identifiant (" + key->system + ")");
  }
  auto written = lease.check(
      (*tx)->update(NewResource{type, id, *prepared, now, search_->extract(type, *prepared)},
                    create ? std::nullopt : ifMatch(request)));
  if (!written) return failure(written.error());
  what = type + "/" + id;
  notePatientsOf(call.patients, *search_, type, id, *prepared);
  if (auto a = lease.check(auditIn(**tx, call)); !a)
    return failure(Errc::DbUnavailable, kAuditDown);
  if (auto c = lease.check((*tx)->commit()); !c) return failure(c.error());
  call.audited = true;
  auto stored = lease.check(lease->read(type, id));
  if (!stored || !*stored) return failure(Errc::DbError, "relecture impossible");
  return resourceResponse(written->version == 1 ? 201 : 200, (*stored)->json, *written, base);
}

}  // namespace liaison::rest

namespace liaison::rest {

// POST /auth/login, POST /auth/logout, GET /auth/session: people's browser sessions. Login and
// logout are audited (subtype login/logout, the account as entity, never the password).
http::Response FhirApi::session(Call& call) {
  if (options_.sessions == nullptr) return failure(Errc::RestNotFound, "Chemin inconnu");
  Sessions& sessions = *options_.sessions;
  const std::string_view cookie = call.request.header("Cookie");
  auto sessionJson = [](const std::string& user, const std::vector<std::string>& roles,
                        const std::vector<std::string>& ess, const std::string& csrf) {
    std::string out;
    json::JsonOut w(out);
    w.StartObject();
    w.Key("username");
    w.String(user);
    for (const auto& [key, values] : {std::pair{"roles", &roles}, std::pair{"ess", &ess}}) {
      w.Key(key);
      w.StartArray();
      for (const std::string& v : *values)
        w.String(v);
      w.EndArray();
    }
    w.Key("csrfToken");
    w.String(csrf);
    w.EndObject();
    return out;
  };
  auto plain = [](int status, std::string body) {
    http::Response r;
    r.status = status;
    r.headers.push_back({"Content-Type", "application/json"});
    r.headers.push_back({"Cache-Control", "no-store"});
    r.body = std::move(body);
    return r;
  };
  if (call.match.route->handler == Handler::Session) {
    if (call.principal == nullptr || call.principal->kind != auth::PrincipalKind::User)
      return failure(Errc::SessionExpired, "Pas de session : se connecter (POST /auth/login)");
    return plain(200, sessionJson(call.principal->id, call.principal->roles, call.principal->ess,
                                  sessions.csrfOf(cookie)));
  }
  call.action = 'E';
  if (call.match.route->handler == Handler::Logout) {
    if (call.principal == nullptr || call.principal->kind != auth::PrincipalKind::User)
      return failure(Errc::SessionExpired, "Pas de session : se connecter (POST /auth/login)");
    call.what = "user:" + call.principal->id;
    if (auto r = sessions.logout(cookie); !r) return failure(r.error());
    http::Response r = plain(200, "{\"loggedOut\":true}");
    r.headers.push_back({"Set-Cookie", std::string(kSessionCookie) +
                                           "=; Path=/; Max-Age=0; Secure; HttpOnly; "
                                           "SameSite=Strict"});
    return r;
  }
  LoginOutcome login =
      sessions.login(call.request.header("Content-Type"), call.request.body, call.request.remote);
  call.what = "user:" + (login.user.empty() ? std::string("?") : login.user) +
              (login.locked_now ? " locked" : "");
  if (!login.ok) {
    // One message whatever was wrong (unknown name, wrong password, disabled account).
    http::Response r =
        login.error == Errc::LoginFailed
            ? failure(Errc::LoginFailed, "Identifiant ou mot de passe incorrect")
        : login.error == Errc::AccountLocked
            ? failure(Errc::AccountLocked,
                      "Compte verrouillé après trop d'échecs ; réessayer plus tard")
        : login.error == Errc::LoginRateLimited
            ? failure(Errc::LoginRateLimited, "Trop de tentatives de connexion ; patienter")
            : failure(login.error, "Erreur du serveur ; réessayer plus tard.");
    if (login.retry_after > 0)
      r.headers.push_back({"Retry-After", std::to_string(login.retry_after)});
    return r;
  }
  http::Response r = plain(
      200, sessionJson(login.session.account, login.session.roles, login.session.ess, login.csrf));
  r.headers.push_back({"Set-Cookie", std::string(kSessionCookie) + "=" + login.token +
                                         "; Path=/; Secure; HttpOnly; SameSite=Strict"});
  return r;
}

}  // namespace liaison::rest
