#include "app/mail_service.hpp"

#include <unistd.h>

#include <set>

#include "adapters/pg/pg_store.hpp"

namespace liaison::app {
namespace fs = std::filesystem;
std::optional<MailConfig> readMailConfig(const rapidjson::Value& m, const fs::path& base,
                                         std::ostream& err) {
  MailConfig c;
  bool ok = true;
  auto bad = [&](const std::string& field, const std::string& why) {
    err << "liaison: configuration: mail." << field << ": " << why << "\n";
    ok = false;
  };
  if (!m.IsObject()) {
    bad("", "an object expected");
    return std::nullopt;
  }
  auto str = [&](const rapidjson::Value& o, const char* k, const std::string& field,
                 std::string& into) {
    if (!o.HasMember(k)) return false;
    if (!o[k].IsString()) {
      bad(field, "a string expected");
      return false;
    }
    into = o[k].GetString();
    return true;
  };
  auto file = [&](const rapidjson::Value& o, const char* k, const std::string& field,
                  std::string& into) {
    if (!str(o, k, field, into) || into.empty()) return;
    fs::path p(into);
    if (p.is_relative()) p = base / p;
    into = p.string();
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) bad(field, "cannot read " + into);
  };
  auto num = [&](const rapidjson::Value& o, const char* k, const std::string& field,
                 std::int64_t lo, std::int64_t hi, auto& into) {
    if (!o.HasMember(k)) return;
    if (!o[k].IsInt64() || o[k].GetInt64() < lo || o[k].GetInt64() > hi) {
      bad(field, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
      return;
    }
    into = static_cast<std::remove_reference_t<decltype(into)>>(o[k].GetInt64());
  };
  auto boolean = [&](const rapidjson::Value& o, const char* k, const std::string& field,
                     bool& into) {
    if (!o.HasMember(k)) return;
    if (!o[k].IsBool()) {
      bad(field, "true or false");
      return;
    }
    into = o[k].GetBool();
  };
  auto known = [&](const rapidjson::Value& o, const std::string& prefix,
                   std::set<std::string> names) {
    for (const auto& member : o.GetObject()) {
      if (!names.count(member.name.GetString()))
        bad(prefix + member.name.GetString(), "unknown setting");
    }
  };
  known(m, "", {"gateway", "nil", "mailboxes", "smtp", "outbox", "acknowledgements"});

  if (!m.HasMember("gateway") || !m["gateway"].IsObject()) {
    bad("gateway", "an object {\"address\", \"name\"} is required");
  } else {
    const auto& g = m["gateway"];
    known(g, "gateway.", {"address", "name"});
    str(g, "address", "gateway.address", c.acknowledgements.gateway.address);
    str(g, "name", "gateway.name", c.acknowledgements.gateway.name);
    if (c.acknowledgements.gateway.address.find('@') == std::string::npos)
      bad("gateway.address", "a mail address is required");
  }
  str(m, "nil", "nil", c.acknowledgements.nil);
  if (m.HasMember("acknowledgements")) {
    const auto& a = m["acknowledgements"];
    if (!a.IsObject()) {
      bad("acknowledgements", "an object expected");
    } else {
      known(a, "acknowledgements.", {"mdn", "notices", "missingInformation"});
      boolean(a, "mdn", "acknowledgements.mdn", c.acknowledgements.mdn);
      boolean(a, "notices", "acknowledgements.notices", c.acknowledgements.notices);
      boolean(a, "missingInformation", "acknowledgements.missingInformation",
              c.acknowledgements.missing_information);
    }
  }

  if (m.HasMember("mailboxes")) {
    if (!m["mailboxes"].IsArray()) bad("mailboxes", "an array expected");
    std::set<std::string> names;
    for (rapidjson::SizeType i = 0; m["mailboxes"].IsArray() && i < m["mailboxes"].Size(); ++i) {
      const auto& b = m["mailboxes"][i];
      const std::string at = "mailboxes[" + std::to_string(i) + "].";
      if (!b.IsObject()) {
        bad(at, "an object expected");
        continue;
      }
      known(b, at,
            {"name", "url", "folder", "processedFolder", "flagOnly", "user", "password",
             "saslExternal", "cert", "key", "ca", "pollSeconds", "timeoutSeconds", "ess"});
      MailboxSettings s;
      str(b, "name", at + "name", s.imap.name);
      str(b, "url", at + "url", s.imap.url);
      str(b, "folder", at + "folder", s.imap.folder);
      str(b, "processedFolder", at + "processedFolder", s.imap.processed_folder);
      boolean(b, "flagOnly", at + "flagOnly", s.imap.flag_instead_of_move);
      str(b, "user", at + "user", s.imap.user);
      str(b, "password", at + "password", s.imap.password);
      boolean(b, "saslExternal", at + "saslExternal", s.imap.sasl_external);
      file(b, "cert", at + "cert", s.imap.cert_file);
      file(b, "key", at + "key", s.imap.key_file);
      file(b, "ca", at + "ca", s.imap.ca_file);
      num(b, "pollSeconds", at + "pollSeconds", 1, 86400, s.poll_seconds);
      std::string ess;
      file(b, "ess", at + "ess", ess);
      s.ess = ess;
      int timeout = 60;
      num(b, "timeoutSeconds", at + "timeoutSeconds", 1, 3600, timeout);
      s.imap.timeout = std::chrono::seconds(timeout);
      if (s.imap.name.empty() || s.imap.name.find_first_of("/ ") != std::string::npos)
        bad(at + "name", "a short name without spaces or '/' is required");
      else if (!names.insert(s.imap.name).second)
        bad(at + "name", "two mailboxes have this name");
      if (s.imap.url.rfind("imaps://", 0) != 0 && s.imap.url.rfind("imap://", 0) != 0)
        bad(at + "url", "imaps://host:port or imap://host:port (STARTTLS) is required");
      if (s.imap.ca_file.empty()) bad(at + "ca", "the CA that signs the server is required");
      if (s.imap.cert_file.empty() != s.imap.key_file.empty())
        bad(at + "cert", "cert and key go together");
      c.mailboxes.push_back(std::move(s));
    }
  }

  if (m.HasMember("smtp")) {
    const auto& s = m["smtp"];
    if (!s.IsObject()) {
      bad("smtp", "an object expected");
    } else {
      known(s, "smtp.", {"url", "helo", "user", "password", "cert", "key", "ca", "timeoutSeconds"});
      mail::SmtpConfig smtp;
      str(s, "url", "smtp.url", smtp.url);
      str(s, "helo", "smtp.helo", smtp.helo_domain);
      str(s, "user", "smtp.user", smtp.user);
      str(s, "password", "smtp.password", smtp.password);
      file(s, "cert", "smtp.cert", smtp.cert_file);
      file(s, "key", "smtp.key", smtp.key_file);
      file(s, "ca", "smtp.ca", smtp.ca_file);
      int timeout = 60;
      num(s, "timeoutSeconds", "smtp.timeoutSeconds", 1, 3600, timeout);
      smtp.timeout = std::chrono::seconds(timeout);
      if (smtp.url.rfind("smtps://", 0) != 0 && smtp.url.rfind("smtp://", 0) != 0)
        bad("smtp.url", "smtps://host:port or smtp://host:port (STARTTLS) is required");
      if (smtp.ca_file.empty()) bad("smtp.ca", "the CA that signs the server is required");
      if (smtp.helo_domain.empty())
        smtp.helo_domain = c.acknowledgements.gateway.address.substr(
            c.acknowledgements.gateway.address.find('@') + 1);
      c.smtp = std::move(smtp);
    }
  }

  if (m.HasMember("outbox")) {
    const auto& o = m["outbox"];
    if (!o.IsObject()) {
      bad("outbox", "an object expected");
    } else {
      known(o, "outbox.",
            {"workers", "pollMs", "firstRetrySeconds", "maxRetrySeconds", "maxAttempts",
             "leaseSeconds", "recoverAfterSeconds"});
      num(o, "workers", "outbox.workers", 0, 16, c.outbox_workers);
      num(o, "pollMs", "outbox.pollMs", 10, 600000, c.outbox_poll_ms);
      std::int64_t first = c.retry.first_delay_ms / 1000;
      std::int64_t max = c.retry.max_delay_ms / 1000;
      num(o, "firstRetrySeconds", "outbox.firstRetrySeconds", 0, 86400, first);
      num(o, "maxRetrySeconds", "outbox.maxRetrySeconds", 0, 7 * 86400, max);
      c.retry.first_delay_ms = first * 1000;
      c.retry.max_delay_ms = max * 1000;
      num(o, "maxAttempts", "outbox.maxAttempts", 1, 1000, c.retry.max_attempts);
      num(o, "leaseSeconds", "outbox.leaseSeconds", 5, 86400, c.retry.lease_seconds);
      num(o, "recoverAfterSeconds", "outbox.recoverAfterSeconds", 0, 86400,
          c.recover_after_seconds);
    }
  }
  if (!ok) return std::nullopt;
  return c;
}

MailService::MailService(MailConfig config, std::string database, IntakeFactory intake,
                         pipeline::MailMetrics& metrics, std::ostream& log)
    : config_(std::move(config)),
      database_(std::move(database)),
      intake_(std::move(intake)),
      metrics_(&metrics),
      log_(&log) {}

MailService::~MailService() {
  stop();
}

MailService::Intakes MailService::intakesOver(Store& store) const {
  Intakes out;
  for (std::size_t i = 0; i < config_.mailboxes.size(); ++i)
    out.mailboxes.push_back(intake_(store, i));
  out.server.push_back(intake_(store, std::nullopt));
  return out;
}

const pipeline::StoredIntake& MailService::Intakes::forSource(
    std::string_view source, const std::vector<MailboxSettings>& settings) const {
  for (std::size_t i = 0; i < settings.size(); ++i) {
    const std::string prefix = "imap:" + settings[i].imap.name + "/";
    if (source.substr(0, prefix.size()) == prefix) return mailboxes[i];
  }
  return server.front();
}

void MailService::start() {
  for (std::size_t i = 0; i < config_.mailboxes.size(); ++i)
    threads_.emplace_back([this, i] { pollLoop(i); });
  if (config_.smtp) {
    for (int w = 0; w < config_.outbox_workers; ++w)
      threads_.emplace_back([this, w] { sendLoop(w); });
  }
}

void MailService::stop() {
  {
    std::lock_guard lock(wait_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool MailService::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(wait_mutex_);
  wake_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_;
}

namespace {

std::string describe(const Error& e) {
  return std::string(info(e.code).code) + ": " + e.detail;
}

}  // namespace

void MailService::pollLoop(std::size_t index) {
  const MailboxSettings& settings = config_.mailboxes[index];
  const std::string& name = settings.imap.name;
  auto say = [&](const std::string& line) {
    std::lock_guard lock(log_mutex_);
    *log_ << "liaison mail: " << name << ": " << line << std::endl;
  };
  auto opened_mailbox = mail::ImapMailbox::open(settings.imap);
  if (!opened_mailbox) {
    say(describe(opened_mailbox.error()));
    return;
  }
  mail::ImapMailbox& mailbox = **opened_mailbox;
  std::unique_ptr<pg::PgStore> store;
  std::chrono::milliseconds backoff(500);
  bool recovered = false;
  while (!stopping_) {
    if (!store) {
      auto opened = pg::PgStore::open(database_);
      if (!opened) {
        say("database: " + describe(opened.error()));
        if (!sleepFor(backoff)) return;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
        continue;
      }
      store = std::move(*opened);
    }
    const Intakes intakes = intakesOver(*store);
    const pipeline::StoredIntake& intake = intakes.mailboxes[index];
    // Interrupted messages first (once per start, then on each pass for older leftovers).
    auto redone = pipeline::recoverUnfinished(
        *store, *store,
        [&](std::string_view source) -> const pipeline::StoredIntake& {
          return intakes.forSource(source, config_.mailboxes);
        },
        recovered ? config_.recover_after_seconds : 0, metrics_);
    if (!redone) {
      say("recovery: " + describe(redone.error()));
      store.reset();
      if (!sleepFor(backoff)) return;
      continue;
    }
    if (*redone > 0) say(std::to_string(*redone) + " interrupted message(s) processed again");
    recovered = true;
    pipeline::MailboxIntake pull(mailbox, *store, *store, intake, metrics_);
    const auto began = std::chrono::steady_clock::now();
    // In slices, so that a backlog shows its progress in the log as it goes.
    auto pass = pull.drain(&stopping_, 500);
    if (!pass) {
      say(describe(pass.error()) + " (retrying)");
      if (pass.error().code == Errc::DbUnavailable || pass.error().code == Errc::DbError)
        store.reset();
      if (!sleepFor(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(60000));
      continue;
    }
    backoff = std::chrono::milliseconds(500);
    if (pass->processed + pass->duplicates + pass->reports > 0) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
      const std::uint64_t done = pass->processed + pass->duplicates + pass->reports;
      say(std::to_string(pass->processed) + " processed, " + std::to_string(pass->duplicates) +
          " already done, " + std::to_string(pass->reports) + " report(s) in " +
          std::to_string(static_cast<int>(secs * 1000)) + " ms" +
          (pass->waiting > done ? ", " + std::to_string(pass->waiting - done) + " still waiting"
                                : ""));
      continue;  // more may have arrived meanwhile
    }
    if (!sleepFor(std::chrono::seconds(settings.poll_seconds))) return;
  }
}

void MailService::sendLoop(int worker) {
  auto say = [&](const std::string& line) {
    std::lock_guard lock(log_mutex_);
    *log_ << "liaison outbox: " << line << std::endl;
  };
  auto opened_sender = mail::SmtpSender::open(*config_.smtp);
  if (!opened_sender) {
    say(describe(opened_sender.error()));
    return;
  }
  mail::SmtpSender& sender = **opened_sender;
  std::unique_ptr<pg::PgStore> store;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string id =
      std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(worker);
  while (!stopping_) {
    if (!store) {
      auto opened = pg::PgStore::open(database_);
      if (!opened) {
        say("database: " + describe(opened.error()));
        if (!sleepFor(std::chrono::seconds(2))) return;
        continue;
      }
      store = std::move(*opened);
    }
    pipeline::OutboxSender outbox(*store, sender, config_.retry, id, metrics_);
    auto sent = outbox.sendDue(16);
    if (!sent) {
      say(describe(sent.error()));
      store.reset();
      if (!sleepFor(std::chrono::seconds(1))) return;
      continue;
    }
    if (sent->leased == 0 && !sleepFor(std::chrono::milliseconds(config_.outbox_poll_ms))) return;
  }
}

bool MailService::runOnce() {
  auto say = [&](const std::string& line) { *log_ << "liaison pull: " << line << std::endl; };
  auto opened = pg::PgStore::open(database_);
  if (!opened) {
    say("database: " + describe(opened.error()));
    return false;
  }
  pg::PgStore& store = **opened;
  const Intakes intakes = intakesOver(store);
  bool ok = true;
  auto redone = pipeline::recoverUnfinished(
      store, store,
      [&](std::string_view source) -> const pipeline::StoredIntake& {
        return intakes.forSource(source, config_.mailboxes);
      },
      0, metrics_);
  if (!redone) {
    say("recovery: " + describe(redone.error()));
    return false;
  }
  for (std::size_t i = 0; i < config_.mailboxes.size(); ++i) {
    const MailboxSettings& settings = config_.mailboxes[i];
    const pipeline::StoredIntake& intake = intakes.mailboxes[i];
    auto mailbox = mail::ImapMailbox::open(settings.imap);
    if (!mailbox) {
      say(settings.imap.name + ": " + describe(mailbox.error()));
      ok = false;
      continue;
    }
    pipeline::MailboxIntake pull(**mailbox, store, store, intake, metrics_);
    auto pass = pull.drain();
    if (!pass) {
      say(settings.imap.name + ": " + describe(pass.error()));
      ok = false;
      continue;
    }
    say(settings.imap.name + ": " + std::to_string(pass->waiting) + " waiting, " +
        std::to_string(pass->processed) + " processed, " + std::to_string(pass->duplicates) +
        " already done, " + std::to_string(pass->reports) + " report(s)");
  }
  if (config_.smtp) {
    auto sender = mail::SmtpSender::open(*config_.smtp);
    if (!sender) {
      say("smtp: " + describe(sender.error()));
      return false;
    }
    pipeline::OutboxSender outbox(store, **sender, config_.retry, "pull", metrics_);
    pipeline::SendResult total;
    for (;;) {
      auto sent = outbox.sendDue(16);
      if (!sent) {
        say("outbox: " + describe(sent.error()));
        return false;
      }
      total.sent += sent->sent;
      total.retried += sent->retried;
      total.failed += sent->failed;
      if (sent->leased == 0) break;
    }
    say("outbox: " + std::to_string(total.sent) + " sent, " + std::to_string(total.retried) +
        " to retry, " + std::to_string(total.failed) + " failed");
  }
  return ok;
}

}  // namespace liaison::app
