// The MSSanté transport's use cases against a real PostgreSQL: the outbox (leases under
// concurrency, expired leases, retries and failures), the mailbox intake's ordering (journal,
// then mark, then process) under injected failures, recovery of interrupted messages, the
// acknowledgements queued with each outcome, and reports about our own mails.
// The mailbox and the SMTP peer here are in-memory stand-ins, because the failures must strike at
// exact points; tests/integration/mail runs the real adapters against Dovecot and Postfix, and
// tests/integration/mail_e2e_test.cpp the whole gateway.

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "adapters/pg/pg_store.hpp"
#include "compose/mail/mail_compose.hpp"
#include "integration_env.hpp"
#include "parse/mime/delivery_report.hpp"
#include "parse/mime/mime_message.hpp"
#include "pipeline/acknowledgement.hpp"
#include "pipeline/mail_transport.hpp"
#include "support/test_support.hpp"

namespace liaison {
namespace {

class MemoryMailbox final : public Mailbox {
 public:
  std::map<std::uint32_t, std::string> inbox;
  std::set<std::uint32_t> fail_mark_once;  // markProcessed fails once for these
  std::set<std::uint32_t> fail_fetch_once;
  std::vector<std::uint32_t> processed;

  const std::string& name() const override { return name_; }
  Result<WaitingMessages> waiting() override {
    WaitingMessages w{7, {}};
    for (const auto& [uid, bytes] : inbox)
      w.uids.push_back(uid);
    return w;
  }
  Result<std::string> fetch(std::uint32_t uid) override {
    if (fail_fetch_once.erase(uid)) return makeError(Errc::MailUnavailable, "connection lost");
    return inbox.at(uid);
  }
  Result<Unit> markProcessed(std::span<const std::uint32_t> uids) override {
    for (std::uint32_t uid : uids) {
      if (fail_mark_once.erase(uid)) return makeError(Errc::MailUnavailable, "connection lost");
    }
    for (std::uint32_t uid : uids) {
      inbox.erase(uid);
      processed.push_back(uid);
    }
    ++marks;
    return Unit{};
  }
  int marks = 0;

 private:
  std::string name_ = "test";
};

class ScriptedSender final : public MailSender {
 public:
  std::vector<Errc> script;  // what the next sends answer (then success)
  std::vector<std::string> delivered;
  std::mutex mutex;
  Result<Unit> send(std::string_view, std::span<const std::string>,
                    std::string_view bytes) override {
    std::lock_guard lock(mutex);
    if (!script.empty()) {
      const Errc e = script.front();
      script.erase(script.begin());
      return makeError(e, "scripted");
    }
    delivered.emplace_back(bytes);
    return Unit{};
  }
};

class MailPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = itest::migratedTestDatabase("m_");
    name_ = database.name;
    dsn_ = database.dsn;
    db_ = std::move(database.db);
    ASSERT_TRUE(db_);
    store_ = openStore();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    itest::dropDatabase(name_);
  }
  std::unique_ptr<pg::PgStore> openStore() {
    auto s = pg::PgStore::open(dsn_);
    EXPECT_TRUE(s) << (s ? "" : s.error().detail);
    return s ? std::move(*s) : nullptr;
  }
  std::int64_t count(const std::string& sql) { return itest::count(*db_, sql); }
  pipeline::StoredIntake intake(Store& store) {
    pipeline::StoredIntake i(store, messages_, forms_, test::searchParameters(), test::testClock());
    i.answerWith(
        [this](std::string_view bytes, const pipeline::IngestResult& r, std::int64_t journal,
               std::string_view source) { return acks_.answer(bytes, r, journal, source); });
    return i;
  }
  // The recipients of every queued answer, one "kind recipients" line each, by id.
  std::string answers() {
    auto r = db_->exec(
        "SELECT coalesce(string_agg(kind || ' ' || array_to_string(recipients, ','), E'\\n' "
        "ORDER BY id), '') FROM outbox");
    EXPECT_TRUE(r);
    return r ? std::string(r->text(0, 0)) : "";
  }
  void enqueue(pg::PgStore& store, const std::string& id, std::string to = "a@b.test") {
    auto tx = store.begin();
    ASSERT_TRUE(tx);
    OutboundMail m{"notice", id, "gw@b.test", {std::move(to)}, "Subject: x\r\n\r\nbody\r\n", 0};
    ASSERT_TRUE((*tx)->enqueue(m));
    ASSERT_TRUE((*tx)->commit());
  }

