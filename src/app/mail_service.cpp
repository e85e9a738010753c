#include "app/mail_service.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <random>
#include <set>

#include "adapters/pg/pg_store.hpp"
#include "app/config_schema.hpp"

namespace liaison::app {
namespace fs = std::filesystem;
std::optional<MailConfig> readMailConfig(const rapidjson::Value& mail, const fs::path& base,
                                         std::ostream& err) {
  // Types, ranges and unknown settings: schemas/serve.schema.json (#/definitions/mail), checked
  // before. Here what a schema cannot say: files readable, names unique, settings that go together.
  MailConfig c;
  bool ok = true;
  auto bad = [&](const std::string& field, const std::string& why) {
    err << "liaison: configuration: mail." << field << ": " << why << "\n";
    ok = false;
  };
  auto file = [&](const ConfigObject& o, const char* k, const std::string& field,
                  std::string& into) {
    auto name = o.string(k);
    if (!name || name->empty()) return;
    fs::path p(*name);
    if (p.is_relative()) p = base / p;
    into = p.string();
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) bad(field, "cannot read " + into);
  };
  const ConfigObject m(mail);
  const ConfigObject gateway = m.object("gateway");
  c.acknowledgements.gateway.address = gateway.string("address").value_or("");
  c.acknowledgements.gateway.name = gateway.string("name").value_or("");
  c.acknowledgements.nil = m.string("nil").value_or("");
  const ConfigObject acks = m.object("acknowledgements");
  c.acknowledgements.mdn = acks.boolean("mdn").value_or(c.acknowledgements.mdn);
  c.acknowledgements.notices = acks.boolean("notices").value_or(c.acknowledgements.notices);
  c.acknowledgements.missing_information =
      acks.boolean("missingInformation").value_or(c.acknowledgements.missing_information);

  std::set<std::string> names;
  const rapidjson::Value* boxes = m.member("mailboxes");
  for (rapidjson::SizeType i = 0; boxes && boxes->IsArray() && i < boxes->Size(); ++i) {
    const ConfigObject b((*boxes)[i]);
    const std::string at = "mailboxes[" + std::to_string(i) + "].";
    MailboxSettings s;
    s.imap.name = b.string("name").value_or("");
    s.imap.url = b.string("url").value_or("");
    s.imap.folder = b.string("folder").value_or(s.imap.folder);
    s.imap.processed_folder = b.string("processedFolder").value_or(s.imap.processed_folder);
    s.imap.flag_instead_of_move = b.boolean("flagOnly").value_or(false);
    s.imap.user = b.string("user").value_or("");
    s.imap.password = b.string("password").value_or("");
    s.imap.sasl_external = b.boolean("saslExternal").value_or(false);
    file(b, "cert", at + "cert", s.imap.cert_file);
    file(b, "key", at + "key", s.imap.key_file);
    file(b, "ca", at + "ca", s.imap.ca_file);
    s.poll_seconds = static_cast<int>(b.integer("pollSeconds").value_or(s.poll_seconds));
    s.lease_seconds = static_cast<int>(b.integer("leaseSeconds").value_or(s.lease_seconds));
    std::string ess;
    file(b, "ess", at + "ess", ess);
    s.ess = ess;
    s.imap.timeout = std::chrono::seconds(b.integer("timeoutSeconds").value_or(60));
    if (!names.insert(s.imap.name).second) bad(at + "name", "two mailboxes have this name");
    if (s.imap.cert_file.empty() != s.imap.key_file.empty())
      bad(at + "cert", "cert and key go together");
    c.mailboxes.push_back(std::move(s));
  }

  if (m.member("smtp")) {
    const ConfigObject s = m.object("smtp");
    mail::SmtpConfig smtp;
    smtp.url = s.string("url").value_or("");
    smtp.helo_domain = s.string("helo").value_or("");
    smtp.user = s.string("user").value_or("");
    smtp.password = s.string("password").value_or("");
    file(s, "cert", "smtp.cert", smtp.cert_file);
    file(s, "key", "smtp.key", smtp.key_file);
    file(s, "ca", "smtp.ca", smtp.ca_file);
    smtp.timeout = std::chrono::seconds(s.integer("timeoutSeconds").value_or(60));
    if (smtp.cert_file.empty() != smtp.key_file.empty())
      bad("smtp.cert", "cert and key go together");
    if (smtp.helo_domain.empty())
      smtp.helo_domain = c.acknowledgements.gateway.address.substr(
          c.acknowledgements.gateway.address.find('@') + 1);
    c.smtp = std::move(smtp);
  }

