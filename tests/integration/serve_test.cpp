// `liaison serve` end to end: the real binary, HTTPS with mutual TLS (the test PKI of
// certs/make-test-pki), a real PostgreSQL, and curl as the FHIR client.

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "integration_env.hpp"

extern char** environ;

namespace liaison {
namespace {

namespace fs = std::filesystem;
using itest::env;
using itest::shell;

using itest::Served;

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = itest::freshDatabase("t_serve");
    ASSERT_FALSE(dsn_.empty());
    pki_ = env("LIAISON_TEST_PKI_DIR");
    dir_ = fs::temp_directory_path() / ("liaison-serve-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    itest::dropDatabase("t_serve");
  }

  // The test PKI's clients (certs/make-test-pki): the secretariat's certificate by its subject,
  // a reader's, a regional platform's by its SAN; a token for the operators.
  // The public base URL: every link the API writes starts with it, whatever Host a client sends.
  static constexpr const char* kBaseUrl = "https://liaison.test/fhir";
  static constexpr const char* kOpsToken = "jeton-supervision-test";  // its SHA-256 below
  static constexpr const char* kAccess =
      "\"access\": {\"clients\": ["
      "{\"name\": \"secretariat-cardio-plus\", \"subject\": "
      "\"CN=secretariat-cardio-plus,O=ESS Cardio\\\\+\", \"roles\": [\"secretariat\"], "
      "\"ess\": [\"cardio-plus\"]},"
      "{\"name\": \"lecteur\", \"subject\": \"CN=lecteur-cardio-plus,O=ESS Cardio\\\\+\", "
      "\"roles\": [\"reader\"]},"
      "{\"name\": \"plateforme-regionale\", \"san\": \"DNS:plateforme.test\", "
      "\"roles\": [\"intake-client\"], \"ess\": [\"cardio-plus\"]}],"
      " \"tokens\": [{\"name\": \"supervision\", \"sha256\": "
      "\"14d194c482ff944e3877b91eddec924b1f815f41fbb35a42070097c23be37c85\", "
      "\"roles\": [\"ops\"]}]}";

  std::string config(const std::string& extra = "", const std::string& tls_extra = "") {
    const std::string path = (dir_ / "liaison.json").string();
    std::ofstream(path) << "{\"listen\": {\"address\": \"127.0.0.1\", \"port\": 0},"
                        << " \"tls\": {\"cert\": \"" << pki_ << "/server.crt\", \"key\": \"" << pki_
                        << "/server.key\", \"clientCa\": \"" << pki_
                        << "/ca.crt\", \"requireClientCert\": "
                        << (require_client_cert_ ? "true" : "false") << tls_extra << "},"
                        << " \"database\": \"" << dsn_ << "\", \"baseUrl\": \"" << kBaseUrl
                        << "\", " << kAccess << extra << "}";
    return path;
  }

  std::pair<int, std::string> curl(const std::string& url, const std::string& extra = "",
                                   bool client_cert = true, const std::string& who = "client") {
    const std::string cert =
        client_cert ? " --cert '" + pki_ + "/" + who + ".crt' --key '" + pki_ + "/" + who + ".key'"
                    : "";
    return shell("curl -sS --max-time 20 --cacert '" + pki_ + "/ca.crt'" + cert +
                 " -w '\\n%{http_code}' " + extra + " '" + url + "'");
  }

