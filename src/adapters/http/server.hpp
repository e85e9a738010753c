#pragma once
// The HTTPS server adapter: HTTP/1.1 with keep-alive over TLS (optionally mutual TLS), limits,
// timeouts, graceful shutdown; each request goes to an http::Handler on a worker pool. Beast and
// OpenSSL stay inside server.cpp (pimpl): this header names no Boost type.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error/result.hpp"
#include "core/ports/http.hpp"

namespace liaison::http {

struct ServerConfig {
  std::string address = "127.0.0.1";
  unsigned short port = 8443;  // 0 = any free port (start() returns the one bound)

  // TLS 1.2+ with forward-secret AEAD ciphers only. PEM files.
  bool tls = true;  // false: plain HTTP, for local tests and benchmarks only
  std::string cert_file, key_file;
  // Mutual TLS: with a CA file, a client certificate that is presented must verify against it
  // (Request::client_subject then holds its subject); with require_client_cert, a client without
  // one is refused during the handshake.
  std::string client_ca_file;
  bool require_client_cert = false;
  // Revocation lists of the client CA (one PEM file with one or more CRLs, or one DER CRL): a
  // revoked client certificate is refused during the handshake (OpenSSL's CRL check of the leaf).
  // An expired CRL refuses every client (fail closed): publish fresh ones and restart.
  std::string crl_file;

  unsigned io_threads = 1;      // sockets, TLS, parsing: never blocked by a handler
  unsigned worker_threads = 4;  // where Handlers run

  std::size_t body_limit = 16 << 20;  // larger → 413, then close
  // Both checked as the headers arrive: a Content-Length over body_limit gets its 413 before any
  // of the body is read; a chunked body is cut as soon as its chunks add up past the limit.
  std::size_t header_limit = 16 << 10;  // request line + headers larger → 431, then close
  // The TLS handshake, from the connection's accept: a client that connects and stalls goes.
  std::chrono::milliseconds handshake_timeout{10000};
  // From the first byte of a request to the end of its headers, and for the first byte of a new
  // connection's first request: a client trickling its headers (slowloris) holds its connection
  // this long, not read_timeout. Not finished in time → 408, then close.
  std::chrono::milliseconds header_timeout{10000};
  // From the first byte of a request (and for each response write) to its end; a request
  // started but not finished in time → 408, then close.
  std::chrono::milliseconds read_timeout{30000};
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{60000};
  // 0 = none. A handler still running after this long: the client gets 503 (timeout_response)
  // and the connection is closed; the handler's own result is dropped when it comes (a thread
  // cannot be interrupted: what bounds its work is the database's statement_timeout). Its request
  // still counts in max_bytes_in_flight until the handler returns.
  std::chrono::milliseconds handler_timeout{0};
  // 0 = none. A budget of request bytes in flight, over every connection (as Envoy's overload
  // manager sheds load): the bodies being received or handled. A request whose Content-Length
  // would take the sum past it is answered 503 (busy_response, Retry-After) from its headers,
  // before its body is read, then the connection closes; a chunked body is counted as it arrives
  // and cut the same way. Bodiless requests (reads) and ops_paths are never refused by it.
  std::size_t max_bytes_in_flight = 0;
  // The answers the server writes itself past handler_timeout and when it sheds load (the byte
  // budget, a reserved connection asked for anything but ops_paths): OperationOutcomes with the
  // application's stable codes. None: the server's own generic one.
  std::optional<Response> timeout_response;
  std::optional<Response> busy_response;
  std::size_t max_connections = 1024;  // more are accepted and closed at once
  // Connections held at once by one client address (an IPv4 address, an IPv6 /64); more are
  // accepted and closed at once, so that one client cannot take every slot. 0 = no cap.
  std::size_t max_connections_per_client = 64;
  // Connections accepted past max_connections for the operational paths alone (ops_paths; any
  // other request on them: 503, then close), so that health checks get through a full server.
  std::size_t reserved_connections = 8;
  // Exact paths (no query) answered on a worker thread of their own, so that they are answered
  // while every handler worker is busy. Their handlers must be quick and must not block.
  std::vector<std::string> ops_paths = {"/healthz", "/metrics"};
  // Grace used by stopOnSignals().
  std::chrono::milliseconds shutdown_grace{10000};
  // One line per request to stderr: method, path without query, status, duration. Never bodies,
  // query strings or headers (they may hold patient data).
  bool log = false;
};

class Server {
 public:
  Server(ServerConfig config, Handler handler);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificates, binds and listens, starts the threads; returns the bound port.
  // Errors are values (config-invalid): unreadable certificate or key, key not matching, port in
  // use, bad address. Call once.
  Result<unsigned short> start();

  // Graceful: stops accepting, closes idle keep-alive connections, lets requests in flight finish
  // (their responses carry Connection: close) for up to `grace`, then closes what is left and
  // joins the threads. Idempotent and thread-safe, but never call it from a Handler.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  // SIGTERM / SIGINT → stop(config.shutdown_grace), on a thread of its own.
  void stopOnSignals();

  // Blocks until the server has stopped (returns at once if it never started).
  void wait();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::http
