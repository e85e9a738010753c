#include "adapters/mail/imap_mailbox.hpp"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/mail/curl_util.hpp"
#include "core/text/ascii.hpp"

// How libcurl (7.88) runs IMAP, which this file relies on:
// - A URL with a mailbox (imaps://h:p/INBOX) makes libcurl SELECT it first, unless the reused
//   connection has it selected already; the SELECT's untagged lines ("* OK [UIDVALIDITY n]") reach
//   the header callback. A URL without a mailbox runs a CUSTOMREQUEST as is.
// - A CUSTOMREQUEST's untagged replies go to the write callback; its tagged NO/BAD is
//   CURLE_QUOTE_ERROR. Every reply line also goes to the header callback.
// - imaps://h:p/INBOX;UID=n is "UID FETCH n BODY[]": the literal goes to the write callback.
//   libcurl takes the first untagged FETCH line for the one with the literal: an unsolicited
//   FETCH just before it (flags changed by another client) fails the call (mail-protocol,
//   transient); the next call, on a new connection, is not affected.
// So the connection's selected mailbox is always `folder` or none: custom commands never SELECT.

namespace liaison::mail {
namespace {

using ascii::containsNoCase;
using ascii::startsWithNoCase;

constexpr std::string_view kProcessedKeyword = "$LiaisonProcessed";

// Printable ASCII without the LIST wildcards, the quoting characters and "&" (which starts
// modified UTF-7, RFC 3501 §5.1.3).
bool validFolderName(std::string_view name) {
  constexpr std::string_view kForbidden = "*%\"\\&";
  return !name.empty() && name.size() <= 200 && std::all_of(name.begin(), name.end(), [&](char ch) {
    return ch >= 0x20 && ch < 0x7f && kForbidden.find(ch) == std::string_view::npos;
  });
}

// An IMAP quoted string (RFC 3501 §9) of a checked folder name.
std::string quoted(std::string_view s) {
  std::string q = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') q += '\\';
    q += ch;
  }
  return q + '"';
}

std::optional<std::uint32_t> parseUint(std::string_view s) {
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  return v;
}

// The untagged lines of a reply that start with `prefix` ("* SEARCH"), without it.
std::vector<std::string_view> untagged(std::string_view body, std::string_view prefix) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    const std::size_t eol = body.find('\n');
    std::string_view line = body.substr(0, eol);
    body = eol == std::string_view::npos ? std::string_view() : body.substr(eol + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
      line.remove_suffix(1);
    if (startsWithNoCase(line, prefix) &&
        (line.size() == prefix.size() || line[prefix.size()] == ' '))
      lines.push_back(line.substr(prefix.size()));
  }
  return lines;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ')
      ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ')
      ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

struct ImapMailbox::Impl {
  ImapConfig config;
  detail::TlsSettings tls;
  std::string base_url;    // imaps://host:port/
  std::string folder_url;  // imaps://host:port/<folder, URL-escaped>
  std::mutex mutex;

  detail::CurlPtr curl;
  char errbuf[CURL_ERROR_SIZE] = {};
  std::uint64_t connections = 0;
  std::uint32_t uid_validity = 0;  // of `folder`, from the SELECT on the current connection
  bool processed_folder_ready = false;
  std::optional<bool> has_move, has_uidplus;  // from CAPABILITY, once

  // Per transfer, filled by the callbacks.
  std::string* sink = nullptr;
  std::string reply;  // the last status line (tag removed, or "* BYE …") before any LOGOUT
  detail::GoodbyeWatch goodbye{"LOGOUT"};
  std::uint32_t seen_uid_validity = 0;

  // The handle first: its LOGOUT still runs the callbacks, which use the members above.
  ~Impl() { curl.reset(); }

  static std::size_t onBody(char* data, std::size_t size, std::size_t n, void* self) {
    auto* impl = static_cast<Impl*>(self);
    if (impl->sink != nullptr) impl->sink->append(data, size * n);
    return size * n;
  }