  bool require_client_cert_ = true;
  std::string dsn_;
  std::string pki_;
  fs::path dir_;
};

int statusOf(const std::string& curl_output) {
  const std::size_t nl = curl_output.rfind('\n');
  return std::atoi(curl_output.c_str() + (nl == std::string::npos ? 0 : nl + 1));
}

TEST_F(Serve, HttpsWithClientCertificatesEndToEnd) {
  ASSERT_TRUE(pg::migrate(dsn_));
  Served server;
  ASSERT_TRUE(server.start({LIAISON_BINARY, "serve", "--config", config()}));

  auto meta = curl(server.url + "/metadata");
  ASSERT_EQ(meta.first, 0) << meta.second;
  EXPECT_EQ(statusOf(meta.second), 200);
  EXPECT_NE(meta.second.find("CapabilityStatement"), std::string::npos);

  const std::string mail = itest::messagePath("ldl_ses.eml");
  auto posted =
      curl(server.url + "/", "-H 'Content-Type: message/rfc822' --data-binary @'" + mail + "'");
  EXPECT_EQ(statusOf(posted.second), 201) << posted.second.substr(0, 400);
  auto again =
      curl(server.url + "/", "-H 'Content-Type: message/rfc822' --data-binary @'" + mail + "'");
  EXPECT_EQ(statusOf(again.second), 200);  // the same message: its first outcome

  auto found = curl(server.url + "/Patient?identifier=279035121518989");
  EXPECT_EQ(statusOf(found.second), 200);
  EXPECT_NE(found.second.find("FICTIF-DUPONT"), std::string::npos) << found.second.substr(0, 300);
  EXPECT_EQ(statusOf(curl(server.url + "/Patient/nope").second), 404);

  // Without a client certificate the handshake is refused: no HTTP status at all.
  auto anonymous = curl(server.url + "/metadata", "", false);
  EXPECT_NE(anonymous.first, 0) << anonymous.second;

  auto metrics =
      curl(server.url + "/metrics", "-H 'Authorization: Bearer " + std::string(kOpsToken) + "'");
  EXPECT_NE(metrics.second.find("liaison_ingest_total{status=\"accepted\",duplicate=\"true\"} 1"),
            std::string::npos)
      << metrics.second;

  EXPECT_EQ(server.stop(), 0);  // SIGTERM: graceful stop, exit 0

  // Who read what: the client certificate's subject.
  auto db = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(db);
  auto audit = (*db)->exec(
      "SELECT count(*) FROM audit_event WHERE agent LIKE '%CN=secretariat-cardio-plus%'");
  ASSERT_TRUE(audit);
  EXPECT_GE(audit->integer(0, 0), 4);  // two ingests, a search, a read
}

// Hostile bodies (issue 14): 400 KB of nested brackets used to overflow the stack of the
// recursive JSON parse and take the whole server down; a string that is not UTF-8 answered 500.
TEST_F(Serve, HostileJsonBodiesAre400AndTheServerStaysUp) {
  ASSERT_TRUE(pg::migrate(dsn_));
  Served server;
  ASSERT_TRUE(server.start({LIAISON_BINARY, "serve", "--config", config()}));
  const int metadata = statusOf(curl(server.url + "/metadata").second);
  ASSERT_GT(metadata, 0);
  const std::string deep = (dir_ / "deep.json").string();
  std::ofstream(deep) << std::string(200 * 1024, '[') << std::string(200 * 1024, ']');
  const std::string json = "-H 'Content-Type: application/fhir+json' --data-binary @'";

  auto patient = curl(server.url + "/Patient", json + deep + "'");
  ASSERT_EQ(patient.first, 0) << patient.second.substr(0, 300);
  EXPECT_EQ(statusOf(patient.second), 400);
  EXPECT_NE(patient.second.find("json-too-deep"), std::string::npos)
      << patient.second.substr(0, 300);

  auto root = curl(server.url + "/", json + deep + "'");
  ASSERT_EQ(root.first, 0) << root.second.substr(0, 300);  // answered, whatever it says
  EXPECT_LT(statusOf(root.second), 500) << root.second.substr(0, 300);

  const std::string latin1 = (dir_ / "latin1.json").string();
  std::ofstream(latin1)
      << "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"FICTIF-L\xC9GER\"}]}";
  auto bad = curl(server.url + "/Patient", json + latin1 + "'");
  EXPECT_EQ(statusOf(bad.second), 400);
  EXPECT_NE(bad.second.find("json-invalid-utf8"), std::string::npos) << bad.second.substr(0, 300);

  // A soak of a few seconds: the hostile bodies again and again while a client keeps reading.
  const int search = statusOf(curl(server.url + "/Patient?_count=1").second);
  std::atomic<bool> hostile{true};
  auto attacker = std::async(std::launch::async, [&] {
    int sent = 0;
    while (hostile) {
      const std::string& body = sent % 2 == 0 ? deep : latin1;
      const std::string path = sent % 3 == 0 ? "/" : "/Patient";
      const int status = statusOf(curl(server.url + path, json + body + "'").second);
      if (status == 0 || status >= 500) return -1;  // no answer, or a server error
      ++sent;
    }
    return sent;
  });
  int reads = 0;
  bool same = true;  // every read answered as before the soak
  // At least 3 s and 5 reads (under a sanitizer on a loaded machine a read can take a second),
  // at most 60 s: the figure asserted is that reads keep their answers, not a rate.
  const auto start = std::chrono::steady_clock::now();
  for (; same; ++reads) {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if ((reads > 5 && elapsed > std::chrono::seconds(3)) || elapsed > std::chrono::seconds(60))
      break;
    same = statusOf(curl(server.url + "/metadata").second) == metadata &&
           statusOf(curl(server.url + "/Patient?_count=1").second) == search;
  }
  hostile = false;
  EXPECT_TRUE(same) << "read " << reads;
  EXPECT_GT(attacker.get(), 0);  // bodies sent, each answered below 500
  EXPECT_GT(reads, 3);

  // Still serving as before, and it stops cleanly.
  EXPECT_EQ(statusOf(curl(server.url + "/metadata").second), metadata);
  EXPECT_EQ(server.stop(), 0);
}

// The time and memory bounds as configured (issue 14): a read stuck behind a lock is answered
// 503 rest-handler-timeout at limits.handlerTimeoutMs while its worker still waits (bounded by
// limits.statementTimeoutMs); meanwhile its body still counts in limits.maxBytesInFlight, so a
// second body that would pass the budget is refused 503 rest-busy before it is read; /healthz
// answers throughout; once the lock goes, the room comes back.
TEST_F(Serve, HandlerTimeoutAndBytesInFlightAsConfigured) {
  ASSERT_TRUE(pg::migrate(dsn_));
  Served server;
  ASSERT_TRUE(server.start(
      {LIAISON_BINARY, "serve", "--config",
       config(", \"limits\": {\"handlerTimeoutMs\": 500, \"statementTimeoutMs\": 20000, "
              "\"bodyBytes\": 65536, \"maxBytesInFlight\": 65536}")}));
  const std::string body = (dir_ / "body.json").string();
  std::ofstream(body) << std::string(40000, ' ') << "{}";
  const std::string with_body =
      "-i -H 'Content-Type: application/fhir+json' --data-binary @'" + body + "'";
  auto locker = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(locker);
  ASSERT_TRUE((*locker)->exec("BEGIN"));
  ASSERT_TRUE((*locker)->exec("LOCK TABLE resource IN ACCESS EXCLUSIVE MODE"));

  const auto t0 = std::chrono::steady_clock::now();
  auto late = curl(server.url + "/Patient/p1", "-X GET " + with_body);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(statusOf(late.second), 503) << late.second.substr(0, 600);
  EXPECT_NE(late.second.find("rest-handler-timeout"), std::string::npos) << late.second;
  EXPECT_NE(late.second.find("Retry-After:"), std::string::npos) << late.second;
  auto busy = curl(server.url + "/Patient", with_body);
  EXPECT_EQ(statusOf(busy.second), 503) << busy.second.substr(0, 600);
  EXPECT_NE(busy.second.find("rest-busy"), std::string::npos) << busy.second;
  EXPECT_EQ(statusOf(curl(server.url + "/healthz").second), 200);

  ASSERT_TRUE((*locker)->exec("ROLLBACK"));
  int status = 503;
  for (int i = 0; i < 50 && status == 503; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = statusOf(curl(server.url + "/Patient", with_body).second);
  }
  EXPECT_NE(status, 503);  // the body is read and judged (an empty Patient: 4xx or 201)
  EXPECT_EQ(server.stop(), 0);
}

// Who may do what, against the real server (issue 14): certificates of the same CA with other
// roles, a bearer token, and no credential at all (client certificates optional here).
TEST_F(Serve, EveryRouteButHealthNeedsAClientWithTheRole) {
  ASSERT_TRUE(pg::migrate(dsn_));
  Served server;
  require_client_cert_ = false;
  ASSERT_TRUE(
      server.start({LIAISON_BINARY, "serve", "--config", config(", \"insecureForTests\": true")}));
  const std::string mail =
      "-H 'Content-Type: message/rfc822' --data-binary @'" + itest::messagePath("tlm_da.eml") + "'";
  const std::string ops = "-H 'Authorization: Bearer " + std::string(kOpsToken) + "'";

  // No credential: 401 with its challenge; /healthz stays open.
  auto anonymous = curl(server.url + "/Patient", "-i", false);
  EXPECT_EQ(statusOf(anonymous.second), 401) << anonymous.second.substr(0, 400);
  EXPECT_NE(anonymous.second.find("WWW-Authenticate: Bearer"), std::string::npos);
  EXPECT_NE(anonymous.second.find("auth-required"), std::string::npos);
  EXPECT_EQ(statusOf(curl(server.url + "/metrics", "", false).second), 401);
  EXPECT_EQ(statusOf(curl(server.url + "/healthz", "", false).second), 200);
  // The database's state as the background check last saw it (it runs at start, then every 5 s).
  std::string health;
  for (int i = 0; i < 50 && health.find("\"database\":\"ok\"") == std::string::npos; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    health = curl(server.url + "/healthz", "", false).second;
  }
  EXPECT_NE(health.find("\"database\":\"ok\""), std::string::npos) << health;

  // The regional platform (matched by its SAN) posts a message, and reads nothing back.
  auto posted = curl(server.url + "/", mail, true, "intake");
  EXPECT_EQ(statusOf(posted.second), 201) << posted.second.substr(0, 400);
  auto platform_reads = curl(server.url + "/Patient", "", true, "intake");
  EXPECT_EQ(statusOf(platform_reads.second), 403);
  EXPECT_NE(platform_reads.second.find("forbidden"), std::string::npos);

  // A reader reads and searches; it cannot post.
  EXPECT_EQ(statusOf(curl(server.url + "/Patient?_summary=count", "", true, "reader").second), 200);
  EXPECT_EQ(statusOf(curl(server.url + "/", mail, true, "reader").second), 403);

  // /metrics and /outbox need ops: the secretariat's certificate is refused, the token is not.
  EXPECT_EQ(statusOf(curl(server.url + "/metrics").second), 403);
  auto metrics = curl(server.url + "/metrics", ops, false);
  EXPECT_EQ(statusOf(metrics.second), 200);
  EXPECT_NE(metrics.second.find("liaison_http_requests_total"), std::string::npos);
  EXPECT_EQ(statusOf(curl(server.url + "/outbox", ops, false).second), 200);
  // A wrong token is refused even with a good certificate; an ops token reads no patient.
  EXPECT_EQ(statusOf(curl(server.url + "/Patient", "-H 'Authorization: Bearer jeton-faux'").second),
            401);
  EXPECT_EQ(statusOf(curl(server.url + "/Patient", ops, false).second), 403);
  EXPECT_EQ(server.stop(), 0);

  // The trail names the principal and the role that allowed each access, and the refusals.
  auto db = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(db);
  auto count = [&](const std::string& sql) {
    auto r = (*db)->exec(sql);
    return r ? r->integer(0, 0) : -1;
  };
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent = 'client:plateforme-regionale "
                  "role=intake-client (DNS:plateforme.test)' AND action = 'C' AND outcome = '0'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent LIKE 'client:lecteur role=reader "
                  "(CN=lecteur-cardio-plus,%' AND action = 'R'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent LIKE 'client:lecteur role=- %' "
                  "AND action = 'C' AND outcome = '4'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE source = 'api:plateforme-regionale'"),
            1);
  // The batched trail (COPY) fills the principal and role columns too.
  EXPECT_EQ(
      count("SELECT count(*) FROM audit_event WHERE principal = 'client:plateforme-regionale' "
            "AND role = 'intake-client' AND action = 'C'"),
      1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE principal = 'client:lecteur' AND role = "
                  "'' AND outcome = '4'"),
            1);
}

