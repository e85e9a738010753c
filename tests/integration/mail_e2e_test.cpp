// The MSSanté transport end to end: the real `liaison` binary, a real PostgreSQL, a real Dovecot
// (IMAPS, client certificates required) and a real Postfix (submission with client certificates,
// delivery to Dovecot over LMTP), all on loopback (tests/mail/mail-peers), and the test PKI of
// certs/make-test-pki. Mails go in through Postfix as a sender's client would send them; what
// liaison answers is read back from the sender's mailbox.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "integration_env.hpp"
#include "parse/mime/delivery_report.hpp"
#include "parse/mime/mime_message.hpp"

namespace liaison {
namespace {

namespace fs = std::filesystem;
using itest::env;
using itest::Served;
using itest::shell;

constexpr const char* kGateway = "ess-cardio-plus@cardio-plus.test";
constexpr const char* kMartin = "dr-martin@cardio-plus.test";

void replaceAll(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// A generated MSSanté mail, addressed inside the peers' domain, under its own Message-ID.
std::string forPeers(std::string mail, const std::string& message_id) {
  replaceAll(mail, "dr.testeur@ch-fictif.mssante.fr", kMartin);
  replaceAll(mail, "secretariat@cardio-plus.ess.mssante.fr", kGateway);
  const std::size_t at = mail.find("Message-ID: <");
  mail.replace(at + 13, mail.find('>', at) - at - 13, message_id);
  return mail;
}

// The files of a Maildir folder (INBOX: "", else ".name"), new and cur.
std::vector<std::string> maildir(const fs::path& home, const std::string& folder = "") {
  std::vector<std::string> out;
  for (const char* sub : {"new", "cur"}) {
    const fs::path d = home / "Maildir" / folder / sub;
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(d, ec))
      out.push_back(itest::readFile(f.path()));
  }
  return out;
}

class MailEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    peers_ = env("LIAISON_TEST_MAIL_DIR");
    pki_ = env("LIAISON_TEST_PKI_DIR");
    std::ifstream in(peers_ / "env");
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) vars_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    ASSERT_FALSE(vars_["IMAPS_PORT"].empty()) << "mail peers not started";
    // Empty mailboxes for every test; the servers keep running.
    for (const char* user : {"ess-cardio-plus", "dr-martin"}) {
      for (const char* folder : {"", ".liaison-processed"}) {
        for (const char* sub : {"new", "cur"}) {
          std::error_code ec;
          for (const auto& f :
               fs::directory_iterator(peers_ / "vmail" / user / "Maildir" / folder / sub, ec))
            fs::remove(f.path(), ec);
        }
      }
    }
    auto database = itest::migratedTestDatabase("t_mail_");
    db_name_ = database.name;
    dsn_ = database.dsn;
    db_ = std::move(database.db);
    ASSERT_TRUE(db_);
    dir_ = fs::temp_directory_path() / ("liaison-mail-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    db_.reset();
    itest::dropDatabase(db_name_);
    fs::remove_all(dir_);
  }

  std::string port(const char* name) { return vars_[name]; }

  // The configuration of a gateway whose mailbox and SMTP use these certificates.
  std::string config(const std::string& imap_cert = "mail-gateway",
                     const std::string& smtp_cert = "mail-gateway",
                     const std::string& outbox =
                         "\"firstRetrySeconds\": 1, \"maxRetrySeconds\": 2, \"pollMs\": 100",
                     const std::string& mailbox = "") {
    auto certs = [&](const std::string& name) {
      if (name.empty()) return "\"ca\": \"" + pki_ + "/ca.crt\"";
      return "\"cert\": \"" + pki_ + "/" + name + ".crt\", \"key\": \"" + pki_ + "/" + name +
             ".key\", \"ca\": \"" + pki_ + "/ca.crt\"";
    };
    const std::string path = (dir_ / "liaison.json").string();
    std::ofstream(path)
        << "{\"listen\": {\"address\": \"127.0.0.1\", \"port\": 0}, \"tls\": {\"enabled\": false},"
        << " \"insecureForTests\": true, \"baseUrl\": \"http://127.0.0.1/fhir\","
        // The operators' token (sha256 of "jeton-ops-e2e") for /outbox and /metrics; a regional
        // platform's (sha256 of "liaison-test-intake") for POST /.
        << " \"access\": {\"tokens\": [{\"name\": \"ops\", \"roles\": [\"ops\"], \"sha256\":"
        << " \"77f43dbdb81fb1c0dd769786b77125d59eb5745cadff3d38692aa142bcbce0e5\"},"
        << " {\"name\": \"plateforme\", \"roles\": [\"intake-client\"], \"ess\": "
           "[\"cardio-plus\"], \"sha256\":"
        << " \"efd5f51ffc0d6275453e23122caddc8ccf7a2ecf7b398dda7c8b95c5864b33ca\"}]},"
        << " \"database\": \"" << dsn_ << "\","
        << " \"mail\": {\"gateway\": {\"address\": \"" << kGateway
        << "\", \"name\": \"ESS Cardio+\"}, \"nil\": \"NIL-LIAISON-TEST\","
        << " \"mailboxes\": [{\"name\": \"cardio-plus\", \"url\": \"imaps://127.0.0.1:"
        << port("IMAPS_PORT") << "\", \"saslExternal\": true, \"pollSeconds\": 1, " << mailbox
        << certs(imap_cert) << "}],"
        << " \"smtp\": {\"url\": \"smtps://127.0.0.1:" << port("SMTPS_PORT") << "\", "
        << certs(smtp_cert) << "},"
        << " \"outbox\": {" << outbox << "}}}";
    return path;
  }