  const ConfigObject o = m.object("outbox");
  c.outbox_workers = static_cast<int>(o.integer("workers").value_or(c.outbox_workers));
  c.outbox_poll_ms = static_cast<int>(o.integer("pollMs").value_or(c.outbox_poll_ms));
  c.retry.first_delay_ms =
      o.integer("firstRetrySeconds").value_or(c.retry.first_delay_ms / 1000) * 1000;
  c.retry.max_delay_ms = o.integer("maxRetrySeconds").value_or(c.retry.max_delay_ms / 1000) * 1000;
  c.retry.max_attempts = static_cast<int>(o.integer("maxAttempts").value_or(c.retry.max_attempts));
  c.retry.lease_seconds =
      static_cast<int>(o.integer("leaseSeconds").value_or(c.retry.lease_seconds));
  c.recover_after_seconds =
      static_cast<int>(o.integer("recoverAfterSeconds").value_or(c.recover_after_seconds));
  if (!ok) return std::nullopt;
  return c;
}

MailService::MailService(MailConfig config, std::string database, IntakeFactory intake,
                         pipeline::MailMetrics& metrics, std::ostream& log)
    : config_(std::move(config)),
      database_(std::move(database)),
      intake_(std::move(intake)),
      metrics_(&metrics),
      log_(&log) {
  // Unique per process even where pids repeat (containers, a restart under the same pid).
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  char nonce[9] = {};
  std::snprintf(nonce, sizeof nonce, "%08x", std::random_device{}());
  holder_ = std::string(host) + ":" + std::to_string(getpid()) + ":" + nonce;
}

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

