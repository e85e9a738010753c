// The mail adapters against real servers on 127.0.0.1 (tests/mail/mail-peers): Postfix takes
// submissions over STARTTLS and implicit TLS and delivers over LMTP to Dovecot, which serves IMAP;
// both require a client certificate from the test PKI (certs/make-test-pki: mail-gateway.crt is
// ess-cardio-plus, mail-martin.crt is dr-martin).
//
// To put a message into a mailbox without SMTP, the tests APPEND it with libcurl (Appender below):
// that is what a server-side delivery leaves, byte for byte.

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/mail/imap_mailbox.hpp"
#include "adapters/mail/smtp_sender.hpp"

namespace liaison::mail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  EXPECT_NE(v, nullptr) << name << " is not set (run through ctest)";
  return v == nullptr ? "" : v;
}

// DIR/env of mail-peers, and the PKI.
struct Peers {
  std::string dir, pki;
  std::string imaps, imap, smtp, smtps, smtps_short_timeout;  // ports
};

const Peers& peers() {
  static const Peers p = [] {
    Peers r;
    r.dir = env("LIAISON_TEST_MAIL_DIR");
    r.pki = env("LIAISON_TEST_PKI_DIR");
    std::ifstream in(r.dir + "/env");
    EXPECT_TRUE(in.good()) << "no " << r.dir << "/env: did mail.start run?";
    std::map<std::string, std::string> kv;
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    r.imaps = kv["IMAPS_PORT"];
    r.imap = kv["IMAP_STARTTLS_PORT"];
    r.smtp = kv["SMTP_STARTTLS_PORT"];
    r.smtps = kv["SMTPS_PORT"];
    r.smtps_short_timeout = kv["SMTPS_SHORT_TIMEOUT_PORT"];
    return r;
  }();
  return p;
}

std::string pki(const std::string& file) {
  return peers().pki + "/" + file;
}

