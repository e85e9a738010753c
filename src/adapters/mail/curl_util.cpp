#include "adapters/mail/curl_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <mutex>

namespace liaison::mail::detail {

void initCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<CurlPtr> newHandle(const char* protocols, const TlsSettings& tls, char* errbuf) {
  initCurl();
  CurlPtr curl(curl_easy_init());
  if (!curl) return makeError(Errc::Internal, "curl_easy_init failed");
  CURL* c = curl.get();
  errbuf[0] = '\0';
  const auto ms = [](std::chrono::milliseconds d) { return static_cast<long>(d.count()); };
  // Seconds, rounded up: also bounds each server reply (default 120 s) and the polite
  // LOGOUT/QUIT when a handle is dropped.
  const long reply_s = static_cast<long>((tls.timeout.count() + 999) / 1000);
  bool ok =
      curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms(tls.connect_timeout)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms(tls.timeout)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, reply_s) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L) == CURLE_OK &&
      // libcurl clips a reply line longer than half its buffer (16 KB by default): a
      // UID SEARCH of a 10,000-message backlog is one ~50 KB line. The largest buffer.
      curl_easy_setopt(c, CURLOPT_BUFFERSIZE, static_cast<long>(CURL_MAX_READ_SIZE)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL)) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2)) ==
          CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
  if (ok && !tls.ca_file.empty())
    ok = curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca_file.c_str()) == CURLE_OK;
  if (ok && !tls.cert_file.empty()) {
    ok = curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_SSLCERT, tls.cert_file.c_str()) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_SSLKEY, tls.key_file.c_str()) == CURLE_OK;
  }
  if (!ok) return makeError(Errc::Internal, "libcurl refused an option (built without TLS?)");
  return curl;
}

namespace {
int onDebug(CURL*, curl_infotype type, char* data, std::size_t size, void* self) {
  if (type != CURLINFO_HEADER_OUT) return 0;  // never the data: it is the message
  auto* watch = static_cast<GoodbyeWatch*>(self);
  std::string_view sent(data, size);
  while (!sent.empty() && (sent.back() == '\n' || sent.back() == '\r'))
    sent.remove_suffix(1);
  const std::size_t sp = sent.rfind(' ');  // after the IMAP tag
  if (sent.substr(sp == std::string_view::npos ? 0 : sp + 1) == watch->command) watch->sent = true;
  return 0;
}
}  // namespace

Result<Unit> watchGoodbye(CURL* curl, GoodbyeWatch* watch) {
  if (curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, &onDebug) != CURLE_OK ||
      curl_easy_setopt(curl, CURLOPT_DEBUGDATA, watch) != CURLE_OK ||
      curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L) != CURLE_OK)
    return makeError(Errc::Internal, "libcurl refused its debug callback");
  return Unit{};
}

Result<Unit> checkUrl(std::string_view url, std::initializer_list<std::string_view> schemes,
                      std::string_view what) {
  const std::size_t sep = url.find("://");
  const std::string_view scheme = sep == std::string_view::npos ? "" : url.substr(0, sep);
  if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end())
    return makeError(Errc::ConfigInvalid, std::string(what) + ": unsupported URL scheme in \"" +
                                              std::string(url) + "\"");
  const std::string_view rest = url.substr(sep + 3);
  if (rest.empty() || rest.find_first_of("/?#@ \r\n") != std::string_view::npos)
    return makeError(Errc::ConfigInvalid,
                     std::string(what) + ": the URL must be scheme://host:port");
  return Unit{};
}

Result<Unit> checkTlsFiles(const TlsSettings& tls, std::string_view what) {
  if (tls.cert_file.empty() != tls.key_file.empty())
    return makeError(
        Errc::ConfigInvalid,
        std::string(what) + ": a client certificate needs both cert_file and key_file");
  for (const std::string* f : {&tls.cert_file, &tls.key_file, &tls.ca_file}) {
    if (!f->empty() && access(f->c_str(), R_OK) != 0)
      return makeError(Errc::ConfigInvalid, std::string(what) + ": cannot read " + *f);
  }
  if (tls.connect_timeout.count() <= 0 || tls.timeout.count() <= 0)
    return makeError(Errc::ConfigInvalid, std::string(what) + ": timeouts must be positive");
  return Unit{};
}

std::string printable(std::string_view line) {
  std::string out;
  for (const char ch : line) {
    if (out.size() >= 200) break;
    if (static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f) out += ch;
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

Failure classify(CURLcode rc, std::string_view errbuf) {
  const auto says = [&](std::string_view s) { return errbuf.find(s) != std::string_view::npos; };
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_AGAIN:
      return Failure::Network;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      // With TLS 1.3 the server judges the client certificate after the client's handshake is
      // over: its refusal arrives as an alert on the first read.
      return says("alert") ? Failure::Tls : Failure::Network;
    case CURLE_SSL_CONNECT_ERROR:
      // A peer gone during the handshake (restart, reset) is not a TLS refusal.
      return says("SSL_ERROR_SYSCALL") || says("unexpected eof") || says("reset by peer") ||
                     says("Connection reset")
                 ? Failure::Network
                 : Failure::Tls;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return Failure::Tls;
    case CURLE_LOGIN_DENIED:
    case CURLE_AUTH_ERROR:
      return Failure::Auth;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
      return Failure::Config;
    default:
      return Failure::Protocol;
  }
}

std::string describe(std::string_view op, CURLcode rc, const char* errbuf,
                     std::string_view server_reply) {
  std::string s(op);
  s += ": ";
  s += curl_easy_strerror(rc);
  if (errbuf != nullptr && errbuf[0] != '\0') {
    std::string_view e(errbuf);
    while (!e.empty() && (e.back() == '\n' || e.back() == '\r'))
      e.remove_suffix(1);
    s += " (" + printable(e) + ")";
  }
  if (!server_reply.empty()) s += "; server: " + printable(server_reply);
  return s;
}

}  // namespace liaison::mail::detail