  std::string name_;
  std::string dsn_;
  std::unique_ptr<pg::PgConnection> db_;
  std::unique_ptr<pg::PgStore> store_;
  pipeline::MessageIntake messages_{test::mssante(), test::cardioPlus(), test::testClock()};
  pipeline::FormIntake forms_{test::cardioPlus(), test::testClock()};
  pipeline::Acknowledgements acks_{
      pipeline::AcknowledgementPolicy{
          {"ess-cardio-plus@cardio-plus.test", "ESS Cardio+"}, "NIL-LIAISON-TEST", "liaison; test"},
      test::testClock()};
};

TEST_F(MailPipeline, EachDueRowIsLeasedByOneWorkerOnly) {
  for (int i = 0; i < 60; ++i)
    enqueue(*store_, "m" + std::to_string(i) + "@gw.test");
  std::mutex mutex;
  std::multiset<std::int64_t> leased;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      auto store = openStore();
      for (;;) {
        auto rows = store->lease("w" + std::to_string(w), 5, 60);
        ASSERT_TRUE(rows) << rows.error().detail;
        if (rows->empty()) return;
        std::lock_guard lock(mutex);
        for (const auto& r : *rows)
          leased.insert(r.id);
      }
    });
  }
  for (auto& t : workers)
    t.join();
  EXPECT_EQ(leased.size(), 60u);
  EXPECT_EQ(std::set<std::int64_t>(leased.begin(), leased.end()).size(), 60u);  // none twice
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE status = 'sending' AND attempts = 1"), 60);
}

TEST_F(MailPipeline, AnExpiredLeaseMakesTheRowDueAgain) {
  enqueue(*store_, "lost@gw.test");
  auto first = store_->lease("dead-worker", 10, 1);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  auto none = store_->lease("other", 10, 60);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());  // leased, not yet expired
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto again = store_->lease("other", 10, 60);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].attempts, 2);
  EXPECT_EQ((*again)[0].bytes, "Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ((*again)[0].recipients, std::vector<std::string>{"a@b.test"});
}

TEST_F(MailPipeline, TransientFailuresAreRetriedAndPermanentOnesFail) {
  enqueue(*store_, "retry@gw.test");
  ScriptedSender smtp;
  smtp.script = {Errc::SmtpTransient, Errc::MailUnavailable};
  pipeline::RetryPolicy policy;
  policy.first_delay_ms = 0;  // due again at once
  pipeline::MailMetrics metrics;
  pipeline::OutboxSender sender(*store_, smtp, policy, "w", &metrics);
  auto r1 = sender.sendDue();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->retried, 1u);
  auto pending = store_->list("pending", 10);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_NE((*pending)[0].last_error.find("smtp-transient"), std::string::npos);
  ASSERT_TRUE(sender.sendDue());
  auto r3 = sender.sendDue();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->sent, 1u);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE status = 'sent' AND attempts = 3 AND "
                  "last_error IS NULL AND sent_at IS NOT NULL"),
            1);
  EXPECT_EQ(metrics.retried.load(), 2u);

  enqueue(*store_, "refused@gw.test", "nobody@b.test");
  smtp.script = {Errc::SmtpPermanent};
  auto r4 = sender.sendDue();
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->failed, 1u);
  auto failed = store_->list("failed", 10);
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].message_id, "refused@gw.test");
  EXPECT_NE((*failed)[0].last_error.find("smtp-permanent"), std::string::npos);
  auto r5 = sender.sendDue();  // a failed row is never sent again
  ASSERT_TRUE(r5);
  EXPECT_EQ(r5->leased, 0u);
}

