// The store against a real PostgreSQL: a private cluster started by the test fixture
// (scripts/pg, see tests/CMakeLists.txt), one fresh database per test.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_audit_log.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "adapters/pg/pg_store.hpp"
#include "integration_env.hpp"
#include "pipeline/codec.hpp"
#include "pipeline/stored_intake.hpp"
#include "support/test_support.hpp"

namespace liaison {
namespace {

using itest::adminDsn;
using itest::message;

// The same mail under another Message-ID: another message of the same patient.
std::string withMessageId(std::string mail, std::string_view id) {
  const std::size_t at = mail.find("Message-ID: <");
  const std::size_t end = mail.find('>', at);
  mail.replace(at + 13, end - at - 13, id);
  return mail;
}

// Bytes no text column would take: NUL, high bytes, a lone CR.
std::string pdfBytes(std::string_view tag) {
  std::string bytes("%PDF-1.4\n\0\x01\x7f\x80\xfe\xff\r%%EOF", 22);
  bytes += tag;
  return bytes;
}

BinaryContent binaryOf(const std::string& bytes, std::string content_type = "application/pdf") {
  return BinaryContent{pipeline::sha256Hex(bytes), std::move(content_type), bytes};
}

// A store scoped to the test profile's ESS, the one the intake writes as (Store::setEss).
Result<std::unique_ptr<pg::PgStore>> openCardioPlus(const std::string& dsn) {
  auto s = pg::PgStore::open(dsn);
  static const std::string kEss[] = {"cardio-plus"};
  if (s) (*s)->setEss(kEss);
  return s;
}

// A database of its own for each test, migrated unless asked otherwise.
class Store : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = itest::testDatabaseName("t_");
    dsn_ = itest::freshDatabase(name_);
    ASSERT_FALSE(dsn_.empty());
    if (migrated_) {
      auto m = pg::migrate(dsn_);
      ASSERT_TRUE(m) << m.error().detail;
    }
    auto db = pg::PgConnection::open(dsn_);
    ASSERT_TRUE(db);
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    itest::dropDatabase(name_);
  }

  std::int64_t count(const std::string& sql) {
    auto r = db_->exec(sql);
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r ? r->integer(0, 0) : -1;
  }

  // A store scoped to the test profile's ESS (what the intake writes as).
  std::unique_ptr<pg::PgStore> openStore(const std::string& dsn = {}) {
    auto s = openCardioPlus(dsn.empty() ? dsn_ : dsn);
    EXPECT_TRUE(s) << (s ? "" : s.error().detail);
    return s ? std::move(*s) : nullptr;
  }

  static const pipeline::MessageIntake& messages() {
    static const pipeline::MessageIntake intake(test::mssante(), test::cardioPlus(),
                                                test::testClock());
    return intake;
  }

  Result<pipeline::StoredIngest> ingest(liaison::Store& store, const std::string& bytes,
                                        bool mail = true) {
    static const pipeline::FormIntake forms(test::cardioPlus(), test::testClock());
    pipeline::StoredIntake intake(store, messages(), forms, test::searchParameters(),
                                  test::testClock());
    return intake.ingest(bytes, "test", mail);
  }

  // Every "Type/id" reference of every stored resource names a stored resource.
  void expectReferencesResolve() {
    auto all = db_->exec("SELECT type || '/' || id, content::text FROM resource");
    ASSERT_TRUE(all);
    std::set<std::string> ids;
    for (int i = 0; i < all->rows(); ++i)
      ids.emplace(all->text(i, 0));
    std::function<void(const rapidjson::Value&)> walk = [&](const rapidjson::Value& v) {
      if (v.IsObject()) {
        for (const auto& m : v.GetObject()) {
          if (std::string_view(m.name.GetString()) == "reference" && m.value.IsString()) {
            EXPECT_EQ(ids.count(m.value.GetString()), 1u) << m.value.GetString();
          } else {
            walk(m.value);
          }
        }
      } else if (v.IsArray()) {
        for (const auto& item : v.GetArray())
          walk(item);
      }
    };
    for (int i = 0; i < all->rows(); ++i) {
      rapidjson::Document d;
      const std::string_view text = all->text(i, 1);
      d.Parse(text.data(), text.size());
      ASSERT_FALSE(d.HasParseError());
      walk(d);
    }
  }

  bool migrated_ = true;
  std::string name_;
  std::string dsn_;
  std::unique_ptr<pg::PgConnection> db_;
};

class FreshDatabase : public Store {
 protected:
  FreshDatabase() { migrated_ = false; }
};

// Issue 14's time bounds: every connection has a connect timeout and TCP keepalives, and the
// server's statement_timeout and idle_in_transaction_session_timeout; what the operator's string
// sets itself wins.
TEST_F(FreshDatabase, SessionLimitsBoundEveryConnection) {
  auto plain = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(plain);
  EXPECT_EQ((*plain)->option("connect_timeout"), "5");
  EXPECT_EQ((*plain)->option("keepalives"), "1");
  EXPECT_EQ((*plain)->option("keepalives_idle"), "30");
  auto own = pg::PgConnection::open(dsn_ + " keepalives_idle=7 connect_timeout=11");
  ASSERT_TRUE(own);
  EXPECT_EQ((*own)->option("keepalives_idle"), "7");
  EXPECT_EQ((*own)->option("connect_timeout"), "11");

  auto bounded = pg::boundedConninfo(dsn_, {3, 200, 1000});
  ASSERT_TRUE(bounded) << bounded.error().detail;
  auto db = pg::PgConnection::open(*bounded);
  ASSERT_TRUE(db) << db.error().detail;
  EXPECT_EQ((*db)->option("connect_timeout"), "3");
  auto show = [&](pg::PgConnection& c, const char* setting) {
    auto r = c.exec(std::string("SHOW ") + setting);
    return r ? std::string(r->text(0, 0)) : r.error().detail;
  };
  EXPECT_EQ(show(**db, "statement_timeout"), "200ms");
  EXPECT_EQ(show(**db, "idle_in_transaction_session_timeout"), "1s");
  // A statement past the timeout: cancelled, db-timeout (503, transient), the connection usable.
  const auto t0 = std::chrono::steady_clock::now();
  auto slow = (*db)->exec("SELECT pg_sleep(3)");
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, Errc::DbTimeout) << slow.error().detail;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500));
  EXPECT_EQ(info(Errc::DbTimeout).http_status, 503);
  EXPECT_EQ(info(Errc::DbTimeout).retry, Retry::Transient);
  EXPECT_TRUE((*db)->exec("SELECT 1"));
  // A transaction left idle: the server ends the session; the next statement says unavailable.
  ASSERT_TRUE((*db)->exec("BEGIN"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto after = (*db)->exec("SELECT 1");
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Errc::DbUnavailable) << after.error().detail;

  // The operator's string wins for what it sets: its options and connect_timeout are kept.
  auto theirs = pg::boundedConninfo(dsn_ + " connect_timeout=9 options='-c statement_timeout=5000'",
                                    {3, 200, 1000});
  ASSERT_TRUE(theirs);
  auto their_db = pg::PgConnection::open(*theirs);
  ASSERT_TRUE(their_db) << their_db.error().detail;
  EXPECT_EQ((*their_db)->option("connect_timeout"), "9");
  EXPECT_EQ(show(**their_db, "statement_timeout"), "5s");
  EXPECT_EQ(show(**their_db, "idle_in_transaction_session_timeout"), "1s");
  // A URI is read too; a string libpq cannot read is an error that does not quote it.
  auto uri = pg::boundedConninfo("postgresql://someone@/liaison?host=/run/postgresql", {5, 0, 0});
  ASSERT_TRUE(uri);
  EXPECT_NE(uri->find("host='/run/postgresql'"), std::string::npos) << *uri;
  EXPECT_NE(uri->find("connect_timeout=5"), std::string::npos) << *uri;
  EXPECT_EQ(uri->find("options"), std::string::npos) << *uri;
  auto broken = pg::boundedConninfo("password=s3cret host", {5, 0, 0});
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, Errc::ConfigInvalid);
  EXPECT_EQ(broken.error().detail.find("s3cret"), std::string::npos);
}

TEST_F(FreshDatabase, MigrationsApplyOnceUnderConcurrency) {
  auto before = pg::requireCurrentSchema(dsn_);
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, Errc::DbSchemaOutdated);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::atomic<int> applied{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto r = pg::migrate(dsn_);
      if (r) {
        ++ok;
        applied += static_cast<int>(r->applied.size());
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 4);
  // Each migration applied once in all (numbers may have gaps: they are reserved per change).
  const int migrations = static_cast<int>(pg::migrations().size());
  EXPECT_EQ(applied.load(), migrations);
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"), migrations);
  auto after = pg::requireCurrentSchema(dsn_);
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, pg::latestSchemaVersion());
}

TEST_F(Store, MessageIsJournaledThenStoredInOneGo) {
  auto store = openStore();
  const std::string mail = message("ldl_ses.eml");
  auto r = ingest(*store, mail);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->result.status, pipeline::IngestStatus::Accepted);

  // The journal holds the exact bytes, their hash and the Message-ID.
  auto j = db_->exec("SELECT message_id, sha256, size, encode(raw, 'base64') FROM message_journal");
  ASSERT_TRUE(j);
  ASSERT_EQ(j->rows(), 1);
  EXPECT_EQ(j->text(0, 0), "ldl_ses@ch-fictif.mssante.fr");
  EXPECT_EQ(j->text(0, 1), pipeline::sha256Hex(mail));
  EXPECT_EQ(j->integer(0, 2), static_cast<std::int64_t>(mail.size()));
  std::string b64(j->text(0, 3));
  std::erase(b64, '\n');
  EXPECT_EQ(b64, pipeline::base64(mail));

  // Every resource of the Bundle, version 1, in the history too; references resolved. The author's
  // and the custodian's organisation are one FINESS: one Organization, referenced twice.
  std::map<std::string, std::int64_t> expected;
  rapidjson::Document bundle;
  bundle.Parse(r->result.bundle_json.data(), r->result.bundle_json.size());
  for (const auto& e : bundle["entry"].GetArray())
    ++expected[e["resource"]["resourceType"].GetString()];
  --expected["Organization"];
  rapidjson::Document response;
  response.Parse(r->response_json.data(), r->response_json.size());
  ASSERT_TRUE(response.IsObject());
  int created = 0;
  for (const auto& e : response["entry"].GetArray())
    created += std::string_view(e["response"]["status"].GetString()) == "201 Created";
  EXPECT_EQ(created, static_cast<int>(bundle["entry"].Size()) - 1);
  auto types = db_->exec("SELECT type, count(*) FROM resource GROUP BY type");
  ASSERT_TRUE(types);
  std::map<std::string, std::int64_t> stored;
  for (int i = 0; i < types->rows(); ++i)
    stored[std::string(types->text(i, 0))] = types->integer(i, 1);
  EXPECT_EQ(stored, expected);
  // First versions only: nothing superseded yet, so nothing in resource_history.
  EXPECT_EQ(count("SELECT count(*) FROM resource_history"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE version <> 1 OR "
                  "content->>'id' <> id OR content->'meta'->>'versionId' <> '1'"),
            0);
  expectReferencesResolve();

  // The outcome, with a transaction-response Bundle naming each stored version.
  auto o = db_->exec(
      "SELECT status, response->>'type', jsonb_array_length(response->'entry') "
      "FROM ingest_outcome");
  ASSERT_TRUE(o);
  ASSERT_EQ(o->rows(), 1);
  EXPECT_EQ(o->text(0, 0), "accepted");
  EXPECT_EQ(o->text(0, 1), "transaction-response");
  EXPECT_EQ(o->integer(0, 2), static_cast<std::int64_t>(bundle["entry"].Size()));
  EXPECT_NE(r->response_json.find("/_history/1"), std::string::npos);
}

TEST_F(Store, SameMessageTwiceReturnsTheFirstOutcomeAndWritesNothing) {
  auto store = openStore();
  const std::string mail = message("ldl_ses.eml");
  auto first = ingest(*store, mail);
  ASSERT_TRUE(first) << first.error().detail;
  const std::string counts =
      "SELECT (SELECT count(*) FROM message_journal) * 1000000 + "
      "(SELECT count(*) FROM resource) * 1000 + "
      "(SELECT count(*) FROM ingest_outcome)";
  const std::int64_t before = count(counts);
  auto second = ingest(*store, mail);
  ASSERT_TRUE(second) << second.error().detail;
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->journal_id, first->journal_id);
  EXPECT_EQ(second->result.status, first->result.status);
  EXPECT_EQ(count(counts), before);
  // The same response: the same locations.
  rapidjson::Document a;
  rapidjson::Document b;
  a.Parse(first->response_json.c_str());
  b.Parse(second->response_json.c_str());
  ASSERT_TRUE(a.IsObject() && b.IsObject());
  ASSERT_EQ(a["entry"].Size(), b["entry"].Size());
  for (rapidjson::SizeType i = 0; i < a["entry"].Size(); ++i) {
    EXPECT_STREQ(a["entry"][i]["response"]["location"].GetString(),
                 b["entry"][i]["response"]["location"].GetString());
  }
  // Another Message-ID is another message, even with the same content otherwise.
  auto other = ingest(*store, withMessageId(mail, "other@ch-fictif.mssante.fr"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->duplicate);
}

