#pragma once
// Ingest with a store: journal the raw message first (committed), then run the intake, then commit
// the message's resources and outcome in one transaction. The same message twice returns the first
// outcome and writes nothing; the same patient (INS) is found, not created again.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <rapidjson/document.h>

#include "core/ports/clock.hpp"
#include "core/ports/store.hpp"
#include "map/search_parameters.hpp"
#include "pipeline/form_intake.hpp"
#include "pipeline/incoming_rules.hpp"
#include "pipeline/message_intake.hpp"

namespace liaison::pipeline {

struct StoredIngest {
  IngestResult result;  // the intake's result (for a duplicate: status and outcome only)
  std::int64_t journal_id = 0;
  bool duplicate = false;
  std::string outcome_json;   // the OperationOutcome as stored
  std::string response_json;  // transaction-response Bundle: Type/id/_history/n per entry
};

// A transaction Bundle, ready for the store: ids assigned, references rewritten to Type/id, meta
// set; resources that carry an identifier `rules` names (a Patient's INS, a Practitioner's RPPS,
// an Organization's FINESS…) resolved against the store. A Patient that claims a stored INS with
// other traits leaves the stored one unchanged and adds an identity-review Task (a note says so).
struct TransactionOutcome {
  std::vector<StoredVersion> stored;  // in Bundle order, including matched resources
  std::vector<bool> created;  // false: an existing resource (same identifier) was referenced
};

// Applies a transaction Bundle (as written by the intake) inside `tx`; fills the response Bundle.
// Search-index entries come from `search`. New ids derive from the Bundle and `salt`, so that a
// retry of the same transaction assigns the same ones; the salt tells apart two transactions whose
// Bundles are byte-identical (two messages with the same content: the journal id of each).
//
// `documents` groups the entries made from one received document: their ids derive from the
// document's identity, and the store's claimDocument decides what becomes of them — a document
// already stored adds nothing (the entries keep pointing at the stored ones), a new version
// retires the one it replaces (DocumentReference superseded, what derived from it
// entered-in-error), a late older version is stored retired. DocumentReferences without
// context.related and Communications without about are linked to the Bundle's ServiceRequest, or
// else to the patient's open one. What happened is added to `notes` (information issues).
// `ess`, the ESS written to, enters the ids derived from documents: ids are global (FHIR URLs)
// and the same document sent to two ESS is stored in each.
Result<TransactionOutcome> applyTransaction(std::string_view bundle_json, StoreTransaction& tx,
                                            const std::string& now,
                                            const map::SearchParameters& search,
                                            const IncomingRules& rules, std::string& response_json,
                                            std::uint64_t salt,
                                            std::span<const DocumentGroup> documents = {},
                                            IssueList* notes = nullptr, std::string_view ess = {});

// Every "reference" naming a Bundle entry by its fullUrl (a key of `to`) now names the stored
// resource (its value, Type/id).
void rewriteReferences(rapidjson::Value& v, const std::unordered_map<std::string, std::string>& to,
                       rapidjson::Document::AllocatorType& alloc);

// Marks a resource entered-in-error, as its type says it (status, or verificationStatus for
// Condition and AllergyIntolerance). False for types that have no such state (Patient,
// Practitioner, Organization, PractitionerRole…): they are left as they are.
bool markEnteredInError(rapidjson::Value& resource, rapidjson::Document::AllocatorType& alloc);

// A resource from a client, ready to store: the JSON of type `type` with `id` and meta
// (versionId 1, lastUpdated `now`) set, other members kept. RestBodyInvalid when the text is not a
// JSON object of that resourceType, or names another id.
// With `ignore_body_id` (create), an id in the body is replaced rather than refused.
Result<std::string> prepareResource(std::string_view json, std::string_view type,
                                    std::string_view id, std::string_view now,
                                    bool ignore_body_id = false);

// The Message-ID of a mail, read from its header block without parsing the rest ("" if none).
std::string messageIdOf(std::string_view bytes);

class StoredIntake {
 public:
  // The CodeSystem of the error codes in the OperationOutcomes it writes.
  std::string issueSystem() const { return issueCodeSystem(messages_->canonicalBase()); }

  // The journal row of an input: its bytes, Message-ID and exactly-once key.
  InboundMessage inbound(std::string_view bytes, std::string source, bool mail) const;

  StoredIntake(Store& store, const MessageIntake& messages, const FormIntake& forms,
               const map::SearchParameters& search, const Clock& clock);

  // `mail` selects the message path (else the form path). An Error only for store failures:
  // then nothing but (perhaps) the journal row was written, and the input must be kept.
  Result<StoredIngest> ingest(std::string_view bytes, std::string source, bool mail) const;

  // The second half of ingest(), for a message the caller already journaled (the mailbox intake
  // journals, then marks the message on the server, then processes): runs the intake and commits
  // the resources, the outcome and the answers, unless the message already has an outcome.
  // With `give_up`, the intake is not run: the message is quarantined with that reason.
  // `source` is the journal's (who the answers may go to depends on it).
  Result<StoredIngest> process(const JournalEntry& journaled, std::string_view bytes, bool mail,
                               std::string_view source, const Error* give_up = nullptr) const;

  // The mails that answer an ingested mail (acknowledgements): queued in the outbox in the same
  // transaction as its outcome, so that each is sent if and only if the outcome committed.
  // `source` is the journal's ("imap:<mailbox>/…", "api:<client>"): the transport that vouches
  // for the sender.
  using Answer =
      std::function<std::vector<OutboundMail>(std::string_view bytes, const IngestResult& result,
                                              std::int64_t journal_id, std::string_view source)>;
  void answerWith(Answer answer) { answer_ = std::move(answer); }

  // Called in the transaction that stores a message's resources and outcome, just before it
  // commits, with the transaction-response Bundle: what it writes (an audit record) commits with
  // them or not at all; an error rolls the transaction back.
  using Witness = std::function<Result<Unit>(StoreTransaction& tx, std::int64_t journal_id,
                                             std::string_view response_json)>;
  void witnessWith(Witness witness) { witness_ = std::move(witness); }

  // The ESS whose rows it reads and writes (Store::setEss): its ESS profile's by default (a
  // mailbox's own); POST / gives the principal's.
  void writeAs(std::string ess) { ess_ = std::move(ess); }
  const std::string& ess() const { return ess_; }

 private:
  Answer answer_;
  Witness witness_;
  std::string ess_;
  Store* store_;
  const MessageIntake* messages_;
  const FormIntake* forms_;
  const map::SearchParameters* search_;
  const Clock* clock_;
};

}  // namespace liaison::pipeline