// `peers` = "restart-imap", "stop-imap", "start-imap".
void mailPeers(const std::string& action) {
  const std::string cmd = std::string(LIAISON_MAIL_PEERS) + " " + action + " " + peers().dir;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// Which certificate: "mail-gateway" (CN ess-cardio-plus), "mail-martin" (CN dr-martin), "rogue",
// or "" for none.
ImapConfig imapConfig(const std::string& cert, const std::string& user) {
  ImapConfig c;
  c.name = "test-" + user;
  c.url = "imaps://localhost:" + peers().imaps;
  c.user = user;
  c.password = "unused";  // the certificate is the credential
  if (!cert.empty()) {
    c.cert_file = pki(cert + ".crt");
    c.key_file = pki(cert + ".key");
  }
  c.ca_file = pki("ca.crt");
  c.connect_timeout = 5s;
  c.timeout = 20s;
  return c;
}

std::unique_ptr<ImapMailbox> openImap(ImapConfig config) {
  auto m = ImapMailbox::open(std::move(config));
  EXPECT_TRUE(m) << (m ? "" : m.error().detail);
  return m ? std::move(*m) : nullptr;
}

SmtpConfig smtpConfig(bool implicit_tls, const std::string& cert = "mail-gateway") {
  SmtpConfig c;
  c.url = implicit_tls ? "smtps://localhost:" + peers().smtps : "smtp://localhost:" + peers().smtp;
  c.helo_domain = "gw.cardio-plus.test";
  if (!cert.empty()) {
    c.cert_file = pki(cert + ".crt");
    c.key_file = pki(cert + ".key");
  }
  c.ca_file = pki("ca.crt");
  c.connect_timeout = 5s;
  c.timeout = 20s;
  return c;
}

std::unique_ptr<SmtpSender> openSmtp(SmtpConfig config) {
  auto s = SmtpSender::open(std::move(config));
  EXPECT_TRUE(s) << (s ? "" : s.error().detail);
  return s ? std::move(*s) : nullptr;
}

std::string uniqueId(const std::string& tag) {
  static int n = 0;
  return "<" + tag + "." + std::to_string(getpid()) + "." + std::to_string(++n) + "." +
         std::to_string(Clock::now().time_since_epoch().count()) + "@liaison.test>";
}

// A MSSanté-like mail (fictitious data), CRLF: 8-bit text with lines that need dot-stuffing, and
// a base64 attachment of random bytes.
std::string makeMail(const std::string& to, const std::string& message_id) {
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(message_id)));
  std::string blob(3000, '\0');
  for (char& ch : blob)
    ch = static_cast<char>(rng() & 0xff);
  static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  for (std::size_t i = 0; i < blob.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(blob[i]) << 16) |
                       (i + 1 < blob.size() ? static_cast<unsigned char>(blob[i + 1]) << 8 : 0) |
                       (i + 2 < blob.size() ? static_cast<unsigned char>(blob[i + 2]) : 0);
    encoded += b64[(v >> 18) & 63];
    encoded += b64[(v >> 12) & 63];
    encoded += i + 1 < blob.size() ? b64[(v >> 6) & 63] : '=';
    encoded += i + 2 < blob.size() ? b64[v & 63] : '=';
    if (encoded.size() % 78 == 76) encoded += "\r\n";
  }
  return "From: ESS Cardio+ <ess-cardio-plus@cardio-plus.test>\r\n"
         "To: " +
         to +
         "\r\n"
         "Subject: =?UTF-8?Q?Demande_d'avis_cardiologique?=\r\n"
         "Date: Tue, 02 Dec 2025 10:00:00 +0100\r\n"
         "Message-ID: " +
         message_id +
         "\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
         "\r\n"
         "--b1\r\n"
         "Content-Type: text/plain; charset=UTF-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\n"
         "\r\n"
         "Bonjour, fiche de demande ci-jointe (donn\xc3\xa9\x65s fictives).\r\n"
         "Patient : DUPONT-FICTIF Jean\r\n"
         ".\r\n"
         "..deux points\r\n"
         ".une ligne qui commence par un point\r\n"
         "\r\n"
         "--b1\r\n"
         "Content-Type: application/zip; name=\"IHE_XDM.ZIP\"\r\n"
         "Content-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"IHE_XDM.ZIP\"\r\n"
         "\r\n" +
         encoded +
         "\r\n"
         "--b1--\r\n";
}

std::string toLf(std::string s) {
  std::string out;
  for (const char ch : s)
    if (ch != '\r') out += ch;
  return out;
}

// IMAP APPEND with libcurl (one connection for many), as `cert`'s user.
class Appender {
 public:
  Appender(const std::string& cert, const std::string& user) : curl_(curl_easy_init()) {
    curl_easy_setopt(curl_, CURLOPT_CAINFO, pki("ca.crt").c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLCERT, pki(cert + ".crt").c_str());
    curl_easy_setopt(curl_, CURLOPT_SSLKEY, pki(cert + ".key").c_str());
    curl_easy_setopt(curl_, CURLOPT_USERNAME, user.c_str());
    curl_easy_setopt(curl_, CURLOPT_PASSWORD, "unused");
    curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl_, CURLOPT_READFUNCTION, &Appender::onRead);
    curl_easy_setopt(curl_, CURLOPT_READDATA, this);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 20L);
  }
  ~Appender() { curl_easy_cleanup(curl_); }
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  // Any command on no mailbox ("DELETE folder").
  bool command(const std::string& text) {
    const std::string url = "imaps://localhost:" + peers().imaps + "/";
    curl_easy_setopt(curl_, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, text.c_str());
    const CURLcode rc = curl_easy_perform(curl_);
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
    EXPECT_EQ(rc, CURLE_OK) << text << ": " << curl_easy_strerror(rc);
    return rc == CURLE_OK;
  }

  bool append(const std::string& bytes, const std::string& folder = "INBOX") {
    const std::string url = "imaps://localhost:" + peers().imaps + "/" + folder;
    pending_ = bytes;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
    const CURLcode rc = curl_easy_perform(curl_);
    EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
    return rc == CURLE_OK;
  }

 private:
  static std::size_t onRead(char* buffer, std::size_t size, std::size_t n, void* self) {
    auto* a = static_cast<Appender*>(self);
    const std::size_t count = std::min(size * n, a->pending_.size());
    std::memcpy(buffer, a->pending_.data(), count);
    a->pending_.remove_prefix(count);
    return count;
  }
  CURL* curl_;
  std::string_view pending_;
};