TEST_F(Serve, ConfigurationIsCheckedBeforeAnySocketOpens) {
  const std::string bin = LIAISON_BINARY;
  auto unknown = shell(bin + " serve --config '" + config(", \"colour\": \"blue\"") + "'");
  EXPECT_EQ(unknown.first, 2);
  EXPECT_NE(unknown.second.find("colour: unknown setting"), std::string::npos) << unknown.second;
  // Every role the access object names must be in the policy; checked before the database.
  const std::string unknown_role = config();
  {
    std::ifstream in(unknown_role);
    std::stringstream text;
    text << in.rdbuf();
    std::string json = text.str();
    json.replace(json.find("[\"reader\"]"), 10, "[\"superuser\"]");
    std::ofstream(unknown_role) << json;
  }
  auto role = shell(bin + " serve --config '" + unknown_role + "'");
  EXPECT_EQ(role.first, 2) << role.second;
  EXPECT_NE(role.second.find("access.clients[1].roles: no such role in the policy: superuser"),
            std::string::npos)
      << role.second;
  auto not_migrated = shell(bin + " serve --config '" + config() + "'");
  EXPECT_EQ(not_migrated.first, 3);
  EXPECT_NE(not_migrated.second.find("db-schema-outdated"), std::string::npos);
  const std::string no_cert = (dir_ / "no-cert.json").string();
  std::ofstream(no_cert) << "{\"database\": \"" << dsn_ << "\", \"baseUrl\": \"" << kBaseUrl
                         << "\"}";
  auto missing = shell(bin + " serve --config '" + no_cert + "'");
  EXPECT_EQ(missing.first, 2);
  EXPECT_NE(missing.second.find("tls.cert and tls.key are required"), std::string::npos);
}