  // Sends a mail as Dr Martin's mail client would: SMTP submission with his certificate.
  void submit(const std::string& mail, const std::string& rcpt = kGateway,
              const std::string& from = kMartin) {
    const fs::path file = dir_ / "out.eml";
    std::ofstream(file, std::ios::binary) << mail;
    auto [rc, out] =
        shell("curl -sS --max-time 20 --url smtp://127.0.0.1:" + port("SMTP_STARTTLS_PORT") +
              "/client.cardio-plus.test --ssl-reqd" + " --cacert " + pki_ + "/ca.crt --cert " +
              pki_ + "/mail-martin.crt --key " + pki_ + "/mail-martin.key --mail-from " + from +
              " --mail-rcpt " + rcpt + " --upload-file " + file.string());
    ASSERT_EQ(rc, 0) << out;
  }

  // Waits until the user's INBOX holds at least n mails (Postfix → LMTP takes a moment).
  std::vector<std::string> waitFor(const std::string& user, std::size_t n, int seconds = 30) {
    std::vector<std::string> mails;
    for (int i = 0; i < seconds * 10; ++i) {
      mails = maildir(peers_ / "vmail" / user);
      if (mails.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return mails;
  }

  std::pair<int, std::string> pull(const std::string& config_path) {
    return shell(std::string(LIAISON_BINARY) + " pull --config " + config_path);
  }

  std::int64_t count(const std::string& sql) { return itest::count(*db_, sql); }

  fs::path peers_;
  std::string pki_;
  std::map<std::string, std::string> vars_;
  std::string db_name_;
  std::string dsn_;
  std::unique_ptr<pg::PgConnection> db_;
  fs::path dir_;
};

TEST_F(MailEndToEnd, MailsBecomeStoredFhirAndTheirSendersGetTheAnswersMssanteExpects) {
  submit(forPeers(itest::message("ldl_ses.eml"), "e2e-ldl@client.cardio-plus.test"));
  submit(forPeers(itest::message("no_ins.eml"), "e2e-noins@client.cardio-plus.test"));
  submit(forPeers(itest::message("fiche_incomplete.eml"), "e2e-fiche@client.cardio-plus.test"));
  ASSERT_EQ(waitFor("ess-cardio-plus", 3).size(), 3u);

  auto [rc, out] = pull(config());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"processed\":3"), std::string::npos) << out;
  EXPECT_NE(out.find("\"sent\":3"), std::string::npos) << out;  // 2 MDNs, 1 missing-information

  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE source LIKE 'imap:cardio-plus/%'"),
            3);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Encounter'"), 2);  // 2 LDL-SES
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE status = 'sent'"), 3)
      << db_->exec("SELECT string_agg(kind || ' ' || message_id, ', ') FROM outbox")->text(0, 0);
  // Taken off the inbox, kept in the processed folder.
  EXPECT_TRUE(maildir(peers_ / "vmail" / "ess-cardio-plus").empty());
  EXPECT_EQ(maildir(peers_ / "vmail" / "ess-cardio-plus", ".liaison-processed").size(), 3u);

  // What Dr Martin receives: the MDNs, delivered by Postfix, and the list of missing fields.
  const auto received = waitFor("dr-martin", 3);
  ASSERT_EQ(received.size(), 3u);
  std::map<std::string, parse::DeliveryReport> mdns;
  int missing = 0;
  for (const std::string& m : received) {
    if (auto report = parse::readDeliveryReport(m)) {
      mdns[report->original_message_id] = *report;
      continue;
    }
    auto parsed = parse::parseMime(m);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->header("X-MSS-NIL").value_or(""), "NIL-LIAISON-TEST");
    if (parsed->subject.find("Demande incomplète") != std::string::npos) {
      ++missing;
      EXPECT_EQ(parsed->in_reply_to, "e2e-fiche@client.cardio-plus.test");
    }
  }
  EXPECT_EQ(missing, 1);
  ASSERT_EQ(mdns.size(), 2u);
  EXPECT_EQ(mdns["e2e-ldl@client.cardio-plus.test"].disposition, "processed");
  EXPECT_EQ(mdns["e2e-noins@client.cardio-plus.test"].disposition, "processed/error");
  EXPECT_EQ(mdns["e2e-noins@client.cardio-plus.test"].error.substr(0, 4), "903^");

  // Again: nothing waiting, nothing done twice.
  auto [rc2, out2] = pull(config());
  ASSERT_EQ(rc2, 0) << out2;
  EXPECT_NE(out2.find("\"processed\":0"), std::string::npos) << out2;
  EXPECT_NE(out2.find("\"sent\":0"), std::string::npos) << out2;
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 3);
}

