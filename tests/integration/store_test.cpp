// The store against a real PostgreSQL: a private cluster started by the test fixture
// (scripts/pg, see tests/CMakeLists.txt), one fresh database per test.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
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

  std::unique_ptr<pg::PgStore> openStore(const std::string& dsn = {}) {
    auto s = pg::PgStore::open(dsn.empty() ? dsn_ : dsn);
    EXPECT_TRUE(s) << (s ? "" : s.error().detail);
    return s ? std::move(*s) : nullptr;
  }

  Result<pipeline::StoredIngest> ingest(liaison::Store& store, const std::string& bytes,
                                        bool mail = true) {
    static const pipeline::MessageIntake messages(test::mssante(), test::cardioPlus(),
                                                  test::testClock());
    static const pipeline::FormIntake forms(test::cardioPlus(), test::testClock());
    pipeline::StoredIntake intake(store, messages, forms, test::searchParameters(),
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
  EXPECT_EQ(applied.load(), pg::latestSchemaVersion());  // each migration applied once in all
  EXPECT_EQ(count("SELECT count(*) FROM schema_migrations"), pg::latestSchemaVersion());
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
      auto store = pg::PgStore::open(dsn_);
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
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'DocumentReference'"), 2 * kThreads);
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
      auto store = pg::PgStore::open(dsn_);
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
  auto j =
      store->journal({mail, pipeline::messageIdOf(mail), pipeline::sha256Hex(mail), "test", {}});
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
        "DROP TABLE resource", "TRUNCATE message_journal"}) {
    auto denied = (*server)->exec(forbidden);
    ASSERT_FALSE(denied) << forbidden;
    EXPECT_NE(denied.error().detail.find("42501"), std::string::npos)
        << forbidden << ": " << denied.error().detail;
  }
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);
}

// Revisions 7 (search rows keyed by resource.pk) and 8 (history of superseded versions only) on
// a database that already holds resources in the revision-6 shape.
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
  )sql"));
  auto m = pg::migrate(dsn_);
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->to, pg::latestSchemaVersion());

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
                  "INSERT INTO search_reference (res, type, param, target) "
                  "SELECT pk, type, 'stale', 'y' FROM resource LIMIT 1"));
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
          (*log)->record({"2026-12-02T15:00:00.123Z", "CN=t" + std::to_string(t), "R", "read",
                          "Patient/" + std::to_string(i), "0"});
        }
      });
    }
    for (auto& th : threads)
      th.join();
    (*log)->flush();
    EXPECT_EQ(count("SELECT count(*) FROM audit_event"), kThreads * kEach);
    (*log)->record({"2026-12-02T15:00:00.123Z", "CN=last", "R", "read", "Patient/last", "0"});
  }  // destruction writes what is queued
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent = 'CN=last'"), 1);
  EXPECT_EQ(count("SELECT count(DISTINCT agent) FROM audit_event"), kThreads + 1);
}

// COPY's text format: tabs, newlines, backslashes and accents come back exactly as given, and
// the view builds the FHIR AuditEvent from the columns.
TEST_F(Store, AuditLogKeepsEveryCharacter) {
  const std::string agent = "CN=Dupont\\, Jean\tO=ESS Cardio+ é\r\nOU=b\\\\s";
  const std::string what = "Patient?name,birthdate\\N";
  {
    auto log = pg::PgAuditLog::open(dsn_);
    ASSERT_TRUE(log) << log.error().detail;
    (*log)->record({"2026-12-02T15:00:00.123Z", agent, "R", "search-type", what, "0"});
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
      (*log)->record({"2026-12-02T15:00:00.123Z", i == 4 ? std::string("CN=a\0b é", 9) : "CN=a",
                      "R", "read", "Patient/" + std::to_string(i), "0"});
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

TEST(StoreUnavailable, IsATransientError) {
  auto store = pg::PgStore::open(
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

}  // namespace
}  // namespace liaison