struct Found {
  std::uint32_t uid = 0;
  std::string bytes;
};

// The message of `mailbox` whose bytes contain `needle` (its Message-ID), polled until `limit`.
std::optional<Found> awaitMessage(ImapMailbox& mailbox, const std::string& needle,
                                  std::chrono::milliseconds limit = 15s) {
  std::set<std::uint32_t> checked;
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    auto waiting = mailbox.waiting();
    if (!waiting) {
      ADD_FAILURE() << waiting.error().detail;
      return std::nullopt;
    }
    for (const std::uint32_t uid : waiting->uids) {
      if (checked.contains(uid)) continue;
      auto bytes = mailbox.fetch(uid);
      if (!bytes) {
        ADD_FAILURE() << bytes.error().detail;
        return std::nullopt;
      }
      if (bytes->find(needle) != std::string::npos) return Found{uid, std::move(*bytes)};
      checked.insert(uid);
    }
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

bool listed(ImapMailbox& mailbox, std::uint32_t uid) {
  auto w = mailbox.waiting();
  EXPECT_TRUE(w) << (w ? "" : w.error().detail);
  return w && std::find(w->uids.begin(), w->uids.end(), uid) != w->uids.end();
}

// What the MTA and the LDA put before the submitted bytes: trace headers only.
void expectDeliveredAsSent(const std::string& fetched, const std::string& sent) {
  ASSERT_TRUE(fetched.ends_with(sent)) << "the delivered message differs from the one sent";
  std::istringstream prefix(fetched.substr(0, fetched.size() - sent.size()));
  for (std::string line; std::getline(prefix, line);) {
    if (line.empty() || line[0] == ' ' || line[0] == '\t') continue;  // folded
    EXPECT_TRUE(line.starts_with("Return-Path:") || line.starts_with("Delivered-To:") ||
                line.starts_with("Received:"))
        << "unexpected header added: " << line;
  }
}

// A refusal of the client certificate may come during the handshake (mail-tls-refused) or at
// login (Dovecot: mail-auth-refused): both are permanent.
bool refusedForCertificate(Errc code) {
  return code == Errc::MailTlsRefused || code == Errc::MailAuthRefused;
}

const std::string kGateway = "ess-cardio-plus@cardio-plus.test";
const std::string kMartin = "dr-martin@cardio-plus.test";
const std::string kDurand = "dr-durand@cardio-plus.test";

// ---------------------------------------------------------------------------------------------

TEST(MailAdapters, SmtpStartTlsDeliversIntactToImap) {
  auto smtp = openSmtp(smtpConfig(/*implicit_tls=*/false));
  auto martin = openImap(imapConfig("mail-martin", "dr-martin"));
  ASSERT_TRUE(smtp && martin);
  const std::string id = uniqueId("starttls");
  const std::string mail = makeMail(kMartin, id);
  auto sent = smtp->send(kGateway, std::vector<std::string>{kMartin}, mail);
  ASSERT_TRUE(sent) << sent.error().detail;

  auto found = awaitMessage(*martin, id);
  ASSERT_TRUE(found) << "not delivered to dr-martin's INBOX";
  expectDeliveredAsSent(found->bytes, mail);
  EXPECT_NE(found->bytes.find("Client CN \"ess-cardio-plus\""), std::string::npos)
      << "Postfix's Received header names the verified client certificate";

  auto w1 = martin->waiting();
  auto w2 = martin->waiting();
  ASSERT_TRUE(w1 && w2);
  EXPECT_NE(w1->uid_validity, 0u);
  EXPECT_EQ(w1->uid_validity, w2->uid_validity);
  EXPECT_TRUE(std::is_sorted(w1->uids.begin(), w1->uids.end()));
  EXPECT_NE(std::find(w1->uids.begin(), w1->uids.end(), found->uid), w1->uids.end());
  EXPECT_EQ(martin->connectionsOpened(), 1u) << "one connection for every command";
}

TEST(MailAdapters, SmtpImplicitTlsWithLfLineEndsAndSaslExternal) {
  auto smtp = openSmtp(smtpConfig(/*implicit_tls=*/true));
  ImapConfig config = imapConfig("mail-gateway", "");
  config.sasl_external = true;  // AUTHENTICATE EXTERNAL: the certificate alone
  auto gateway = openImap(config);
  ASSERT_TRUE(smtp && gateway);
  const std::string id = uniqueId("smtps");
  const std::string mail = makeMail(kGateway, id);
  // The port accepts LF line ends: they go out as CRLF.
  auto sent = smtp->send(kMartin, std::vector<std::string>{kGateway}, toLf(mail));
  ASSERT_TRUE(sent) << sent.error().detail;

  auto found = awaitMessage(*gateway, id);
  ASSERT_TRUE(found) << "not delivered to ess-cardio-plus's INBOX";
  expectDeliveredAsSent(found->bytes, mail);
  ASSERT_TRUE(gateway->markProcessed(found->uid));
}

TEST(MailAdapters, ImapStartTls) {
  ImapConfig config = imapConfig("mail-martin", "dr-martin");
  config.url = "imap://localhost:" + peers().imap;  // STARTTLS, required
  auto martin = openImap(config);
  ASSERT_TRUE(martin);
  auto w = martin->waiting();
  ASSERT_TRUE(w) << w.error().detail;
  EXPECT_NE(w->uid_validity, 0u);
}

void checkMarkProcessed(ImapConfig config) {
  auto gateway = openImap(config);
  ImapConfig processed_config = config;
  processed_config.folder = config.processed_folder;
  processed_config.processed_folder = "unused";
  Appender appender("mail-gateway", "ess-cardio-plus");
  const std::string id1 = uniqueId("move1"), id2 = uniqueId("move2");
  const std::string mail1 = makeMail(kGateway, id1), mail2 = makeMail(kGateway, id2);
  ASSERT_TRUE(appender.append(mail1) && appender.append(mail2));
  auto m1 = awaitMessage(*gateway, id1, 2s);
  auto m2 = awaitMessage(*gateway, id2, 2s);
  ASSERT_TRUE(m1 && m2);
  EXPECT_EQ(m1->bytes, mail1) << "APPENDed bytes come back identical";

  auto done = gateway->markProcessed(m1->uid);
  ASSERT_TRUE(done) << done.error().detail;
  EXPECT_FALSE(listed(*gateway, m1->uid));
  EXPECT_TRUE(listed(*gateway, m2->uid));
  // Again (a retry after a lost reply): nothing left to move, not an error.
  auto again = gateway->markProcessed(m1->uid);
  EXPECT_TRUE(again) << again.error().detail;

  auto processed = openImap(processed_config);
  auto moved = awaitMessage(*processed, id1, 2s);
  ASSERT_TRUE(moved) << "not in " << config.processed_folder;
  EXPECT_EQ(moved->bytes, mail1);
  ASSERT_TRUE(gateway->markProcessed(m2->uid));
  EXPECT_FALSE(listed(*gateway, m2->uid));
}

TEST(MailAdapters, MarkProcessedMovesToTheProcessedFolder) {
  checkMarkProcessed(imapConfig("mail-gateway", "ess-cardio-plus"));
}

// A batch in one command: a sequence set with a run and a gap ("a:b,d"); the message in the gap
// stays waiting.
TEST(MailAdapters, MarkProcessedTakesABatchInOneCommand) {
  auto gateway = openImap(imapConfig("mail-gateway", "ess-cardio-plus"));
  Appender appender("mail-gateway", "ess-cardio-plus");
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(uniqueId("batch" + std::to_string(i)));
    ASSERT_TRUE(appender.append(makeMail(kGateway, ids.back())));
  }
  std::vector<std::uint32_t> uids;
  for (const std::string& id : ids) {
    auto m = awaitMessage(*gateway, id, 2s);
    ASSERT_TRUE(m);
    uids.push_back(m->uid);
  }
  const std::vector<std::uint32_t> batch{uids[3], uids[0], uids[1]};  // any order
  auto done = gateway->markProcessed(batch);
  ASSERT_TRUE(done) << done.error().detail;
  EXPECT_FALSE(listed(*gateway, uids[0]));
  EXPECT_FALSE(listed(*gateway, uids[1]));
  EXPECT_TRUE(listed(*gateway, uids[2]));
  EXPECT_FALSE(listed(*gateway, uids[3]));
  ASSERT_TRUE(gateway->markProcessed(uids[2]));
}