TEST_F(MailEndToEnd, AWrongOrMissingClientCertificateIsRefusedAndNothingIsTaken) {
  submit(forPeers(itest::message("ldl_ses.eml"), "e2e-cert@client.cardio-plus.test"));
  ASSERT_EQ(waitFor("ess-cardio-plus", 1).size(), 1u);
  for (const std::string cert : {"rogue", ""}) {
    SCOPED_TRACE(cert.empty() ? "no certificate" : cert);
    auto [rc, out] = pull(config(cert));
    EXPECT_NE(rc, 0) << out;
    EXPECT_TRUE(out.find("mail-auth-refused") != std::string::npos ||
                out.find("mail-tls-refused") != std::string::npos)
        << out;
    EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 0);
    EXPECT_EQ(maildir(peers_ / "vmail" / "ess-cardio-plus").size(), 1u);  // still waiting
  }
  // The mailbox accepts the right certificate, but the SMTP service refuses a rogue one: the
  // answer waits in the outbox (our configuration, not the recipient, is at fault).
  auto [rc, out] = pull(config("mail-gateway", "rogue"));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE status = 'pending' AND (last_error LIKE "
                  "'mail-tls-refused%' OR last_error LIKE 'mail-auth-refused%')"),
            1);
}

TEST_F(MailEndToEnd, ServeKeepsGoingAcrossAnImapRestartAndShowsFailedMails) {
  // An MDN to an address that does not exist: 550, failed, visible through the API.
  std::string lost = forPeers(itest::message("ldl_ses.eml"), "e2e-lost@client.cardio-plus.test");
  replaceAll(lost, std::string("Disposition-Notification-To: <") + kMartin,
             "Disposition-Notification-To: <nobody@cardio-plus.test");
  replaceAll(lost, std::string("Return-Path: <") + kMartin,
             "Return-Path: <nobody@cardio-plus.test");
  for (int i = 0; i < 3; ++i)
    submit(forPeers(itest::message("tlm_da.eml"),
                    "e2e-before-" + std::to_string(i) + "@client.cardio-plus.test"));
  Served server;
  ASSERT_TRUE(
      server.start({LIAISON_BINARY, "serve", "--config", config()}, (dir_ / "serve.log").string()));
  auto processed = [&](std::int64_t n) {
    for (int i = 0; i < 300; ++i) {
      if (count("SELECT count(*) FROM ingest_outcome") >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  ASSERT_TRUE(processed(3)) << itest::readFile((dir_ / "serve.log").string());
  auto [rc, out] = shell(env("LIAISON_TEST_MAIL_PEERS") + " restart-imap " + peers_.string());
  ASSERT_EQ(rc, 0) << out;
  for (int i = 0; i < 3; ++i)
    submit(forPeers(itest::message("tlm_da.eml"),
                    "e2e-after-" + std::to_string(i) + "@client.cardio-plus.test"));
  submit(lost, kGateway, "nobody@cardio-plus.test");  // the MDN's submission is what fails
  ASSERT_TRUE(processed(7)) << itest::readFile((dir_ / "serve.log").string());
  std::string failed;
  for (int i = 0; i < 100 && failed.find("nobody@cardio-plus.test") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    failed = shell("curl -sS -H 'Authorization: Bearer jeton-ops-e2e' " + server.url +
                   "/outbox?status=failed")
                 .second;
  }
  EXPECT_NE(failed.find("nobody@cardio-plus.test"), std::string::npos) << failed;
  EXPECT_NE(failed.find("smtp-permanent"), std::string::npos) << failed;
  const std::string metrics =
      shell("curl -sS -H 'Authorization: Bearer jeton-ops-e2e' " + server.url + "/metrics").second;
  EXPECT_NE(metrics.find("liaison_mail_fetched_total 7"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("liaison_outbox_failed_total 1"), std::string::npos) << metrics;
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 7);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 7);
  EXPECT_EQ(waitFor("dr-martin", 6).size(), 6u);  // the six MDNs that could go
}

// A relay delivers the same mail twice: each copy reaches the mailbox with its own trace
// headers (Postfix and Dovecot add Return-Path, Delivered-To and Received to each), and a third
// copy is put in the Maildir with one more Received line, as another relay's delivery would be.
// One message: one journal row, one outcome, stored once, and one MDN for the sender.
TEST_F(MailEndToEnd, TheSameMailDeliveredSeveralTimesIsOneMessageWithOneAnswer) {
  const std::string mail =
      forPeers(itest::message("ldl_ses.eml"), "e2e-twice@client.cardio-plus.test");
  submit(mail);
  submit(mail);
  const auto delivered = waitFor("ess-cardio-plus", 2);
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_NE(delivered[0], delivered[1]);  // the trace headers of each delivery differ
  const fs::path inbox = peers_ / "vmail" / "ess-cardio-plus" / "Maildir" / "new";
  std::ofstream(inbox / "1700000000.M1P1.liaison-test", std::ios::binary)
      << "Received: from relay3.cardio-plus.test (relay3.cardio-plus.test [192.0.2.99])\r\n"
         "\tby mx.cardio-plus.test (Postfix) with ESMTPS id 4TZ9redeliver\r\n"
         "\tfor <"
      << kGateway << ">; Fri, 12 Jan 2024 14:25:00 +0100 (CET)\r\n"
      << delivered[0];
  ASSERT_EQ(
      shell("chown -R dovecot:dovecot " + (peers_ / "vmail" / "ess-cardio-plus").string()).first,
      0);

  auto [rc, out] = pull(config());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"sent\":1"), std::string::npos) << out;
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome WHERE status = 'accepted'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'DocumentReference'"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Communication'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1);
  // All three taken off the inbox, kept in the processed folder.
  EXPECT_TRUE(maildir(peers_ / "vmail" / "ess-cardio-plus").empty());
  EXPECT_EQ(maildir(peers_ / "vmail" / "ess-cardio-plus", ".liaison-processed").size(), 3u);

  // Dr Martin receives one MDN, "processed".
  const auto received = waitFor("dr-martin", 1);
  ASSERT_EQ(received.size(), 1u);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a second one would be there by now
  const auto all = maildir(peers_ / "vmail" / "dr-martin");
  ASSERT_EQ(all.size(), 1u);
  auto report = parse::readDeliveryReport(all[0]);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->original_message_id, "e2e-twice@client.cardio-plus.test");
  EXPECT_EQ(report->disposition, "processed");

  // A later delivery of it again: a duplicate, nothing sent.
  submit(mail);
  ASSERT_EQ(waitFor("ess-cardio-plus", 1).size(), 1u);
  auto [rc2, out2] = pull(config());
  ASSERT_EQ(rc2, 0) << out2;
  EXPECT_NE(out2.find("\"duplicates\":1"), std::string::npos) << out2;
  EXPECT_NE(out2.find("\"sent\":0"), std::string::npos) << out2;
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 1);
}

