#pragma once
// The MSSanté transport of `liaison serve` and `liaison pull`: the "mail" section of the
// configuration, one poller thread per mailbox, and outbox workers.

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "adapters/mail/imap_mailbox.hpp"
#include "adapters/mail/smtp_sender.hpp"
#include "pipeline/acknowledgement.hpp"
#include "pipeline/mail_transport.hpp"

namespace liaison::app {

struct MailboxSettings {
  mail::ImapConfig imap;
  int poll_seconds = 10;
  // The mailbox's lease in the database (two gateways on one database poll it one at a time): a
  // gateway that stops renewing it is taken over after this long.
  int lease_seconds = 30;
  std::filesystem::path ess;  // the ESS this mailbox serves ("" = the server's)
};

struct MailConfig {
  pipeline::AcknowledgementPolicy acknowledgements;
  std::vector<MailboxSettings> mailboxes;
  std::optional<mail::SmtpConfig> smtp;  // no SMTP: answers wait in the outbox
  pipeline::RetryPolicy retry;
  int outbox_workers = 1;
  int outbox_poll_ms = 1000;
  int recover_after_seconds = 60;  // a journaled message without outcome older than this is redone
};

// Reads the "mail" object of the configuration file; paths are relative to `base`. Every field
// is checked and named in the error.
std::optional<MailConfig> readMailConfig(const rapidjson::Value& mail,
                                         const std::filesystem::path& base, std::ostream& err);

// The threads: each mailbox polled by its own (recovering interrupted messages first), the
// outbox sent by `outbox_workers`. Each thread has its own database connection. A mailbox is
// polled only while this process holds its lease in the database (renewed before every batch and
// between polls); otherwise its thread stands by and takes the mailbox over once the holder's
// lease runs out (the holder died or is stuck): within leaseSeconds plus a third of it.
class MailService {
 public:
  // The intake of a mailbox (by index; nullopt: the server's own, for other sources) over one
  // thread's store (StoredIntake keeps a reference to it).
  using IntakeFactory =
      std::function<pipeline::StoredIntake(Store&, std::optional<std::size_t> mailbox)>;
  MailService(MailConfig config, std::string database, IntakeFactory intake,
              pipeline::MailMetrics& metrics, std::ostream& log);
  ~MailService();

  void start();
  void stop();  // returns once every thread has finished its current message

  // Once, in the calling thread: recover, drain every mailbox, send what is due until nothing is
  // (retries that are not yet due are left). For `liaison pull`. false when something failed.
  bool runOnce();

 private:
  void pollLoop(std::size_t mailbox);
  void sendLoop(int worker);
  bool sleepFor(std::chrono::milliseconds d);  // false when stopping
  // The intakes of every mailbox and the server's, over `store`, and the choice by source.
  struct Intakes {
    std::vector<pipeline::StoredIntake> mailboxes;
    std::vector<pipeline::StoredIntake> server;  // one
    const pipeline::StoredIntake& forSource(std::string_view source,
                                            const std::vector<MailboxSettings>& settings) const;
  };
  Intakes intakesOver(Store& store) const;

  MailConfig config_;
  std::string database_;
  IntakeFactory intake_;
  pipeline::MailMetrics* metrics_;
  std::ostream* log_;
  std::string holder_;  // this process in mailbox leases: host:pid:random
  std::mutex log_mutex_;
  std::atomic<bool> stopping_{false};
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> threads_;
};

}  // namespace liaison::app
