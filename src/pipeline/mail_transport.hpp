#pragma once
// The MSSanté transport use cases, over the mail and store ports:
//  - MailboxIntake pulls a mailbox: for each waiting message, fetch its bytes, write them to the
//    journal and commit, only then mark the message on the server, then run the pipeline (which
//    commits the resources, the outcome and the acknowledgements in one transaction). A crash at
//    any point loses nothing (the message is in the mailbox or in the journal) and processes
//    nothing twice (the journal's Message-ID + SHA-256 key; outcomes are recorded once).
//    MDNs and DSNs about our own mails update the outbox instead.
//  - OutboxSender sends what the outbox holds: rows leased with SKIP LOCKED, retried with
//    exponential back-off and jitter on transient failures, failed on a 5xx.

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "core/ports/mail.hpp"
#include "core/ports/store.hpp"
#include "pipeline/stored_intake.hpp"

namespace liaison::pipeline {

// Counters for /metrics, shared by every mailbox and outbox worker of a process.
struct MailMetrics {
  std::atomic<std::uint64_t> fetched{0};     // messages read from mailboxes
  std::atomic<std::uint64_t> stored{0};      // processed to an outcome now
  std::atomic<std::uint64_t> duplicates{0};  // already had an outcome
  std::atomic<std::uint64_t> reports{0};     // MDNs/DSNs about our mails
  std::atomic<std::uint64_t> recovered{0};   // interrupted messages processed again
  std::atomic<std::uint64_t> mailbox_errors{0};
  std::atomic<std::uint64_t> backlog{0};  // messages waiting at the last look (all mailboxes)
  std::atomic<std::uint64_t> mailboxes_held{0};  // whose lease this process holds (it polls them)
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> retried{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> by_status[3] = {};  // accepted, incomplete, quarantined
  std::string text() const;                      // Prometheus text exposition
};

struct PassResult {
  std::uint64_t waiting = 0;  // listed at the start of the pass
  std::uint64_t processed = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t reports = 0;
  bool lease_lost = false;  // stopped because the mailbox is no longer ours (beforeEachBatch)
};

class MailboxIntake {
 public:
  // Messages are taken in batches of up to `batch` (and 32 MB): each fetched and journaled, then
  // the batch marked on the server in one command, then each processed.
  MailboxIntake(Mailbox& mailbox, Store& store, Outbox& outbox, const StoredIntake& intake,
                MailMetrics* metrics = nullptr, std::size_t batch = 32);

  // One pass over the waiting messages, oldest first, at most `max` of them (0: all). Stops at
  // the first failure (returned): what was not done stays where it is (mailbox or journal) for
  // the next pass. `stop` is looked at between messages.
  Result<PassResult> drain(const std::atomic<bool>* stop = nullptr, std::size_t max = 0);

  // Asked before each batch whether the mailbox is still ours (a lease renewed in the database:
  // two gateways on one database take turns); false stops the pass there, with lease_lost.
  void beforeEachBatch(std::function<bool()> still_ours) { still_ours_ = std::move(still_ours); }

 private:
  // One batch; returns how many of `uids` it took (fewer when the byte budget ran out).
  Result<std::size_t> take(std::uint32_t uid_validity, std::span<const std::uint32_t> uids,
                           PassResult& pass);
  Mailbox* mailbox_;
  Store* store_;
  Outbox* outbox_;
  const StoredIntake* intake_;
  MailMetrics* metrics_;
  std::size_t batch_;
  std::function<bool()> still_ours_;
};

// Processes journaled messages that have no outcome (interrupted by a crash or a lost connection),
// oldest first; returns how many. Reports are applied to the outbox, mails and forms ingested by
// the intake `intakeFor` gives for the message's journal source ("imap:<mailbox>/…": each
// mailbox may have its own ESS).
// A message interrupted more than kMaxRecoveries times (it stops the gateway each time it is
// processed) is quarantined as ingest-aborted instead.
inline constexpr int kMaxRecoveries = 5;
using IntakeFor = std::function<const StoredIntake&(std::string_view source)>;
Result<std::uint64_t> recoverUnfinished(Store& store, Outbox& outbox, const IntakeFor& intake_for,
                                        int min_age_seconds, MailMetrics* metrics = nullptr);

struct RetryPolicy {
  std::int64_t first_delay_ms = 30'000;
  std::int64_t max_delay_ms = 3'600'000;
  int max_attempts = 12;  // then failed (about a day of trying with the defaults)
  int lease_seconds = 300;
};

// The delay before attempt `attempts + 1`: first·2^(attempts−1), capped, with "equal jitter"
// (half fixed, half random from `random`) so that a fleet does not retry in step.
std::int64_t retryDelayMs(const RetryPolicy& policy, int attempts, std::uint64_t random);

struct SendResult {
  std::uint64_t sent = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;
  std::uint64_t leased = 0;
};

class OutboxSender {
 public:
  OutboxSender(Outbox& outbox, MailSender& sender, RetryPolicy policy, std::string worker,
               MailMetrics* metrics = nullptr);

  // Leases up to `max` due rows and sends them. An Error only when the outbox itself failed.
  Result<SendResult> sendDue(int max = 16);

 private:
  Outbox* outbox_;
  MailSender* sender_;
  RetryPolicy policy_;
  std::string worker_;
  MailMetrics* metrics_;
  std::uint64_t seed_;
};

}  // namespace liaison::pipeline
