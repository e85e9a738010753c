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
Result<Unit> applyReport(Store& store, Outbox& outbox, std::int64_t journal_id,
                         const parse::DeliveryReport& report) {
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
      none, *known ? "Rapport (" + text.substr(0, 3) + ") sur un message envoyé par liaison"
                   : "Rapport (" + text.substr(0, 3) + ") sur un message inconnu de liaison");
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
  counter("liaison_outbox_sent_total", "Mails submitted over SMTP.", sent.load());
  counter("liaison_outbox_retried_total", "Submissions that failed transiently (retried later).",
          retried.load());
  counter("liaison_outbox_failed_total", "Mails given up (5xx, or too many attempts).",
          failed.load());
  return out;
}

MailboxIntake::MailboxIntake(Mailbox& mailbox, Store& store, Outbox& outbox,
                             const StoredIntake& intake, MailMetrics* metrics)
    : mailbox_(&mailbox), store_(&store), outbox_(&outbox), intake_(&intake), metrics_(metrics) {}

Result<PassResult> MailboxIntake::drain(const std::atomic<bool>* stop, std::size_t max) {
  PassResult pass;
  auto waiting = mailbox_->waiting();
  if (!waiting) {
    bump(metrics_ ? &metrics_->mailbox_errors : nullptr);
    return waiting.error();
  }
  pass.waiting = waiting->uids.size();
  if (metrics_ != nullptr) metrics_->backlog.store(pass.waiting);
  std::size_t taken = 0;
  for (std::uint32_t uid : waiting->uids) {
    if (stop != nullptr && stop->load()) break;
    if (max != 0 && taken++ == max) break;
    if (auto r = one(waiting->uid_validity, uid, pass); !r) return r.error();
    if (metrics_ != nullptr && metrics_->backlog.load() > 0) metrics_->backlog.fetch_sub(1);
  }
  return pass;
}

Result<Unit> MailboxIntake::one(std::uint32_t uid_validity, std::uint32_t uid, PassResult& pass) {
  auto bytes = mailbox_->fetch(uid);
  if (!bytes) {
    bump(metrics_ ? &metrics_->mailbox_errors : nullptr);
    return bytes.error();
  }
  bump(metrics_ ? &metrics_->fetched : nullptr);
  const std::string source =
      "imap:" + mailbox_->name() + "/" + std::to_string(uid_validity) + "/" + std::to_string(uid);
  // 1. The journal, committed: from here on the message cannot be lost.
  auto journaled =
      store_->journal(InboundMessage{*bytes, messageIdOf(*bytes), sha256Hex(*bytes), source});
  if (!journaled) return journaled.error();
  // 2. Only then is it taken off the inbox. A crash before this line fetches it again, and the
  // journal recognises it.
  if (auto marked = mailbox_->markProcessed(uid); !marked) {
    bump(metrics_ ? &metrics_->mailbox_errors : nullptr);
    return marked.error();
  }
  // 3. The pipeline. A crash from here on leaves a journaled message without an outcome, which
  // recoverUnfinished() processes.
  if (journaled->outcome) {
    ++pass.duplicates;
    bump(metrics_ ? &metrics_->duplicates : nullptr);
    return Unit{};
  }
  if (auto report = parse::readDeliveryReport(*bytes)) {
    if (auto r = applyReport(*store_, *outbox_, journaled->id, *report); !r) return r.error();
    ++pass.reports;
    bump(metrics_ ? &metrics_->reports : nullptr);
    return Unit{};
  }
  auto ingested = intake_->process(*journaled, *bytes, true);
  if (!ingested) return ingested.error();
  ++pass.processed;
  count(metrics_, *ingested);
  return Unit{};
}

Result<std::uint64_t> recoverUnfinished(Store& store, Outbox& outbox, const StoredIntake& intake,
                                        int min_age_seconds, MailMetrics* metrics) {
  std::uint64_t done = 0;
  for (;;) {
    auto batch = store.unfinished(64, min_age_seconds);
    if (!batch) return batch.error();
    if (batch->empty()) return done;
    for (const UnfinishedMessage& m : *batch) {
      const JournalEntry entry{m.journal_id, true, std::nullopt};
      const bool mail = looksLikeMail(m.bytes);
      if (auto report = mail ? parse::readDeliveryReport(m.bytes) : std::nullopt) {
        if (auto r = applyReport(store, outbox, m.journal_id, *report); !r) return r.error();
      } else {
        auto ingested = intake.process(entry, m.bytes, mail);
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
