#pragma once
// What the IMAP and SMTP adapters share about libcurl (private to liaison_mail): the one global
// initialisation, the TLS and timeout options of every handle, the server's reply lines caught
// by the header callback, and how a CURLcode is classified.

#include <curl/curl.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "core/error/result.hpp"
#include "core/ports/store.hpp"  // Unit

namespace liaison::mail::detail {

// curl_global_init, once per process (std::call_once), before the first handle.
void initCurl();

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct TlsSettings {
  std::string cert_file, key_file, ca_file;  // PEM; ca_file empty: the system's CA bundle
  std::chrono::milliseconds connect_timeout, timeout;
};

// A new easy handle with the options every transfer shares: only `protocols`, TLS 1.2+ with
// the server certificate and host name verified, the client certificate, STARTTLS required on
// the plain schemes (CURLUSESSL_ALL: never plaintext), timeouts, no signals, TCP keep-alive.
// `errbuf` (CURL_ERROR_SIZE bytes) must outlive the handle.
Result<CurlPtr> newHandle(const char* protocols, const TlsSettings& tls, char* errbuf);

// Tells when libcurl sends its goodbye ("LOGOUT", "QUIT") as it drops a connection, even inside
// a failed transfer: the lines after it answer that, not the command whose reply is wanted. Uses
// the debug callback (CURLOPT_VERBOSE, nothing printed); it only reads the commands sent.
struct GoodbyeWatch {
  std::string_view command;  // "LOGOUT", "QUIT"
  bool sent = false;         // reset before each transfer
};
Result<Unit> watchGoodbye(CURL* curl, GoodbyeWatch* watch);

// Checks a configuration: "imaps://host:port" style URL of one of `schemes` without a path,
// readable certificate files. Errors are config-invalid.
Result<Unit> checkUrl(std::string_view url, std::initializer_list<std::string_view> schemes,
                      std::string_view what);
Result<Unit> checkTlsFiles(const TlsSettings& tls, std::string_view what);

// A server reply line fit for an error detail: control characters dropped, at most 200 bytes.
std::string printable(std::string_view line);

enum class Failure { Network, Tls, Auth, Config, Protocol };
// What a failed transfer's CURLcode means. OpenSSL's text tells a TLS refusal (an alert, a
// verification failure) from a connection dropped during the handshake.
Failure classify(CURLcode rc, std::string_view errbuf);

// "<op>: <curl's text> (<curl's detail>); server: <reply>" — no message content ever.
std::string describe(std::string_view op, CURLcode rc, const char* errbuf,
                     std::string_view server_reply);

}  // namespace liaison::mail::detail