// Whether a lease holder ("host:pid:nonce") is a process of this host that no longer exists: a
// gateway restarted after a crash need not wait for its former self's lease to run out. Only ever
// says so of this host's processes (another host's are left to their lease); a pid that was
// reused since looks alive, and the lease runs out as usual.
bool holderIsGone(const std::string& holder, const std::string& self) {
  const std::size_t nonce = holder.rfind(':');
  const std::size_t pid_at =
      nonce == std::string::npos || nonce == 0 ? std::string::npos : holder.rfind(':', nonce - 1);
  const std::size_t self_pid = self.rfind(':', self.rfind(':') - 1);
  if (pid_at == std::string::npos || pid_at != self_pid ||
      holder.compare(0, pid_at, self, 0, self_pid) != 0)
    return false;  // another host
  const std::string pid_text = holder.substr(pid_at + 1, nonce - pid_at - 1);
  if (pid_text.empty() || pid_text.size() > 9 ||
      pid_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const auto pid = static_cast<pid_t>(std::stol(pid_text));
  if (pid == getpid()) return holder != self;  // a former process under our pid (a container)
  return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
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
  // The lease is renewed (or, standing by, asked for) three times per lease period: a holder
  // that is merely slow keeps it, a dead one is taken over within lease + lease / 3.
  const std::chrono::milliseconds tick(std::max(settings.lease_seconds * 1000 / 3, 200));
  bool held = false;
  auto setHeld = [&](bool now_held) {  // and the gauge of mailboxes this process polls
    if (now_held != held) {
      if (now_held)
        metrics_->mailboxes_held.fetch_add(1);
      else
        metrics_->mailboxes_held.fetch_sub(1);
    }
    held = now_held;
  };
  std::string waiting_for;  // the holder we stand by for, as last said in the log
  auto next_pass = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (!store) {
      auto opened = pg::PgStore::open(database_);
      if (!opened) {
        say("database: " + describe(opened.error()));
        if (!sleepFor(backoff)) break;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
        continue;
      }
      store = std::move(*opened);
    }
    auto lease = store->holdMailbox(name, holder_, settings.lease_seconds);
    if (lease && !lease->held && holderIsGone(lease->holder, holder_))
      lease = store->holdMailbox(name, holder_, settings.lease_seconds, lease->holder);
    if (!lease) {
      say("lease: " + describe(lease.error()));
      store.reset();
      if (!sleepFor(backoff)) break;
      continue;
    }
    if (!lease->held) {
      if (held || waiting_for != lease->holder)
        say("polled by " + lease->holder + ": standing by until its lease runs out");
      setHeld(false);
      waiting_for = lease->holder;
      if (!sleepFor(tick)) break;
      continue;
    }
    if (lease->acquired) {
      say("mailbox lease taken by " + holder_ + " (" + std::to_string(settings.lease_seconds) +
          " s)");
      recovered = false;  // what a previous holder left unfinished is processed at once
    }
    setHeld(true);
    waiting_for.clear();
    if (const auto now = std::chrono::steady_clock::now(); now < next_pass) {
      if (!sleepFor(std::min(
              tick, std::chrono::duration_cast<std::chrono::milliseconds>(next_pass - now) +
                        std::chrono::milliseconds(1))))
        break;
      continue;
    }
    const Intakes intakes = intakesOver(*store);
    const pipeline::StoredIntake& intake = intakes.mailboxes[index];
    // Interrupted messages first (once per start or takeover, then on each pass for older
    // leftovers).
    auto redone = pipeline::recoverUnfinished(
        *store, *store,
        [&](std::string_view source) -> const pipeline::StoredIntake& {
          return intakes.forSource(source, config_.mailboxes);
        },
        recovered ? config_.recover_after_seconds : 0, metrics_);
    if (!redone) {
      say("recovery: " + describe(redone.error()));
      store.reset();
      if (!sleepFor(backoff)) break;
      continue;
    }
    if (*redone > 0) say(std::to_string(*redone) + " interrupted message(s) processed again");
    recovered = true;
    pipeline::MailboxIntake pull(mailbox, *store, *store, intake, metrics_);
    pull.beforeEachBatch([&] {
      auto renewed = store->holdMailbox(name, holder_, settings.lease_seconds);
      return renewed && renewed->held;
    });
    const auto began = std::chrono::steady_clock::now();
    // In slices, so that a backlog shows its progress in the log as it goes.
    auto pass = pull.drain(&stopping_, 500);
    if (!pass) {
      say(describe(pass.error()) + " (retrying)");
      if (pass.error().code == Errc::DbUnavailable || pass.error().code == Errc::DbError)
        store.reset();
      if (!sleepFor(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(60000));
      continue;
    }
    backoff = std::chrono::milliseconds(500);
    if (pass->lease_lost) {
      say("mailbox lease lost: another gateway polls it now");
      setHeld(false);
      continue;
    }
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
    next_pass = std::chrono::steady_clock::now() + std::chrono::seconds(settings.poll_seconds);
  }
  // A graceful stop hands the mailbox over at once (a rolling upgrade), not after the lease.
  if (held && store) (void)store->releaseMailbox(name, holder_);
  setHeld(false);
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
    const std::string& name = settings.imap.name;
    const pipeline::StoredIntake& intake = intakes.mailboxes[i];
    // A gateway that polls this mailbox now keeps it: the pass leaves it alone.
    auto lease = store.holdMailbox(name, holder_, settings.lease_seconds);
    if (lease && !lease->held && holderIsGone(lease->holder, holder_))
      lease = store.holdMailbox(name, holder_, settings.lease_seconds, lease->holder);
    if (!lease) {
      say(name + ": lease: " + describe(lease.error()));
      ok = false;
      continue;
    }
    if (!lease->held) {
      say(name + ": polled by " + lease->holder + ", left to it");
      continue;
    }
    struct Release {
      pg::PgStore& store;
      const std::string& name;
      const std::string& holder;
      ~Release() { (void)store.releaseMailbox(name, holder); }
    } release{store, name, holder_};
    auto mailbox = mail::ImapMailbox::open(settings.imap);
    if (!mailbox) {
      say(settings.imap.name + ": " + describe(mailbox.error()));
      ok = false;
      continue;
    }
    pipeline::MailboxIntake pull(**mailbox, store, store, intake, metrics_);
    pull.beforeEachBatch([&] {
      auto renewed = store.holdMailbox(name, holder_, settings.lease_seconds);
      return renewed && renewed->held;
    });
    auto pass = pull.drain();
    if (pass && pass->lease_lost) {
      say(name + ": mailbox lease lost to another gateway");
      ok = false;
      continue;
    }
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
