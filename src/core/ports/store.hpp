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
};

// The outcome of a journaled message, as stored once its resources committed.
struct StoredOutcome {
  std::string status;         // accepted | incomplete | quarantined
  std::string outcome_json;   // the OperationOutcome
  std::string response_json;  // the transaction-response Bundle ("" when quarantined)
};

struct JournalEntry {
  std::int64_t id = 0;
  bool duplicate = false;  // the same Message-ID and content were journaled before
  // The first ingest's outcome, when the message was already processed: return it, write nothing.
  std::optional<StoredOutcome> outcome;
};

struct NewResource {
  std::string type;
  std::string id;
  std::string json;          // the resource, with id and meta already set
  std::string last_updated;  // FHIR instant, as in meta.lastUpdated
};

struct StoredVersion {
  std::string type;
  std::string id;
  std::int64_t version = 1;
  std::string last_updated;  // FHIR instant
};

// One database transaction. Destroying it without commit() rolls back.
class StoreTransaction {
 public:
  virtual ~StoreTransaction() = default;

  // The resource of that type that holds this identifier (a Patient's INS, a Practitioner's
  // RPPS, an Organization's FINESS): the existing one, or `proposed_id`, recorded as its holder.
  // Atomic under concurrency (a unique constraint, not a read-then-write race).
  virtual Result<std::string> holderOf(std::string_view type, std::string_view system,
                                       std::string_view value, std::string_view proposed_id) = 0;

  // Creates version 1 of each resource (and its history row).
  virtual Result<std::vector<StoredVersion>> create(std::span<const NewResource> resources) = 0;

  // Records the outcome of a journaled message. DbConflict when it already has one (a concurrent
  // ingest of the same message won).
  virtual Result<Unit> recordOutcome(std::int64_t journal_id, const StoredOutcome& outcome,
                                     std::string_view quarantine_code) = 0;

  virtual Result<Unit> commit() = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Writes the message to the journal and commits, before anything else is done with it. A
  // message already journaled (same Message-ID and SHA-256) is not written again.
  virtual Result<JournalEntry> journal(const InboundMessage& message) = 0;

  // The outcome of a journaled message, if it has one.
  virtual Result<std::optional<StoredOutcome>> outcomeOf(std::int64_t journal_id) = 0;

  virtual Result<std::unique_ptr<StoreTransaction>> begin() = 0;
};

}  // namespace liaison
