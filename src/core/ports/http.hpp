#pragma once
// The HTTP port: what an HTTP server adapter (adapters/http) hands to the application and what it
// expects back. Plain std types: no Boost, no sockets. One Request in, one Response out.

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::http {

struct Header {
  std::string name, value;
};

namespace detail {
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}
}  // namespace detail

struct Request {
  std::string method;  // "GET", "POST" … as received (HEAD: answer as for GET, see Response)
  std::string target;  // path + query, as received: "/Patient?name=x"
  std::vector<Header> headers;
  std::string body;
  std::string client_subject;  // RFC 2253 subject of the verified client certificate, "" if none
  // Its subjectAltNames as OpenSSL prints them ("DNS:host", "email:a@b", "URI:…", "IP:…").
  std::vector<std::string> client_san;
  std::string remote;  // "ip:port" ("[v6]:port")

  // The first header of that name, case-insensitive; "" if absent.
  std::string_view header(std::string_view name) const {
    for (const auto& h : headers) {
      if (detail::equalsIgnoreCase(h.name, name)) return h.value;
    }
    return {};
  }
};

struct Response {
  int status = 200;
  // Content-Type etc. The server sets Date, Content-Length and Connection itself (a handler's
  // "Connection: close" closes the connection after this response). To a HEAD request the server
  // sends the headers and the Content-Length of `body`, without the body.
  std::vector<Header> headers;
  std::string body;
};

// Runs on the server's worker pool, never on an I/O thread: it may block (libpq), and it is called
// concurrently from several worker threads (one request per call). An exception becomes a 500
// OperationOutcome; its text is never sent or logged (it may hold patient data).
using Handler = std::function<Response(const Request&)>;

}  // namespace liaison::http