TEST_F(Store, QuarantinedMessageIsJournaledWithItsReason) {
  auto store = openStore();
  auto r = ingest(*store, message("xdm_bomb.eml"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->result.status, pipeline::IngestStatus::Quarantined);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource"), 0);
  auto o = db_->exec(
      "SELECT status, quarantine_code, outcome->'issue'->0->'details'->'coding'->0->>'code'"
      " FROM ingest_outcome");
  ASSERT_TRUE(o);
  ASSERT_EQ(o->rows(), 1);
  EXPECT_EQ(o->text(0, 0), "quarantined");
  EXPECT_EQ(o->text(0, 1), "xdm-compression-ratio");
  EXPECT_EQ(o->text(0, 2), "xdm-compression-ratio");
}

TEST_F(Store, OnePatientPerInsAcrossMessages) {
  auto store = openStore();
  ASSERT_TRUE(ingest(*store, message("ldl_ses.eml")));
  ASSERT_TRUE(ingest(*store, message("pps.eml")));  // same INS, same author and custodian
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Patient'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Practitioner'"), 1);
  EXPECT_EQ(count("SELECT count(DISTINCT content->'subject'->>'reference') FROM resource "
                  "WHERE type IN ('DocumentReference', 'CarePlan', 'Observation')"),
            1);
  ASSERT_TRUE(ingest(*store, message("tlm_da.eml")));  // another patient
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Patient'"), 2);
  expectReferencesResolve();
}

TEST_F(Store, ConcurrentIngestsOfOnePatientMakeOnePatient) {
  constexpr int kThreads = 8;
  const std::string mail = message("ldl_ses.eml");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::atomic<bool> go{false};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto store = openCardioPlus(dsn_);
      if (!store) {
        ++failures;
        return;
      }
      const std::string bytes = withMessageId(mail, "m" + std::to_string(i) + "@test");
      while (!go.load())
        std::this_thread::yield();
      if (!ingest(**store, bytes)) ++failures;
    });
  }
  go = true;
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), kThreads);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), kThreads);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Patient'"), 1);
  // The same documents under other Message-IDs: stored once (the CDA and its PDF rendition), each
  // mail kept as its own Communication pointing at them.
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'DocumentReference'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation'"), 5);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication'"), kThreads);
  expectReferencesResolve();
}

TEST_F(Store, ConcurrentIngestsOfOneMessageStoreItOnce) {
  constexpr int kThreads = 4;
  const std::string mail = message("tlm_da.eml");
  std::vector<std::thread> threads;
  std::vector<std::int64_t> journal_ids(kThreads, 0);
  std::atomic<bool> go{false};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto store = openCardioPlus(dsn_);
      if (!store) return;
      while (!go.load())
        std::this_thread::yield();
      auto r = ingest(**store, mail);
      if (r) journal_ids[static_cast<std::size_t>(i)] = r->journal_id;
    });
  }
  go = true;
  for (auto& t : threads)
    t.join();
  for (std::int64_t id : journal_ids)
    EXPECT_EQ(id, journal_ids.front());
  EXPECT_GT(journal_ids.front(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'ServiceRequest'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Patient'"), 1);
}

TEST_F(Store, InterruptedMessageIsProcessedOnceOnRetry) {
  auto store = openStore();
  const std::string mail = message("pps.eml");
  // A crash after the journal commit, before the outcome: the journal row alone.
  auto j = store->journal({mail, pipeline::messageIdOf(mail), pipeline::sha256Hex(mail), "test",
                           messages().contentKey(mail)});
  ASSERT_TRUE(j);
  EXPECT_FALSE(j->outcome);
  auto r = ingest(*store, mail);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->journal_id, j->id);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'CarePlan'"), 1);
  auto again = ingest(*store, mail);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'CarePlan'"), 1);
}

TEST_F(Store, FormsAreStoredToo) {
  auto store = openStore();
  auto r = ingest(*store, test::readRepoFile("samples/fiches/fiche-complete.txt"), false);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->result.status, pipeline::IngestStatus::Accepted);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE message_id = ''"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'QuestionnaireResponse'"), 1);
  expectReferencesResolve();
}

// The gateway's role: it ingests, but cannot rewrite the journal or change the schema.
TEST_F(Store, GatewayRoleHasLeastPrivilege) {
  ASSERT_TRUE(
      db_->script("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                  "'liaison_test_server') THEN CREATE ROLE liaison_test_server LOGIN; "
                  "END IF; END $$"));
  ASSERT_TRUE(db_->script("GRANT liaison_gateway TO liaison_test_server"));
  std::string dsn = dsn_;
  dsn.replace(dsn.find("user=postgres"), 13, "user=liaison_test_server");
  auto store = openStore(dsn);
  ASSERT_NE(store, nullptr);
  auto r = ingest(*store, message("ldl_ses.eml"));
  ASSERT_TRUE(r) << r.error().detail;
  auto server = pg::PgConnection::open(dsn);
  ASSERT_TRUE(server);
  for (const char* forbidden :
       {"UPDATE message_journal SET source = 'x'", "DELETE FROM message_journal",
        "DELETE FROM ingest_outcome", "DELETE FROM resource", "CREATE TABLE evil (x int)",
        "DROP TABLE resource", "TRUNCATE message_journal",
        "UPDATE binary_content SET content_type = 'x'", "DELETE FROM binary_content",
        "UPDATE document_version SET document = 'DocumentReference/x'",
        "UPDATE document_version SET key = 'x'", "DELETE FROM document_version"}) {
    auto denied = (*server)->exec(forbidden);
    ASSERT_FALSE(denied) << forbidden;
    EXPECT_NE(denied.error().detail.find("42501"), std::string::npos)
        << forbidden << ": " << denied.error().detail;
  }
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);
  // What it must do of the issue-12 tables: store bytes, claim and retire documents.
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->putBinary(binaryOf(pdfBytes("gateway"))));
    auto first = (*tx)->claimDocument({"1.2.3|G1", "1.2.3|G", 1, {}}, "DocumentReference/g1", {});
    ASSERT_TRUE(first) << first.error().detail;
    auto second = (*tx)->claimDocument({"1.2.3|G2", "1.2.3|G", 2, {}}, "DocumentReference/g2", {});
    ASSERT_TRUE(second) << second.error().detail;
    EXPECT_EQ(second->status, DocumentClaim::Status::Supersedes);
    ASSERT_TRUE((*tx)->commit());
  }
  auto bytes = store->readBinary(binaryOf(pdfBytes("gateway")).id);
  ASSERT_TRUE(bytes && *bytes);
}

// Per-ESS isolation (sql/V016__ess_isolation.sql), tested in SQL as the gateway's role: a login
// role that has liaison_gateway and nothing else (not a superuser, not the tables' owner: both
// would bypass the policies). One mail stored for ESS A, the same mail (another Message-ID) for
// ESS B: the same INS gives each ESS its own Patient, the same document its own rows.
TEST_F(Store, EssIsolationIsEnforcedByTheDatabase) {
  ASSERT_TRUE(
      db_->script("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                  "'liaison_test_server') THEN CREATE ROLE liaison_test_server LOGIN; "
                  "END IF; END $$"));
  ASSERT_TRUE(db_->script("GRANT liaison_gateway TO liaison_test_server"));
  EXPECT_EQ(count("SELECT count(*) FROM pg_roles WHERE rolname = 'liaison_test_server' "
                  "AND NOT rolsuper AND NOT rolbypassrls"),
            1);
  std::string dsn = dsn_;
  dsn.replace(dsn.find("user=postgres"), 13, "user=liaison_test_server");
  auto store = openStore(dsn);
  ASSERT_NE(store, nullptr);
  static const pipeline::FormIntake forms(test::cardioPlus(), test::testClock());
  const std::string mail = message("referral_note.eml");
  std::string other = mail;
  const std::size_t at = other.find("Message-ID: <");
  ASSERT_NE(at, std::string::npos);
  other.insert(at + 13, "ess-b.");
  const std::pair<std::string, const std::string*> ingests[] = {{"ess-a", &mail},
                                                                {"ess-b", &other}};
  for (const auto& [ess, bytes] : ingests) {
    pipeline::StoredIntake intake(*store, messages(), forms, test::searchParameters(),
                                  test::testClock());
    intake.writeAs(ess);
    auto r = intake.ingest(*bytes, "test", true);
    ASSERT_TRUE(r) << r.error().detail;
    ASSERT_FALSE(r->duplicate);
    ASSERT_NE(r->result.status, pipeline::IngestStatus::Quarantined) << r->outcome_json;
  }
  const std::vector<std::string> tables{"resource",       "resource_history", "identifier_holder",
                                        "binary_content", "document_version", "search_token",
                                        "search_string",  "search_date",      "search_reference"};
  // What the owner sees: both ESS in every table that the mail fills.
  for (const std::string& t : tables) {
    if (t == "resource_history") continue;  // one version of each: no history
    EXPECT_GT(count("SELECT count(*) FROM " + t + " WHERE ess = 'ess-a'"), 0) << t;
    EXPECT_EQ(count("SELECT count(*) FROM " + t + " WHERE ess = 'ess-a'"),
              count("SELECT count(*) FROM " + t + " WHERE ess = 'ess-b'"))
        << t;
  }
  EXPECT_EQ(count("SELECT count(*) FROM identifier_holder h1 JOIN identifier_holder h2 "
                  "ON (h1.type, h1.system, h1.value) = (h2.type, h2.system, h2.value) "
                  "AND h1.ess = 'ess-a' AND h2.ess = 'ess-b' AND h1.resource_id <> h2.resource_id"),
            count("SELECT count(*) FROM identifier_holder WHERE ess = 'ess-a'"));
  EXPECT_EQ(count("SELECT count(*) FROM resource a JOIN resource b USING (type, id) "
                  "WHERE a.ess <> b.ess"),
            0);

  auto server = pg::PgConnection::open(dsn);
  ASSERT_TRUE(server);
  auto as = [&](const std::string& sql) {
    auto r = (*server)->exec(sql);
    EXPECT_TRUE(r) << sql << ": " << (r ? "" : r.error().detail);
    return r ? r->integer(0, 0) : -1;
  };
  // Fail closed: no setting, an empty one, an unknown ESS.
  for (const char* scope : {"", "SET liaison.ess = ''; ", "SET liaison.ess = 'ess-c'; "}) {
    if (*scope != '\0') {
      ASSERT_TRUE((*server)->script(scope));
    }
    for (const std::string& t : tables)
      EXPECT_EQ(as("SELECT count(*) FROM " + t), 0) << scope << t;
  }
  // ESS A sees its rows and none of B's; '*' sees both; "a,b" both.
  ASSERT_TRUE((*server)->script("SET liaison.ess = 'ess-a'"));
  for (const std::string& t : tables) {
    EXPECT_EQ(as("SELECT count(*) FROM " + t + " WHERE ess <> 'ess-a'"), 0) << t;
    EXPECT_EQ(as("SELECT count(*) FROM " + t),
              count("SELECT count(*) FROM " + t + " WHERE ess = 'ess-a'"))
        << t;
  }
  for (const char* scope : {"SET liaison.ess = '*'", "SET liaison.ess = 'ess-a,ess-b'"}) {
    ASSERT_TRUE((*server)->script(scope));
    for (const std::string& t : tables)
      EXPECT_EQ(as("SELECT count(*) FROM " + t), count("SELECT count(*) FROM " + t)) << t;
  }
  // Writes: nothing into another ESS, nothing moved across, nothing with a scope of several
  // (the policy), of every ESS (the column's CHECK) or of none.
  ASSERT_TRUE((*server)->script("SET liaison.ess = 'ess-a'"));
  // `sqlstate`: the error expected, or "either" (the policy's 42501 or the CHECK's 23514: which
  // PostgreSQL tests first is its business).
  auto refused = [&](const std::string& sql, const std::string& sqlstate) {
    auto r = (*server)->exec(sql);
    ASSERT_FALSE(r) << sql;
    const std::string& d = r.error().detail;
    if (sqlstate == "either") {
      EXPECT_TRUE(d.find("42501") != std::string::npos || d.find("23514") != std::string::npos)
          << sql << ": " << d;
    } else {
      EXPECT_NE(d.find(sqlstate), std::string::npos) << sql << ": " << d;
    }
  };
  refused(
      "INSERT INTO resource (type, id, version, last_updated, content, ess) "
      "VALUES ('Patient', 'intrus', 1, now(), '{}', 'ess-b')",
      "42501");
  refused(
      "INSERT INTO identifier_holder (type, system, value, resource_id, ess) "
      "VALUES ('Patient', 's', 'v', 'x', 'ess-b')",
      "42501");
  refused(
      "INSERT INTO search_token (res, type, param, value, ess) VALUES (1, 'P', 'p', 'v', 'ess-b')",
      "42501");
  refused("UPDATE resource SET ess = 'ess-b' WHERE type = 'Patient'", "42501");
  EXPECT_EQ(as("WITH u AS (UPDATE resource SET deleted = true WHERE ess = 'ess-b' RETURNING 1) "
               "SELECT count(*) FROM u"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE deleted"), 0);
  ASSERT_TRUE((*server)->script("SET liaison.ess = 'ess-a,ess-b'"));
  refused(
      "INSERT INTO resource (type, id, version, last_updated, content) "
      "VALUES ('Patient', 'plusieurs', 1, now(), '{}')",
      "either");
  ASSERT_TRUE((*server)->script("SET liaison.ess = '*'"));
  refused(
      "INSERT INTO resource (type, id, version, last_updated, content) "
      "VALUES ('Patient', 'partout', 1, now(), '{}')",
      "23514");
  ASSERT_TRUE((*server)->script("RESET liaison.ess"));
  refused(
      "INSERT INTO resource (type, id, version, last_updated, content) "
      "VALUES ('Patient', 'personne', 1, now(), '{}')",
      "either");

  // Through the store port: A's store does not find B's Patient by id, search or history, nor
  // B's bytes under another ESS; an unknown ESS finds nothing.
  auto idOf = [&](const std::string& ess) {
    auto r = db_->exec("SELECT id FROM resource WHERE type = 'Patient' AND ess = '" + ess + "'");
    EXPECT_TRUE(r && r->rows() == 1);
    return r && r->rows() == 1 ? std::string(r->text(0, 0)) : std::string();
  };
  const std::string a = idOf("ess-a");
  const std::string b = idOf("ess-b");
  ASSERT_NE(a, b);
  static const std::string kA[] = {"ess-a"};
  store->setEss(kA);
  auto mine = store->read("Patient", a);
  ASSERT_TRUE(mine && *mine);
  auto theirs = store->read("Patient", b);
  ASSERT_TRUE(theirs);
  EXPECT_FALSE(*theirs);
  auto version = store->vread("Patient", b, 1);
  ASSERT_TRUE(version);
  EXPECT_FALSE(*version);
  auto history = store->history("Patient", "", 50, "");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->resources.size(), 1u);
  EXPECT_EQ(history->resources[0].id, a);
  SearchRequest all_patients;
  all_patients.type = "Patient";
  auto found = store->search(all_patients);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->resources.size(), 1u);
  EXPECT_EQ(found->resources[0].id, a);
  auto binary_id = db_->exec("SELECT id FROM binary_content WHERE ess = 'ess-b' LIMIT 1");
  ASSERT_TRUE(binary_id && binary_id->rows() == 1);
  static const std::string kC[] = {"ess-c"};
  store->setEss(kC);
  auto bytes = store->readBinary(binary_id->text(0, 0));
  ASSERT_TRUE(bytes);
  EXPECT_FALSE(*bytes);
  auto none = store->read("Patient", a);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  store->setEss({});
  auto nobody = store->search(all_patients);
  ASSERT_TRUE(nobody);
  EXPECT_TRUE(nobody->resources.empty());
  static const std::string kEvery[] = {"*"};
  store->setEss(kEvery);
  auto everyone = store->search(all_patients);
  ASSERT_TRUE(everyone);
  EXPECT_EQ(everyone->resources.size(), 2u);
}