TEST_F(MailPipeline, TooManyTransientFailuresGiveUp) {
  enqueue(*store_, "flaky@gw.test");
  ScriptedSender smtp;
  smtp.script = {Errc::SmtpTransient, Errc::SmtpTransient, Errc::SmtpTransient};
  pipeline::RetryPolicy policy;
  policy.first_delay_ms = 0;
  policy.max_attempts = 3;
  pipeline::OutboxSender sender(*store_, smtp, policy, "w");
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(sender.sendDue());
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE status = 'failed' AND attempts = 3"), 1);
}

TEST_F(MailPipeline, RetryDelaysGrowWithJitterUpToTheCap) {
  pipeline::RetryPolicy p;
  p.first_delay_ms = 1000;
  p.max_delay_ms = 60000;
  EXPECT_EQ(pipeline::retryDelayMs(p, 1, 0), 500);
  EXPECT_EQ(pipeline::retryDelayMs(p, 1, 500), 1000);
  EXPECT_EQ(pipeline::retryDelayMs(p, 3, 0), 2000);  // 4 s, half of it random
  EXPECT_EQ(pipeline::retryDelayMs(p, 30, 0), 30000);
  EXPECT_LE(pipeline::retryDelayMs(p, 30, ~0ULL), 60000);
  std::set<std::int64_t> spread;
  for (std::uint64_t r = 0; r < 50; ++r)
    spread.insert(pipeline::retryDelayMs(p, 4, r * 7919));
  EXPECT_GT(spread.size(), 10u);  // not in step
}

TEST_F(MailPipeline, NothingIsLostOrDoneTwiceWhenTheMailboxFailsMidWay) {
  MemoryMailbox box;
  box.inbox[1] = itest::message("ldl_ses.eml");
  box.inbox[2] = itest::message("no_ins.eml");
  box.inbox[3] = itest::message("fiche_incomplete.eml");
  box.fail_mark_once = {2};   // journaled, not marked: fetched again next pass
  box.fail_fetch_once = {3};  // not even journaled
  auto in = intake(*store_);
  pipeline::MailMetrics metrics;
  pipeline::MailboxIntake pull(box, *store_, *store_, in, &metrics, 2);  // batches of 2
  // Batch {1, 2}: both journaled, then marking them fails: nothing is processed yet.
  auto first = pull.drain();
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, Errc::MailUnavailable);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 0);
  EXPECT_EQ(box.inbox.size(), 3u);
  // {1, 2} fetched again (the journal knows them), marked, processed; then 3's fetch fails.
  auto second = pull.drain();
  ASSERT_FALSE(second);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 2);
  EXPECT_EQ(box.inbox.size(), 1u);
  auto third = pull.drain();
  ASSERT_TRUE(third) << third.error().detail;
  EXPECT_TRUE(box.inbox.empty());
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 3);
  // One Encounter per discharge letter (ldl_ses and no_ins are both LDL-SES): none twice.
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Encounter'"), 2);
  EXPECT_EQ(metrics.stored.load(), 3u);
  auto again = pull.drain();  // nothing left, nothing redone
  ASSERT_TRUE(again);
  EXPECT_EQ(again->waiting, 0u);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 3);
}

TEST_F(MailPipeline, AMessageFetchedAgainAfterItsOutcomeIsNotProcessedTwice) {
  MemoryMailbox box;
  box.inbox[1] = itest::message("ldl_ses.eml");
  auto in = intake(*store_);
  pipeline::MailboxIntake pull(box, *store_, *store_, in);
  ASSERT_TRUE(pull.drain());
  const auto resources = count("SELECT count(*) FROM resource");
  const auto mails = count("SELECT count(*) FROM outbox");
  box.inbox[9] = itest::message("ldl_ses.eml");  // the server shows it again (a lost MOVE)
  auto pass = pull.drain();
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->duplicates, 1u);
  EXPECT_EQ(count("SELECT count(*) FROM resource"), resources);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), mails);
}