  // Every reply line. Kept: UIDVALIDITY, and the status line for error details. Other untagged
  // lines (search results, a FETCH line) are not kept: they may describe message contents.
  static std::size_t onLine(char* data, std::size_t size, std::size_t n, void* self) {
    auto* impl = static_cast<Impl*>(self);
    if (impl->goodbye.sent) return size * n;
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
      line.remove_suffix(1);
    if (startsWithNoCase(line, "* OK [UIDVALIDITY ")) {
      const std::string_view rest = line.substr(18);
      if (auto v = parseUint(rest.substr(0, rest.find(']')))) impl->seen_uid_validity = *v;
    } else if (startsWithNoCase(line, "* BYE") || startsWithNoCase(line, "* NO") ||
               startsWithNoCase(line, "* BAD")) {
      impl->reply = detail::printable(line);
    } else if (!line.empty() && line[0] != '*' && line[0] != '+') {
      const std::size_t sp = line.find(' ');
      const std::string_view status =
          sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
      if (startsWithNoCase(status, "OK") || startsWithNoCase(status, "NO") ||
          startsWithNoCase(status, "BAD"))
        impl->reply = detail::printable(status);
    }
    return size * n;
  }

  Result<Unit> connectHandle() {
    auto handle = detail::newHandle("imap,imaps", tls, errbuf);
    if (!handle) return handle.error();
    CURL* c = handle->get();
    bool ok = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::onBody) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEDATA, this) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Impl::onLine) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERDATA, this) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_USERNAME, config.user.c_str()) == CURLE_OK &&
              // libcurl only offers EXTERNAL without a password.
              curl_easy_setopt(c, CURLOPT_PASSWORD,
                               config.sasl_external ? "" : config.password.c_str()) == CURLE_OK;
    if (ok && config.sasl_external)
      ok = curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, "AUTH=EXTERNAL") == CURLE_OK;
    if (!ok) return makeError(Errc::Internal, "libcurl refused an IMAP option");
    if (auto r = detail::watchGoodbye(c, &goodbye); !r) return r;
    curl = std::move(*handle);
    uid_validity = 0;
    return Unit{};
  }

  // Drops the connection: the next command reconnects (and SELECTs again).
  void reset() {
    curl.reset();
    uid_validity = 0;
  }

  // One command. `custom` null: what the URL says (SELECT + FETCH). On any failure the
  // connection is dropped, whatever libcurl would have done with it.
  //
  // A kept connection the server has closed meanwhile (restart, idle logout) still looks alive to
  // libcurl when the server's "* BYE" is waiting to be read: the command fails on it. Then it is
  // sent once more on a new connection. Safe: every command here can be repeated (SEARCH, FETCH,
  // STORE +FLAGS, LIST, CREATE; MOVE of a UID no longer there is a no-op). At worst, a COPY that
  // the server did just before dying leaves a second copy in the processed folder.
  Result<Unit> run(std::string_view op, const std::string& url, const std::string* custom,
                   std::string* out) {
    for (int attempt = 0;; ++attempt) {
      if (!curl) {
        if (auto r = connectHandle(); !r) return r.error();
      }
      CURL* c = curl.get();
      if (out != nullptr) out->clear();
      sink = out;
      reply.clear();
      goodbye.sent = false;
      seen_uid_validity = 0;
      errbuf[0] = '\0';
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom != nullptr ? custom->c_str() : nullptr);
      const CURLcode rc = curl_easy_perform(c);
      sink = nullptr;
      long opened = 0;
      curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &opened);
      if (opened > 0) {
        connections += static_cast<std::uint64_t>(opened);
        uid_validity = 0;  // a new connection: only its own SELECT tells
      }
      if (seen_uid_validity != 0) uid_validity = seen_uid_validity;
      if (rc == CURLE_OK) return Unit{};
      Error e = errorOf(op, rc);
      reset();
      const bool stale =
          opened == 0 && rc != CURLE_OPERATION_TIMEDOUT && e.code == Errc::MailUnavailable;
      if (attempt == 0 && stale) continue;
      return e;
    }
  }

  Error errorOf(std::string_view op, CURLcode rc) const {
    std::string detail = "IMAP " + config.name + " " + detail::describe(op, rc, errbuf, reply);
    switch (detail::classify(rc, errbuf)) {
      case detail::Failure::Network:
        return makeError(Errc::MailUnavailable, std::move(detail));
      case detail::Failure::Tls:
        return makeError(Errc::MailTlsRefused, std::move(detail));
      case detail::Failure::Auth:
        return makeError(Errc::MailAuthRefused, std::move(detail));
      case detail::Failure::Config:
        return makeError(Errc::ConfigInvalid, std::move(detail));
      case detail::Failure::Protocol:
        break;
    }
    // The server closing the session ("* BYE", not asked for) is a disconnect, not a bad reply.
    if (startsWithNoCase(reply, "* BYE"))
      return makeError(Errc::MailUnavailable, std::move(detail));
    return makeError(Errc::MailProtocol, std::move(detail));
  }

  Result<Unit> command(std::string_view op, const std::string& url, const std::string& text,
                       std::string* out = nullptr) {
    return run(op, url, &text, out);
  }

  Result<Unit> loadCapabilities() {
    if (has_move) return Unit{};
    std::string out;
    if (auto r = command("CAPABILITY", base_url, "CAPABILITY", &out); !r) return r;
    bool move = false, uidplus = false;
    for (const std::string_view line : untagged(out, "* CAPABILITY")) {
      for (const std::string_view w : words(line)) {
        if (startsWithNoCase(w, "MOVE") && w.size() == 4) move = true;
        if (startsWithNoCase(w, "UIDPLUS") && w.size() == 7) uidplus = true;
      }
    }
    has_move = move;
    has_uidplus = uidplus;
    return Unit{};
  }

  Result<Unit> moveToProcessed(const std::string& uid) {
    const std::string target = quoted(config.processed_folder);
    if (config.use_move && *has_move)
      return command("MOVE", folder_url, "UID MOVE " + uid + " " + target);
    // RFC 3501 without MOVE: copy, mark deleted (waiting() skips it from then on), expunge only
    // that UID (UIDPLUS); a plain EXPUNGE would also remove what other clients marked.
    if (auto r = command("COPY", folder_url, "UID COPY " + uid + " " + target); !r) return r;
    if (auto r = command("STORE", folder_url, "UID STORE " + uid + " +FLAGS.SILENT (\\Deleted)");
        !r)
      return r;
    if (*has_uidplus) return command("EXPUNGE", folder_url, "UID EXPUNGE " + uid);
    return Unit{};
  }

  Result<Unit> ensureProcessedFolder() {
    if (processed_folder_ready) return Unit{};
    const std::string name = quoted(config.processed_folder);
    std::string out;
    if (auto r = command("LIST", base_url, "LIST \"\" " + name, &out); !r) return r;
    if (untagged(out, "* LIST").empty()) {
      if (auto r = command("CREATE", base_url, "CREATE " + name); !r) {
        // Created meanwhile by another client (RFC 5530 response code): fine.
        if (!containsNoCase(reply, "[ALREADYEXISTS]")) return r;
      }
    }
    processed_folder_ready = true;
    return Unit{};
  }
};