// Revisions 7 (search rows keyed by resource.pk), 8 (history of superseded versions only) and 11
// (the journal's content key) on a database that already holds data in the revision-6 shape.
TEST_F(FreshDatabase, MigrationsSinceRevision6KeepExistingData) {
  ASSERT_TRUE(pg::migrate(dsn_, 6));
  ASSERT_TRUE(db_->script(R"sql(
    INSERT INTO resource (type, id, version, last_updated, deleted, content) VALUES
      ('Patient', 'p1', 2, '2024-01-02T00:00:00Z', false, '{"resourceType":"Patient","id":"p1"}'),
      ('ServiceRequest', 's1', 1, '2024-01-03T00:00:00Z', false,
       '{"resourceType":"ServiceRequest","id":"s1"}'),
      ('Observation', 'o1', 2, '2024-01-04T00:00:00Z', true,
       '{"resourceType":"Observation","id":"o1"}');
    INSERT INTO resource_history (type, id, version, last_updated, deleted, content) VALUES
      ('Patient', 'p1', 1, '2024-01-01T00:00:00Z', false, '{"v":1}'),
      ('Patient', 'p1', 2, '2024-01-02T00:00:00Z', false, '{"v":2}'),
      ('ServiceRequest', 's1', 1, '2024-01-03T00:00:00Z', false, '{"v":1}'),
      ('Observation', 'o1', 1, '2024-01-03T12:00:00Z', false, '{"v":1}'),
      ('Observation', 'o1', 2, '2024-01-04T00:00:00Z', true, '{"v":1}');
    INSERT INTO search_token (type, id, param, system, value) VALUES
      ('Patient', 'p1', 'identifier', 'urn:oid:1.2.250.1.213.1.4.8', '279035121518989'),
      ('ServiceRequest', 's1', 'status', '', 'active'),
      ('Patient', 'gone', 'gender', '', 'female');
    INSERT INTO search_string (type, id, param, value) VALUES ('Patient', 'p1', 'family', 'durand');
    INSERT INTO search_date (type, id, param, low, high)
      VALUES ('ServiceRequest', 's1', 'authored', '2024-01-03', '2024-01-04');
    INSERT INTO search_reference (type, id, param, target)
      VALUES ('ServiceRequest', 's1', 'patient', 'Patient/p1');
    INSERT INTO audit_event (id, recorded, agent, action, what, outcome, content) VALUES
      (41, '2024-01-05T10:00:00Z', 'CN=a', 'R', 'Patient/p1', '0',
       '{"resourceType":"AuditEvent","subtype":[{"code":"read"}]}'),
      (42, '2024-01-05T10:00:01Z', 'CN=b', 'R', 'Patient/p2', '0', '{"resourceType":"AuditEvent"}');
    SELECT setval('audit_event_id_seq', 42);
    INSERT INTO message_journal (message_id, sha256, source, size, raw) VALUES
      ('old@test', encode(sha256('old mail'::bytea), 'hex'), 'file:a', 8, 'old mail'::bytea),
      ('', encode(sha256('old form'::bytea), 'hex'), 'file:b', 8, 'old form'::bytea);
  )sql"));
  // V016 gives the existing rows an ESS that only the operator knows: without it, no migration.
  auto refused = pg::migrate(dsn_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("liaison.migration_ess"), std::string::npos)
      << refused.error().detail;
  auto m = pg::migrate(dsn_ + " options='-c liaison.migration_ess=cardio-plus'");
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->to, pg::latestSchemaVersion());
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE ess = 'cardio-plus'"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM search_token WHERE ess = 'cardio-plus'"), 2);

  // Every search row points at its own resource; the row of no resource is gone.
  auto owners = [&](const std::string& table) {
    return count("SELECT count(*) FROM " + table + " x JOIN resource r ON r.pk = x.res " +
                 "AND r.type = x.type");
  };
  EXPECT_EQ(count("SELECT count(*) FROM search_token"), 2);
  EXPECT_EQ(owners("search_token"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM search_token x JOIN resource r ON r.pk = x.res "
                  "WHERE r.id = 'p1' AND x.value = '279035121518989'"),
            1);
  EXPECT_EQ(owners("search_string"), 1);
  EXPECT_EQ(owners("search_date"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM search_reference x JOIN resource r ON r.pk = x.res "
                  "WHERE r.id = 's1' AND x.target = 'Patient/p1'"),
            1);
  // History: the superseded versions only (the current ones are read from resource).
  EXPECT_EQ(count("SELECT count(*) FROM resource_history"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource_history WHERE (id, version) IN "
                  "(('p1', 1), ('o1', 1))"),
            2);

  // The audit trail keeps its rows and ids as columns (the interaction out of the old JSON, empty
  // where there was none), its sequence goes on, and the view gives them back as AuditEvents.
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE (id, agent, subtype, what) IN "
                  "((41, 'CN=a', 'read', 'Patient/p1'), (42, 'CN=b', '', 'Patient/p2'))"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event_fhir WHERE id = 41 AND "
                  "content->>'recorded' = '2024-01-05T10:00:00.000Z' AND "
                  "content->'subtype'->0->>'code' = 'read'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event_fhir WHERE id = 42 AND "
                  "content->'subtype' IS NULL"),
            1);
  ASSERT_TRUE(openStore()->audit({"2024-01-06T00:00:00Z", "CN=c", "R", "read", "Patient/p1", "0"}));
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE id > 42 AND agent = 'CN=c'"), 1);

  // Journaled messages keep their bytes' hash as content key (revision 11): the same message
  // again is still a duplicate of its row.
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE content_key = sha256"), 2);
  {
    const std::string old_mail = "old mail";
    auto again =
        openStore()->journal({old_mail, "old@test", pipeline::sha256Hex(old_mail), "test", ""});
    ASSERT_TRUE(again) << again.error().detail;
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(again->id, count("SELECT id FROM message_journal WHERE message_id = 'old@test'"));
    EXPECT_FALSE(again->message_id_reused);
  }

  // The store reads and searches the migrated data; new resources get keys after the old ones.
  auto store = openStore();
  auto v1 = store->vread("Patient", "p1", 1);
  ASSERT_TRUE(v1 && *v1);
  EXPECT_EQ((*v1)->json, R"({"v": 1})");
  auto v2 = store->vread("Patient", "p1", 2);
  ASSERT_TRUE(v2 && *v2);
  EXPECT_NE((*v2)->json.find("\"p1\""), std::string::npos);
  auto history = store->history("Observation", "o1", 10, "");
  ASSERT_TRUE(history);
  ASSERT_EQ(history->resources.size(), 2u);
  EXPECT_TRUE(history->resources[0].deleted);
  EXPECT_EQ(history->resources[1].version, 1);
  ASSERT_TRUE(ingest(*store, message("ldl_ses.eml")));
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE pk IS NULL"), 0);
  EXPECT_EQ(count("SELECT count(DISTINCT pk) FROM resource"),
            count("SELECT count(*) FROM resource"));
}

TEST_F(FreshDatabase, CommandLine) {
  auto run = [](const std::string& args) {
    return itest::shell(std::string(LIAISON_BINARY) + " " + args);
  };
  const std::string db = "--db '" + dsn_ + "'";
  const std::string dir = itest::env("LIAISON_MESSAGES_DIR");
  const std::string inputs =
      "'" + dir + "/ldl_ses.eml' '" + dir + "/pps.eml' '" + dir + "/xdm_bomb.eml'";
  auto outdated = run("ingest " + db + " " + inputs);
  EXPECT_EQ(outdated.first, 3) << outdated.second;  // not migrated: nothing read
  EXPECT_NE(outdated.second.find("db-schema-outdated"), std::string::npos) << outdated.second;
  EXPECT_EQ(run("db status " + db).first, 1);
  auto migrated = run("db migrate " + db);
  EXPECT_EQ(migrated.first, 0) << migrated.second;
  EXPECT_NE(migrated.second.find("\"applied\":[\"V001__store.sql\""), std::string::npos);
  EXPECT_EQ(run("db status " + db).first, 0);

  auto first = run("ingest " + db + " " + inputs);
  EXPECT_EQ(first.first, 1) << first.second;  // the bomb is quarantined
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Patient'"), 1);
  auto again = run("ingest " + db + " " + inputs);
  EXPECT_EQ(again.first, 1);
  std::size_t duplicates = 0;
  for (std::size_t at = 0; (at = again.second.find("\"duplicate\":true", at)) != std::string::npos;
       ++at)
    ++duplicates;
  EXPECT_EQ(duplicates, 3u) << again.second;
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 3);

  auto reindexed = run("db reindex " + db);
  EXPECT_EQ(reindexed.first, 0) << reindexed.second;
  EXPECT_NE(reindexed.second.find("{\"reindexed\":"), std::string::npos) << reindexed.second;

  auto unreachable =
      run("ingest --db 'host=/nonexistent port=1 dbname=x connect_timeout=2' " + inputs);
  EXPECT_EQ(unreachable.first, 3);
  EXPECT_NE(unreachable.second.find("db-unavailable"), std::string::npos) << unreachable.second;
}

// A search on a name alone takes its page from the index rows, which carry the resource's
// last_updated and id (migration V010). Paging must still visit every match once, in order,
// through ties of last_updated; an updated resource moves with its new time and a deleted one
// leaves; a _lastUpdated clause filters on the rows' copy of the time; and the pages must equal
// those of the general statement (EXISTS on the resources), which a search on two string
// parameters goes through.
TEST_F(Store, NameSearchPagesFromTheIndexRows) {
  auto store = openStore();
  auto patient = [](const std::string& id, const std::string& updated, const std::string& family) {
    return NewResource{"Patient",
                       id,
                       R"({"resourceType":"Patient","id":")" + id + R"("})",
                       updated,
                       {{"family", SearchKind::String, "", family},
                        {"name", SearchKind::String, "", family + " jean"},
                        {"name#w", SearchKind::String, "", "jean"}}};
  };
  std::vector<NewResource> batch;
  for (int i = 0; i < 25; ++i)  // one instant for all: the id breaks the ties
    batch.push_back(patient("p" + std::to_string(100 + i), "2024-01-01T00:00:00.000Z", "durand"));
  for (int i = 0; i < 4; ++i)
    batch.push_back(patient("q" + std::to_string(i),
                            "2024-02-0" + std::to_string(i + 1) + "T00:00:00.000Z",
                            i % 2 == 0 ? "durant" : (i == 1 ? "dupont" : "jeannot")));
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->create(batch));
    auto moved = (*tx)->update(patient("p107", "2024-03-01T00:00:00.000Z", "durand"), 1);
    ASSERT_TRUE(moved) << moved.error().detail;
    ASSERT_TRUE((*tx)->remove("Patient", "p111", std::nullopt));
    ASSERT_TRUE((*tx)->commit());
  }
  auto walk = [&](std::vector<SearchClause> all, bool oldest_first) {
    std::vector<std::string> ids;
    SearchRequest q{"Patient", std::move(all), 4, oldest_first, false, false, ""};
    for (int pages = 0; pages < 20; ++pages) {
      auto page = store->search(q);
      EXPECT_TRUE(page) << page.error().detail;
      if (!page) break;
      for (const StoredResource& r : page->resources)
        ids.push_back(r.id);
      if (page->next.empty()) break;
      q.after = page->next;
    }
    return ids;
  };
  const SearchClause dur{"name", SearchKind::String, {{"prefix", "", "dur"}}};
  const SearchClause any_time{
      "_lastUpdated", SearchKind::Date, {{"ge", "2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z"}}};
  const SearchClause jean_word{"name", SearchKind::String, {{"prefix", "", "jea"}}};

  std::vector<std::string> expected = {"p107", "q2", "q0"};  // newest first, then ties by id
  for (int i = 124; i >= 100; --i)
    if (i != 107 && i != 111) expected.push_back("p" + std::to_string(i));
  EXPECT_EQ(walk({dur}, false), expected);
  const SearchClause by_family{"family", SearchKind::String, {{"prefix", "", "dur"}}};
  EXPECT_EQ(walk({dur, any_time}, false), expected);  // a time every resource matches
  std::vector<std::string> oldest(expected.rbegin(), expected.rend());
  EXPECT_EQ(walk({dur}, true), oldest);
  EXPECT_EQ(walk({by_family}, false), expected);
  // Every live patient has a later word "jean"; q3's whole name ("jeannot jean") matches too,
  // and comes back once.
  const std::vector<std::string> jean = walk({jean_word}, false);
  EXPECT_EQ(jean.size(), 28u);
  EXPECT_EQ(std::set<std::string>(jean.begin(), jean.end()).size(), 28u);
  // Two string parameters: the general statement, same pages.
  EXPECT_EQ(walk({by_family, dur}, false), expected);
}