TEST_F(MailPipeline, InterruptedMessagesAreProcessedOnRecovery) {
  const std::string bytes = itest::message("tlm_da.eml");
  auto journaled = store_->journal(InboundMessage{bytes,
                                                  "tlm_da@ch-fictif.mssante.fr",
                                                  "0000000000000000000000000000000000000000000000"
                                                  "000000000000000000",
                                                  "imap:test/7/1",
                                                  {}});
  ASSERT_TRUE(journaled);
  auto in = intake(*store_);
  auto young = pipeline::recoverUnfinished(
      *store_, *store_, [&in](std::string_view) -> const pipeline::StoredIntake& { return in; },
      3600);
  ASSERT_TRUE(young);
  EXPECT_EQ(*young, 0u);  // another gateway may be on it: left alone
  auto redone = pipeline::recoverUnfinished(
      *store_, *store_, [&in](std::string_view) -> const pipeline::StoredIntake& { return in; }, 0);
  ASSERT_TRUE(redone) << redone.error().detail;
  EXPECT_EQ(*redone, 1u);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome WHERE status = 'accepted'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'ServiceRequest'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'mdn'"), 1);
  auto nothing = pipeline::recoverUnfinished(
      *store_, *store_, [&in](std::string_view) -> const pipeline::StoredIntake& { return in; }, 0);
  ASSERT_TRUE(nothing);
  EXPECT_EQ(*nothing, 0u);
}

// The MDN as queued: a report about the original, with the disposition that fits.
parse::DeliveryReport mdnOf(pg::PgConnection& db, const std::string& kind) {
  auto r = db.exec("SELECT raw FROM outbox WHERE kind = '" + kind + "' ORDER BY id LIMIT 1");
  EXPECT_TRUE(r && r->rows() == 1) << kind;
  if (!r || r->rows() != 1) return {};
  std::string hex(r->text(0, 0).substr(2));
  std::string raw;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  auto report = parse::readDeliveryReport(raw);
  EXPECT_TRUE(report) << raw.substr(0, 2000);
  return report.value_or(parse::DeliveryReport{});
}

// A message that stops the gateway each time it is processed (a crash: simulated here by the
// attempts a crashed gateway leaves behind) is quarantined after kMaxRecoveries, answered with
// an MDN 906, and no longer processed.
TEST_F(MailPipeline, AMessageThatKeepsInterruptingIsQuarantined) {
  const std::string bytes = itest::message("ldl_ses.eml");
  auto journaled = store_->journal(InboundMessage{
      bytes, "ldl_ses@ch-fictif.mssante.fr", std::string(64, 'a'), "imap:test/7/1", {}});
  ASSERT_TRUE(journaled);
  for (int i = 0; i < pipeline::kMaxRecoveries; ++i) {
    auto n = store_->recordAttempt(journaled->id);  // each ended in a crash
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, i + 1);
  }
  auto in = intake(*store_);
  auto redone = pipeline::recoverUnfinished(
      *store_, *store_, [&in](std::string_view) -> const pipeline::StoredIntake& { return in; }, 0);
  ASSERT_TRUE(redone) << redone.error().detail;
  EXPECT_EQ(*redone, 1u);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome WHERE status = 'quarantined' AND "
                  "quarantine_code = 'ingest-aborted'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM resource"), 0);  // the intake was not run
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome WHERE outcome::text LIKE "
                  "'%ingest-aborted%'"),
            1);  // the OperationOutcome says why
  const parse::DeliveryReport mdn = mdnOf(*db_, "mdn");
  EXPECT_EQ(mdn.disposition, "processed/error");
  EXPECT_EQ(mdn.error.rfind("906^", 0), 0u) << mdn.error;
}

TEST_F(MailPipeline, AnInterruptedMessageIsCountedAndProcessedWithinTheLimit) {
  const std::string bytes = itest::message("ldl_ses.eml");
  auto journaled = store_->journal(InboundMessage{
      bytes, "ldl_ses@ch-fictif.mssante.fr", std::string(64, 'b'), "imap:test/7/1", {}});
  ASSERT_TRUE(journaled);
  ASSERT_TRUE(store_->recordAttempt(journaled->id));  // one crash before
  auto in = intake(*store_);
  auto redone = pipeline::recoverUnfinished(
      *store_, *store_, [&in](std::string_view) -> const pipeline::StoredIntake& { return in; }, 0);
  ASSERT_TRUE(redone);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome WHERE status = 'accepted'"), 1);
  EXPECT_EQ(count("SELECT attempts FROM ingest_attempt"), 2);
}

