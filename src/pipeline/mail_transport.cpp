#include "pipeline/mail_transport.hpp"

#include <algorithm>
#include <chrono>

#include "parse/mime/delivery_report.hpp"
#include "pipeline/codec.hpp"

namespace liaison::pipeline {
namespace {

void bump(std::atomic<std::uint64_t>* counter, std::uint64_t n = 1) {
  if (counter != nullptr) counter->fetch_add(n, std::memory_order_relaxed);
}

// An MDN or DSN about one of our mails: the outbox row moves (delivered, displayed, failed), and
// the report's outcome is recorded so that it is not applied again.
Result<Unit> applyReport(Store& store, Outbox& outbox, std::string_view issue_system,
                         std::int64_t journal_id, const parse::DeliveryReport& report) {
  std::string status;
  std::string text;
  if (report.kind == parse::DeliveryReport::Kind::Disposition) {
    const bool error = report.disposition.find("error") != std::string::npos;
    status = error ? "failed" : "displayed";
    text = "mdn " + report.disposition + (report.error.empty() ? "" : " " + report.error);
  } else {
    if (report.action == "failed")
      status = "failed";
    else if (report.action == "delivered" || report.action == "relayed" ||
             report.action == "expanded")
      status = "delivered";
    else
      status = "sent";  // delayed: the MTA still tries
    text = "dsn " + report.action + " " + report.status +
           (report.diagnostic.empty() ? "" : " " + report.diagnostic);
  }
  auto known = outbox.recordReport(report.original_message_id, status, text);
  if (!known) return known.error();
  IssueList none;
  const std::string outcome = operationOutcomeJson(
      none,
      *known ? "Rapport (" + text.substr(0, 3) + ") sur un message envoyé par liaison"
             : "Rapport (" + text.substr(0, 3) + ") sur un message inconnu de liaison",
      issue_system);
  auto tx = store.begin();
  if (!tx) return tx.error();
  auto recorded = (*tx)->recordOutcome(journal_id, StoredOutcome{"report", outcome, ""}, "");
  if (!recorded) {
    if (recorded.error().code == Errc::DbConflict) return Unit{};  // applied by someone else
    return recorded.error();
  }
  return (*tx)->commit();
}

void count(MailMetrics* metrics, const StoredIngest& ingested) {
  if (metrics == nullptr) return;
  if (ingested.duplicate) {
    bump(&metrics->duplicates);
    return;
  }
  bump(&metrics->stored);
  bump(&metrics->by_status[static_cast<int>(ingested.result.status)]);
}

}  // namespace

std::string MailMetrics::text() const {
  std::string out;
  auto counter = [&out](const char* name, const char* help, std::uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(v) + "\n";
  };
  counter("liaison_mail_fetched_total", "Messages read from mailboxes.", fetched.load());
  counter("liaison_mail_duplicates_total", "Fetched messages that already had an outcome.",
          duplicates.load());
  counter("liaison_mail_reports_total", "MDNs and DSNs about mails liaison sent.", reports.load());
  counter("liaison_mail_recovered_total", "Interrupted messages processed again.",
          recovered.load());
  counter("liaison_mail_mailbox_errors_total", "Failed mailbox passes (network, TLS, login).",
          mailbox_errors.load());
  out +=
      "# HELP liaison_mail_ingest_total Messages from mailboxes processed, by outcome.\n"
      "# TYPE liaison_mail_ingest_total counter\n";
  static constexpr const char* kStatus[] = {"accepted", "incomplete", "quarantined"};
  for (int i = 0; i < 3; ++i)
    out += std::string("liaison_mail_ingest_total{status=\"") + kStatus[i] + "\"} " +
           std::to_string(by_status[i].load()) + "\n";
  out +=
      "# HELP liaison_mail_backlog Messages waiting in the mailboxes at the last look.\n"
      "# TYPE liaison_mail_backlog gauge\nliaison_mail_backlog " +
      std::to_string(backlog.load()) + "\n";
  out +=
      "# HELP liaison_mail_mailboxes_held Mailboxes this gateway polls (it holds their lease; "
      "the others stand by).\n"
      "# TYPE liaison_mail_mailboxes_held gauge\nliaison_mail_mailboxes_held " +
      std::to_string(mailboxes_held.load()) + "\n";
  counter("liaison_outbox_sent_total", "Mails submitted over SMTP.", sent.load());
  counter("liaison_outbox_retried_total", "Submissions that failed transiently (retried later).",
          retried.load());
  counter("liaison_outbox_failed_total", "Mails given up (5xx, or too many attempts).",
          failed.load());
  return out;
}

MailboxIntake::MailboxIntake(Mailbox& mailbox, Store& store, Outbox& outbox,
                             const StoredIntake& intake, MailMetrics* metrics, std::size_t batch)
    : mailbox_(&mailbox),
      store_(&store),
      outbox_(&outbox),
      intake_(&intake),
      metrics_(metrics),
      batch_(std::max<std::size_t>(batch, 1)) {}

Result<PassResult> MailboxIntake::drain(const std::atomic<bool>* stop, std::size_t max) {
  PassResult pass;
  auto waiting = mailbox_->waiting();
  if (!waiting) {
    bump(metrics_ ? &metrics_->mailbox_errors : nullptr);
    return waiting.error();
  }
  pass.waiting = waiting->uids.size();
  if (metrics_ != nullptr) metrics_->backlog.store(pass.waiting);
  std::span<const std::uint32_t> todo(waiting->uids);
  if (max != 0 && todo.size() > max) todo = todo.first(max);
  while (!todo.empty()) {
    if (stop != nullptr && stop->load()) break;
    if (still_ours_ && !still_ours_()) {
      pass.lease_lost = true;
      break;
    }
    auto taken = take(waiting->uid_validity, todo.first(std::min(batch_, todo.size())), pass);
    if (!taken) return taken.error();
    todo = todo.subspan(*taken);
  }
  return pass;
}

Result<std::size_t> MailboxIntake::take(std::uint32_t uid_validity,
                                        std::span<const std::uint32_t> uids, PassResult& pass) {
  constexpr std::size_t kBatchBytes = 32 * 1024 * 1024;
  struct Taken {
    std::string bytes;
    JournalEntry journaled;
    std::string source;
  };
  std::vector<Taken> taken;
  std::vector<std::uint32_t> marked;
  std::optional<Error> failure;
  std::size_t bytes = 0;
  // 1. Each message fetched and written to the journal, committed: from here on it cannot be lost.
  for (std::uint32_t uid : uids) {
    if (bytes >= kBatchBytes) break;  // the rest in the next batch
    auto fetched = mailbox_->fetch(uid);
    if (!fetched) {
      bump(metrics_ ? &metrics_->mailbox_errors : nullptr);
      failure = fetched.error();
      break;
    }
    bump(metrics_ ? &metrics_->fetched : nullptr);
    const std::string source =
        "imap:" + mailbox_->name() + "/" + std::to_string(uid_validity) + "/" + std::to_string(uid);
    const std::string scope[] = {intake_->ess()};  // journaled for the mailbox's ESS
    store_->setEss(scope);
    auto journaled = store_->journal(intake_->inbound(*fetched, source, true));
    if (!journaled) {
      failure = journaled.error();
      break;
    }
    bytes += fetched->size();
    taken.push_back({std::move(*fetched), std::move(*journaled), source});
    marked.push_back(uid);
  }
  // 2. Only then are they taken off the inbox, in one command. A crash before this fetches them
  // again, and the journal recognises them.
  if (!marked.empty()) {
    if (auto r = mailbox_->markProcessed(marked); !r) {
      bump(metrics_ ? &metrics_->mailbox_errors : nullptr);
      return failure ? *failure : r.error();
    }
  }
  // 3. The pipeline. A crash from here on leaves journaled messages without an outcome, which
  // recoverUnfinished() processes.
  for (Taken& t : taken) {
    if (metrics_ != nullptr && metrics_->backlog.load() > 0) metrics_->backlog.fetch_sub(1);
    if (t.journaled.outcome) {
      ++pass.duplicates;
      bump(metrics_ ? &metrics_->duplicates : nullptr);
      continue;
    }
    if (auto report = parse::readDeliveryReport(t.bytes)) {
      if (auto r = applyReport(*store_, *outbox_, intake_->issueSystem(), t.journaled.id, *report);
          !r)
        return r.error();
      ++pass.reports;
      bump(metrics_ ? &metrics_->reports : nullptr);
      continue;
    }
    auto ingested = intake_->process(t.journaled, t.bytes, true, t.source);
    if (!ingested) return ingested.error();
    ++pass.processed;
    count(metrics_, *ingested);
  }
  if (failure) return *failure;
  return taken.size();
}

Result<std::uint64_t> recoverUnfinished(Store& store, Outbox& outbox, const IntakeFor& intake_for,
                                        int min_age_seconds, MailMetrics* metrics) {
  std::uint64_t done = 0;
  for (;;) {
    auto batch = store.unfinished(64, min_age_seconds);
    if (!batch) return batch.error();
    if (batch->empty()) return done;
    for (const UnfinishedMessage& m : *batch) {
      const JournalEntry entry{m.journal_id, true, std::nullopt, false};
      const bool mail = looksLikeMail(m.bytes);
      // Counted before the attempt, committed: a crash during it still counts.
      auto attempts = store.recordAttempt(m.journal_id);
      if (!attempts) return attempts.error();
      if (*attempts > kMaxRecoveries) {
        const Error give_up{Errc::IngestAborted,
                            "Processing was interrupted " + std::to_string(*attempts - 1) +
                                " times (the gateway stopped): quarantined for review."};
        auto quarantined = intake_for(m.source).process(entry, m.bytes, mail, m.source, &give_up);
        if (!quarantined) return quarantined.error();
        count(metrics, *quarantined);
      } else if (auto report = mail ? parse::readDeliveryReport(m.bytes) : std::nullopt) {
        if (auto r = applyReport(store, outbox, intake_for(m.source).issueSystem(), m.journal_id,
                                 *report);
            !r)
          return r.error();
      } else {
        auto ingested = intake_for(m.source).process(entry, m.bytes, mail, m.source);
        if (!ingested) return ingested.error();
        count(metrics, *ingested);
      }
      ++done;
      bump(metrics ? &metrics->recovered : nullptr);
    }
  }
}

std::int64_t retryDelayMs(const RetryPolicy& policy, int attempts, std::uint64_t random) {
  if (policy.first_delay_ms <= 0) return 0;  // retry at once (tests, or a local relay)
  std::int64_t delay = policy.first_delay_ms;
  for (int i = 1; i < attempts && delay < policy.max_delay_ms; ++i)
    delay *= 2;
  delay = std::min(delay, std::max<std::int64_t>(policy.max_delay_ms, 1));
  const std::int64_t half = delay / 2;
  return delay - half + static_cast<std::int64_t>(random % static_cast<std::uint64_t>(half + 1));
}

OutboxSender::OutboxSender(Outbox& outbox, MailSender& sender, RetryPolicy policy,
                           std::string worker, MailMetrics* metrics)
    : outbox_(&outbox),
      sender_(&sender),
      policy_(policy),
      worker_(std::move(worker)),
      metrics_(metrics),
      seed_(
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          std::hash<std::string>{}(worker_)) {}

Result<SendResult> OutboxSender::sendDue(int max) {
  SendResult result;
  auto leased = outbox_->lease(worker_, max, policy_.lease_seconds);
  if (!leased) return leased.error();
  result.leased = leased->size();
  for (const OutboxEntry& mail : *leased) {
    auto sent = sender_->send(mail.mail_from, mail.recipients, mail.bytes);
    if (sent) {
      if (auto r = outbox_->markSent(mail.id); !r) return r.error();
      ++result.sent;
      bump(metrics_ ? &metrics_->sent : nullptr);
      continue;
    }
    const Error& e = sent.error();
    const std::string why = std::string(info(e.code).code) + ": " + e.detail;
    // Only the receiving side's definitive refusal fails a mail; our own certificate or login
    // being refused is an operator's problem, and the mail waits for it to be fixed.
    if (e.code == Errc::SmtpPermanent || mail.attempts >= policy_.max_attempts) {
      if (auto r = outbox_->markFailed(mail.id, why); !r) return r.error();
      ++result.failed;
      bump(metrics_ ? &metrics_->failed : nullptr);
      continue;
    }
    seed_ = seed_ * 6364136223846793005ULL + 1442695040888963407ULL;  // an LCG is enough jitter
    const std::int64_t delay = retryDelayMs(policy_, mail.attempts, seed_ >> 17);
    if (auto r = outbox_->retryLater(mail.id, delay, why); !r) return r.error();
    ++result.retried;
    bump(metrics_ ? &metrics_->retried : nullptr);
  }
  return result;
}

}  // namespace liaison::pipeline