TEST_F(Store, ReindexRebuildsTheSearchIndex) {
  auto store = openStore();
  ASSERT_TRUE(ingest(*store, message("ldl_ses.eml")));
  ASSERT_TRUE(ingest(*store, message("tlm_da.eml")));
  const std::string rows =
      "SELECT (SELECT count(*) FROM search_token) * 1000000 + "
      "(SELECT count(*) FROM search_string) * 10000 + "
      "(SELECT count(*) FROM search_date) * 100 + "
      "(SELECT count(*) FROM search_reference)";
  const std::int64_t before = count(rows);
  ASSERT_GT(before, 0);
  ASSERT_TRUE(
      db_->script("DELETE FROM search_string; DELETE FROM search_token; "
                  "INSERT INTO search_reference (res, type, param, target, ess) "
                  "SELECT pk, type, 'stale', 'y', ess FROM resource LIMIT 1"));
  auto n = store->reindex(
      [](std::string_view type, std::string_view json) {
        return test::searchParameters().extract(type, json);
      },
      3);  // several batches
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(*n, count("SELECT count(*) FROM resource WHERE NOT deleted"));
  // Everything back, and the row that no search parameter makes is gone with the rest.
  EXPECT_EQ(count(rows), before);
  EXPECT_EQ(count("SELECT count(*) FROM search_reference WHERE param = 'stale'"), 0);
}

TEST_F(Store, AuditLogWritesEveryRecordInBatches) {
  constexpr int kThreads = 4;
  constexpr int kEach = 700;  // more than a batch
  {
    auto log = pg::PgAuditLog::open(dsn_);
    ASSERT_TRUE(log) << log.error().detail;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < kEach; ++i) {
          EXPECT_TRUE((*log)->record({"2026-12-02T15:00:00.123Z", "CN=t" + std::to_string(t), "R",
                                      "read", "Patient/" + std::to_string(i), "0"}));
        }
      });
    }
    for (auto& th : threads)
      th.join();
    (*log)->flush();
    EXPECT_EQ(count("SELECT count(*) FROM audit_event"), kThreads * kEach);
    EXPECT_TRUE(
        (*log)->record({"2026-12-02T15:00:00.123Z", "CN=last", "R", "read", "Patient/last", "0"}));
  }  // destruction writes what is queued
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent = 'CN=last'"), 1);
  EXPECT_EQ(count("SELECT count(DISTINCT agent) FROM audit_event"), kThreads + 1);
}

// Shutdown: the records queued when the log stops are written before stop() returns (it waits
// while the database holds them back: here a lock on the trail), each caller learns its record
// is written, and a record asked for after the stop is refused (its request answers 503).
TEST_F(Store, AuditLogStopWritesWhatIsQueued) {
  auto log = pg::PgAuditLog::open(dsn_);
  ASSERT_TRUE(log) << log.error().detail;
  auto locker = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(locker);
  ASSERT_TRUE((*locker)->script("BEGIN; LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE"));
  constexpr int kCallers = 8;
  std::atomic<int> written{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&log, &written, i] {
      if ((*log)->record({"2026-12-07T22:00:00.000Z", "CN=arret", "R", "read",
                          "Patient/" + std::to_string(i), "0"}))
        ++written;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all queued or being written
  std::atomic<bool> stopped{false};
  std::thread stopper([&log, &stopped] {
    (*log)->stop();
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(stopped) << "stop() returned before the queued records were written";
  EXPECT_EQ(written, 0);
  ASSERT_TRUE((*locker)->script("ROLLBACK"));
  stopper.join();
  for (auto& c : callers)
    c.join();
  EXPECT_TRUE(stopped);
  EXPECT_EQ(written, kCallers);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent = 'CN=arret'"), kCallers);
  EXPECT_FALSE(
      (*log)->record({"2026-12-07T22:00:01.000Z", "CN=tard", "R", "read", "Patient/x", "0"}));
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent = 'CN=tard'"), 0);
}

// COPY's text format: tabs, newlines, backslashes and accents come back exactly as given, and
// the view builds the FHIR AuditEvent from the columns.
TEST_F(Store, AuditLogKeepsEveryCharacter) {
  const std::string agent = "CN=Dupont\\, Jean\tO=ESS Cardio+ é\r\nOU=b\\\\s";
  const std::string what = "Patient?name,birthdate\\N";
  {
    auto log = pg::PgAuditLog::open(dsn_);
    ASSERT_TRUE(log) << log.error().detail;
    EXPECT_TRUE((*log)->record({"2026-12-02T15:00:00.123Z", agent, "R", "search-type", what, "0"}));
  }
  auto db = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(db) << db.error().detail;
  auto r = (*db)->exec(
      "SELECT agent, what, subtype, content->'agent'->0->'who'->>'display', "
      "content->'entity'->0->'what'->>'display', content->>'recorded', "
      "content->'subtype'->0->>'code', content->'type'->>'code' "
      "FROM audit_event JOIN audit_event_fhir USING (id)");
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->rows(), 1);
  EXPECT_EQ(r->text(0, 0), agent);
  EXPECT_EQ(r->text(0, 1), what);
  EXPECT_EQ(r->text(0, 2), "search-type");
  EXPECT_EQ(r->text(0, 3), agent);
  EXPECT_EQ(r->text(0, 4), what);
  EXPECT_EQ(r->text(0, 5), "2026-12-02T15:00:00.123Z");
  EXPECT_EQ(r->text(0, 6), "search-type");
  EXPECT_EQ(r->text(0, 7), "rest");
}

// A record PostgreSQL refuses (here a NUL byte, which no text column takes) neither blocks the
// trail nor takes its batch with it: it is kept as a stand-in, who in printable ASCII.
TEST_F(Store, AuditLogRecordRefusedByTheDatabaseDoesNotBlockTheOthers) {
  {
    auto log = pg::PgAuditLog::open(dsn_);
    ASSERT_TRUE(log) << log.error().detail;
    for (int i = 0; i < 10; ++i) {
      EXPECT_TRUE(
          (*log)->record({"2026-12-02T15:00:00.123Z", i == 4 ? std::string("CN=a\0b é", 9) : "CN=a",
                          "R", "read", "Patient/" + std::to_string(i), "0"}));
    }
    (*log)->flush();
  }
  EXPECT_EQ(count("SELECT count(*) FROM audit_event"), 10);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE what LIKE 'Patient/%'"), 9);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE what = "
                  "'urn:liaison:audit-record-refused' AND agent = 'CN=a?b ?"
                  "?' AND action = 'R' "
                  "AND subtype = 'read' AND recorded = '2026-12-02T15:00:00.123Z'"),
            1);
}

// ---------------------------------------------------------------------------------------------
// Issue 12: binaries, the journal's content key, document identities, the open request.

TEST_F(Store, BinaryIsStoredOnceAndReadBackExactly) {
  auto store = openStore();
  const BinaryContent pdf = binaryOf(pdfBytes("a"));
  ASSERT_EQ(pdf.bytes.size(), 23u);
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->putBinary(pdf));
    ASSERT_TRUE((*tx)->putBinary(pdf));  // the same bytes in the same transaction
    ASSERT_TRUE((*tx)->commit());
  }
  {
    auto tx = store->begin();  // and again later, under another content type: the first stays
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->putBinary(binaryOf(pdf.bytes, "application/octet-stream")));
    ASSERT_TRUE((*tx)->commit());
  }
  EXPECT_EQ(count("SELECT count(*) FROM binary_content"), 1);
  EXPECT_EQ(count("SELECT size FROM binary_content"), 23);
  auto read = store->readBinary(pdf.id);
  ASSERT_TRUE(read) << read.error().detail;
  ASSERT_TRUE(*read);
  EXPECT_EQ((*read)->id, pdf.id);
  EXPECT_EQ((*read)->content_type, "application/pdf");
  EXPECT_EQ((*read)->bytes, pdf.bytes);

  auto unknown = store->readBinary(pipeline::sha256Hex("never stored"));
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(*unknown);
  // Bytes under a hash that is not theirs are refused, and a rolled-back put leaves nothing.
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    auto wrong = (*tx)->putBinary({pipeline::sha256Hex("other"), "application/pdf", "bytes"});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, Errc::DbError);
  }
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->putBinary(binaryOf(pdfBytes("rolled back"))));
  }
  EXPECT_EQ(count("SELECT count(*) FROM binary_content"), 1);
}

// The exactly-once key is (Message-ID, content key); the same Message-ID with another content is
// another message, flagged as a reused Message-ID.
TEST_F(Store, JournalKeysOnTheContentKeyAndFlagsReusedMessageIds) {
  auto store = openStore();
  const std::string mail = "Message-ID: <m1@test>\r\nSubject: s\r\n\r\nbody\r\n";
  const std::string relayed = "Received: from relay.test\r\n" + mail;  // other bytes, same key
  const std::string key = pipeline::sha256Hex("the mail without its trace headers");
  auto first = store->journal({mail, "m1@test", pipeline::sha256Hex(mail), "test", key});
  ASSERT_TRUE(first) << first.error().detail;
  EXPECT_FALSE(first->duplicate);
  EXPECT_FALSE(first->message_id_reused);

  auto again = store->journal({relayed, "m1@test", pipeline::sha256Hex(relayed), "test", key});
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->id, first->id);
  EXPECT_FALSE(again->message_id_reused);
  EXPECT_FALSE(again->outcome);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);

  // Another content under the same Message-ID: journaled, and flagged.
  const std::string other = "Message-ID: <m1@test>\r\nSubject: s\r\n\r\nanother body\r\n";
  auto reused = store->journal(
      {other, "m1@test", pipeline::sha256Hex(other), "test", pipeline::sha256Hex("other key")});
  ASSERT_TRUE(reused) << reused.error().detail;
  EXPECT_FALSE(reused->duplicate);
  EXPECT_NE(reused->id, first->id);
  EXPECT_TRUE(reused->message_id_reused);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 2);
  // The first one again: a duplicate, which now shares its Message-ID with another content.
  auto first_again = store->journal({mail, "m1@test", pipeline::sha256Hex(mail), "test", key});
  ASSERT_TRUE(first_again);
  EXPECT_TRUE(first_again->duplicate);
  EXPECT_EQ(first_again->id, first->id);
  EXPECT_TRUE(first_again->message_id_reused);

  // No content key: the bytes' hash is the key.
  const std::string plain = "Message-ID: <m2@test>\r\n\r\nplain\r\n";
  auto by_hash = store->journal({plain, "m2@test", pipeline::sha256Hex(plain), "test", ""});
  ASSERT_TRUE(by_hash);
  EXPECT_FALSE(by_hash->duplicate);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE message_id = 'm2@test' "
                  "AND content_key = sha256"),
            1);
  auto by_key = store->journal(
      {plain, "m2@test", pipeline::sha256Hex(plain), "test", pipeline::sha256Hex(plain)});
  ASSERT_TRUE(by_key);
  EXPECT_TRUE(by_key->duplicate);
  EXPECT_EQ(by_key->id, by_hash->id);
  EXPECT_FALSE(by_key->message_id_reused);

  // Files without a Message-ID (forms) are never "reused" whatever their number.
  for (const char* form : {"form one", "form two"}) {
    auto f = store->journal({form, "", pipeline::sha256Hex(form), "test", ""});
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->duplicate);
    EXPECT_FALSE(f->message_id_reused);
  }
  // The first outcome comes back with the duplicate.
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->recordOutcome(
        first->id, {"accepted", R"({"resourceType":"OperationOutcome"})", ""}, ""));
    ASSERT_TRUE((*tx)->commit());
  }
  auto with_outcome = store->journal({relayed, "m1@test", pipeline::sha256Hex(relayed), "t", key});
  ASSERT_TRUE(with_outcome);
  ASSERT_TRUE(with_outcome->outcome);
  EXPECT_EQ(with_outcome->outcome->status, "accepted");
  // A content key that is not a SHA-256 is a bug of the caller, refused.
  EXPECT_FALSE(store->journal({plain, "m3@test", pipeline::sha256Hex(plain), "test", "x"}));
}