TEST_F(MailPipeline, EachOutcomeIsAcknowledgedAsMssanteExpects) {
  struct Case {
    const char* mail;
    const char* disposition;
    const char* error_prefix;
  };
  for (const Case& c :
       {Case{"ldl_ses.eml", "processed", ""}, Case{"no_ins.eml", "processed/error", "903^"},
        Case{"ins_mismatch.eml", "processed/error", "904^"},
        Case{"xdm_hash_mismatch.eml", "processed/error", "906^"}}) {
    SCOPED_TRACE(c.mail);
    ASSERT_TRUE(db_->script("TRUNCATE outbox"));
    MemoryMailbox box;
    box.inbox[1] = itest::message(c.mail);
    auto in = intake(*store_);
    pipeline::MailboxIntake pull(box, *store_, *store_, in);
    auto pass = pull.drain();
    ASSERT_TRUE(pass) << pass.error().detail;
    EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE kind = 'mdn' AND recipients = "
                    "'{dr.testeur@ch-fictif.mssante.fr}'"),
              1);
    const parse::DeliveryReport mdn = mdnOf(*db_, "mdn");
    EXPECT_EQ(mdn.kind, parse::DeliveryReport::Kind::Disposition);
    EXPECT_EQ(mdn.disposition, c.disposition);
    EXPECT_EQ(mdn.error.rfind(c.error_prefix, 0), 0u) << mdn.error;
    EXPECT_EQ(
        mdn.original_message_id,
        std::string(c.mail).substr(0, std::string(c.mail).size() - 4) + "@ch-fictif.mssante.fr");
  }
}

TEST_F(MailPipeline, AnIncompleteRequestGetsTheListOfMissingFields) {
  MemoryMailbox box;
  box.inbox[1] = itest::message("fiche_incomplete.eml");
  auto in = intake(*store_);
  pipeline::MailboxIntake pull(box, *store_, *store_, in);
  ASSERT_TRUE(pull.drain());
  auto r = db_->exec(
      "SELECT convert_from(raw, 'UTF8'), recipients::text FROM outbox WHERE kind = "
      "'missing-information'");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rows(), 1);
  EXPECT_EQ(r->text(0, 1), "{dr.testeur@ch-fictif.mssante.fr}");
  auto mail = parse::parseMime(r->text(0, 0));
  ASSERT_TRUE(mail);
  EXPECT_NE(mail->subject.find("Demande incomplète"), std::string::npos) << mail->subject;
  EXPECT_NE(mail->text_body.find("informations obligatoires"), std::string::npos);
  EXPECT_NE(mail->text_body.find("form-required-missing"), std::string::npos) << mail->text_body;
  EXPECT_EQ(mail->header("Auto-Submitted").value_or(""), "auto-replied");
  EXPECT_EQ(mail->header("X-MSS-NIL").value_or(""), "NIL-LIAISON-TEST");
  EXPECT_EQ(mail->in_reply_to, "fiche_incomplete@ch-fictif.mssante.fr");
}