TEST(MailAdapters, MarkProcessedWithoutMoveCopiesThenExpunges) {
  ImapConfig config = imapConfig("mail-gateway", "ess-cardio-plus");
  config.use_move = false;
  config.processed_folder = "liaison-processed-copy";
  checkMarkProcessed(config);
}

TEST(MailAdapters, ProcessedFolderDeletedMeanwhileIsMadeAgain) {
  ImapConfig config = imapConfig("mail-gateway", "ess-cardio-plus");
  config.processed_folder = "liaison-processed-trycreate";
  auto gateway = openImap(config);
  ASSERT_TRUE(gateway);
  Appender appender("mail-gateway", "ess-cardio-plus");
  const std::string id1 = uniqueId("trycreate1"), id2 = uniqueId("trycreate2");
  ASSERT_TRUE(appender.append(makeMail(kGateway, id1)) && appender.append(makeMail(kGateway, id2)));
  auto m1 = awaitMessage(*gateway, id1, 2s);
  auto m2 = awaitMessage(*gateway, id2, 2s);
  ASSERT_TRUE(m1 && m2);
  ASSERT_TRUE(gateway->markProcessed(m1->uid));
  ASSERT_TRUE(appender.command("DELETE \"liaison-processed-trycreate\""));
  auto done = gateway->markProcessed(m2->uid);
  ASSERT_TRUE(done) << done.error().detail;
  EXPECT_FALSE(listed(*gateway, m2->uid));
  config.folder = "liaison-processed-trycreate";
  config.processed_folder = "unused";
  auto processed = openImap(config);
  EXPECT_TRUE(awaitMessage(*processed, id2, 2s));
}