// Exactly once per ESS (V018): the same mail delivered to two ESS mailboxes is two messages, each
// processed for its ESS; the second ESS never gets the first one's outcome.
TEST_F(Store, JournalIsExactlyOncePerEss) {
  auto store = openStore();
  const std::string mail = "Message-ID: <both@test>\r\nSubject: s\r\n\r\nbody\r\n";
  const std::string key = pipeline::sha256Hex(mail);
  const std::string a[] = {"ess-a"}, b[] = {"ess-b"};
  store->setEss(a);
  auto for_a = store->journal({mail, "both@test", key, "imap:a", key});
  ASSERT_TRUE(for_a) << for_a.error().detail;
  EXPECT_FALSE(for_a->duplicate);
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->recordOutcome(
        for_a->id, {"accepted", R"({"resourceType":"OperationOutcome"})", ""}, ""));
    ASSERT_TRUE((*tx)->commit());
  }
  store->setEss(b);
  auto for_b = store->journal({mail, "both@test", key, "imap:b", key});
  ASSERT_TRUE(for_b) << for_b.error().detail;
  EXPECT_FALSE(for_b->duplicate);
  EXPECT_FALSE(for_b->outcome);  // not A's outcome
  EXPECT_FALSE(for_b->message_id_reused);
  EXPECT_NE(for_b->id, for_a->id);
  auto b_again = store->journal({mail, "both@test", key, "imap:b", key});
  ASSERT_TRUE(b_again);
  EXPECT_TRUE(b_again->duplicate);
  EXPECT_EQ(b_again->id, for_b->id);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE message_id = 'both@test'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE message_id = 'both@test' "
                  "AND ess IN ('ess-a', 'ess-b')"),
            2);
}

// One claim in a transaction of its own, committed.
Result<DocumentClaim> claimIn(liaison::Store& store, const DocumentIdentity& identity,
                              const std::string& document,
                              const std::vector<std::string>& resources = {}) {
  auto tx = store.begin();
  if (!tx) return tx.error();
  auto claim = (*tx)->claimDocument(identity, document, resources);
  if (!claim) return claim.error();
  if (auto c = (*tx)->commit(); !c) return c.error();
  return claim;
}

using Status = DocumentClaim::Status;

TEST_F(Store, DocumentClaimsSayNewSameSupersedesSuperseded) {
  auto store = openStore();
  const std::string set = "1.2.250.1.999.1|SET-1";
  auto v1 = claimIn(*store, {"1.2.250.1.999.2|DOC-1", set, 1, {}}, "DocumentReference/d1",
                    {"Observation/o1", "Observation/o2"});
  ASSERT_TRUE(v1) << v1.error().detail;
  EXPECT_EQ(v1->status, Status::New);
  EXPECT_TRUE(v1->superseded.empty());

  // The same document again (another mail): nothing written, the stored one named.
  auto same = claimIn(*store, {"1.2.250.1.999.2|DOC-1", set, 1, {}}, "DocumentReference/other");
  ASSERT_TRUE(same) << same.error().detail;
  EXPECT_EQ(same->status, Status::Same);
  EXPECT_EQ(same->current, "DocumentReference/d1");
  EXPECT_EQ(count("SELECT count(*) FROM document_version"), 1);

  // Version 2 of the set: retires version 1, whose resources come back to be retired too.
  auto v2 = claimIn(*store, {"1.2.250.1.999.2|DOC-2", set, 2, {}}, "DocumentReference/d2",
                    {"Observation/o3"});
  ASSERT_TRUE(v2) << v2.error().detail;
  EXPECT_EQ(v2->status, Status::Supersedes);
  ASSERT_EQ(v2->superseded.size(), 1u);
  EXPECT_EQ(v2->superseded[0].document, "DocumentReference/d1");
  EXPECT_EQ(v2->superseded[0].resources,
            (std::vector<std::string>{"Observation/o1", "Observation/o2"}));
  EXPECT_EQ(count("SELECT count(*) FROM document_version WHERE key = '1.2.250.1.999.2|DOC-1' "
                  "AND superseded_by = '1.2.250.1.999.2|DOC-2'"),
            1);
  // Version 1 again, by another relay: still the same document (retired, not stored again).
  auto old_again = claimIn(*store, {"1.2.250.1.999.2|DOC-1", set, 1, {}}, "DocumentReference/x");
  ASSERT_TRUE(old_again);
  EXPECT_EQ(old_again->status, Status::Same);
  EXPECT_EQ(old_again->current, "DocumentReference/d1");

  // Version 4 then a late version 3: stored retired, the current one named.
  auto v4 = claimIn(*store, {"1.2.250.1.999.2|DOC-4", set, 4, {}}, "DocumentReference/d4");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->status, Status::Supersedes);
  auto v3 = claimIn(*store, {"1.2.250.1.999.2|DOC-3", set, 3, {}}, "DocumentReference/d3",
                    {"Observation/o9"});
  ASSERT_TRUE(v3) << v3.error().detail;
  EXPECT_EQ(v3->status, Status::Superseded);
  EXPECT_EQ(v3->current, "DocumentReference/d4");
  EXPECT_TRUE(v3->superseded.empty());
  EXPECT_EQ(count("SELECT count(*) FROM document_version WHERE key = '1.2.250.1.999.2|DOC-3' "
                  "AND superseded_by = '1.2.250.1.999.2|DOC-4'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM document_version WHERE set_key = '" + set +
                  "' AND superseded_by IS NULL"),
            1);
  // Unknown version numbers (0): the later arrival is the current one.
  auto unknown = claimIn(*store, {"1.2.250.1.999.2|DOC-X", set, 0, {}}, "DocumentReference/dx");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, Status::Supersedes);
  ASSERT_EQ(unknown->superseded.size(), 1u);
  EXPECT_EQ(unknown->superseded[0].document, "DocumentReference/d4");
}

TEST_F(Store, DocumentClaimsFollowExplicitReplacement) {
  auto store = openStore();
  // A file without a set, then its replacement by key (relatedDocument RPLC), version unknown.
  const std::string a = "sha256|" + pipeline::sha256Hex("attachment a");
  ASSERT_EQ(claimIn(*store, {a, "", 0, {}}, "DocumentReference/a", {"Binary/x"})->status,
            Status::New);
  auto b = claimIn(*store, {"1.2.3|B", "", 0, {a}}, "DocumentReference/b");
  ASSERT_TRUE(b) << b.error().detail;
  EXPECT_EQ(b->status, Status::Supersedes);
  ASSERT_EQ(b->superseded.size(), 1u);
  EXPECT_EQ(b->superseded[0].document, "DocumentReference/a");
  EXPECT_EQ(b->superseded[0].resources, std::vector<std::string>{"Binary/x"});

  // Replacement wins over version numbers: version 2 replaces version 5 when it says so.
  ASSERT_EQ(claimIn(*store, {"1.2.3|S5", "1.2.3|S", 5, {}}, "DocumentReference/s5")->status,
            Status::New);
  auto s2 = claimIn(*store, {"1.2.3|S2", "1.2.3|S", 2, {"1.2.3|S5"}}, "DocumentReference/s2");
  ASSERT_TRUE(s2);
  EXPECT_EQ(s2->status, Status::Supersedes);
  ASSERT_EQ(s2->superseded.size(), 1u);
  EXPECT_EQ(s2->superseded[0].document, "DocumentReference/s5");

  // The replacement first, then the document it replaced (a late delivery, no set, no version):
  // stored retired, under the one that replaced it.
  auto r = claimIn(*store, {"1.2.3|R2", "", 0, {"1.2.3|R1"}}, "DocumentReference/r2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::New);
  auto late = claimIn(*store, {"1.2.3|R1", "", 0, {}}, "DocumentReference/r1");
  ASSERT_TRUE(late) << late.error().detail;
  EXPECT_EQ(late->status, Status::Superseded);
  EXPECT_EQ(late->current, "DocumentReference/r2");

  // A late version that replaces another current document: stored retired under the newer
  // version, and the document it replaces retired all the same (listed, to retire).
  ASSERT_EQ(claimIn(*store, {"1.2.3|T5", "1.2.3|T", 5, {}}, "DocumentReference/t5")->status,
            Status::New);
  ASSERT_EQ(
      claimIn(*store, {"1.2.3|P", "", 0, {}}, "DocumentReference/p", {"Observation/p1"})->status,
      Status::New);
  auto t3 = claimIn(*store, {"1.2.3|T3", "1.2.3|T", 3, {"1.2.3|P"}}, "DocumentReference/t3");
  ASSERT_TRUE(t3) << t3.error().detail;
  EXPECT_EQ(t3->status, Status::Superseded);
  EXPECT_EQ(t3->current, "DocumentReference/t5");
  ASSERT_EQ(t3->superseded.size(), 1u);
  EXPECT_EQ(t3->superseded[0].document, "DocumentReference/p");
  EXPECT_EQ(t3->superseded[0].resources, std::vector<std::string>{"Observation/p1"});
  // Current: b, s2, r2 and t5.
  EXPECT_EQ(count("SELECT count(*) FROM document_version WHERE superseded_by IS NULL"), 4);
}

// Two gateways (two connections) claim the same document at the same moment, each in an open
// transaction: exactly one stores it.
TEST_F(Store, ConcurrentClaimsOfOneDocumentMakeOneNew) {
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "1.2.3|SAME-" + std::to_string(round);
    std::latch ready(2);
    std::vector<Status> statuses(2, Status::Supersedes);
    std::vector<std::string> currents(2);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        auto s = openCardioPlus(dsn_);
        auto tx = s ? (*s)->begin() : Result<std::unique_ptr<StoreTransaction>>(s.error());
        ready.arrive_and_wait();  // both connections and transactions open
        if (!tx) {
          ++failures;
          return;
        }
        auto claim = (*tx)->claimDocument({key, "1.2.3|SET-" + std::to_string(round), 1, {}},
                                          "DocumentReference/c" + std::to_string(i), {});
        if (!claim || !(*tx)->commit()) {
          ++failures;
          return;
        }
        statuses[static_cast<std::size_t>(i)] = claim->status;
        currents[static_cast<std::size_t>(i)] = claim->current;
      });
    }
    for (auto& t : threads)
      t.join();
    ASSERT_EQ(failures.load(), 0);
    const int news = (statuses[0] == Status::New) + (statuses[1] == Status::New);
    const int sames = (statuses[0] == Status::Same) + (statuses[1] == Status::Same);
    EXPECT_EQ(news, 1) << "round " << round;
    EXPECT_EQ(sames, 1) << "round " << round;
    const std::size_t winner = statuses[0] == Status::New ? 0 : 1;
    EXPECT_EQ(currents[1 - winner], "DocumentReference/c" + std::to_string(winner));
  }
  EXPECT_EQ(count("SELECT count(*) FROM document_version"), kRounds);
}

// Versions of one set claimed at once by several gateways: whatever the order, one current
// version at the end, the highest, and every other one retired under a newer one.
TEST_F(Store, ConcurrentVersionsOfOneSetLeaveOneCurrent) {
  constexpr int kRounds = 5;
  constexpr int kVersions = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string set = "1.2.3|SET-" + std::to_string(round);
    std::latch ready(kVersions);
    std::atomic<int> failures{0};
    std::atomic<int> news{0};
    std::vector<std::thread> threads;
    for (int v = 1; v <= kVersions; ++v) {
      threads.emplace_back([&, v] {
        auto s = openCardioPlus(dsn_);
        auto tx = s ? (*s)->begin() : Result<std::unique_ptr<StoreTransaction>>(s.error());
        ready.arrive_and_wait();
        if (!tx) {
          ++failures;
          return;
        }
        const std::string key = set + "-V" + std::to_string(v);
        auto claim = (*tx)->claimDocument(
            {key, set, v, {}},
            "DocumentReference/r" + std::to_string(round) + "v" + std::to_string(v), {});
        if (!claim || !(*tx)->commit()) {
          ++failures;
          return;
        }
        news += claim->status == Status::New;
      });
    }
    for (auto& t : threads)
      t.join();
    ASSERT_EQ(failures.load(), 0);
    EXPECT_EQ(news.load(), 1) << "round " << round;
    auto current = db_->exec("SELECT version FROM document_version WHERE set_key = '" + set +
                             "' AND superseded_by IS NULL");
    ASSERT_TRUE(current);
    ASSERT_EQ(current->rows(), 1) << "round " << round;
    EXPECT_EQ(current->integer(0, 0), kVersions);
    EXPECT_EQ(count("SELECT count(*) FROM document_version d JOIN document_version n "
                    "ON n.key = d.superseded_by WHERE d.set_key = '" +
                    set + "' AND n.version <= d.version"),
              0);
  }
}

NewResource requestOf(const std::string& id, const std::string& patient, const std::string& status,
                      const std::string& updated) {
  const std::string json = R"({"resourceType":"ServiceRequest","id":")" + id + R"(","status":")" +
                           status + R"(","intent":"order","subject":{"reference":")" + patient +
                           R"("}})";
  return NewResource{"ServiceRequest", id, json, updated,
                     test::searchParameters().extract("ServiceRequest", json)};
}