TEST_F(MailPipeline, ReportsAboutOurMailsMoveTheOutboxAndAreNeverAnswered) {
  enqueue(*store_, "liaison.mdn.1@cardio-plus.test", "dr.testeur@ch-fictif.mssante.fr");
  enqueue(*store_, "liaison.notice.2@cardio-plus.test", "nobody@cardio-plus.test");
  compose::MdnRequest mdn;
  mdn.header.from = {"dr.testeur@ch-fictif.mssante.fr", "Dr Testeur"};
  mdn.header.to = {{"ess-cardio-plus@cardio-plus.test", ""}};
  mdn.header.subject = "Accusé";
  mdn.header.message_id = "their-mdn@ch-fictif.mssante.fr";
  mdn.final_recipient = "dr.testeur@ch-fictif.mssante.fr";
  mdn.original_message_id = "liaison.mdn.1@cardio-plus.test";
  mdn.disposition = "manual-action/MDN-sent-manually; displayed";
  mdn.human_text = "Lu.";
  const std::string dsn =
      "From: MAILER-DAEMON@mx.cardio-plus.test\r\nTo: ess-cardio-plus@cardio-plus.test\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce1@mx>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n"
      " boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n"
      "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
      "Final-Recipient: rfc822; nobody@cardio-plus.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
      "Diagnostic-Code: smtp; 550 5.1.1 unknown user\r\n\r\n--B\r\n"
      "Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <liaison.notice.2@cardio-plus.test>\r\n"
      "Subject: x\r\n\r\n--B--\r\n";
  MemoryMailbox box;
  box.inbox[1] = compose::composeMdn(mdn);
  box.inbox[2] = dsn;
  auto in = intake(*store_);
  pipeline::MailboxIntake pull(box, *store_, *store_, in);
  auto pass = pull.drain();
  ASSERT_TRUE(pass) << pass.error().detail;
  EXPECT_EQ(pass->reports, 2u);
  auto rows = store_->list("", 10);
  ASSERT_TRUE(rows);
  std::map<std::string, OutboxEntry> by_id;
  for (const auto& e : *rows)
    by_id[e.message_id] = e;
  EXPECT_EQ(by_id["liaison.mdn.1@cardio-plus.test"].status, "displayed");
  EXPECT_EQ(by_id["liaison.notice.2@cardio-plus.test"].status, "failed");
  EXPECT_NE(by_id["liaison.notice.2@cardio-plus.test"].report.find("5.1.1"), std::string::npos);
  EXPECT_EQ(rows->size(), 2u);  // no answer to a report
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome WHERE status = 'report'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource"), 0);
}

}  // namespace
}  // namespace liaison

namespace liaison {
namespace {

// The mailbox lease: one holder at a time, renewed by its holder, taken over once it runs out
// (the former holder then sees it lost), handed over at once when released or when its holder is
// known to be gone.
TEST_F(MailPipeline, AMailboxLeaseHasOneHolderAndIsTakenOverWhenItRunsOut) {
  auto other = openStore();
  auto a = store_->holdMailbox("cardio-plus", "host-a:1:aa", 1);
  ASSERT_TRUE(a) << a.error().detail;
  EXPECT_TRUE(a->held);
  EXPECT_TRUE(a->acquired);
  auto b = other->holdMailbox("cardio-plus", "host-b:2:bb", 1);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->held);
  EXPECT_EQ(b->holder, "host-a:1:aa");
  auto renewed = store_->holdMailbox("cardio-plus", "host-a:1:aa", 1);
  ASSERT_TRUE(renewed);
  EXPECT_TRUE(renewed->held);
  EXPECT_FALSE(renewed->acquired);
  EXPECT_TRUE(other->holdMailbox("another-mailbox", "host-b:2:bb", 1).value().held);

  std::this_thread::sleep_for(std::chrono::milliseconds(1300));  // a stops renewing
  b = other->holdMailbox("cardio-plus", "host-b:2:bb", 1);
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->held);
  EXPECT_TRUE(b->acquired);
  auto lost = store_->holdMailbox("cardio-plus", "host-a:1:aa", 1);  // a wakes up: fenced off
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->held);
  EXPECT_EQ(lost->holder, "host-b:2:bb");

  ASSERT_TRUE(other->releaseMailbox("cardio-plus", "host-b:2:bb"));
  a = store_->holdMailbox("cardio-plus", "host-a:1:aa", 60);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->held);
  // A holder known to be gone is replaced before its lease runs out; naming another does not.
  b = other->holdMailbox("cardio-plus", "host-b:2:bb", 60, "host-c:3:cc");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->held);
  b = other->holdMailbox("cardio-plus", "host-b:2:bb", 60, "host-a:1:aa");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->held);
  EXPECT_EQ(count("SELECT count(*) FROM mailbox_lease WHERE mailbox = 'cardio-plus' AND holder = "
                  "'host-b:2:bb' AND lease_until > now() + interval '50 seconds'"),
            1);
}

