#pragma once
// The mail ports: the mailboxes liaison pulls MSSanté messages from (IMAP in production) and the
// submission service it sends through (SMTP). Both are implemented by adapters/mail (libcurl,
// mutual TLS). Failures are values: a Transient one (network, timeout, 4xx) is retried, a
// Permanent one (5xx, refused certificate) is not.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"
#include "core/ports/store.hpp"

namespace liaison {

// The messages waiting in a mailbox's inbox folder. UIDs are only meaningful together with the
// folder's UIDVALIDITY (RFC 3501 §2.3.1.1).
struct WaitingMessages {
  std::uint32_t uid_validity = 0;
  std::vector<std::uint32_t> uids;  // ascending
};

class Mailbox {
 public:
  virtual ~Mailbox() = default;

  // A short name for logs, metrics and journal sources ("cardio-plus"); never patient data.
  virtual const std::string& name() const = 0;

  // The messages still in the inbox (processed ones have been moved out or flagged), ascending.
  virtual Result<WaitingMessages> waiting() = 0;

  // The exact bytes of one message.
  virtual Result<std::string> fetch(std::uint32_t uid) = 0;

  // Marks messages as taken by the gateway, so that `waiting()` no longer lists them: moved to
  // the processed folder (or flagged, when the mailbox is configured so), in one command. Only
  // called once the messages are safe in the journal. UIDs no longer there are no error.
  virtual Result<Unit> markProcessed(std::span<const std::uint32_t> uids) = 0;
  Result<Unit> markProcessed(std::uint32_t uid) { return markProcessed(std::span(&uid, 1)); }
};

class MailSender {
 public:
  virtual ~MailSender() = default;

  // Submits one message (RFC 5322 bytes, CRLF or LF line ends) to every recipient. Errors:
  // SmtpTransient (4xx, network, timeout: retry later), SmtpPermanent (5xx: do not retry),
  // MailTlsRefused / MailAuthRefused (configuration: the certificate or login was refused).
  virtual Result<Unit> send(std::string_view mail_from, std::span<const std::string> recipients,
                            std::string_view bytes) = 0;
};

}  // namespace liaison
