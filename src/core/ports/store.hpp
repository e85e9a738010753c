#pragma once
// The store port: where liaison keeps what it receives and what it makes of it. The raw message
// journal comes first and is never updated in place; each message's resources then commit in one
// transaction with its outcome. Implemented by adapters/pg (PostgreSQL).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"

namespace liaison {

struct Unit {};  // Result<Unit>: success without a value

// One inbound message as received: its exact bytes and what identifies it.
struct InboundMessage {
  std::string_view bytes;
  std::string message_id;  // RFC 5322 Message-ID, "" when the input has none (a form file)
  std::string sha256;      // hex, of `bytes`
  std::string source;      // where it came from: "file:…", "imap:…", "api"
  // What makes two copies the same message (hex SHA-256): for a mail, of its bytes without the
  // trace header fields that relays add or rewrite (Received, Return-Path, Delivered-To…), so
  // that a redelivery is recognised; otherwise `sha256`. "" means `sha256`.
  std::string content_key;
};

// The outcome of a journaled message, as stored once its resources committed.
struct StoredOutcome {
  std::string status;         // accepted | incomplete | quarantined
  std::string outcome_json;   // the OperationOutcome
  std::string response_json;  // the transaction-response Bundle ("" when quarantined)
};

struct JournalEntry {
  std::int64_t id = 0;
  bool duplicate = false;  // the same Message-ID and content key were journaled before
  // The first ingest's outcome, when the message was already processed: return it, write nothing.
  std::optional<StoredOutcome> outcome;
  // Another message with the same (non-empty) Message-ID but a different content was journaled
  // before: a reused Message-ID, which the secretariat should see.
  bool message_id_reused = false;
};

// One search-index value of a resource (profiles/fhir/search-parameters.json).
enum class SearchKind : char { Token = 't', String = 's', Date = 'd', Reference = 'r' };
// A string parameter's whole value is indexed under its name, and from each later word onward
// under "<name>#w", so that a prefix of any word is one index range.
inline constexpr std::string_view kWordSuffix = "#w";

struct IndexEntry {
  std::string param;
  SearchKind kind = SearchKind::Token;
  std::string first;  // token: system ("" when none); date: low (instant); else ""
  std::string
      second;  // token: code; string: folded text; date: high (exclusive); reference: Type/id
  bool operator==(const IndexEntry&) const = default;
};

struct NewResource {
  std::string type;
  std::string id;
  std::string json;          // the resource, with id and meta already set
  std::string last_updated;  // FHIR instant, as in meta.lastUpdated
  std::vector<IndexEntry> index;
};

struct StoredResource {
  std::string type;
  std::string id;
  std::int64_t version = 0;
  std::string last_updated;  // FHIR instant
  bool deleted = false;
  std::string json;  // "" for a deleted version
};

// A search of the current versions: every clause must match (AND), a clause matches when any of
// its values does (OR). Values are already typed by the REST layer.
struct SearchValue {
  std::string op;     // token: "" or "system" (system given) ; string: "prefix" | "exact" |
                      // "contains"; date: eq ne gt lt ge le; reference: ""
  std::string first;  // token: system; date: low
  std::string
      second;  // token: code; string: folded text; date: high (exclusive); reference: target
};
struct SearchClause {
  std::string param;  // "_lastUpdated" searches the version's lastUpdated (kind Date)
  SearchKind kind = SearchKind::Token;
  std::vector<SearchValue> any;
};
struct SearchRequest {
  std::string type;
  std::vector<SearchClause> all;
  int count = 20;
  bool oldest_first = false;  // _sort=_lastUpdated (default: -_lastUpdated, newest first)
  bool total = false;         // compute the total (_summary=count or _total=accurate)
  bool count_only = false;
  std::string after;  // cursor from a previous page ("" = first page)
};
struct SearchPage {
  std::vector<StoredResource> resources;
  std::optional<std::int64_t> total;
  std::string next;  // cursor of the next page, "" when this is the last
};

struct StoredVersion {
  std::string type;
  std::string id;
  std::int64_t version = 1;
  std::string last_updated;  // FHIR instant
};

// The bytes of a document (a CDA, a PDF…), kept out of the resources' JSON: stored once, under
// their SHA-256, and served by GET /Binary/{id}. DocumentReference.content.attachment.url names
// them ("Binary/<id>").
struct BinaryContent {
  std::string id;            // lower-case hex SHA-256 of `bytes` (64 characters: a FHIR id)
  std::string content_type;  // e.g. "application/pdf", "text/xml"
  std::string bytes;
};

// What makes a received document the same as, or a version of, one stored before.
struct DocumentIdentity {
  // The document itself: "<system>|<value>" of its uniqueId / CDA id (the DocumentReference's
  // masterIdentifier), or "sha256|<hex>" for a file without one (an attachment).
  std::string key;
  std::string set;                    // "<system>|<value>" of the CDA setId; "" when none
  std::int64_t version = 0;           // CDA versionNumber; 0 when none
  std::vector<std::string> replaces;  // keys of the documents it replaces (relatedDocument RPLC)
};

// What the store knows of a document being stored (StoreTransaction::claimDocument).
struct DocumentClaim {
  enum class Status : std::uint8_t {
    New,         // first seen: store it and what derives from it
    Same,        // stored before (another mail, another relay, a resend): store nothing again
    Supersedes,  // a newer version of stored ones: store it, retire the versions it replaces
    Superseded,  // an older version of a stored one, arriving late: store it retired
  };
  Status status = Status::New;
  // Same: the stored DocumentReference ("DocumentReference/<id>"); Superseded: the current one.
  std::string current;
  struct Version {
    std::string document;                // "DocumentReference/<id>"
    std::vector<std::string> resources;  // what was derived from it, "Type/id"
  };
  std::vector<Version> superseded;  // Supersedes: the versions it replaces, still current until now
  // Same: what is stored as derived from it ("Type/id"), to tell what a copy adds.
  std::vector<std::string> resources;
  // (also with Superseded, when the late version explicitly replaces versions still current: they
  // are retired all the same; whatever the status, what is listed here is to retire)
};

// A mail liaison will send (an MDN, a notice): written to the outbox in the same transaction as
// what caused it, then sent by an outbox worker, at least once, whatever crashes in between.
struct OutboundMail {
  std::string kind;        // "mdn" | "notice" | "missing-information"
  std::string message_id;  // of the outgoing mail, without angle brackets (unique)
  std::string mail_from;   // envelope sender
  std::vector<std::string> recipients;
  std::string bytes;            // the whole RFC 5322 message
  std::int64_t journal_id = 0;  // the inbound message it answers (0: none)
};

// One outbox row, as workers and the API see it.
struct OutboxEntry {
  std::int64_t id = 0;
  std::string kind;
  std::string message_id;
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string status;  // pending | sending | sent | failed | delivered | displayed
  int attempts = 0;
  std::string next_attempt_at;  // FHIR instant
  std::string last_error;       // "" when none
  std::string created_at;       // FHIR instant
  std::string sent_at;          // "" until sent
  std::string report;           // the last MDN/DSN about it, as "kind action status" ("" if none)
  std::int64_t journal_id = 0;
  std::string bytes;  // only filled by lease()
};

// A journaled message that has no outcome: its processing was interrupted (a crash, a lost
// database connection) and must be run again.
struct UnfinishedMessage {
  std::int64_t journal_id = 0;
  std::string source;
  std::string bytes;
};

struct AuditRecord;

// One database transaction. Destroying it without commit() rolls back.
class StoreTransaction {
 public:
  virtual ~StoreTransaction() = default;