TEST(MailAdapters, FlagModeKeepsTheMessageInTheInbox) {
  ImapConfig flag_config = imapConfig("mail-gateway", "ess-cardio-plus");
  flag_config.flag_instead_of_move = true;
  auto flagging = openImap(flag_config);
  auto plain = openImap(imapConfig("mail-gateway", "ess-cardio-plus"));
  ASSERT_TRUE(flagging && plain);
  Appender appender("mail-gateway", "ess-cardio-plus");
  const std::string id = uniqueId("flag");
  ASSERT_TRUE(appender.append(makeMail(kGateway, id)));
  auto m = awaitMessage(*flagging, id, 2s);
  ASSERT_TRUE(m);
  auto done = flagging->markProcessed(m->uid);
  ASSERT_TRUE(done) << done.error().detail;
  EXPECT_FALSE(listed(*flagging, m->uid));
  EXPECT_TRUE(listed(*plain, m->uid)) << "still in INBOX, only flagged";
  ASSERT_TRUE(plain->markProcessed(m->uid));  // leave INBOX clean
}

TEST(MailAdapters, FetchOfAnUnknownUidIsAProtocolErrorThenTheMailboxGoesOn) {
  auto gateway = openImap(imapConfig("mail-gateway", "ess-cardio-plus"));
  ASSERT_TRUE(gateway);
  auto missing = gateway->fetch(4000000000u);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::MailProtocol) << missing.error().detail;
  auto w = gateway->waiting();
  EXPECT_TRUE(w) << w.error().detail;
}