ImapMailbox::ImapMailbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImapMailbox::~ImapMailbox() = default;

Result<std::unique_ptr<ImapMailbox>> ImapMailbox::open(ImapConfig config) {
  const std::string what = "IMAP mailbox " + config.name;
  if (auto r = detail::checkUrl(config.url, {"imaps", "imap"}, what); !r) return r.error();
  if (!validFolderName(config.folder) || !validFolderName(config.processed_folder) ||
      config.folder == config.processed_folder)
    return makeError(Errc::ConfigInvalid,
                     what + ": folder names must be distinct printable ASCII without * or %");
  if (config.user.empty() && !config.sasl_external)
    return makeError(Errc::ConfigInvalid, what + ": a user (or sasl_external) is required");
  auto impl = std::make_unique<Impl>();
  impl->tls = {config.cert_file, config.key_file, config.ca_file, config.connect_timeout,
               config.timeout};
  if (auto r = detail::checkTlsFiles(impl->tls, what); !r) return r.error();
  detail::initCurl();
  impl->base_url = config.url + "/";
  char* escaped =
      curl_easy_escape(nullptr, config.folder.c_str(), static_cast<int>(config.folder.size()));
  if (escaped == nullptr) return makeError(Errc::Internal, "curl_easy_escape failed");
  impl->folder_url = impl->base_url + escaped;
  curl_free(escaped);
  impl->config = std::move(config);
  return std::unique_ptr<ImapMailbox>(new ImapMailbox(std::move(impl)));
}