  // The resource of that type that holds this identifier (a Patient's INS, a Practitioner's
  // RPPS, an Organization's FINESS): the existing one, or `proposed_id`, recorded as its holder
  // (claimed: it is for this transaction to create it). Atomic under concurrency (a unique
  // constraint, not a read-then-write race). Ids may repeat across transactions (those derived
  // from a document): `claimed`, not a comparison with `proposed_id`, says who creates it.
  struct Holder {
    std::string id;
    bool claimed = false;
  };
  virtual Result<Holder> holderOf(std::string_view type, std::string_view system,
                                  std::string_view value, std::string_view proposed_id) = 0;

  // Creates version 1 of each resource (and its history row).
  virtual Result<std::vector<StoredVersion>> create(std::span<const NewResource> resources) = 0;

  // Writes the next version of a resource (version 1 when it does not exist yet): its JSON with
  // meta.versionId and meta.lastUpdated set, the history row, and its search index replaced.
  // With `if_match`, RestPreconditionFailed unless the current version is that one.
  virtual Result<StoredVersion> update(const NewResource& resource,
                                       std::optional<std::int64_t> if_match) = 0;

  // Deletes (soft): a new version marked deleted, the search index removed. nullopt when the
  // resource does not exist or is already deleted.
  virtual Result<std::optional<StoredVersion>> remove(std::string_view type, std::string_view id,
                                                      std::optional<std::int64_t> if_match) = 0;