// With the CA's revocation list (tls.crl), a revoked client certificate is refused at the
// handshake while the others are served; without it, the same certificate is let in. (/healthz:
// the handshake is the point here, not what a client may do after it.)
TEST_F(Serve, RevokedClientCertificateIsRefusedWithTheCrl) {
  ASSERT_TRUE(pg::migrate(dsn_));
  {
    Served server;
    ASSERT_TRUE(server.start(
        {LIAISON_BINARY, "serve", "--config", config("", ", \"crl\": \"" + pki_ + "/ca.crl\"")}));
    EXPECT_EQ(statusOf(curl(server.url + "/healthz").second), 200);
    auto revoked = curl(server.url + "/healthz", "", true, "revoked");
    EXPECT_NE(revoked.first, 0) << revoked.second;  // no HTTP status at all
    EXPECT_EQ(server.stop(), 0);
  }
  Served server;
  ASSERT_TRUE(server.start({LIAISON_BINARY, "serve", "--config", config()}));
  EXPECT_EQ(statusOf(curl(server.url + "/healthz", "", true, "revoked").second), 200);
  EXPECT_EQ(server.stop(), 0);

  // A CRL without the CA it revokes for, or a file with no CRL, is a configuration error.
  const std::string bin = LIAISON_BINARY;
  const std::string no_ca = (dir_ / "no-ca.json").string();
  std::ofstream(no_ca) << "{\"tls\": {\"cert\": \"" << pki_ << "/server.crt\", \"key\": \"" << pki_
                       << "/server.key\", \"crl\": \"" << pki_ << "/ca.crl\"}, \"database\": \""
                       << dsn_ << "\", \"baseUrl\": \"" << kBaseUrl << "\"}";
  auto without_ca = shell(bin + " serve --config '" + no_ca + "'");
  EXPECT_EQ(without_ca.first, 2);
  EXPECT_NE(without_ca.second.find("tls.crl needs tls.clientCa"), std::string::npos)
      << without_ca.second;
  auto not_a_crl =
      shell(bin + " serve --config '" + config("", ", \"crl\": \"" + pki_ + "/ca.crt\"") + "'");
  EXPECT_EQ(not_a_crl.first, 2);
  EXPECT_NE(not_a_crl.second.find("no certificate revocation list"), std::string::npos)
      << not_a_crl.second;
}

}  // namespace
}  // namespace liaison