// Answers go to the sender the transport vouches for, never to an address the message names:
// through the mailbox, the envelope sender Postfix received and Dovecot recorded (Return-Path),
// whatever Disposition-Notification-To, Reply-To or a Return-Path of the sender's own say; a mail
// posted to `POST /` by an intake client with no configured address gets no mail at all.
TEST_F(MailEndToEnd, AnswersGoOnlyToTheSenderTheTransportVouchesFor) {
  const std::string other = "collecte@cardio-plus.test";
  auto naming = [&](std::string mail) {
    replaceAll(mail, std::string("Disposition-Notification-To: <") + kMartin,
               "Disposition-Notification-To: <" + other);
    replaceAll(mail, std::string("Return-Path: <") + kMartin, "Return-Path: <" + other);
    const std::size_t mime = mail.find("MIME-Version: 1.0\r\n");
    mail.insert(mime, "Reply-To: <" + other + ">\r\n");
    return mail;
  };
  submit(naming(forPeers(itest::message("ldl_ses.eml"), "e2e-named-ldl@client.cardio-plus.test")));
  submit(naming(forPeers(itest::message("no_ins.eml"), "e2e-named-noins@client.cardio-plus.test")));
  submit(naming(
      forPeers(itest::message("fiche_incomplete.eml"), "e2e-named-fiche@client.cardio-plus.test")));
  const auto delivered = waitFor("ess-cardio-plus", 3);
  ASSERT_EQ(delivered.size(), 3u);
  ASSERT_EQ(delivered[0].rfind(std::string("Return-Path: <") + kMartin + ">", 0), 0u)
      << delivered[0].substr(0, 300);  // Dovecot's, on top of the sender's own

  auto [rc, out] = pull(config());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"processed\":3"), std::string::npos) << out;
  // The letter asked its MDN for another address: none (RFC 8098 §2.1); the 903 gets the notice
  // and the incomplete request its missing fields, both to Dr Martin.
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 2);
  EXPECT_EQ(count(std::string("SELECT count(*) FROM outbox WHERE recipients = '{") + kMartin +
                  "}' AND kind IN ('notice', 'missing-information')"),
            2);
  EXPECT_EQ(waitFor("dr-martin", 2).size(), 2u);

  // POST / of the same kind of mail, Return-Path and all, by an intake client that has no
  // configured address: answered by the HTTP response only.
  Served server;
  ASSERT_TRUE(
      server.start({LIAISON_BINARY, "serve", "--config", config()}, (dir_ / "serve.log").string()));
  const fs::path posted = dir_ / "posted.eml";
  std::ofstream(posted, std::ios::binary)
      << naming(forPeers(itest::message("no_ins.eml"), "e2e-posted@client.cardio-plus.test"));
  auto [prc, answer] = shell(
      "curl -sS -X POST -H 'Authorization: Bearer liaison-test-intake' -H 'Content-Type: "
      "message/rfc822' --data-binary @" +
      posted.string() + " " + server.url + "/");
  ASSERT_EQ(prc, 0) << answer;
  EXPECT_NE(answer.find("\"Parameters\""), std::string::npos) << answer;
  EXPECT_EQ(count("SELECT count(*) FROM message_journal WHERE source LIKE 'api:%'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 4);
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 2);  // nothing more
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE array_to_string(recipients, ',') LIKE "
                  "'%collecte%'"),
            0);
}