// Two pollers racing for a free mailbox: exactly one wins each round.
TEST_F(MailPipeline, ConcurrentTakersOfAMailboxLeaseGetItOnce) {
  for (int round = 0; round < 20; ++round) {
    const std::string mailbox = "box-" + std::to_string(round);
    std::atomic<int> held{0};
    std::vector<std::unique_ptr<pg::PgStore>> stores;
    for (int t = 0; t < 4; ++t)
      stores.push_back(openStore());
    std::latch ready(4);
    std::vector<std::thread> takers;
    for (int t = 0; t < 4; ++t) {
      takers.emplace_back([&, t] {
        ready.arrive_and_wait();
        auto h =
            stores[static_cast<std::size_t>(t)]->holdMailbox(mailbox, "h:" + std::to_string(t), 30);
        ASSERT_TRUE(h) << h.error().detail;
        if (h->held) ++held;
      });
    }
    for (auto& t : takers)
      t.join();
    EXPECT_EQ(held.load(), 1) << mailbox;
  }
}

constexpr const char* kTesteur = "dr.testeur@ch-fictif.mssante.fr";

// A generated mail whose header names another address for answers: Disposition-Notification-To
// and Reply-To (what anyone handing the gateway a message could write).
std::string namingAnotherAddress(std::string mail, const std::string& other) {
  const std::string dnt = std::string("Disposition-Notification-To: <") + kTesteur + ">\r\n";
  if (auto at = mail.find(dnt); at != std::string::npos) mail.erase(at, dnt.size());
  const std::size_t after_first_line = mail.find("\r\n") + 2;
  mail.insert(after_first_line, "Disposition-Notification-To: <" + other +
                                    ">\r\nReply-To: \"Collecte\" <" + other + ">\r\n");
  return mail;
}

TEST_F(MailPipeline, AnswersGoOnlyToTheSenderTheMailboxVouchesFor) {
  const std::string other = "collecte@elsewhere.test";
  MemoryMailbox box;
  box.inbox[1] = namingAnotherAddress(itest::message("ldl_ses.eml"), other);  // accepted
  box.inbox[2] = namingAnotherAddress(itest::message("no_ins.eml"), other);   // 903
  box.inbox[3] = namingAnotherAddress(itest::message("fiche_incomplete.eml"), other);
  auto in = intake(*store_);
  pipeline::MailboxIntake pull(box, *store_, *store_, in);
  auto pass = pull.drain();
  ASSERT_TRUE(pass) << pass.error().detail;
  EXPECT_EQ(pass->processed, 3u);
  // No automatic MDN asked for another address (RFC 8098 §2.1): the accepted letter gets none;
  // the failed one gets the notice, the incomplete one the missing fields, both to the envelope
  // sender the receiving server recorded (Return-Path).
  EXPECT_EQ(answers(), std::string("notice ") + kTesteur + "\nmissing-information " + kTesteur);
  auto raws = db_->exec("SELECT convert_from(raw, 'UTF8') FROM outbox");
  ASSERT_TRUE(raws);
  for (int r = 0; r < raws->rows(); ++r) {
    auto mail = parse::parseMime(raws->text(r, 0));
    ASSERT_TRUE(mail);
    EXPECT_EQ(mail->to, std::vector<std::string>{kTesteur});  // To: as well as the envelope
  }

  // Asked for the vouched sender itself, the MDN goes, with the original's header block and
  // not its documents.
  ASSERT_TRUE(db_->script("TRUNCATE outbox"));
  MemoryMailbox again;
  again.inbox[1] = itest::message("tlm_da.eml");
  ASSERT_TRUE(pipeline::MailboxIntake(again, *store_, *store_, in).drain());
  EXPECT_EQ(answers(), std::string("mdn ") + kTesteur);
  auto raw = db_->exec("SELECT convert_from(raw, 'UTF8') FROM outbox");
  ASSERT_TRUE(raw && raw->rows() == 1);
  auto mdn = parse::parseMime(raw->text(0, 0));
  ASSERT_TRUE(mdn);
  ASSERT_EQ(mdn->attachments.size(), 3u);
  EXPECT_EQ(mdn->attachments[2].content_type, "text/rfc822-headers");
  EXPECT_NE(mdn->attachments[2].bytes.find("Message-ID: <tlm_da@ch-fictif.mssante.fr>"),
            std::string::npos);
  EXPECT_EQ(raw->text(0, 0).find("IHE_XDM"), std::string::npos);  // no document in it
}

