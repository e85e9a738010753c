#pragma once
// An MSSanté mailbox over IMAP (implements core/ports/mail.hpp's Mailbox) with libcurl: mutual
// TLS (the mailbox's client certificate), one connection kept open between calls and reopened
// after any failure, so that a poller survives a server restart. libcurl stays inside the .cpp.
//
// Errors: mail-unavailable (refused, timeout, disconnect: transient), mail-tls-refused (handshake
// or certificate), mail-auth-refused (login denied), mail-protocol (an unexpected or negative
// reply), config-invalid (from open()). Details carry the server's status line, never message
// contents.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/error/result.hpp"
#include "core/ports/mail.hpp"

namespace liaison::mail {

struct ImapConfig {
  std::string name;  // for logs and the journal's source ("cardio-plus")
  // imaps://host:port (implicit TLS) or imap://host:port (then STARTTLS is required: never
  // plaintext). No path.
  std::string url;
  std::string folder = "INBOX";                        // where messages arrive (ASCII name)
  std::string processed_folder = "liaison-processed";  // created on first use
  // Instead of moving a processed message, keep it in `folder` with the keyword
  // $LiaisonProcessed (for a mailbox other clients also read).
  bool flag_instead_of_move = false;
  // false: COPY + STORE \Deleted + UID EXPUNGE even where the server offers MOVE (RFC 6851).
  bool use_move = true;
  // LOGIN/PLAIN credentials. With a client certificate, MSSanté servers take the identity from
  // the certificate; sasl_external then logs in with AUTHENTICATE EXTERNAL (user, if any, is the
  // authorisation identity).
  std::string user, password;
  bool sasl_external = false;
  // PEM files. The server certificate is always verified (against ca_file, else the system CAs),
  // and its name against the URL's host.
  std::string cert_file, key_file, ca_file;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{60000};  // per command, including the connection
};

// Thread-safe: calls are serialised by a mutex (one connection).
class ImapMailbox final : public Mailbox {
 public:
  // Checks the configuration (URL, folder names, files readable); connects on first use, so a
  // server that is down now is not an error here.
  static Result<std::unique_ptr<ImapMailbox>> open(ImapConfig config);
  ~ImapMailbox() override;  // LOGOUT when connected
  ImapMailbox(const ImapMailbox&) = delete;
  ImapMailbox& operator=(const ImapMailbox&) = delete;

  const std::string& name() const override;

  // UID SEARCH (UNDELETED, and NOT KEYWORD $LiaisonProcessed in flag mode) in `folder`, with the
  // folder's UIDVALIDITY from the SELECT of the current connection.
  Result<WaitingMessages> waiting() override;

  // UID FETCH uid BODY[]: the exact bytes (the server sets \Seen). mail-protocol when the UID is
  // not in `folder`.
  Result<std::string> fetch(std::uint32_t uid) override;

  // UID MOVE to `processed_folder` (or the COPY fallback), or in flag mode UID STORE
  // +FLAGS ($LiaisonProcessed). Succeeds for a UID no longer in `folder` (already processed).
  Result<Unit> markProcessed(std::span<const std::uint32_t> uids) override;
  using Mailbox::markProcessed;

  // Connections opened so far (TLS handshake and login each): stays 1 while the server keeps the
  // connection. For metrics and tests.
  std::uint64_t connectionsOpened() const;

 private:
  struct Impl;
  explicit ImapMailbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::mail