  // Records the outcome of a journaled message. DbConflict when it already has one (a concurrent
  // ingest of the same message won).
  virtual Result<Unit> recordOutcome(std::int64_t journal_id, const StoredOutcome& outcome,
                                     std::string_view quarantine_code) = 0;

  // The current version of a resource, read in this transaction (nullopt when absent or deleted).
  virtual Result<std::optional<StoredResource>> read(std::string_view type,
                                                     std::string_view id) = 0;

  // Stores a document's bytes once: the same id again writes nothing.
  virtual Result<Unit> putBinary(const BinaryContent& binary) = 0;

  // Records that `document` ("DocumentReference/<id>") and `resources` ("Type/id", what was
  // derived from it) hold this document identity, and says how it relates to what was stored
  // before (see DocumentClaim). Atomic per document set under concurrency (a lock and a unique
  // key, not a read-then-write race): two copies of one document never both become New.
  virtual Result<DocumentClaim> claimDocument(const DocumentIdentity& identity,
                                              std::string_view document,
                                              std::span<const std::string> resources) = 0;

  // Adds resources ("Type/id") to what derives from a document already claimed (a copy received
  // later brought them), so that a new version retires them too.
  virtual Result<Unit> addToDocument(std::string_view key,
                                     std::span<const std::string> resources) = 0;

  // The newest open ServiceRequest (status draft, active or on-hold) of a patient
  // ("Patient/<id>"), as "ServiceRequest/<id>"; nullopt when there is none.
  virtual Result<std::optional<std::string>> openRequestOf(std::string_view patient) = 0;

  // Queues a mail to send, in this transaction (so it exists if and only if what caused it was
  // committed). A message_id already queued is not queued again.
  virtual Result<Unit> enqueue(const OutboundMail& mail) = 0;

  // Writes an audit record in this transaction: a write and its record commit together or not
  // at all (the trail never misses a write that stands).
  virtual Result<Unit> audit(const AuditRecord& record) = 0;

  virtual Result<Unit> commit() = 0;
};

// One entry of the audit trail: the columns of a FHIR AuditEvent, which the store builds from them
// when asked (it is not kept as JSON: every read writes one).
struct AuditRecord {
  std::string recorded;  // when, as a FHIR instant (UTC)
  std::string agent;     // who: client certificate subject, or "local:<user>"
  std::string action;    // C R U D E
  std::string subtype;   // FHIR restful-interaction: read, search-type, create, update, delete
  std::string what;      // "Patient/123", "Patient?name,birthdate" (parameter names only)
  std::string outcome;   // "0" success, "4" minor failure, "8" serious failure
  // The principal ("client:<name>", "token:<name>") and the role that allowed the access ("" if
  // none did: refused, or not authenticated), as the authorization step knew them.
  std::string principal = {};
  std::string role = {};
  // The ids of the patients whose data was returned or written (the Patient itself, or the
  // subject/patient a resource points to): "who saw patient X" is a query on them.
  std::vector<std::string> patients = {};
  // The ESS the principal belongs to ("*": every ESS), and the client's network address (IP).
  std::vector<std::string> ess = {};
  std::string address = {};
};

// A search of the audit trail (GET /AuditEvent): every clause must match (AND), a clause matches
// when any of its values does (OR). Newest first, by record id.
struct AuditQuery {
  std::vector<std::vector<std::string>> patients;    // patient ids
  std::vector<SearchValue> recorded;                 // date: op, low, high (as SearchValue)
  std::vector<std::vector<std::string>> principals;  // "client:<name>", "token:<name>"
  std::vector<std::vector<std::string>> subtypes;    // read, search-type, create…
  std::vector<std::vector<std::string>> actions;     // C R U D E
  std::string id;                                    // one record by id ("" = any)
  int count = 20;
  std::string after;  // cursor from a previous page ("" = first page)
};

// Where the audit trail goes when it must not cost a transaction per request: the records of
// concurrent requests are written together (group commit) by a writer of its own.
class AuditLog {
 public:
  virtual ~AuditLog() = default;
  // Returns once the record is in the database (true), or could not be written (false): the
  // request it records then fails closed (503), its data never sent unrecorded.
  [[nodiscard]] virtual bool record(AuditRecord record) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // The ESS (profile ids) whose rows the next reads see and whose rows the next writes make:
  // one id; several, or "*" (every ESS), for reads only (a write needs one). Empty: none at all
  // (fail closed: a store given back to a pool forgets its request's). Taken by the following
  // calls and transactions (begin); enforced by the database itself (adapters/pg: row-level
  // security), not by each query.
  virtual void setEss(std::span<const std::string> ess) { (void)ess; }