// n requests from Dr Martin asking for an MDN, put straight into the gateway's Maildir as Dovecot's
// LMTP would (Message-ID <prefix><i>@client.cardio-plus.test).
void deliverRequests(const fs::path& peers, int n, const std::string& prefix) {
  std::string base = forPeers(itest::message("fiche_body.eml"), "x");
  const std::size_t mime = base.find("MIME-Version: 1.0\r\n");
  ASSERT_NE(mime, std::string::npos);
  base.insert(mime, std::string("Disposition-Notification-To: <") + kMartin + ">\r\n");
  const fs::path inbox = peers / "vmail" / "ess-cardio-plus" / "Maildir" / "new";
  fs::create_directories(inbox);
  for (int i = 0; i < n; ++i) {
    std::string mail = base;
    const std::size_t at = mail.find("Message-ID: <x>");
    mail.replace(at + 13, 1, prefix + std::to_string(i) + "@client.cardio-plus.test");
    std::ofstream(inbox / ("1700000000.M" + std::to_string(i) + "P1.liaison-test"),
                  std::ios::binary)
        << mail;
  }
  ASSERT_EQ(
      shell("chown -R dovecot:dovecot " + (peers / "vmail" / "ess-cardio-plus").string()).first, 0);
}

// Two gateways on one database and one mailbox (high availability, rolling upgrades): the mailbox
// is polled by the holder of its lease only. Mid-way through 500 requests the holder fails: killed
// (SIGKILL; on this host the other sees the process is gone and takes over at once, as a gateway
// restarted after a crash does) or stuck but still connected (SIGSTOP: the other waits for the
// lease to run out, as it would for a gateway of another host; the stuck one, resumed, finds the
// mailbox lost and stands by). The other drains the mailbox. Every message journaled and
// processed once, every answer queued once; an MDN sent twice only when a send was cut by the
// failure (at least once).
class TwoGateways : public MailEndToEnd {
 protected:
  enum class Failure { Killed, Stuck };
  void run(Failure failure) {
    constexpr int kMessages = 500;  // ~3 s of intake on a 2-core VM: the test takes ~15 s
    constexpr int kLeaseSeconds = 3;
    deliverRequests(peers_, kMessages, "ha-");
    if (HasFatalFailure()) return;
    const std::string conf =
        config("mail-gateway", "mail-gateway",
               "\"firstRetrySeconds\": 1, \"maxRetrySeconds\": 2, \"pollMs\": 100, "
               "\"leaseSeconds\": 5",
               "\"leaseSeconds\": " + std::to_string(kLeaseSeconds) + ", ");
    const std::string logs[2] = {(dir_ / "a.log").string(), (dir_ / "b.log").string()};
    Served gateways[2];
    for (int g = 0; g < 2; ++g)
      ASSERT_TRUE(gateways[g].start({LIAISON_BINARY, "serve", "--config", conf}, logs[g]))
          << itest::readFile(logs[g]);
    auto holder = [&]() -> std::string {
      auto r = db_->exec(
          "SELECT holder FROM mailbox_lease WHERE mailbox = 'cardio-plus' AND "
          "lease_until > now()");
      return r && r->rows() == 1 ? std::string(r->text(0, 0)) : std::string();
    };
    auto pidOf = [](const std::string& h) {
      const std::size_t a = h.find(':');
      return a == std::string::npos ? -1 : std::atoi(h.c_str() + a + 1);
    };

    // Mid-way: a fifth of the requests processed, by the lease holder.
    for (int i = 0; i < 3000 && count("SELECT count(*) FROM ingest_outcome") < kMessages / 5; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::string first = holder();
    const int failing = pidOf(first) == gateways[0].pid   ? 0
                        : pidOf(first) == gateways[1].pid ? 1
                                                          : -1;
    ASSERT_NE(failing, -1) << "lease holder " << first;
    if (failure == Failure::Killed)
      gateways[failing].crash();
    else
      kill(gateways[failing].pid, SIGSTOP);
    const auto failed_at = std::chrono::steady_clock::now();
    const std::int64_t at_failure = count("SELECT count(*) FROM ingest_outcome");
    auto until = db_->exec("SELECT lease_until FROM mailbox_lease WHERE mailbox = 'cardio-plus'");
    ASSERT_TRUE(until && until->rows() == 1);
    const std::string lease_until_at_failure(until->text(0, 0));
    ASSERT_LT(at_failure, kMessages) << "the intake finished before the failure: nothing tested";
    const int other = 1 - failing;

    // Taken over: at once for a dead process of this host, else within the lease (plus the
    // other's look every third of it).
    std::string second;
    for (int i = 0; i < 200 && (second.empty() || second == first); ++i) {
      second = holder();
      if (second.empty() || second == first)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const double takeover =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count();
    EXPECT_EQ(pidOf(second), gateways[other].pid) << second;
    if (failure == Failure::Killed)
      EXPECT_LE(takeover, kLeaseSeconds / 3.0 + 1.0);
    else  // not before the stuck holder's lease ran out
      EXPECT_EQ(count("SELECT count(*) FROM mailbox_lease WHERE acquired_at >= '" +
                      lease_until_at_failure + "'"),
                1)
          << lease_until_at_failure;
    EXPECT_LE(takeover, kLeaseSeconds + kLeaseSeconds / 3.0 + 1.0);
    if (failure == Failure::Stuck) kill(gateways[failing].pid, SIGCONT);  // it finds it lost

    bool finished = false;
    for (int i = 0; i < 1200 && !finished; ++i) {  // ~20 s here, more under the sanitizers
      finished = count("SELECT count(*) FROM ingest_outcome") == kMessages &&
                 count("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0 &&
                 count("SELECT count(*) FROM outbox") == kMessages;
      if (!finished) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double drained =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - failed_at).count();
    EXPECT_EQ(holder(), second);  // the resumed one did not take it back
    for (Served& g : gateways) {
      if (g.pid > 0) {
        EXPECT_EQ(g.stop(), 0);
      }
    }
    ASSERT_TRUE(finished) << "outcomes " << count("SELECT count(*) FROM ingest_outcome")
                          << ", outbox " << count("SELECT count(*) FROM outbox") << "\n"
                          << itest::readFile(logs[other]).substr(0, 20000);
    std::cerr << "two gateways, holder " << (failure == Failure::Killed ? "killed" : "stuck")
              << ": " << at_failure << " of " << kMessages
              << " requests processed at the failure; taken over after " << takeover << " s (lease "
              << kLeaseSeconds << " s); all processed and answered " << drained
              << " s after the failure\n";

    // One at a time: the other processed nothing before it took the mailbox over.
    const std::string other_log = itest::readFile(logs[other]);
    const std::size_t taken = other_log.find("mailbox lease taken");
    ASSERT_NE(taken, std::string::npos) << other_log;
    EXPECT_NE(other_log.find("standing by"), std::string::npos) << other_log;
    EXPECT_GT(other_log.find(" processed, "), taken) << other_log;
    if (failure == Failure::Stuck) {
      const std::string resumed_log = itest::readFile(logs[failing]);
      EXPECT_TRUE(resumed_log.find("mailbox lease lost") != std::string::npos ||
                  resumed_log.find("standing by") != std::string::npos)
          << resumed_log;
    }

    // Journaled once, processed once, answered once.
    EXPECT_EQ(count("SELECT count(*) FROM message_journal"), kMessages);
    EXPECT_EQ(count("SELECT count(DISTINCT message_id) FROM message_journal"), kMessages);
    EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), kMessages);
    EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'ServiceRequest'"), kMessages);
    EXPECT_EQ(count("SELECT count(DISTINCT journal_id) FROM outbox WHERE kind = 'mdn'"), kMessages);
    EXPECT_TRUE(maildir(peers_ / "vmail" / "ess-cardio-plus").empty());
    const std::int64_t resendable = count("SELECT count(*) FROM outbox WHERE attempts > 1");
    std::map<std::string, int> mdns;
    std::int64_t received = 0;
    for (int i = 0; i < 300 && mdns.size() < kMessages; ++i) {
      mdns.clear();
      received = 0;
      for (const std::string& m : maildir(peers_ / "vmail" / "dr-martin")) {
        if (auto report = parse::readDeliveryReport(m)) {
          ++mdns[report->original_message_id];
          ++received;
        }
      }
      if (mdns.size() < kMessages) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(mdns.size(), static_cast<std::size_t>(kMessages));
    EXPECT_LE(received - kMessages, resendable) << "MDNs sent twice without a send cut short";
  }
};

TEST_F(TwoGateways, TheHolderKilledTheOtherTakesTheMailboxOverAndDrainsIt) {
  run(Failure::Killed);
}

TEST_F(TwoGateways, TheHolderStuckTheOtherTakesOverWhenTheLeaseRunsOut) {
  run(Failure::Stuck);
}

// `liaison pull` beside a running gateway: the mailbox the gateway holds is left to it, and the
// gateway's answer to each message is queued once.
TEST_F(MailEndToEnd, PullLeavesAMailboxThatARunningGatewayHolds) {
  Served server;
  ASSERT_TRUE(
      server.start({LIAISON_BINARY, "serve", "--config", config()}, (dir_ / "serve.log").string()));
  const std::string held_by_server =
      "SELECT count(*) FROM mailbox_lease WHERE lease_until > now() AND holder LIKE '%:" +
      std::to_string(server.pid) + ":%'";
  for (int i = 0; i < 100 && count(held_by_server) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(count(held_by_server), 1);
  const std::string metrics =
      shell("curl -sS -H 'Authorization: Bearer jeton-ops-e2e' " + server.url + "/metrics").second;
  EXPECT_NE(metrics.find("\nliaison_mail_mailboxes_held 1\n"), std::string::npos) << metrics;
  deliverRequests(peers_, 20, "held-");
  if (HasFatalFailure()) return;
  auto [rc, out] = pull(config());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cardio-plus: polled by "), std::string::npos) << out;
  EXPECT_NE(out.find("left to it"), std::string::npos) << out;
  EXPECT_EQ(count(held_by_server), 1);  // still the gateway's
  for (int i = 0; i < 300 && count("SELECT count(*) FROM ingest_outcome") < 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), 20);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), 20);
  EXPECT_EQ(count("SELECT count(*) FROM outbox"), 20);
  // Stopped gracefully, the gateway handed the mailbox back at once.
  EXPECT_EQ(count("SELECT count(*) FROM mailbox_lease WHERE lease_until > now()"), 0);
}

