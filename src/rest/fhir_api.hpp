#pragma once
// The FHIR R4 REST API over the store: routing, search parameters, Bundles, OperationOutcomes,
// the audit trail and the metrics. No sockets: an http::Handler that the server adapter calls on
// its worker threads, several at a time.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/auth/authenticator.hpp"
#include "core/auth/authorize.hpp"
#include "core/ports/clock.hpp"
#include "core/ports/http.hpp"
#include "core/ports/store.hpp"
#include "map/search_parameters.hpp"
#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "pipeline/stored_intake.hpp"

namespace liaison::rest {

class Sessions;

using StoreFactory = std::function<Result<std::unique_ptr<Store>>()>;

// What GET /healthz says of the database: the outcome of the last check that a background task
// of the application makes on a connection of its own (never one of the requests' pool), so that
// /healthz stays up and cheap when the pool is exhausted or the database slow.
struct DatabaseHealth {
  enum State : int { Unknown = 0, Ok = 1, Unavailable = 2 };
  std::atomic<int> state{Unknown};
  std::atomic<std::int64_t> checked_at_unix_ms{0};  // 0: never
  void record(bool ok, std::int64_t now_unix_ms) {
    state = ok ? Ok : Unavailable;
    checked_at_unix_ms = now_unix_ms;
  }
};

struct ApiOptions {
  // "https://gw.example/fhir": the configuration's (baseUrl, required), never a request's Host
  // header, which any client chooses (links, Location, fullUrl would point wherever it says).
  std::string base_url;
  int default_count = 20;
  int max_count = 1000;
  // Where AuditEvents go: batched by this log when given, else one INSERT per request.
  AuditLog* audit_log = nullptr;
  // The acknowledgements of a message posted to / (as for one from a mailbox), when configured.
  pipeline::StoredIntake::Answer answer;
  // More Prometheus text for /metrics (the mail transport's counters).
  std::function<std::string()> more_metrics;
  // Who may do what: every route but /healthz needs a principal the authenticator recognises and
  // a role of the policy that permits the route's interaction. Without them (null), every such
  // route answers 401: nothing is open by default.
  const auth::Authenticator* authenticator = nullptr;
  const auth::Policy* policy = nullptr;
  // People's sessions (POST /auth/login, /auth/logout, GET /auth/session); null: those routes
  // answer 404. Its authenticator is also in `authenticator`'s chain.
  Sessions* sessions = nullptr;
  // The database's last known state for /healthz (null: "unknown").
  const DatabaseHealth* database_health = nullptr;
  // At most this many _include references resolved per search page (as HAPI's
  // maximumIncludesToLoadPerPage, 1000 too): past it, the rest is left out and the Bundle says
  // so with an OperationOutcome entry (search.mode "outcome", rest-includes-truncated).
  int max_includes = 1000;
};

// Prometheus counters and a latency histogram; lock-free increments.
class Metrics {
 public:
  void request(std::string_view method, int status, double seconds);
  void ingest(pipeline::IngestStatus status, bool duplicate);
  std::string text() const;  // Prometheus text exposition format

 private:
  static constexpr double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5};
  static constexpr std::size_t kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);
  std::atomic<std::uint64_t> by_class_[2][6] = {};  // [GET/other][1xx..5xx, other]
  std::atomic<std::uint64_t> latency_[kBucketCount + 1] = {};
  std::atomic<std::uint64_t> latency_sum_us_{0};
  std::atomic<std::uint64_t> ingests_[3][2] = {};  // [status][duplicate]
};

class FhirApi {
 public:
  FhirApi(StoreFactory connect, const map::SearchParameters& search,
          const pipeline::MessageIntake& messages, const pipeline::FormIntake& forms,
          const Clock& clock, ApiOptions options = {});
  ~FhirApi();

  http::Response handle(const http::Request& request);
  // An OperationOutcome answer of this API with a stable code (Retry-After when transient): for
  // what the server adapter answers itself (limits.handlerTimeoutMs, shedding load).
  http::Response errorResponse(Errc code, std::string_view text) const;
  const Metrics& metrics() const { return metrics_; }

 private:
  class Lease;
  Result<std::unique_ptr<Store>> acquire();
  void release(std::unique_ptr<Store> store);

  struct Call;  // one request on its way through a handler (fhir_api.cpp)
  struct SearchLimits limits() const;
  // The handlers of the route table (rest/routes.hpp), one per Handler.
  http::Response dispatch(Call& call);
  http::Response health();
  http::Response outbox(Call& call);
  http::Response post(Call& call);
  http::Response binary(Call& call);
  http::Response read(Call& call);
  http::Response history(Call& call);
  http::Response searchType(Call& call);
  http::Response write(Call& call);
  http::Response transaction(Store& store, Call& call);
  http::Response auditTrail(Call& call);
  // Writes the audit record of a write in the write's own transaction (so that no write stands
  // without its record); the caller commits.
  Result<Unit> auditIn(StoreTransaction& tx, const Call& call) const;
  http::Response session(Call& call);  // the /auth/ routes
  static bool isTransactionBundle(std::string_view body);

  StoreFactory connect_;
  const map::SearchParameters* search_;
  const pipeline::MessageIntake* messages_;
  const pipeline::FormIntake* forms_;
  const Clock* clock_;
  ApiOptions options_;
  std::string issue_system_;  // the CodeSystem of error codes in OperationOutcomes
  Metrics metrics_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Store>> pool_;  // idle connections
};

// The CapabilityStatement of what this API serves (built from the search parameters); its own
// definitions (the message intake operation) under `canonical_base`.
std::string capabilityStatement(const map::SearchParameters& search, std::string_view base_url,
                                std::string_view canonical_base);

}  // namespace liaison::rest
