#include "adapters/mail/smtp_sender.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "adapters/mail/curl_util.hpp"
#include "core/text/ascii.hpp"

// How libcurl (7.88) runs SMTP, which this file relies on:
// - The URL's path is the EHLO name. CURLUSESSL_ALL makes smtp:// require STARTTLS.
// - A refused RCPT ends the transfer with CURLE_SEND_ERROR, the same code as a network failure:
//   the reply code (CURLINFO_RESPONSE_CODE, and the reply line from the header callback) tells.
//   CURLOPT_MAIL_RCPT_ALLLOWFAILS (7.69; spelt ALLOWFAILS from 8.2) would send to the accepted
//   recipients only, without saying which were refused: not used.
// - The upload is dot-stuffed by libcurl, which expects CRLF line ends (its CURLOPT_CRLF would
//   turn CRLF into CR CR LF): the message is converted here.
// - A handle reused after a successful send keeps the connection (MAIL FROM without a new EHLO).

namespace liaison::mail {
namespace {

using ascii::containsNoCase;

bool validAddress(std::string_view a) {
  return !a.empty() && a.size() <= 320 && std::none_of(a.begin(), a.end(), [](char ch) {
    return ch == '<' || ch == '>' || ch == '\r' || ch == '\n' || ch == '\0' || ch == ' ';
  });
}

std::string withCrlf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 32 + 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char ch = bytes[i];
    if (ch == '\r') {
      out += "\r\n";
      if (i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    } else if (ch == '\n') {
      out += "\r\n";
    } else {
      out += ch;
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

struct SmtpSender::Impl {
  SmtpConfig config;
  detail::TlsSettings tls;
  std::string url;  // smtps://host:port/<helo domain>
  std::mutex mutex;

  detail::CurlPtr curl;
  char errbuf[CURL_ERROR_SIZE] = {};
  std::uint64_t connections = 0;

  // Per send.
  std::string_view upload;
  bool upload_started = false;  // the read callback ran: message bytes may have left
  std::string reply;            // the last reply line before any QUIT
  detail::GoodbyeWatch goodbye{"QUIT"};

  // The handle first: its QUIT still runs the callbacks, which use the members above.
  ~Impl() { curl.reset(); }

  static std::size_t onRead(char* buffer, std::size_t size, std::size_t n, void* self) {
    auto* impl = static_cast<Impl*>(self);
    impl->upload_started = true;
    const std::size_t count = std::min(size * n, impl->upload.size());
    std::memcpy(buffer, impl->upload.data(), count);
    impl->upload.remove_prefix(count);
    return count;
  }

  static std::size_t onLine(char* data, std::size_t size, std::size_t n, void* self) {
    auto* impl = static_cast<Impl*>(self);
    if (impl->goodbye.sent) return size * n;
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n'))
      line.remove_suffix(1);
    if (!line.empty()) impl->reply = detail::printable(line);
    return size * n;
  }

  static std::size_t onBody(char*, std::size_t size, std::size_t n, void*) { return size * n; }

  Result<Unit> connectHandle() {
    auto handle = detail::newHandle("smtp,smtps", tls, errbuf);
    if (!handle) return handle.error();
    CURL* c = handle->get();
    bool ok = curl_easy_setopt(c, CURLOPT_URL, url.c_str()) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_READFUNCTION, &Impl::onRead) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_READDATA, this) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Impl::onLine) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_HEADERDATA, this) == CURLE_OK &&
              curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::onBody) == CURLE_OK;
    if (ok && !config.user.empty())
      ok = curl_easy_setopt(c, CURLOPT_USERNAME, config.user.c_str()) == CURLE_OK &&
           curl_easy_setopt(c, CURLOPT_PASSWORD, config.password.c_str()) == CURLE_OK;
    if (!ok) return makeError(Errc::Internal, "libcurl refused an SMTP option");
    if (auto r = detail::watchGoodbye(c, &goodbye); !r) return r;
    curl = std::move(*handle);
    return Unit{};
  }

  Error errorOf(CURLcode rc) const {
    long code = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
    if ((code < 400 || code > 599) && reply.size() >= 3 && reply[0] >= '4' && reply[0] <= '5')
      code = std::strtol(reply.substr(0, 3).c_str(), nullptr, 10);
    std::string detail = "SMTP " + detail::describe("send", rc, errbuf, reply);
    if (rc == CURLE_LOGIN_DENIED) return makeError(Errc::MailAuthRefused, std::move(detail));
    if (code >= 400 && code <= 599) {
      // Postfix refusing the client certificate: "421 4.7.1 … Client certificate not trusted",
      // "… No client certificate presented". Retrying will not help.
      if (containsNoCase(reply, "certificate") || containsNoCase(reply, "STARTTLS"))
        return makeError(Errc::MailTlsRefused, std::move(detail));
      if (code == 530 || code == 534 || code == 535 || code == 538)
        return makeError(Errc::MailAuthRefused, std::move(detail));
      return makeError(code < 500 ? Errc::SmtpTransient : Errc::SmtpPermanent, std::move(detail));
    }
    switch (detail::classify(rc, errbuf)) {
      case detail::Failure::Tls:
        return makeError(Errc::MailTlsRefused, std::move(detail));
      case detail::Failure::Auth:
        return makeError(Errc::MailAuthRefused, std::move(detail));
      case detail::Failure::Config:
        return makeError(Errc::ConfigInvalid, std::move(detail));
      case detail::Failure::Network:
      case detail::Failure::Protocol:
        break;
    }
    return makeError(Errc::SmtpTransient, std::move(detail));
  }
};