  // Reads of the current and past versions (never patient data in errors).
  virtual Result<std::optional<StoredResource>> read(std::string_view type,
                                                     std::string_view id) = 0;
  virtual Result<std::optional<StoredResource>> vread(std::string_view type, std::string_view id,
                                                      std::int64_t version) = 0;
  // The current versions of the resources named ("Type/id"), in that order, the unknown and
  // deleted ones left out: a search page's _include targets in one query (PgStore). This
  // default reads them one by one.
  virtual Result<std::vector<StoredResource>> readCurrent(std::span<const std::string> references) {
    std::vector<StoredResource> out;
    for (const std::string& reference : references) {
      const std::string_view ref = reference;
      const std::size_t slash = ref.find('/');
      if (slash == std::string_view::npos) continue;
      auto r = read(ref.substr(0, slash), ref.substr(slash + 1));
      if (!r) return r.error();
      if (*r && !(*r)->deleted) out.push_back(std::move(**r));
    }
    return out;
  }
  // Newest first; an empty id gives the history of the type; `after` as in SearchRequest.
  virtual Result<SearchPage> history(std::string_view type, std::string_view id, int count,
                                     std::string_view after) = 0;
  virtual Result<SearchPage> search(const SearchRequest& request) = 0;
  virtual Result<Unit> audit(const AuditRecord& record) = 0;
  // The audit trail as FHIR AuditEvents (StoredResource of type AuditEvent, version 1), newest
  // first; `next` as in SearchPage.
  virtual Result<SearchPage> searchAudit(const AuditQuery& query) = 0;
  // The patients ("<id>") of the current DocumentReferences whose attachment is Binary/<id>:
  // whose data a Binary read returns.
  virtual Result<std::vector<std::string>> patientsOfBinary(std::string_view id) = 0;
  // A document's bytes by id (BinaryContent::id); nullopt when unknown.
  virtual Result<std::optional<BinaryContent>> readBinary(std::string_view id) = 0;

  // Writes the message to the journal and commits, before anything else is done with it. A
  // message already journaled (same Message-ID and content key) is not written again.
  virtual Result<JournalEntry> journal(const InboundMessage& message) = 0;

  // The outcome of a journaled message, if it has one.
  virtual Result<std::optional<StoredOutcome>> outcomeOf(std::int64_t journal_id) = 0;

  virtual Result<std::unique_ptr<StoreTransaction>> begin() = 0;

  // Journaled messages without an outcome, oldest first (at most `limit`), whose journal row is
  // older than `min_age_seconds` (so that a message another gateway is processing right now is
  // left to it; a second run would still be harmless: outcomes are recorded once).
  virtual Result<std::vector<UnfinishedMessage>> unfinished(int limit, int min_age_seconds) = 0;

  // Counts one more attempt at processing an interrupted message, committed at once, and returns
  // how many there have been: a message that stops the gateway every time it is processed (a
  // crash) is quarantined after a few, instead of stopping it for ever.
  virtual Result<int> recordAttempt(std::int64_t journal_id) = 0;

  // The outbox kept in the same database, when the store has one.
  virtual class Outbox* outbox() { return nullptr; }
};

// The outbox: mails waiting to be sent, leased by workers so that several gateways on one database
// never send the same row at the same time.
class Outbox {
 public:
  virtual ~Outbox() = default;

  // Takes up to `max` rows that are due (pending with next_attempt_at <= now, or sending with an
  // expired lease: a worker died), with FOR UPDATE SKIP LOCKED; marks them sending, leased to
  // `worker` for `lease_seconds`, attempts + 1. Rows come with their bytes.
  virtual Result<std::vector<OutboxEntry>> lease(std::string_view worker, int max,
                                                 int lease_seconds) = 0;
  virtual Result<Unit> markSent(std::int64_t id) = 0;
  // Back to pending, due again in `delay_ms`, with the error kept.
  virtual Result<Unit> retryLater(std::int64_t id, std::int64_t delay_ms,
                                  std::string_view error) = 0;
  virtual Result<Unit> markFailed(std::int64_t id, std::string_view error) = 0;

  // An MDN or DSN about one of our mails arrived: records it on the row with that Message-ID and
  // moves its status (delivered, displayed, failed). false when no row has that Message-ID.
  virtual Result<bool> recordReport(std::string_view message_id, std::string_view status,
                                    std::string_view report) = 0;

  // Rows by status ("" = all), newest first.
  virtual Result<std::vector<OutboxEntry>> list(std::string_view status, int count) = 0;
};

}  // namespace liaison