TEST_F(Store, OpenRequestOfAPatientIsTheNewestOpenOne) {
  auto store = openStore();
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->create(std::vector<NewResource>{
        requestOf("sr-active", "Patient/p1", "active", "2024-01-01T00:00:00.000Z"),
        requestOf("sr-hold", "Patient/p1", "on-hold", "2024-01-15T00:00:00.000Z"),
        requestOf("sr-draft", "Patient/p1", "draft", "2024-02-01T00:00:00.000Z"),
        requestOf("sr-done", "Patient/p1", "completed", "2024-03-01T00:00:00.000Z"),
        requestOf("sr-revoked", "Patient/p1", "revoked", "2024-04-01T00:00:00.000Z"),
        requestOf("sr-other", "Patient/p2", "active", "2024-05-01T00:00:00.000Z")}));
    ASSERT_TRUE((*tx)->commit());
  }
  auto openOf = [&](const std::string& patient) -> std::optional<std::string> {
    auto tx = store->begin();
    EXPECT_TRUE(tx);
    if (!tx) return std::nullopt;
    auto r = (*tx)->openRequestOf(patient);
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r ? *r : std::nullopt;
  };
  EXPECT_EQ(openOf("Patient/p1"), "ServiceRequest/sr-draft");
  EXPECT_EQ(openOf("Patient/p2"), "ServiceRequest/sr-other");
  EXPECT_EQ(openOf("Patient/p3"), std::nullopt);
  {
    auto tx = store->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->update(
        requestOf("sr-draft", "Patient/p1", "completed", "2024-06-01T00:00:00.000Z"), 1));
    ASSERT_TRUE((*tx)->remove("ServiceRequest", "sr-hold", std::nullopt));
    ASSERT_TRUE((*tx)->commit());
  }
  EXPECT_EQ(openOf("Patient/p1"), "ServiceRequest/sr-active");
  // Within a transaction, its own new request.
  auto tx = store->begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE((*tx)->create(std::vector<NewResource>{
      requestOf("sr-new", "Patient/p1", "active", "2024-07-01T00:00:00.000Z")}));
  auto own = (*tx)->openRequestOf("Patient/p1");
  ASSERT_TRUE(own) << own.error().detail;
  EXPECT_EQ(*own, "ServiceRequest/sr-new");
}

TEST_F(Store, TransactionReadsItsOwnWrites) {
  auto store = openStore();
  auto other = openStore();
  const std::string json = R"({"resourceType":"Patient","id":"p1"})";
  auto tx = store->begin();
  ASSERT_TRUE(tx);
  auto before = (*tx)->read("Patient", "p1");
  ASSERT_TRUE(before) << before.error().detail;
  EXPECT_FALSE(*before);
  ASSERT_TRUE((*tx)->create(
      std::vector<NewResource>{{"Patient", "p1", json, "2024-01-01T00:00:00.000Z", {}}}));
  auto mine = (*tx)->read("Patient", "p1");
  ASSERT_TRUE(mine && *mine);
  EXPECT_EQ((*mine)->version, 1);
  EXPECT_NE((*mine)->json.find("\"Patient\""), std::string::npos) << (*mine)->json;
  auto outside = other->read("Patient", "p1");
  ASSERT_TRUE(outside);
  EXPECT_FALSE(*outside);  // not committed yet
  ASSERT_TRUE((*tx)->remove("Patient", "p1", std::nullopt));
  auto removed = (*tx)->read("Patient", "p1");
  ASSERT_TRUE(removed);
  EXPECT_FALSE(*removed);  // deleted: as absent
  ASSERT_TRUE((*tx)->commit());
}

TEST(StoreUnavailable, IsATransientError) {
  auto store = openCardioPlus(
      "host=/nonexistent port=1 user=nobody dbname=none "
      "connect_timeout=2");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::DbUnavailable);
  EXPECT_EQ(info(store.error().code).retry, Retry::Transient);
}

TEST(MessageIdOf, ReadsTheHeaderOnly) {
  EXPECT_EQ(pipeline::messageIdOf("From: a\r\nMessage-ID: <x@y>\r\n\r\nbody"), "x@y");
  EXPECT_EQ(pipeline::messageIdOf("message-id:\r\n <folded@y>\r\nSubject: s\r\n\r\n"), "folded@y");
  EXPECT_EQ(pipeline::messageIdOf("Subject: s\r\n\r\nMessage-ID: <in-body@y>\r\n"), "");
  EXPECT_EQ(pipeline::messageIdOf(""), "");
}

// ---------------------------------------------------------------------------------------------
// Issue 12 end to end: the generated mails of tests/mssante/make_messages.py through the intake
// into the store (journal, document identities, versions, the open request).

// One entry of a transaction-response Bundle: what it names and whether it was created.
struct Answered {
  std::string type;
  std::string id;
  std::string status;  // "201 Created" | "200 OK"
};

std::vector<Answered> answeredOf(const std::string& response_json) {
  std::vector<Answered> out;
  rapidjson::Document d;
  d.Parse(response_json.data(), response_json.size());
  EXPECT_TRUE(d.IsObject() && d.HasMember("entry")) << response_json.substr(0, 300);
  if (!d.IsObject() || !d.HasMember("entry")) return out;
  for (const auto& e : d["entry"].GetArray()) {
    const std::string location = e["response"]["location"].GetString();  // Type/id[/_history/n]
    const std::size_t slash = location.find('/');
    const std::size_t end = location.find('/', slash + 1);
    out.push_back({location.substr(0, slash), location.substr(slash + 1, end - slash - 1),
                   e["response"]["status"].GetString()});
  }
  return out;
}

std::vector<std::string> idsOf(const std::vector<Answered>& answered, std::string_view type) {
  std::vector<std::string> ids;
  for (const Answered& a : answered)
    if (a.type == type) ids.push_back(a.id);
  return ids;
}

// The current version of a stored resource, parsed (a null document when absent).
rapidjson::Document storedJson(pg::PgConnection& db, const std::string& type,
                               const std::string& id) {
  rapidjson::Document d;
  auto r = db.exec("SELECT content::text FROM resource WHERE type = '" + type + "' AND id = '" +
                   id + "'");
  EXPECT_TRUE(r) << (r ? "" : r.error().detail);
  if (!r || r->rows() != 1) return d;
  const std::string_view text = r->text(0, 0);
  d.Parse(text.data(), text.size());
  return d;
}

std::string stringAt(const rapidjson::Value& v, std::initializer_list<const char*> path) {
  const rapidjson::Value* at = &v;
  for (const char* key : path) {
    if (!at->IsObject() || !at->HasMember(key)) return {};
    at = &(*at)[key];
  }
  return at->IsString() ? at->GetString() : "";
}

// The references of a Communication's payload (contentReference), in order.
std::vector<std::string> payloadReferences(const rapidjson::Value& communication) {
  std::vector<std::string> refs;
  if (!communication.IsObject() || !communication.HasMember("payload")) return refs;
  for (const auto& p : communication["payload"].GetArray())
    if (p.HasMember("contentReference"))
      refs.push_back(p["contentReference"]["reference"].GetString());
  return refs;
}

// The "reference" values of an array member (context.related, about…), in order.
std::vector<std::string> referencesIn(const rapidjson::Value* array) {
  std::vector<std::string> refs;
  if (array == nullptr || !array->IsArray()) return refs;
  for (const auto& r : array->GetArray())
    refs.push_back(r["reference"].GetString());
  return refs;
}

const rapidjson::Value* memberAt(const rapidjson::Value& v,
                                 std::initializer_list<const char*> path) {
  const rapidjson::Value* at = &v;
  for (const char* key : path) {
    if (!at->IsObject() || !at->HasMember(key)) return nullptr;
    at = &(*at)[key];
  }
  return at;
}

// (severity, code) of each issue of an OperationOutcome.
std::set<std::pair<std::string, std::string>> issuesOf(std::string_view outcome_json) {
  std::set<std::pair<std::string, std::string>> out;
  rapidjson::Document d;
  d.Parse(outcome_json.data(), outcome_json.size());
  EXPECT_TRUE(d.IsObject()) << outcome_json.substr(0, 300);
  if (!d.IsObject() || !d.HasMember("issue")) return out;
  for (const auto& i : d["issue"].GetArray())
    out.emplace(i["severity"].GetString(), stringAt(i["details"]["coding"][0], {"code"}));
  return out;
}

// Everything an ingest may write, as one figure per table (and the versions' sum: an update
// changes no row count).
const char* const kEverything =
    "SELECT (SELECT count(*) FROM message_journal) || '/' || (SELECT count(*) FROM ingest_outcome)"
    " || '/' || (SELECT count(*) FROM ingest_attempt) || '/' || (SELECT count(*) FROM resource)"
    " || '/' || (SELECT coalesce(sum(version), 0) FROM resource) || '/' ||"
    " (SELECT count(*) FROM resource_history) || '/' || (SELECT count(*) FROM binary_content)"
    " || '/' || (SELECT count(*) FROM document_version) || '/' ||"
    " (SELECT count(*) FROM search_token) || '/' || (SELECT count(*) FROM search_reference)"
    " || '/' || (SELECT count(*) FROM outbox)";

std::string everything(pg::PgConnection& db) {
  auto r = db.exec(kEverything);
  EXPECT_TRUE(r) << (r ? "" : r.error().detail);
  return r ? std::string(r->text(0, 0)) : "";
}

constexpr const char* kLdlV1 = "LDL-2024-0001";    // ldl_ses.xml's CDA id (extension)
constexpr const char* kLdlV2 = "LDL-2024-0001.2";  // ldl_ses_v2.xml's

std::string documentWithMasterIdentifier(pg::PgConnection& db, const std::string& value) {
  auto r = db.exec(
      "SELECT id FROM resource WHERE type = 'DocumentReference' AND "
      "content->'masterIdentifier'->>'value' = '" +
      value + "'");
  EXPECT_TRUE(r);
  EXPECT_EQ(r ? r->rows() : -1, 1) << value;
  return r && r->rows() == 1 ? std::string(r->text(0, 0)) : "";
}

// The vital signs of ldl_ses.xml (version 1) and of ldl_ses_v2.xml (corrected), by LOINC code.
const std::map<std::string, std::string> kVitalsV1 = {
    {"29463-7", "72.5"}, {"8302-2", "168"}, {"8480-6", "135"}, {"8462-4", "85"}, {"8867-4", "64"}};
const std::map<std::string, std::string> kVitalsV2 = {
    {"29463-7", "71.8"}, {"8302-2", "168"}, {"8480-6", "128"}, {"8462-4", "80"}, {"8867-4", "60"}};

// code → value of stored Observations with this status.
std::map<std::string, std::string> vitalsOf(pg::PgConnection& db,
                                            const std::vector<std::string>& observations,
                                            const std::string& status) {
  std::map<std::string, std::string> out;
  for (const std::string& id : observations) {
    auto r = db.exec(
        "SELECT content->'code'->'coding'->0->>'code', "
        "(content->'valueQuantity'->>'value')::numeric::text FROM resource "
        "WHERE type = 'Observation' AND id = '" +
        id + "' AND content->>'status' = '" + status + "'");
    EXPECT_TRUE(r);
    if (r && r->rows() == 1) {
      std::string value(r->text(0, 1));
      if (value.find('.') != std::string::npos) {  // 168.0 → 168
        while (value.back() == '0')
          value.pop_back();
        if (value.back() == '.') value.pop_back();
      }
      out[std::string(r->text(0, 0))] = value;
    }
  }
  return out;
}

// A relay delivers ldl_ses.eml again under its trace headers (Return-Path, Delivered-To,
// X-Original-To, Received): the same message, whose first outcome comes back; nothing written.
TEST_F(Store, RelayRedeliveryIsADuplicateOfTheFirstMessage) {
  auto store = openStore();
  const std::string mail = message("ldl_ses.eml");
  const std::string redelivered = message("ldl_ses_redelivered.eml");
  ASSERT_NE(mail, redelivered);
  ASSERT_NE(redelivered.find("\r\nReceived: from relay2."), std::string::npos);
  auto first = ingest(*store, mail);
  ASSERT_TRUE(first) << first.error().detail;
  ASSERT_FALSE(first->duplicate);
  const std::string before = everything(*db_);

  auto again = ingest(*store, redelivered);
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->journal_id, first->journal_id);
  EXPECT_EQ(again->result.status, first->result.status);
  // The same response (as stored: jsonb orders the members its own way), the same locations.
  const auto answered = answeredOf(again->response_json);
  const auto answered_first = answeredOf(first->response_json);
  ASSERT_EQ(answered.size(), answered_first.size());
  for (std::size_t i = 0; i < answered.size(); ++i) {
    EXPECT_EQ(answered[i].type + "/" + answered[i].id + " " + answered[i].status,
              answered_first[i].type + "/" + answered_first[i].id + " " + answered_first[i].status);
  }
  EXPECT_EQ(issuesOf(again->outcome_json), issuesOf(first->outcome_json));
  EXPECT_EQ(everything(*db_), before);
  // One journal row: the bytes first received, not the relay's copy.
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE sha256 = '" +
                  pipeline::sha256Hex(mail) + "'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication'"), 1);
}