SmtpSender::SmtpSender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SmtpSender::~SmtpSender() = default;

Result<std::unique_ptr<SmtpSender>> SmtpSender::open(SmtpConfig config) {
  const std::string what = "SMTP sender";
  if (auto r = detail::checkUrl(config.url, {"smtps", "smtp"}, what); !r) return r.error();
  if (config.helo_domain.empty() ||
      config.helo_domain.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789.-") != std::string::npos)
    return makeError(Errc::ConfigInvalid, what + ": helo_domain must be a host name");
  auto impl = std::make_unique<Impl>();
  impl->tls = {config.cert_file, config.key_file, config.ca_file, config.connect_timeout,
               config.timeout};
  if (auto r = detail::checkTlsFiles(impl->tls, what); !r) return r.error();
  detail::initCurl();
  impl->url = config.url + "/" + config.helo_domain;
  impl->config = std::move(config);
  return std::unique_ptr<SmtpSender>(new SmtpSender(std::move(impl)));
}

std::uint64_t SmtpSender::connectionsOpened() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

Result<Unit> SmtpSender::send(std::string_view mail_from, std::span<const std::string> recipients,
                              std::string_view bytes) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  // The null reverse path "<>" (MDNs, bounces) is allowed: mail_from empty.
  if (!mail_from.empty() && !validAddress(mail_from))
    return makeError(Errc::SmtpPermanent, "SMTP: invalid sender address");
  if (recipients.empty()) return makeError(Errc::SmtpPermanent, "SMTP: no recipient");
  std::unique_ptr<curl_slist, SlistDeleter> rcpt;
  for (const std::string& r : recipients) {
    if (!validAddress(r)) return makeError(Errc::SmtpPermanent, "SMTP: invalid recipient address");
    curl_slist* next = curl_slist_append(rcpt.get(), ("<" + r + ">").c_str());
    if (next == nullptr) return makeError(Errc::Internal, "SMTP: out of memory");
    (void)rcpt.release();
    rcpt.reset(next);
  }
  const std::string data = withCrlf(bytes);

  const std::string from = "<" + std::string(mail_from) + ">";
  // A kept connection the server has closed meanwhile (idle timeout: "421 4.4.2 … timeout
  // exceeded" waiting to be read) still looks alive to libcurl, and MAIL FROM fails on it. The
  // transaction is then tried once more on a new connection, but only when not one byte of the
  // message was sent: no risk of delivering it twice.
  for (int attempt = 0;; ++attempt) {
    if (!m.curl) {
      if (auto r = m.connectHandle(); !r) return r;
    }
    CURL* c = m.curl.get();
    m.upload = data;
    m.upload_started = false;
    m.reply.clear();
    m.goodbye.sent = false;
    m.errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, nullptr);  // the list is freed on return
    m.upload = {};
    long opened = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &opened);
    m.connections += static_cast<std::uint64_t>(std::max(opened, 0L));
    if (rc == CURLE_OK) return Unit{};
    Error e = m.errorOf(rc);
    m.curl.reset();  // the next send reconnects
    const bool stale =
        opened == 0 && !m.upload_started && rc != CURLE_OPERATION_TIMEDOUT &&
        (e.code == Errc::SmtpTransient && (m.reply.empty() || m.reply.starts_with("421")));
    if (attempt == 0 && stale) continue;
    return e;
  }
}

}  // namespace liaison::mail
