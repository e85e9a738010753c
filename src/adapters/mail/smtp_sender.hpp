#pragma once
// Submission of mails over SMTP (implements core/ports/mail.hpp's MailSender) with libcurl:
// implicit TLS (smtps://) or STARTTLS required (smtp://), the mailbox's client certificate, one
// connection kept open between sends and reopened after any failure. libcurl stays in the .cpp.
//
// Errors: smtp-transient (a 4xx reply, network, timeout: retry later), smtp-permanent (a 5xx
// reply: do not retry as is), mail-tls-refused (handshake, certificate, or a reply refusing the
// client certificate), mail-auth-refused (SMTP AUTH refused), config-invalid (from open()).
// Details carry the server's reply line (it may name an address), never message contents.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/error/result.hpp"
#include "core/ports/mail.hpp"

namespace liaison::mail {

struct SmtpConfig {
  // smtps://host:port (implicit TLS) or smtp://host:port (then STARTTLS is required: never
  // plaintext). No path.
  std::string url;
  std::string helo_domain;  // the EHLO name (libcurl takes it from the URL's path)
  // SMTP AUTH, only when set and offered by the server (MSSanté: the certificate suffices).
  std::string user, password;
  // PEM files. The server certificate is always verified (against ca_file, else the system CAs).
  std::string cert_file, key_file, ca_file;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{60000};  // per message, including the connection
};

// Calls are serialised by a mutex (one connection).
class SmtpSender final : public MailSender {
 public:
  // Checks the configuration; connects on first send.
  static Result<std::unique_ptr<SmtpSender>> open(SmtpConfig config);
  ~SmtpSender() override;  // QUIT when connected
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  // One SMTP transaction. Line ends are sent as CRLF (LF and lone CR converted), dot-stuffing by
  // libcurl. All or nothing: when the server refuses one recipient, libcurl ends the transaction
  // before DATA and nothing is sent to anyone; the error is that recipient's reply (4xx →
  // smtp-transient, 5xx → smtp-permanent). The caller may then send to each recipient alone.
  Result<Unit> send(std::string_view mail_from, std::span<const std::string> recipients,
                    std::string_view bytes) override;

  // Connections opened so far (TLS handshake and EHLO each). For metrics and tests.
  std::uint64_t connectionsOpened() const;

 private:
  struct Impl;
  explicit SmtpSender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::mail