TEST_F(MailPipeline, WithoutReturnPathTheFromIsTheSenderAndABounceOrADamagedOneIsAnsweredByNone) {
  const std::string other = "collecte@elsewhere.test";
  std::string no_return_path = namingAnotherAddress(itest::message("no_ins.eml"), other);
  no_return_path.erase(0, no_return_path.find("\r\n") + 2);  // the Return-Path line
  std::string bounce = namingAnotherAddress(itest::message("no_ins.eml"), other);
  bounce.replace(0, bounce.find("\r\n"), "Return-Path: <>");
  bounce.replace(bounce.find("Message-ID: <no_ins@"), 20, "Message-ID: <bounced@");
  std::string damaged = namingAnotherAddress(itest::message("no_ins.eml"), other);
  damaged.replace(0, damaged.find("\r\n"), "Return-Path: <dr.testeur at ch-fictif>");
  damaged.replace(damaged.find("Message-ID: <no_ins@"), 20, "Message-ID: <damaged@");
  MemoryMailbox box;
  box.inbox[1] = no_return_path;
  box.inbox[2] = bounce;
  box.inbox[3] = damaged;
  auto in = intake(*store_);
  ASSERT_TRUE(pipeline::MailboxIntake(box, *store_, *store_, in).drain());
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 3);
  EXPECT_EQ(answers(), std::string("notice ") + kTesteur);
}

TEST_F(MailPipeline, APostedMailIsAnsweredOnlyToItsClientsConfiguredAddress) {
  const std::string other = "collecte@elsewhere.test";
  // POST /: no intake client has a configured address yet: no mail at all, whatever it names.
  auto in = intake(*store_);
  for (const char* name : {"ldl_ses.eml", "no_ins.eml", "fiche_incomplete.eml"}) {
    auto stored = in.ingest(namingAnotherAddress(itest::message(name), other),
                            "api:CN=plateforme-regionale", true);
    ASSERT_TRUE(stored) << stored.error().detail;
  }
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);
  // A file given to `liaison ingest`: nobody vouches for its sender either.
  ASSERT_TRUE(in.ingest(itest::message("tlm_da.eml"), "file:/tmp/tlm_da.eml", true));
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 0);

  // With the hook set (the `access` configuration's named clients), the client's address only.
  pipeline::AcknowledgementPolicy policy = acks_.policy();
  policy.client_address = [](std::string_view client) {
    return client == "CN=plateforme-regionale" ? std::string("Intake <Intake@Region.test>")
                                               : std::string();
  };
  pipeline::Acknowledgements acks(policy, test::testClock());
  pipeline::StoredIntake with_client(*store_, messages_, forms_, test::searchParameters(),
                                     test::testClock());
  with_client.answerWith(
      [&acks](std::string_view bytes, const pipeline::IngestResult& r, std::int64_t journal,
              std::string_view source) { return acks.answer(bytes, r, journal, source); });
  std::string posted = namingAnotherAddress(itest::message("no_ins.eml"), other);
  posted.replace(posted.find("Message-ID: <"), 13, "Message-ID: <posted.");
  ASSERT_TRUE(with_client.ingest(posted, "api:CN=plateforme-regionale", true));
  std::string unknown = namingAnotherAddress(itest::message("no_ins.eml"), other);
  unknown.replace(unknown.find("Message-ID: <"), 13, "Message-ID: <unknown.");
  ASSERT_TRUE(with_client.ingest(unknown, "api:CN=someone-else", true));
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1) << answers();
  EXPECT_EQ(answers(), "notice intake@region.test");  // 903, and the MDN was asked elsewhere
}

}  // namespace
}  // namespace liaison