const std::string& ImapMailbox::name() const {
  return impl_->config.name;
}

std::uint64_t ImapMailbox::connectionsOpened() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

Result<WaitingMessages> ImapMailbox::waiting() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  const std::string search = m.config.flag_instead_of_move ? "UID SEARCH UNDELETED NOT KEYWORD " +
                                                                 std::string(kProcessedKeyword)
                                                           : "UID SEARCH UNDELETED";
  std::string out;
  if (auto r = m.command("SEARCH", m.folder_url, search, &out); !r) return r.error();
  WaitingMessages result;
  for (const std::string_view line : untagged(out, "* SEARCH")) {
    for (const std::string_view w : words(line)) {
      const auto uid = parseUint(w);
      if (!uid)
        return makeError(Errc::MailProtocol, "IMAP " + m.config.name + ": bad SEARCH reply");
      result.uids.push_back(*uid);
    }
  }
  std::sort(result.uids.begin(), result.uids.end());
  result.uids.erase(std::unique(result.uids.begin(), result.uids.end()), result.uids.end());
  if (m.uid_validity == 0) {
    // Not seen on this connection (not expected: every connection SELECTs before searching).
    std::string status;
    if (auto r = m.command("STATUS", m.base_url,
                           "STATUS " + quoted(m.config.folder) + " (UIDVALIDITY)", &status);
        !r)
      return r.error();
    for (const std::string_view line : untagged(status, "* STATUS")) {
      const std::size_t at = line.find("UIDVALIDITY ");
      if (at == std::string_view::npos) continue;
      const std::string_view rest = line.substr(at + 12);
      if (auto v = parseUint(rest.substr(0, rest.find_first_of(" )")))) m.uid_validity = *v;
    }
    if (m.uid_validity == 0)
      return makeError(Errc::MailProtocol, "IMAP " + m.config.name + ": no UIDVALIDITY");
  }
  result.uid_validity = m.uid_validity;
  return result;
}

Result<std::string> ImapMailbox::fetch(std::uint32_t uid) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::string bytes;
  if (auto r = m.run("FETCH UID " + std::to_string(uid),
                     m.folder_url + ";UID=" + std::to_string(uid), nullptr, &bytes);
      !r)
    return r.error();
  return bytes;
}

Result<Unit> ImapMailbox::markProcessed(std::span<const std::uint32_t> uids) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (uids.empty()) return Unit{};
  // An IMAP sequence set, runs compressed ("3:7,9"): one command for a whole batch.
  std::vector<std::uint32_t> sorted(uids.begin(), uids.end());
  std::sort(sorted.begin(), sorted.end());
  std::string id;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] <= sorted[j] + 1)
      ++j;
    if (!id.empty()) id += ',';
    id += std::to_string(sorted[i]);
    if (sorted[j] != sorted[i]) id += ":" + std::to_string(sorted[j]);
    i = j + 1;
  }
  if (m.config.flag_instead_of_move)
    return m.command("STORE", m.folder_url,
                     "UID STORE " + id + " +FLAGS.SILENT (" + std::string(kProcessedKeyword) + ")");
  if (auto r = m.loadCapabilities(); !r) return r;
  for (int attempt = 0;; ++attempt) {
    if (auto r = m.ensureProcessedFolder(); !r) return r;
    auto moved = m.moveToProcessed(id);
    // The folder was deleted since it was made (RFC 3501 [TRYCREATE]): make it again, once.
    if (!moved && attempt == 0 && containsNoCase(m.reply, "[TRYCREATE]")) {
      m.processed_folder_ready = false;
      continue;
    }
    return moved;
  }
}

}  // namespace liaison::mail