TEST(MailAdapters, ClientWithoutCertificateIsRefused) {
  auto imap = openImap(imapConfig("", "dr-martin"));
  ASSERT_TRUE(imap);
  auto w = imap->waiting();
  ASSERT_FALSE(w);
  EXPECT_TRUE(refusedForCertificate(w.error().code)) << w.error().detail;

  for (const bool implicit_tls : {false, true}) {
    auto smtp = openSmtp(smtpConfig(implicit_tls, ""));
    ASSERT_TRUE(smtp);
    auto sent = smtp->send(kGateway, std::vector<std::string>{kMartin}, makeMail(kMartin, "<x@y>"));
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code, Errc::MailTlsRefused) << sent.error().detail;
  }
}

TEST(MailAdapters, RogueCertificateIsRefused) {
  auto imap = openImap(imapConfig("rogue", "dr-martin"));
  ASSERT_TRUE(imap);
  auto w = imap->waiting();
  ASSERT_FALSE(w);
  EXPECT_TRUE(refusedForCertificate(w.error().code)) << w.error().detail;

  for (const bool implicit_tls : {false, true}) {
    auto smtp = openSmtp(smtpConfig(implicit_tls, "rogue"));
    ASSERT_TRUE(smtp);
    auto sent = smtp->send(kGateway, std::vector<std::string>{kMartin}, makeMail(kMartin, "<x@y>"));
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code, Errc::MailTlsRefused) << sent.error().detail;
  }
}

TEST(MailAdapters, ServerNotSignedByTheConfiguredCaIsRefused) {
  ImapConfig imap_config = imapConfig("mail-martin", "dr-martin");
  imap_config.ca_file = pki("rogue.crt");  // some other CA
  auto imap = openImap(imap_config);
  ASSERT_TRUE(imap);
  auto w = imap->waiting();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::MailTlsRefused) << w.error().detail;

  SmtpConfig smtp_config = smtpConfig(false);
  smtp_config.ca_file = pki("rogue.crt");
  auto smtp = openSmtp(smtp_config);
  ASSERT_TRUE(smtp);
  auto sent = smtp->send(kGateway, std::vector<std::string>{kMartin}, makeMail(kMartin, "<x@y>"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, Errc::MailTlsRefused) << sent.error().detail;
}

TEST(MailAdapters, RecipientRefusalsAreClassified) {
  auto smtp = openSmtp(smtpConfig(false));
  auto martin = openImap(imapConfig("mail-martin", "dr-martin"));
  ASSERT_TRUE(smtp && martin);
  const auto send = [&](std::vector<std::string> to, const std::string& id) {
    return smtp->send(kGateway, to, makeMail(to.front(), id));
  };
  auto unknown = send({"nobody@cardio-plus.test"}, uniqueId("unknown"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::SmtpPermanent) << unknown.error().detail;
  EXPECT_NE(unknown.error().detail.find("550"), std::string::npos) << unknown.error().detail;
  EXPECT_EQ(unknown.error().detail.find("DUPONT"), std::string::npos) << "no message content";

  auto later = send({"tempfail@cardio-plus.test"}, uniqueId("tempfail"));
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, Errc::SmtpTransient) << later.error().detail;
  EXPECT_NE(later.error().detail.find("450"), std::string::npos) << later.error().detail;

  auto relay = send({"someone@example.org"}, uniqueId("relay"));
  ASSERT_FALSE(relay);
  EXPECT_EQ(relay.error().code, Errc::SmtpPermanent) << relay.error().detail;

  // One refused recipient among good ones: nothing is sent to anyone.
  const std::string mixed_id = uniqueId("mixed");
  auto mixed = send({kMartin, "nobody@cardio-plus.test", kDurand}, mixed_id);
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().code, Errc::SmtpPermanent) << mixed.error().detail;

  // The sender goes on after refusals; the mixed mail never arrives before (or after) it.
  const std::string ok_id = uniqueId("after-refusals");
  auto ok = send({kMartin, kDurand}, ok_id);
  ASSERT_TRUE(ok) << ok.error().detail;
  ASSERT_TRUE(awaitMessage(*martin, ok_id));
  EXPECT_FALSE(awaitMessage(*martin, mixed_id, 300ms));
}