// 500 requests wait in the mailbox; the gateway is killed with SIGKILL at random moments 20
// times and restarted. At the end every message is stored exactly once and every
// acknowledgement was sent at least once.
TEST_F(MailEndToEnd, CrashTestSigkillTwentyTimesLosesNothingAndDoesNothingTwice) {
  constexpr int kMessages = 500;
  // Delivered straight into the Maildir, as Dovecot's LMTP would (it is the gateway that is
  // under test here, and 500 SMTP submissions would only add time).
  std::string base = forPeers(itest::message("fiche_body.eml"), "x");
  const std::size_t mime = base.find("MIME-Version: 1.0\r\n");
  ASSERT_NE(mime, std::string::npos);
  base.insert(mime, std::string("Disposition-Notification-To: <") + kMartin + ">\r\n");
  const fs::path inbox = peers_ / "vmail" / "ess-cardio-plus" / "Maildir" / "new";
  fs::create_directories(inbox);
  for (int i = 0; i < kMessages; ++i) {
    std::string mail = base;
    const std::size_t at = mail.find("Message-ID: <x>");
    mail.replace(at + 13, 1, "crash-" + std::to_string(i) + "@client.cardio-plus.test");
    std::ofstream(inbox / ("1700000000.M" + std::to_string(i) + "P1.liaison-test"),
                  std::ios::binary)
        << mail;
  }
  ASSERT_EQ(
      shell("chown -R dovecot:dovecot " + (peers_ / "vmail" / "ess-cardio-plus").string()).first,
      0);

  // Short leases: a send interrupted by a kill is retried soon, not in 5 minutes.
  const std::string conf =
      config("mail-gateway", "mail-gateway",
             "\"firstRetrySeconds\": 1, \"maxRetrySeconds\": 2, \"pollMs\": 100, "
             "\"leaseSeconds\": 5, \"recoverAfterSeconds\": 0");
  const std::string log = (dir_ / "serve.log").string();
  std::mt19937 random(20261202);
  std::uniform_int_distribution<int> moment(30, 400);  // intake of 500 takes ~2–3 s
  for (int kill = 0; kill < 20; ++kill) {
    Served server;
    ASSERT_TRUE(server.start({LIAISON_BINARY, "serve", "--config", conf}, log))
        << itest::readFile(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(moment(random)));
    server.crash();
  }
  const auto done_at_crashes = count("SELECT count(*) FROM ingest_outcome");
  Served server;
  ASSERT_TRUE(server.start({LIAISON_BINARY, "serve", "--config", conf}, log));
  bool finished = false;
  for (int i = 0; i < 1200 && !finished; ++i) {
    finished = count("SELECT count(*) FROM ingest_outcome") == kMessages &&
               count("SELECT count(*) FROM outbox WHERE status <> 'sent'") == 0 &&
               count("SELECT count(*) FROM outbox") == kMessages;
    if (!finished) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(server.stop(), 0);
  ASSERT_TRUE(finished) << "outcomes " << count("SELECT count(*) FROM ingest_outcome")
                        << ", outbox " << count("SELECT count(*) FROM outbox") << "\n"
                        << itest::readFile(log).substr(0, 20000);
  const std::string log_text = itest::readFile(log);
  std::size_t recoveries = 0;
  for (std::size_t at = log_text.find("processed again"); at != std::string::npos;
       at = log_text.find("processed again", at + 1))
    ++recoveries;
  std::cerr << "crash test: " << done_at_crashes << " of " << kMessages
            << " messages processed during the 20 killed runs; " << recoveries
            << " recoveries of interrupted messages; "
            << count("SELECT count(*) FROM outbox WHERE attempts > 1")
            << " acknowledgements sent again after a kill\n";

  // Stored exactly once.
  EXPECT_EQ(count("SELECT count(*) FROM message_journal"), kMessages);
  EXPECT_EQ(count("SELECT count(DISTINCT message_id) FROM message_journal"), kMessages);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'ServiceRequest'"), kMessages);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'Patient'"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE type = 'QuestionnaireResponse'"), kMessages);
  EXPECT_TRUE(maildir(peers_ / "vmail" / "ess-cardio-plus").empty());
  // Every acknowledgement sent at least once: Dr Martin has an MDN about each message.
  std::set<std::string> acknowledged;
  for (int i = 0; i < 300 && acknowledged.size() < kMessages; ++i) {
    acknowledged.clear();
    for (const std::string& m : maildir(peers_ / "vmail" / "dr-martin")) {
      if (auto report = parse::readDeliveryReport(m))
        acknowledged.insert(report->original_message_id);
    }
    if (acknowledged.size() < kMessages)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(acknowledged.size(), static_cast<std::size_t>(kMessages));
}

}  // namespace
}  // namespace liaison