// An LPS reuses ldl_ses.eml's Message-ID for another mail that carries the same archive: the
// mail is journaled and processed (its text is kept), flagged, and its document is not stored
// again: its Communication points at the stored DocumentReference.
TEST_F(Store, ReusedMessageIdIsProcessedFlaggedAndLinkedToTheStoredDocument) {
  auto store = openStore();
  auto first = ingest(*store, message("ldl_ses.eml"));
  ASSERT_TRUE(first) << first.error().detail;
  auto reused = ingest(*store, message("ldl_ses_reused_id.eml"));
  ASSERT_TRUE(reused) << reused.error().detail;
  EXPECT_FALSE(reused->duplicate);
  EXPECT_NE(reused->journal_id, first->journal_id);
  EXPECT_EQ(reused->result.status, pipeline::IngestStatus::Accepted);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE message_id = "
                  "'ldl_ses@ch-fictif.mssante.fr'"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 2);

  // The outcome as stored: the reused identifier for the secretariat, the document already there.
  auto stored = db_->exec("SELECT outcome::text FROM ingest_outcome WHERE journal_id = " +
                          std::to_string(reused->journal_id));
  ASSERT_TRUE(stored && stored->rows() == 1);
  const auto issues = issuesOf(stored->text(0, 0));
  EXPECT_EQ(issues.count({"warning", "message-id-reused"}), 1u) << stored->text(0, 0);
  EXPECT_EQ(issues.count({"information", "document-already-stored"}), 1u) << stored->text(0, 0);
  EXPECT_EQ(issues.count({"warning", "document-content-differs"}), 0u);  // the same archive
  EXPECT_EQ(issuesOf(first->outcome_json).count({"warning", "message-id-reused"}), 0u);

  // Two Communications; the second's payload names the DocumentReference the first one stored.
  const std::string document = documentWithMasterIdentifier(*db_, kLdlV1);
  const auto first_comm = idsOf(answeredOf(first->response_json), "Communication");
  const auto second_comm = idsOf(answeredOf(reused->response_json), "Communication");
  ASSERT_EQ(first_comm.size(), 1u);
  ASSERT_EQ(second_comm.size(), 1u);
  EXPECT_NE(first_comm[0], second_comm[0]);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication'"), 2);
  const auto first_refs = payloadReferences(storedJson(*db_, "Communication", first_comm[0]));
  const auto second_refs = payloadReferences(storedJson(*db_, "Communication", second_comm[0]));
  EXPECT_EQ(first_refs.size(), 2u);  // the CDA and the PDF rendition
  EXPECT_EQ(first_refs.front(), "DocumentReference/" + document);
  EXPECT_EQ(second_refs, std::vector<std::string>{"DocumentReference/" + document});
  EXPECT_NE(
      stringAt(storedJson(*db_, "Communication", second_comm[0])["payload"][0], {"contentString"})
          .find("Complément"),
      std::string::npos);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'DocumentReference'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation'"), 5);
  expectReferencesResolve();
}

// ldl_ses.xml again, forwarded by the GP in another mail (another sender, relay, METADATA
// submission set): one DocumentReference, its Observations and Encounter once, two
// Communications pointing at it; the second response names the stored resources (200 OK).
TEST_F(Store, SameDocumentInAnotherMailIsStoredOnce) {
  auto store = openStore();
  auto first = ingest(*store, message("ldl_ses.eml"));
  ASSERT_TRUE(first) << first.error().detail;
  auto again = ingest(*store, message("ldl_ses_again.eml"));
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_FALSE(again->duplicate);
  EXPECT_EQ(again->result.status, pipeline::IngestStatus::Accepted);
  EXPECT_EQ(issuesOf(again->outcome_json).count({"information", "document-already-stored"}), 1u)
      << again->outcome_json;

  const std::string document = documentWithMasterIdentifier(*db_, kLdlV1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation' AND "
                  "content->'category' @> '[{\"coding\":[{\"code\":\"vital-signs\"}]}]'"),
            5);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation'"), 5);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Encounter'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication' AND "
                  "content->'payload' @> '[{\"contentReference\":{\"reference\":"
                  "\"DocumentReference/" +
                  document + "\"}}]'"),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE version <> 1"), 0);  // nothing rewritten

  // The document's entries: 200 OK and the stored ids; the new mail's Communication: 201.
  const auto firsts = answeredOf(first->response_json);
  std::set<std::string> first_created;
  for (const Answered& a : firsts)
    if (a.status == "201 Created") first_created.insert(a.type + "/" + a.id);
  int document_entries = 0;
  for (const Answered& a : answeredOf(again->response_json)) {
    if (a.type == "DocumentReference" || a.type == "Observation" || a.type == "Encounter") {
      ++document_entries;
      EXPECT_EQ(a.status, "200 OK") << a.type << "/" << a.id;
      EXPECT_EQ(first_created.count(a.type + "/" + a.id), 1u) << a.type << "/" << a.id;
    } else if (a.type == "Communication") {
      EXPECT_EQ(a.status, "201 Created");
    }
  }
  EXPECT_EQ(document_entries, 7);  // the DocumentReference, 5 Observations, the Encounter
  expectReferencesResolve();
}

// ldl_ses.xml in several mails (the sender's and the GP's forward, each under its own
// Message-ID) ingested at once by several gateways: one DocumentReference all the same.
TEST_F(Store, SameDocumentInConcurrentMailsIsStoredOnce) {
  constexpr int kThreads = 6;
  const std::string sent = message("ldl_ses.eml");
  const std::string forwarded = message("ldl_ses_again.eml");
  std::latch ready(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::string> responses(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto s = openCardioPlus(dsn_);
      const std::string bytes =
          withMessageId(i % 2 == 0 ? sent : forwarded, "c" + std::to_string(i) + "@test");
      ready.arrive_and_wait();  // every gateway connected
      if (!s) {
        ++failures;
        return;
      }
      auto r = ingest(**s, bytes);
      if (!r || r->duplicate) {
        ++failures;
        return;
      }
      responses[static_cast<std::size_t>(i)] = r->response_json;
    });
  }
  for (auto& t : threads)
    t.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), kThreads);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), kThreads);
  const std::string document = documentWithMasterIdentifier(*db_, kLdlV1);
  EXPECT_EQ(
      count("SELECT count(*) FROM document_version WHERE key LIKE '%|" + std::string(kLdlV1) + "'"),
      1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation'"), 5);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Encounter'"), 1);
  // The CDA and the PDF rendition (in the sender's mails only).
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'DocumentReference'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication' AND "
                  "content->'payload' @> '[{\"contentReference\":{\"reference\":"
                  "\"DocumentReference/" +
                  document + "\"}}]'"),
            kThreads);
  // Exactly one ingest created it; the others named it.
  int created = 0;
  for (const std::string& response : responses) {
    for (const Answered& a : answeredOf(response)) {
      if (a.type != "DocumentReference" || a.id != document) continue;
      created += a.status == "201 Created";
    }
  }
  EXPECT_EQ(created, 1);
  expectReferencesResolve();
}

// Version 2 of the discharge letter (same setId, versionNumber 2, relatedDocument RPLC) after
// version 1: v2 replaces v1, v1 is superseded, what was read from it entered-in-error (a new
// version of each, the first kept in the history), and only v2's vital signs stay final.
TEST_F(Store, NewVersionSupersedesTheOldOneAndRetiresWhatDerivedFromIt) {
  auto store = openStore();
  auto v1 = ingest(*store, message("ldl_ses.eml"));
  ASSERT_TRUE(v1) << v1.error().detail;
  auto v2 = ingest(*store, message("ldl_ses_v2.eml"));
  ASSERT_TRUE(v2) << v2.error().detail;
  EXPECT_EQ(v2->result.status, pipeline::IngestStatus::Accepted);
  EXPECT_EQ(issuesOf(v2->outcome_json).count({"information", "document-superseded"}), 1u)
      << v2->outcome_json;

  const std::string old_doc = documentWithMasterIdentifier(*db_, kLdlV1);
  const std::string new_doc = documentWithMasterIdentifier(*db_, kLdlV2);
  const auto old_answered = answeredOf(v1->response_json);
  const auto new_answered = answeredOf(v2->response_json);
  const auto old_obs = idsOf(old_answered, "Observation");
  const auto new_obs = idsOf(new_answered, "Observation");
  ASSERT_EQ(old_obs.size(), 5u);
  ASSERT_EQ(new_obs.size(), 5u);

  rapidjson::Document old_json = storedJson(*db_, "DocumentReference", old_doc);
  rapidjson::Document new_json = storedJson(*db_, "DocumentReference", new_doc);
  ASSERT_TRUE(old_json.IsObject() && new_json.IsObject());
  EXPECT_EQ(stringAt(old_json, {"status"}), "superseded");
  EXPECT_EQ(stringAt(old_json, {"meta", "versionId"}), "2");
  EXPECT_EQ(stringAt(new_json, {"status"}), "current");
  ASSERT_TRUE(new_json.HasMember("relatesTo"));
  ASSERT_EQ(new_json["relatesTo"].Size(), 1u);
  EXPECT_EQ(stringAt(new_json["relatesTo"][0], {"code"}), "replaces");
  EXPECT_EQ(stringAt(new_json["relatesTo"][0], {"target", "reference"}),
            "DocumentReference/" + old_doc);

  // v1's Observations and Encounter: entered-in-error as version 2, final/finished in version 1.
  EXPECT_EQ(vitalsOf(*db_, old_obs, "entered-in-error"), kVitalsV1);
  EXPECT_EQ(vitalsOf(*db_, new_obs, "final"), kVitalsV2);
  for (const std::string& id : old_obs) {
    auto h = store->history("Observation", id, 10, "");
    ASSERT_TRUE(h) << h.error().detail;
    ASSERT_EQ(h->resources.size(), 2u) << id;
    EXPECT_EQ(h->resources[0].version, 2);
    EXPECT_NE(h->resources[0].json.find("\"entered-in-error\""), std::string::npos);
    EXPECT_NE(h->resources[1].json.find("\"final\""), std::string::npos);
  }
  const auto old_enc = idsOf(old_answered, "Encounter");
  const auto new_enc = idsOf(new_answered, "Encounter");
  ASSERT_EQ(old_enc.size(), 1u);
  ASSERT_EQ(new_enc.size(), 1u);
  EXPECT_EQ(stringAt(storedJson(*db_, "Encounter", old_enc[0]), {"status"}), "entered-in-error");
  EXPECT_EQ(stringAt(storedJson(*db_, "Encounter", new_enc[0]), {"status"}), "finished");

  // The search index follows: the patient's final Observations are v2's; v2 found by relatesto.
  const std::string patient = "Patient/" + idsOf(new_answered, "Patient").at(0);
  SearchRequest q{"Observation",
                  {{"patient", SearchKind::Reference, {{"", "", patient}}},
                   {"status", SearchKind::Token, {{"", "", "final"}}}},
                  100,
                  false,
                  true,
                  false,
                  ""};
  auto finals = store->search(q);
  ASSERT_TRUE(finals) << finals.error().detail;
  std::set<std::string> found;
  for (const StoredResource& r : finals->resources)
    found.insert(r.id);
  EXPECT_EQ(found, std::set<std::string>(new_obs.begin(), new_obs.end()));
  auto replacing = store->search(
      {"DocumentReference",
       {{"relatesto", SearchKind::Reference, {{"", "", "DocumentReference/" + old_doc}}}},
       10,
       false,
       false,
       false,
       ""});
  ASSERT_TRUE(replacing);
  ASSERT_EQ(replacing->resources.size(), 1u);
  EXPECT_EQ(replacing->resources[0].id, new_doc);
  auto current = store->search({"DocumentReference",
                                {{"status", SearchKind::Token, {{"", "", "current"}}}},
                                10,
                                false,
                                false,
                                false,
                                ""});
  ASSERT_TRUE(current);
  for (const StoredResource& r : current->resources)
    EXPECT_NE(r.id, old_doc);
  expectReferencesResolve();
  // Retired resources are FHIR R4 too (the conformance check validates these dumps).
  auto dump = [&](const std::string& name, const std::string& type, const std::string& id) {
    auto r = store->read(type, id);
    ASSERT_TRUE(r && *r) << type << "/" << id;
    test::dumpBundle(name, (*r)->json);
  };
  dump("store-superseded-documentreference", "DocumentReference", old_doc);
  dump("store-replacing-documentreference", "DocumentReference", new_doc);
  dump("store-entered-in-error-observation", "Observation", old_obs[0]);
  dump("store-entered-in-error-encounter", "Encounter", old_enc[0]);
}

// The same two versions in the other order (v1 delivered late): v1 is stored retired at once,
// what derives from it entered-in-error from its first version; v2 is left as it was.
TEST_F(Store, LateOlderVersionIsStoredRetired) {
  auto store = openStore();
  auto v2 = ingest(*store, message("ldl_ses_v2.eml"));
  ASSERT_TRUE(v2) << v2.error().detail;
  const std::string after_v2 = everything(*db_);
  auto v1 = ingest(*store, message("ldl_ses.eml"));
  ASSERT_TRUE(v1) << v1.error().detail;
  EXPECT_EQ(v1->result.status, pipeline::IngestStatus::Accepted);
  EXPECT_EQ(issuesOf(v1->outcome_json).count({"information", "document-superseded"}), 1u)
      << v1->outcome_json;

  const std::string old_doc = documentWithMasterIdentifier(*db_, kLdlV1);
  const std::string new_doc = documentWithMasterIdentifier(*db_, kLdlV2);
  rapidjson::Document old_json = storedJson(*db_, "DocumentReference", old_doc);
  EXPECT_EQ(stringAt(old_json, {"status"}), "superseded");
  EXPECT_EQ(stringAt(old_json, {"meta", "versionId"}), "1");
  const auto old_answered = answeredOf(v1->response_json);
  const auto old_obs = idsOf(old_answered, "Observation");
  ASSERT_EQ(old_obs.size(), 5u);
  EXPECT_EQ(vitalsOf(*db_, old_obs, "entered-in-error"), kVitalsV1);
  const auto old_enc = idsOf(old_answered, "Encounter");
  ASSERT_EQ(old_enc.size(), 1u);
  EXPECT_EQ(stringAt(storedJson(*db_, "Encounter", old_enc[0]), {"status"}), "entered-in-error");

  // v2 and its Observations untouched: version 1, current and final.
  const auto new_obs = idsOf(answeredOf(v2->response_json), "Observation");
  EXPECT_EQ(vitalsOf(*db_, new_obs, "final"), kVitalsV2);
  EXPECT_EQ(stringAt(storedJson(*db_, "DocumentReference", new_doc), {"status"}), "current");
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE version <> 1"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM resource_history"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation' AND "
                  "content->>'status' = 'final'"),
            5);
  EXPECT_EQ(count("SELECT count(*) FROM document_version WHERE superseded_by IS NULL AND key "
                  "LIKE '%|" +
                  std::string(kLdlV2) + "'"),
            1);
  EXPECT_NE(everything(*db_), after_v2);
  expectReferencesResolve();
}