TEST(MailAdapters, ConfigurationIsChecked) {
  ImapConfig bad = imapConfig("mail-martin", "dr-martin");
  bad.url = "https://localhost:1";
  EXPECT_FALSE(ImapMailbox::open(bad));
  bad = imapConfig("mail-martin", "dr-martin");
  bad.url += "/INBOX";
  EXPECT_FALSE(ImapMailbox::open(bad));
  bad = imapConfig("mail-martin", "dr-martin");
  bad.cert_file = "/nonexistent.crt";
  auto r = ImapMailbox::open(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::ConfigInvalid);
  SmtpConfig bad_smtp = smtpConfig(true);
  bad_smtp.helo_domain = "";
  EXPECT_FALSE(SmtpSender::open(bad_smtp));
  auto smtp = openSmtp(smtpConfig(true));
  ASSERT_TRUE(smtp);
  auto sent = smtp->send("a@b\r\nRCPT TO:<x@y>", std::vector<std::string>{kMartin}, "x\r\n");
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, Errc::SmtpPermanent);
}

// Reused connections: a poller's fetches and moves, and a run of sends, each go over one
// connection (the throughput is bench/run-mail-bench's).
TEST(MailAdapters, OneConnectionCarriesEveryCommand) {
  constexpr int kMessages = 40;
  Appender appender("mail-gateway", "ess-cardio-plus");
  std::set<std::string> ids;
  for (int i = 0; i < kMessages; ++i) {
    const std::string id = uniqueId("bulk");
    ids.insert(id);
    ASSERT_TRUE(appender.append(makeMail(kGateway, id)));
  }
  auto gateway = openImap(imapConfig("mail-gateway", "ess-cardio-plus"));
  ASSERT_TRUE(gateway);
  auto w = gateway->waiting();
  ASSERT_TRUE(w) << w.error().detail;
  int taken = 0;
  for (const std::uint32_t uid : w->uids) {
    auto bytes = gateway->fetch(uid);
    ASSERT_TRUE(bytes) << bytes.error().detail;
    auto done = gateway->markProcessed(uid);
    ASSERT_TRUE(done) << done.error().detail;
    const auto at = bytes->find("Message-ID: ");
    ASSERT_NE(at, std::string::npos);
    taken += ids.count(bytes->substr(at + 12, bytes->find("\r\n", at) - at - 12)) > 0 ? 1 : 0;
  }
  EXPECT_EQ(taken, kMessages);
  EXPECT_EQ(gateway->connectionsOpened(), 1u);
  auto after = gateway->waiting();
  ASSERT_TRUE(after);
  for (const std::uint32_t uid : w->uids)
    EXPECT_EQ(std::count(after->uids.begin(), after->uids.end(), uid), 0);

  auto smtp = openSmtp(smtpConfig(true));
  ASSERT_TRUE(smtp);
  for (int i = 0; i < kMessages; ++i) {
    auto sent =
        smtp->send(kGateway, std::vector<std::string>{kDurand}, makeMail(kDurand, uniqueId("s")));
    ASSERT_TRUE(sent) << sent.error().detail;
  }
  EXPECT_EQ(smtp->connectionsOpened(), 1u);
}