// Both versions at the same moment, on two gateways, several times: whichever claims first, v2
// ends current with its vital signs final, v1 superseded with its own entered-in-error.
TEST_F(Store, ConcurrentVersionsThroughTheIntakeLeaveTheNewestCurrent) {
  constexpr int kRounds = 3;
  const std::string v1_mail = message("ldl_ses.eml");
  const std::string v2_mail = message("ldl_ses_v2.eml");
  for (int round = 0; round < kRounds; ++round) {
    const std::string name = name_.substr(0, 55) + "_r" + std::to_string(round);
    const std::string dsn = itest::freshDatabase(name);
    ASSERT_FALSE(dsn.empty());
    ASSERT_TRUE(pg::migrate(dsn));
    std::latch ready(2);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (const std::string* mail : {&v1_mail, &v2_mail}) {
      threads.emplace_back([&, mail] {
        auto s = openCardioPlus(dsn);
        ready.arrive_and_wait();
        if (!s || !ingest(**s, *mail)) ++failures;
      });
    }
    for (auto& t : threads)
      t.join();
    ASSERT_EQ(failures.load(), 0) << "round " << round;
    auto db = pg::PgConnection::open(dsn);
    ASSERT_TRUE(db);
    auto countIn = [&](const std::string& sql) { return itest::count(**db, sql); };
    EXPECT_EQ(countIn("SELECT count(*) FROM resource WHERE type = 'DocumentReference' AND "
                      "content->'masterIdentifier'->>'value' = '" +
                      std::string(kLdlV1) + "' AND content->>'status' = 'superseded'"),
              1)
        << "round " << round;
    EXPECT_EQ(countIn("SELECT count(*) FROM resource WHERE type = 'DocumentReference' AND "
                      "content->'masterIdentifier'->>'value' = '" +
                      std::string(kLdlV2) + "' AND content->>'status' = 'current'"),
              1)
        << "round " << round;
    // Live vital signs: v2's five, with v2's values.
    auto live = (*db)->exec(
        "SELECT content->'code'->'coding'->0->>'code', "
        "(content->'valueQuantity'->>'value')::numeric FROM resource WHERE type = 'Observation' "
        "AND content->>'status' = 'final'");
    ASSERT_TRUE(live);
    ASSERT_EQ(live->rows(), 5) << "round " << round;
    for (int i = 0; i < live->rows(); ++i) {
      const std::string code(live->text(i, 0));
      EXPECT_DOUBLE_EQ(std::stod(std::string(live->text(i, 1))), std::stod(kVitalsV2.at(code)))
          << code << ", round " << round;
    }
    EXPECT_EQ(countIn("SELECT count(*) FROM resource WHERE type = 'Observation' AND "
                      "content->>'status' = 'entered-in-error'"),
              5)
        << "round " << round;
    EXPECT_EQ(countIn("SELECT count(*) FROM resource WHERE type = 'Encounter' AND "
                      "content->>'status' = 'entered-in-error'"),
              1)
        << "round " << round;
    db->reset();
    itest::dropDatabase(name);
  }
}

// The discharge letter of patient C arrives after C's referral: its documents and its mail join
// the open request. Patient A's letter (no request open for A) joins nothing.
TEST_F(Store, DocumentsJoinThePatientsOpenRequest) {
  auto store = openStore();
  auto referral = ingest(*store, message("referral_note.eml"));
  ASSERT_TRUE(referral) << referral.error().detail;
  const auto requests = idsOf(answeredOf(referral->response_json), "ServiceRequest");
  ASSERT_EQ(requests.size(), 1u);
  const std::string request = "ServiceRequest/" + requests[0];
  EXPECT_EQ(stringAt(storedJson(*db_, "ServiceRequest", requests[0]), {"status"}), "active");

  auto letter = ingest(*store, message("ldl_ses_patient_c.eml"));
  ASSERT_TRUE(letter) << letter.error().detail;
  const auto answered = answeredOf(letter->response_json);
  EXPECT_TRUE(idsOf(answered, "ServiceRequest").empty());  // a discharge letter opens none
  EXPECT_EQ(idsOf(answered, "Patient"), idsOf(answeredOf(referral->response_json), "Patient"));
  const auto documents = idsOf(answered, "DocumentReference");
  ASSERT_EQ(documents.size(), 2u);  // the CDA and its PDF
  for (const std::string& id : documents) {
    rapidjson::Document d = storedJson(*db_, "DocumentReference", id);
    EXPECT_EQ(referencesIn(memberAt(d, {"context", "related"})), std::vector<std::string>{request})
        << id;
  }
  const auto mails = idsOf(answered, "Communication");
  ASSERT_EQ(mails.size(), 1u);
  rapidjson::Document mail = storedJson(*db_, "Communication", mails[0]);
  EXPECT_EQ(referencesIn(memberAt(mail, {"about"})), std::vector<std::string>{request});
  // Found from the request's side too.
  auto related = store->search({"DocumentReference",
                                {{"related", SearchKind::Reference, {{"", "", request}}}},
                                20,
                                false,
                                false,
                                false,
                                ""});
  ASSERT_TRUE(related);
  EXPECT_EQ(related->resources.size(), 4u);  // the referral's CDA and PDF, the letter's two

  // Patient A has no request: the letter is stored, linked to nothing.
  auto other = ingest(*store, message("ldl_ses.eml"));
  ASSERT_TRUE(other) << other.error().detail;
  const auto other_answered = answeredOf(other->response_json);
  for (const std::string& id : idsOf(other_answered, "DocumentReference")) {
    rapidjson::Document d = storedJson(*db_, "DocumentReference", id);
    EXPECT_EQ(memberAt(d, {"context", "related"}), nullptr) << id;
  }
  rapidjson::Document other_mail =
      storedJson(*db_, "Communication", idsOf(other_answered, "Communication").at(0));
  EXPECT_FALSE(other_mail.HasMember("about"));
  expectReferencesResolve();
}

// Version 1 forwarded again after version 2 replaced it: still the same, retired document;
// nothing of it comes back to life, and the forward's Communication names it.
TEST_F(Store, OldVersionReceivedAgainStaysRetired) {
  auto store = openStore();
  ASSERT_TRUE(ingest(*store, message("ldl_ses.eml")));
  auto v2 = ingest(*store, message("ldl_ses_v2.eml"));
  ASSERT_TRUE(v2) << v2.error().detail;
  const std::string before = everything(*db_);
  auto again = ingest(*store, message("ldl_ses_again.eml"));
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_EQ(again->result.status, pipeline::IngestStatus::Accepted);
  EXPECT_EQ(issuesOf(again->outcome_json).count({"information", "document-already-stored"}), 1u)
      << again->outcome_json;
  const std::string old_doc = documentWithMasterIdentifier(*db_, kLdlV1);
  EXPECT_EQ(stringAt(storedJson(*db_, "DocumentReference", old_doc), {"status"}), "superseded");
  EXPECT_EQ(vitalsOf(*db_, idsOf(answeredOf(v2->response_json), "Observation"), "final"),
            kVitalsV2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation' AND "
                  "content->>'status' = 'final'"),
            5);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Observation'"), 10);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE version > 2"), 0);
  const auto mails = idsOf(answeredOf(again->response_json), "Communication");
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(payloadReferences(storedJson(*db_, "Communication", mails[0])),
            std::vector<std::string>{"DocumentReference/" + old_doc});
  // Only the forward's own Communication was written.
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication'"), 3);
  EXPECT_NE(everything(*db_), before);
  expectReferencesResolve();
}

// The GP sends the referral letter again in another mail (a reminder, another Message-ID): the
// letter opens no second request; the new mail's Communication is about the first one.
TEST_F(Store, SameReferralInAnotherMailOpensNoSecondRequest) {
  auto store = openStore();
  const std::string referral = message("referral_note.eml");
  auto first = ingest(*store, referral);
  ASSERT_TRUE(first) << first.error().detail;
  const auto requests = idsOf(answeredOf(first->response_json), "ServiceRequest");
  ASSERT_EQ(requests.size(), 1u);
  auto again = ingest(*store, withMessageId(referral, "relance.20240122@medecin.mssante.fr"));
  ASSERT_TRUE(again) << again.error().detail;
  EXPECT_FALSE(again->duplicate);
  EXPECT_EQ(again->result.status, pipeline::IngestStatus::Accepted);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'ServiceRequest'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication' AND "
                  "content->'about' = '[{\"reference\": \"ServiceRequest/" +
                  requests[0] + "\"}]'::jsonb"),
            2);
  for (const Answered& a : answeredOf(again->response_json)) {
    if (a.type == "ServiceRequest" || a.type == "DocumentReference") {
      EXPECT_EQ(a.status, "200 OK") << a.type << "/" << a.id;
    }
  }
  expectReferencesResolve();
}

// A mail with one more attachment (base64, before the closing boundary).
std::string withAttachment(std::string mail, std::string_view boundary, std::string_view name,
                           std::string_view content_type, std::string_view bytes) {
  std::string encoded = pipeline::base64(bytes);
  std::string lines;
  for (std::size_t at = 0; at < encoded.size(); at += 76)
    lines += encoded.substr(at, 76) + "\r\n";
  const std::string part =
      "--" + std::string(boundary) + "\r\nContent-Type: " + std::string(content_type) +
      "; name=\"" + std::string(name) + "\"\r\nContent-Disposition: attachment; filename=\"" +
      std::string(name) + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + lines;
  const std::size_t close = mail.find("--" + std::string(boundary) + "--");
  EXPECT_NE(close, std::string::npos) << boundary;
  if (close != std::string::npos) mail.insert(close, part);
  return mail;
}

// The same file attached to mails about two patients (the practice's instructions sheet, a
// consent form, a letter first sent for the wrong patient): its bytes are stored once, but each
// patient's record holds its own DocumentReference; a mail about B never points at A's (a file
// that names no identity is the same document for the same patient only: MessageRun::fileKey).
TEST_F(Store, SameAttachmentForTwoPatientsBelongsToEach) {
  auto store = openStore();
  std::string sheet("\x89PNG\r\n\x1a\n", 8);  // the same image in both mails
  for (int i = 0; i < 600; ++i)
    sheet += static_cast<char>((i * 37 + 11) % 256);
  const std::string a_mail = withAttachment(message("ldl_ses.eml"), "=_ldl_ses_", "consignes.png",
                                            "image/png", sheet);  // patient A
  const std::string b_mail = withAttachment(message("tlm_da.eml"), "=_tlm_da_", "consignes.png",
                                            "image/png", sheet);  // patient B
  auto a = ingest(*store, a_mail);
  ASSERT_TRUE(a) << a.error().detail;
  auto b = ingest(*store, b_mail);
  ASSERT_TRUE(b) << b.error().detail;
  EXPECT_EQ(b->result.status, pipeline::IngestStatus::Accepted);
  const std::string patient_a = "Patient/" + idsOf(answeredOf(a->response_json), "Patient").at(0);
  const auto b_answered = answeredOf(b->response_json);
  const std::string patient_b = "Patient/" + idsOf(b_answered, "Patient").at(0);
  ASSERT_NE(patient_a, patient_b);
  const std::string url = "Binary/" + pipeline::sha256Hex(sheet);
  EXPECT_EQ(count("SELECT count(*) FROM binary_content WHERE 'Binary/' || id = '" + url + "'"), 1);

  // Each patient has the sheet among their documents.
  for (const std::string& patient : {patient_a, patient_b}) {
    EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'DocumentReference' AND "
                    "content->'subject'->>'reference' = '" +
                    patient + "' AND content->'content'->0->'attachment'->>'url' = '" + url + "'"),
              1)
        << patient;
  }
  // B's mail and request name B's documents only.
  std::vector<std::string> named = payloadReferences(
      storedJson(*db_, "Communication", idsOf(b_answered, "Communication").at(0)));
  rapidjson::Document request =
      storedJson(*db_, "ServiceRequest", idsOf(b_answered, "ServiceRequest").at(0));
  const auto supporting = referencesIn(memberAt(request, {"supportingInfo"}));
  named.insert(named.end(), supporting.begin(), supporting.end());
  EXPECT_EQ(named.size(), 4u);  // the TLM-DA and the sheet, in each
  for (const std::string& reference : named) {
    const std::size_t slash = reference.find('/');
    rapidjson::Document d =
        storedJson(*db_, reference.substr(0, slash), reference.substr(slash + 1));
    EXPECT_EQ(stringAt(d, {"subject", "reference"}), patient_b) << reference;
  }
}
}  // namespace
}  // namespace liaison