// SMTPS_SHORT_TIMEOUT_PORT drops a client idle for 3 s ("421 4.4.2 … timeout exceeded"): the
// next send reconnects by itself.
TEST(MailAdapters, SmtpSendAfterTheServerDroppedTheIdleConnection) {
  SmtpConfig config = smtpConfig(/*implicit_tls=*/true);
  config.url = "smtps://localhost:" + peers().smtps_short_timeout;
  auto smtp = openSmtp(config);
  auto martin = openImap(imapConfig("mail-martin", "dr-martin"));
  ASSERT_TRUE(smtp && martin);
  ASSERT_TRUE(smtp->send(kGateway, std::vector<std::string>{kDurand}, makeMail(kDurand, "<a@b>")));
  std::this_thread::sleep_for(3500ms);
  const std::string id = uniqueId("after-idle");
  auto sent = smtp->send(kGateway, std::vector<std::string>{kMartin}, makeMail(kMartin, id));
  ASSERT_TRUE(sent) << sent.error().detail;
  EXPECT_EQ(smtp->connectionsOpened(), 2u);
  auto found = awaitMessage(*martin, id);
  ASSERT_TRUE(found);
  // Delivered once.
  auto w = martin->waiting();
  ASSERT_TRUE(w);
  int copies = 0;
  for (const std::uint32_t uid : w->uids) {
    auto bytes = martin->fetch(uid);
    ASSERT_TRUE(bytes);
    copies += bytes->find(id) != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(copies, 1);
}

// A server restart between two polls: the same object reconnects by itself.
TEST(MailAdapters, SurvivesAnImapServerRestart) {
  auto gateway = openImap(imapConfig("mail-gateway", "ess-cardio-plus"));
  ASSERT_TRUE(gateway);
  Appender appender("mail-gateway", "ess-cardio-plus");
  const std::string id = uniqueId("restart");
  ASSERT_TRUE(appender.append(makeMail(kGateway, id)));
  auto before = awaitMessage(*gateway, id, 2s);
  ASSERT_TRUE(before);

  mailPeers("restart-imap");
  // The kept connection is dead: the mailbox notices and reconnects within the same call (a
  // failure there would be transient, and the poller would retry).
  std::optional<WaitingMessages> after;
  int attempts = 0;
  while (!after && attempts < 3) {
    ++attempts;
    auto w = gateway->waiting();
    if (w) {
      after = *w;
    } else {
      EXPECT_EQ(info(w.error().code).retry, Retry::Transient) << w.error().detail;
    }
  }
  ASSERT_TRUE(after) << "no recovery within 3 attempts";
  EXPECT_EQ(attempts, 1) << "the dead connection was not replaced within the call";
  EXPECT_NE(std::find(after->uids.begin(), after->uids.end(), before->uid), after->uids.end());
  EXPECT_GE(gateway->connectionsOpened(), 2u);
  auto bytes = gateway->fetch(before->uid);
  ASSERT_TRUE(bytes) << bytes.error().detail;
  EXPECT_EQ(*bytes, before->bytes);
  ASSERT_TRUE(gateway->markProcessed(before->uid));
}

// A server down: refused at once (no hang), then back.
TEST(MailAdapters, ImapServerDownIsUnavailableThenRecovers) {
  auto gateway = openImap(imapConfig("mail-gateway", "ess-cardio-plus"));
  ASSERT_TRUE(gateway);
  ASSERT_TRUE(gateway->waiting());

  mailPeers("stop-imap");
  for (int i = 0; i < 2; ++i) {  // the kept connection, then a new one
    const auto t0 = Clock::now();
    auto w = gateway->waiting();
    const auto took = Clock::now() - t0;
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, Errc::MailUnavailable) << w.error().detail;
    EXPECT_LT(took, 2s) << "a refused connection must not wait for the timeout";
  }
  mailPeers("start-imap");
  bool back = false;
  for (int attempt = 0; attempt < 3 && !back; ++attempt)
    back = static_cast<bool>(gateway->waiting());
  EXPECT_TRUE(back);
}

}  // namespace
}  // namespace liaison::mail
