// The HTTPS server (server.hpp). The only translation unit that sees Asio, Beast and OpenSSL.
//
// Threads: `io_threads` run the io_context (accept, TLS, reading and parsing requests, writing
// responses); each connection is a Session whose socket and timer live on a strand of its own.
// A complete request goes to the worker pool (asio::thread_pool), where the Handler may block;
// its Response is posted back to the session's strand. Nothing blocks an I/O thread.
//
// Beast is used for its HTTP/1.1 request parser only: bytes are read with async_read_some and fed
// to the parser, and responses are serialised here (a status line and a few headers). That keeps
// Beast's composed asynchronous operations, the costly part to compile, out of the build.
//
// Timeouts: one timer per session, re-armed for each phase (handshake, idle between requests,
// a request's headers, the rest of the request, running the handler, writing, closing).
//
// Hostile clients: connections are capped in all and per client address; the handshake and the
// headers have short timeouts of their own; a body over the limit is refused from its headers;
// the operational paths (/healthz, /metrics) run on a worker of their own and keep a few
// connections of their own, so that they answer while the handlers' workers are all busy.

#include "adapters/http/server.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

namespace liaison::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bh = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;
using Parser = bh::request_parser<bh::string_body>;

constexpr std::size_t kReadChunk = 16 * 1024;
// How long a closing connection may take: TLS close_notify exchange, or draining what the client
// still sends after an error response (so that it reads the response instead of a reset).
constexpr std::chrono::milliseconds kCloseGrace{1000};
// TLS 1.2: forward secrecy and AEAD only (Mozilla "intermediate" without DHE). TLS 1.3 suites
// are OpenSSL's defaults, all of them sane.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr std::string_view kFhirJson = "application/fhir+json;charset=utf-8";

std::string operationOutcome(std::string_view severity, std::string_view code,
                             std::string_view diagnostics) {
  // Constant texts only: nothing here comes from the request or from a handler.
  std::string out = R"({"resourceType":"OperationOutcome","issue":[{"severity":")";
  out += severity;
  out += R"(","code":")";
  out += code;
  out += R"(","diagnostics":")";
  out += diagnostics;
  out += R"("}]})";
  return out;
}

Response errorResponse(int status, std::string_view severity, std::string_view code,
                       std::string_view diagnostics) {
  Response res;
  res.status = status;
  res.headers.push_back({"Content-Type", std::string(kFhirJson)});
  res.body = operationOutcome(severity, code, diagnostics);
  return res;
}

// A configured answer (else the default), with Retry-After unless it has one: what it says is
// "not now", and clients' libraries wait that long before trying again.
Response cannedResponse(const std::optional<Response>& configured, Response fallback) {
  Response res = configured ? *configured : std::move(fallback);
  const bool has_retry = std::any_of(res.headers.begin(), res.headers.end(), [](const Header& h) {
    return beast::iequals(h.name, "Retry-After");
  });
  if (!has_retry) res.headers.push_back({"Retry-After", "5"});
  return res;
}

Response runHandler(const Handler& handler, const Request& req) {
  try {
    return handler(req);
  } catch (...) {
    // Never the exception's text: it may hold patient data.
    return errorResponse(500, "fatal", "exception", "internal error");
  }
}

// IMF-fixdate (RFC 9110), independent of the locale.
std::string httpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool isFieldValue(std::string_view s) {
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Headers the server writes itself; a handler's copy is ignored.
bool isReserved(std::string_view name) {
  for (std::string_view r : {"content-length", "transfer-encoding", "connection", "date",
                             "keep-alive", "upgrade", "trailer"}) {
    if (beast::iequals(name, r)) return true;
  }
  return false;
}

std::string pathOf(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

// The shared state between the server and its sessions. Sessions hold it by shared_ptr, so it
// outlives the last of them whatever the order of destruction.
class SessionBase;
struct Shared {
  ServerConfig config;
  Handler handler;
  asio::thread_pool* pool = nullptr;  // owned by Server::Impl; no session code runs after it stops
  asio::thread_pool* ops_pool = nullptr;  // the same, for config.ops_paths
  std::atomic<bool> stopping{false};

  std::mutex mutex;
  std::condition_variable changed;  // a session went away
  std::map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;
  std::map<std::string, std::size_t> per_client;  // connections held by each client key
  std::uint64_t next_id = 1;                      // 0: a session not registered (yet)

  // Request body bytes being received or handled (config.max_bytes_in_flight).
  std::atomic<std::size_t> bytes_in_flight{0};
  bool reserveBytes(std::size_t n) {
    std::size_t current = bytes_in_flight.load();
    do {
      if (config.max_bytes_in_flight > 0 && current + n > config.max_bytes_in_flight) return false;
    } while (!bytes_in_flight.compare_exchange_weak(current, current + n));
    return true;
  }

  enum class Admission { Refused, Any, OpsOnly };
  // Called on the acceptor's strand only, so that nothing is admitted between the check and the
  // session's registration (sessions only go away meanwhile). Counts the client's connection.
  Admission admit(const std::string& client) {
    std::lock_guard lock(mutex);
    const std::size_t total = sessions.size();
    if (total >= config.max_connections + config.reserved_connections) return Admission::Refused;
    auto it = per_client.find(client);
    const std::size_t held = it == per_client.end() ? 0 : it->second;
    if (config.max_connections_per_client > 0 && held >= config.max_connections_per_client)
      return Admission::Refused;
    ++per_client[client];
    return total >= config.max_connections ? Admission::OpsOnly : Admission::Any;
  }

  bool isOpsPath(std::string_view path) const {
    return std::find(config.ops_paths.begin(), config.ops_paths.end(), path) !=
           config.ops_paths.end();
  }

  std::vector<std::shared_ptr<SessionBase>> snapshot() {
    std::vector<std::shared_ptr<SessionBase>> out;
    std::lock_guard lock(mutex);
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }
};

// The bytes one request holds of Shared::bytes_in_flight, given back when it is destroyed: with
// the session while the body is read, then with the handler's job until the handler returns.
class BodyCharge {
 public:
  BodyCharge() = default;
  explicit BodyCharge(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  BodyCharge(BodyCharge&& other) noexcept
      : shared_(std::move(other.shared_)), bytes_(std::exchange(other.bytes_, 0)) {}
  BodyCharge& operator=(BodyCharge&& other) noexcept {
    if (this != &other) {
      release();
      shared_ = std::move(other.shared_);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  BodyCharge(const BodyCharge&) = delete;
  BodyCharge& operator=(const BodyCharge&) = delete;
  ~BodyCharge() { release(); }

  // Brings the charge up to `total` bytes; false (nothing more charged) past the budget.
  bool growTo(std::size_t total) {
    if (total <= bytes_ || !shared_) return true;
    if (!shared_->reserveBytes(total - bytes_)) return false;
    bytes_ = total;
    return true;
  }
  void release() {
    if (shared_ && bytes_ > 0) shared_->bytes_in_flight -= bytes_;
    bytes_ = 0;
  }

 private:
  std::shared_ptr<Shared> shared_;
  std::size_t bytes_ = 0;
};

// One connection. Everything below runs on the session's strand (the socket's executor), except
// the handler, which runs on the worker pool. The stream-specific I/O is in Session<Stream>.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  enum class State { Handshake, Idle, Reading, Handling, Writing, Closing, Closed };

  SessionBase(std::shared_ptr<Shared> shared, asio::any_io_executor ex, std::string remote)
      : shared_(std::move(shared)), ex_(std::move(ex)), timer_(ex_), remote_(std::move(remote)) {}
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;
  virtual ~SessionBase() {
    if (id_ == 0) return;
    std::lock_guard lock(shared_->mutex);
    shared_->sessions.erase(id_);
    if (auto it = shared_->per_client.find(client_);
        it != shared_->per_client.end() && --it->second == 0)
      shared_->per_client.erase(it);
    shared_->changed.notify_all();
  }

  // After Shared::admit(client) said yes: the session now counts for its client.
  void registerSelf(std::string client, bool ops_only) {
    std::lock_guard lock(shared_->mutex);
    client_ = std::move(client);
    ops_only_ = ops_only;
    id_ = shared_->next_id++;
    shared_->sessions.emplace(id_, weak_from_this());
  }

  // Entry points from outside the strand.
  void begin() {
    asio::dispatch(ex_, [self = shared_from_this()] { self->onBegin(); });
  }
  void serverStopping() {
    asio::post(ex_, [self = shared_from_this()] { self->onServerStopping(); });
  }
  void forceClose() {
    asio::post(ex_, [self = shared_from_this()] { self->closeNow(); });
  }

  // Completions, called by Session<Stream> on the strand.
  void onHandshake(error_code ec) {
    if (state_ == State::Closed) return;
    disarm();
    if (ec) return closeNow();
    subject_ = peerSubject();
    sans_ = peerSans();
    readRequest();
  }

  void onRead(error_code ec, std::size_t n) {
    buffer_.commit(n);
    if (state_ == State::Closed) return;
    if (state_ == State::Closing) {  // draining before a plain-TCP close
      buffer_.consume(buffer_.size());
      if (ec) return closeNow();
      return doReadSome();
    }
    if (ec) {
      if (ec == asio::error::operation_aborted && timed_out_ && started_) {
        return respond(errorResponse(408, "error", "timeout", "request not received in time"),
                       true);
      }
      return closeNow();  // end of stream, reset, TLS error, idle timeout, stop
    }
    if (n > 0 && !started_) startReading();
    parseOrRead();
  }

  void onWritten(error_code ec) {
    if (state_ == State::Closed) return;
    disarm();
    if (ec) return closeNow();
    if (writing_continue_) {
      writing_continue_ = false;
      state_ = State::Reading;
      armAt(read_deadline_);
      return doReadSome();
    }
    logLine();
    if (close_after_write_) return gracefulClose();
    readRequest();
  }

  void closeNow() {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    disarm();
    closeSocket();
  }

 protected:
  virtual void doHandshake() = 0;
  virtual void doReadSome() = 0;  // into buffer_, then onRead
  virtual void doWrite() = 0;     // out_head_ + out_body_, then onWritten
  virtual void doClose() = 0;     // TLS close_notify, or shutdown(send) and drain; then closeNow
  virtual void cancelIo() = 0;
  virtual void closeSocket() = 0;
  virtual std::string peerSubject() = 0;
  virtual std::vector<std::string> peerSans() = 0;  // the subjectAltNames, as OpenSSL prints them
  virtual bool tls() const = 0;

  beast::flat_buffer buffer_;
  std::string out_head_, out_body_;

 private:
  void onBegin() {
    if (shared_->stopping) return closeNow();
    if (tls()) {
      state_ = State::Handshake;
      arm(shared_->config.handshake_timeout);
      return doHandshake();
    }
    readRequest();
  }

  void onServerStopping() {
    // Idle keep-alive connections and handshakes go now; a request being read, handled or
    // answered finishes, and its response closes the connection (shared_->stopping).
    if (state_ == State::Idle || state_ == State::Handshake) closeNow();
  }

  void readRequest() {
    if (shared_->stopping) return gracefulClose();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(shared_->config.header_limit, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(shared_->config.body_limit));
    charge_ = BodyCharge(shared_);
    exempt_ = false;
    continue_sent_ = false;
    timed_out_ = false;
    head_ = false;
    keep_alive_ = true;
    method_.clear();
    path_.clear();
    started_ = false;
    headers_read_ = false;
    headers_checked_ = false;
    if (buffer_.size() > 0) {  // bytes of a pipelined request already here
      startReading();
    } else {
      state_ = State::Idle;
      // A new connection's first request is awaited no longer than a request's headers: a
      // client that connects and says nothing does not hold its slot for the idle timeout.
      arm(requests_ == 0 ? std::min(shared_->config.idle_timeout, shared_->config.header_timeout)
                         : shared_->config.idle_timeout);
    }
    parseOrRead();
  }

  // The first byte of a request: its headers have header_timeout, the whole of it read_timeout.
  void startReading() {
    started_ = true;
    state_ = State::Reading;
    request_started_at_ = SteadyClock::now();
    read_deadline_ = request_started_at_ + shared_->config.read_timeout;
    armAt(std::min(read_deadline_, request_started_at_ + shared_->config.header_timeout));
  }

  void parseOrRead() {
    error_code ec;
    bool over_budget = false;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      // The parser stops after the headers (it is not eager): the budget is checked before a
      // byte of the body is taken, then as a chunked body grows.
      // (A Content-Length over body_limit is the parser's error: 413, below.)
      if ((!ec || ec == bh::error::need_more) && parser_->is_header_done() && !chargeBody()) {
        over_budget = true;
        break;
      }
      if (ec == bh::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    if (over_budget) {
      return respond(cannedResponse(shared_->config.busy_response,
                                    errorResponse(503, "error", "throttled", "server busy")),
                     true);
    }
    if (ec) {
      if (ec == bh::error::header_limit) {
        return respond(errorResponse(431, "error", "too-costly", "request header too large"), true);
      }
      if (ec == bh::error::body_limit) {
        return respond(errorResponse(413, "error", "too-costly", "request body too large"), true);
      }
      return respond(errorResponse(400, "error", "structure", "malformed HTTP request"), true);
    }
    if (parser_->is_done()) return dispatchRequest();
    if (parser_->is_header_done() && !headers_read_) {
      headers_read_ = true;  // the body has what is left of read_timeout
      armAt(read_deadline_);
    }
    if (parser_->is_header_done() && !continue_sent_) {
      continue_sent_ = true;
      const auto& msg = parser_->get();
      auto expect = msg.find(bh::field::expect);
      if (expect != msg.end() && beast::iequals(expect->value(), "100-continue")) {
        out_head_ = "HTTP/1.1 100 Continue\r\n\r\n";
        out_body_.clear();
        writing_continue_ = true;
        arm(shared_->config.read_timeout);
        return doWrite();
      }
    }
    doReadSome();
  }

  // The request's body against max_bytes_in_flight: its Content-Length as soon as the headers
  // are read (Beast reserves that much), else what a chunked body holds so far. False: over the
  // budget. The operational paths are never refused (a health check must get through).
  bool chargeBody() {
    const auto& msg = parser_->get();
    if (!headers_checked_) {
      headers_checked_ = true;
      exempt_ =
          shared_->isOpsPath(pathOf(std::string_view(msg.target().data(), msg.target().size())));
    }
    if (exempt_) return true;
    const std::size_t declared = static_cast<std::size_t>(parser_->content_length().value_or(0));
    return charge_.growTo(std::max(declared, msg.body().size()));
  }

  void dispatchRequest() {
    disarm();
    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& field : msg) {
      req.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    req.body = std::move(msg.body());
    req.client_subject = subject_;
    req.client_san = sans_;
    req.remote = remote_;
    head_ = msg.method() == bh::verb::head;
    keep_alive_ = msg.keep_alive();
    ++requests_;
    std::string path = pathOf(req.target);
    const bool ops = shared_->isOpsPath(path);
    if (shared_->config.log) {
      method_ = req.method;
      path_ = std::move(path);
    }
    if (ops_only_ && !ops) {  // a reserved connection: the operational paths only
      return respond(cannedResponse(shared_->config.busy_response,
                                    errorResponse(503, "error", "throttled", "server busy")),
                     true);
    }
    state_ = State::Handling;
    std::uint64_t seq = ++seq_;
    if (shared_->config.handler_timeout.count() > 0) arm(shared_->config.handler_timeout);
    asio::thread_pool& pool = ops ? *shared_->ops_pool : *shared_->pool;
    // The charge goes with the request: released when the handler is done with its body, even
    // if the client was answered 503 at handler_timeout meanwhile.
    asio::post(pool, [self = shared_from_this(), seq, req = std::move(req),
                      charge = std::move(charge_)]() mutable {
      Response res = runHandler(self->shared_->handler, req);
      charge.release();
      asio::any_io_executor ex = self->ex_;
      asio::post(ex, [self = std::move(self), seq, res = std::move(res)]() mutable {
        self->onHandled(seq, std::move(res));
      });
    });
  }

  void onHandled(std::uint64_t seq, Response res) {
    if (seq != seq_ || state_ != State::Handling) return;  // timed out or closed meanwhile
    disarm();
    respond(std::move(res), false);
  }

  void respond(Response res, bool close) {
    // A body still charged here was refused or cut (a handled one went with its job): it will
    // not be handled, and the connection closes.
    charge_.release();
    int status = res.status;
    if (status < 200 || status > 999) {  // 1xx would break the framing; nonsense → 500
      res = errorResponse(500, "fatal", "exception", "internal error");
      status = 500;
    }
    bool keep = keep_alive_ && !close && !shared_->stopping;
    bool body_allowed = status != 204 && status != 304;

    std::string reason;
    auto known = bh::int_to_status(static_cast<unsigned>(status));
    if (known != bh::status::unknown) reason = std::string(bh::obsolete_reason(known));
    std::string& h = out_head_;
    h.clear();
    h += "HTTP/1.1 ";
    h += std::to_string(status);
    h += ' ';
    h += reason;
    h += "\r\nDate: ";
    h += httpDate();
    h += "\r\n";
    for (const auto& header : res.headers) {
      if (!isToken(header.name) || !isFieldValue(header.value)) continue;
      if (isReserved(header.name)) {
        if (beast::iequals(header.name, "connection") && beast::iequals(header.value, "close")) {
          keep = false;
        }
        continue;
      }
      h += header.name;
      h += ": ";
      h += header.value;
      h += "\r\n";
    }
    if (body_allowed) {
      h += "Content-Length: ";
      h += std::to_string(res.body.size());
      h += "\r\n";
    }
    h += keep ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    out_body_ = body_allowed && !head_ ? std::move(res.body) : std::string();

    status_ = status;
    close_after_write_ = !keep;
    state_ = State::Writing;
    arm(shared_->config.read_timeout);
    doWrite();
  }

  void gracefulClose() {
    if (state_ == State::Closed || state_ == State::Closing) return;
    state_ = State::Closing;
    // When the server stops, the client has its response: do not wait long for its close_notify.
    arm(shared_->stopping ? kCloseGrace / 10 : kCloseGrace);
    doClose();
  }

  void arm(std::chrono::milliseconds d) { armAt(SteadyClock::now() + d); }
  void armAt(SteadyClock::time_point deadline) {
    std::uint64_t gen = ++timer_gen_;
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this(), gen](error_code ec) {
      if (ec || gen != self->timer_gen_) return;
      self->onTimeout();
    });
  }
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }

  void onTimeout() {
    switch (state_) {
      case State::Reading:
        // The pending read completes with operation_aborted; onRead answers 408.
        timed_out_ = true;
        cancelIo();
        return;
      case State::Handling:
        ++seq_;  // the handler's result, when it comes, is dropped
        return respond(
            cannedResponse(shared_->config.timeout_response,
                           errorResponse(503, "error", "timeout", "request took too long")),
            true);
      case State::Closed:
        return;
      default:  // handshake, idle keep-alive, write, close
        return closeNow();
    }
  }

  void logLine() {
    if (!shared_->config.log) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() -
                                                                    request_started_at_)
                  .count();
    // Method, path without query, status, duration: no query values, headers or bodies.
    std::fprintf(stderr, "http %s %s %d %lldms\n", method_.empty() ? "-" : method_.c_str(),
                 path_.empty() ? "-" : path_.c_str(), status_, static_cast<long long>(ms));
  }

  std::shared_ptr<Shared> shared_;
  asio::any_io_executor ex_;
  asio::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  std::string remote_, subject_;
  std::vector<std::string> sans_;
  std::string client_;     // the key its connections are counted under (Shared::per_client)
  bool ops_only_ = false;  // admitted on a reserved slot
  std::uint64_t id_ = 0;
  std::uint64_t requests_ = 0;  // requests read on this connection

  State state_ = State::Idle;
  std::optional<Parser> parser_;
  bool started_ = false;          // a byte of the current request has arrived
  bool headers_read_ = false;     // its headers are complete
  bool headers_checked_ = false;  // chargeBody() has seen them
  bool exempt_ = false;           // an ops path: not charged
  BodyCharge charge_;             // its body's share of Shared::bytes_in_flight
  bool timed_out_ = false;        // the read timer fired
  bool continue_sent_ = false;
  bool writing_continue_ = false;
  bool head_ = false;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  std::uint64_t seq_ = 0;  // current handler invocation
  int status_ = 0;
  SteadyClock::time_point read_deadline_{}, request_started_at_{SteadyClock::now()};
  std::string method_, path_;  // for the log line only
};

template <class Stream>
class Session final : public SessionBase {
 public:
  template <class... Args>
  Session(std::shared_ptr<Shared> shared, asio::any_io_executor ex, std::string remote,
          Args&&... args)
      : SessionBase(std::move(shared), std::move(ex), std::move(remote)),
        stream_(std::forward<Args>(args)...) {}

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  bool tls() const override { return kTls; }

  void doHandshake() override {
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
        self->onHandshake(ec);
      });
    }
  }

  void doReadSome() override {
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = shared_from_this()](error_code ec, std::size_t n) { self->onRead(ec, n); });
  }

  void doWrite() override {
    std::array<asio::const_buffer, 2> buffers{asio::buffer(out_head_), asio::buffer(out_body_)};
    asio::async_write(stream_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
      self->onWritten(ec);
    });
  }

  void doClose() override {
    if constexpr (kTls) {
      stream_.async_shutdown([self = shared_from_this()](error_code) { self->closeNow(); });
    } else {
      error_code ignored;
      socket().shutdown(tcp::socket::shutdown_send, ignored);
      doReadSome();  // onRead drains in the Closing state until the client closes
    }
  }

  void cancelIo() override {
    error_code ignored;
    socket().cancel(ignored);
  }

  void closeSocket() override {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  std::vector<std::string> peerSans() override {
    std::vector<std::string> out;
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      X509* cert = SSL_get0_peer_certificate(ssl);
      if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return out;
      auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
      if (names == nullptr) return out;
      // "DNS:host", "email:a@b", "URI:…", "IP Address:…": as i2v_GENERAL_NAME prints them.
      for (int i = 0; i < sk_GENERAL_NAME_num(names) && out.size() < 32; ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_DNS && name->type != GEN_EMAIL && name->type != GEN_URI) continue;
        const ASN1_IA5STRING* v = name->d.ia5;
        std::string text = name->type == GEN_DNS     ? "DNS:"
                           : name->type == GEN_EMAIL ? "email:"
                                                     : "URI:";
        text.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                    static_cast<std::size_t>(ASN1_STRING_length(v)));
        out.push_back(std::move(text));
      }
      GENERAL_NAMES_free(names);
    }
    return out;
  }

  std::string peerSubject() override {
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      X509* cert = SSL_get0_peer_certificate(ssl);
      if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
      BIO* bio = BIO_new(BIO_s_mem());
      if (bio == nullptr) return {};
      std::string subject;
      if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char* data = nullptr;
        long n = BIO_ctrl(bio, BIO_CTRL_INFO, 0, static_cast<void*>(&data));
        if (n > 0 && data != nullptr) subject.assign(data, static_cast<std::size_t>(n));
      }
      BIO_free(bio);
      return subject;
    } else {
      return {};
    }
  }

  Stream stream_;
};

// The key a client's connections are counted under: its IPv4 address, or the /64 of an IPv6
// one (a single host commonly holds a whole /64).
std::string clientKey(const asio::ip::address& addr) {
  if (addr.is_v4()) return addr.to_string();
  const asio::ip::address_v6 v6 = addr.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  asio::ip::address_v6::bytes_type bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

Error configError(std::string detail) {
  return makeError(Errc::ConfigInvalid, std::move(detail));
}

}  // namespace

struct Server::Impl {
  enum class State { NotStarted, Running, Stopped };

  Impl(ServerConfig config, Handler handler) : shared(std::make_shared<Shared>()) {
    shared->config = std::move(config);
    shared->handler = std::move(handler);
  }

  Result<unsigned short> start();
  void stop(std::chrono::milliseconds grace);
  void accept();
  void onAccept(error_code ec, tcp::socket socket);
  std::optional<Error> makeTlsContext();

  // Declaration order is destruction order reversed: the pool's abandoned jobs and the
  // io_context's abandoned handlers hold sessions, whose sockets need the io_context.
  std::shared_ptr<Shared> shared;
  std::optional<ssl::context> tls_context;
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> strand{
      asio::make_strand(ioc)};  // acceptor, signals
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  asio::steady_timer accept_retry{strand};
  std::optional<asio::signal_set> signals;
  std::unique_ptr<asio::thread_pool> pool;
  std::unique_ptr<asio::thread_pool> ops_pool;  // one thread: config.ops_paths
  std::vector<std::thread> io_threads;

  std::mutex state_mutex;
  std::condition_variable state_changed;
  State state = State::NotStarted;
  std::mutex stop_mutex;  // one stop() at a time
  std::mutex stopper_mutex;
  std::thread stopper;  // started by a signal
};

namespace {

// The CRLs of `file` (PEM, one or more; else one DER) into the context's store, checked on every
// client certificate.
std::optional<Error> loadClientCrls(SSL_CTX* native, const std::string& file) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(file.c_str(), "rb"), &BIO_free);
  if (!bio) return configError("https: cannot read CRL file " + file);
  X509_STORE* store = SSL_CTX_get_cert_store(native);
  int loaded = 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    loaded += X509_STORE_add_crl(store, crl) == 1;
    X509_CRL_free(crl);
  }
  if (loaded == 0 && BIO_reset(bio.get()) == 0) {
    if (X509_CRL* crl = d2i_X509_CRL_bio(bio.get(), nullptr)) {
      loaded += X509_STORE_add_crl(store, crl) == 1;
      X509_CRL_free(crl);
    }
  }
  ERR_clear_error();
  if (loaded == 0) return configError("https: no certificate revocation list in " + file);
  X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(native), X509_V_FLAG_CRL_CHECK);
  return std::nullopt;
}

}  // namespace

std::optional<Error> Server::Impl::makeTlsContext() {
  const ServerConfig& c = shared->config;
  if (c.cert_file.empty() || c.key_file.empty()) {
    return configError("https: cert_file and key_file are required with tls");
  }
  if (c.require_client_cert && c.client_ca_file.empty()) {
    return configError("https: require_client_cert needs client_ca_file");
  }
  if (!c.crl_file.empty() && c.client_ca_file.empty()) {
    return configError("https: crl_file needs client_ca_file");
  }
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX* native = ctx.native_handle();
  // No renegotiation (TLS 1.2; 1.3 has none): a client could make the server redo the costly
  // half of a handshake at will on one connection, and client-initiated renegotiation has
  // been the way into more than one attack. OpenSSL 3 already refuses a client's by default
  // (unless SSL_OP_ALLOW_CLIENT_RENEGOTIATION); this says so whatever the library's version.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return configError("https: cipher list rejected by OpenSSL");
  }
  error_code ec;
  if (ctx.use_certificate_chain_file(c.cert_file, ec); ec) {
    return configError("https: cannot load certificate " + c.cert_file + ": " + ec.message());
  }
  if (ctx.use_private_key_file(c.key_file, ssl::context::pem, ec); ec) {
    return configError("https: cannot load private key " + c.key_file + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return configError("https: private key " + c.key_file + " does not match " + c.cert_file);
  }
  if (!c.client_ca_file.empty()) {
    if (ctx.load_verify_file(c.client_ca_file, ec); ec) {
      return configError("https: cannot load client CA " + c.client_ca_file + ": " + ec.message());
    }
    if (!c.crl_file.empty()) {
      if (auto e = loadClientCrls(native, c.crl_file)) return e;
    }
    // Tell clients which CAs are accepted, so that they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    ssl::verify_mode mode = ssl::verify_peer;
    if (c.require_client_cert) mode |= ssl::verify_fail_if_no_peer_cert;
    ctx.set_verify_mode(mode);
    // Needed for session resumption when client certificates are verified.
    static constexpr unsigned char kSessionContext[] = "liaison-https";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  }
  tls_context.emplace(std::move(ctx));
  return std::nullopt;
}

Result<unsigned short> Server::Impl::start() {
  {
    std::lock_guard lock(state_mutex);
    if (state != State::NotStarted) return configError("https: start() called twice");
  }
  ServerConfig& c = shared->config;
  if (c.io_threads == 0 || c.worker_threads == 0) {
    return configError("https: io_threads and worker_threads must be at least 1");
  }
  if (c.tls) {
    if (auto err = makeTlsContext()) return *err;
  }
  error_code ec;
  auto address = asio::ip::make_address(c.address, ec);
  if (ec) return configError("https: bad listen address '" + c.address + "'");
  tcp::endpoint endpoint(address, c.port);
  std::string where = c.address + ":" + std::to_string(c.port);
  acceptor.emplace(strand);
  if (acceptor->open(endpoint.protocol(), ec); ec) {
    return configError("https: cannot open socket for " + where + ": " + ec.message());
  }
  acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor->bind(endpoint, ec); ec) {
    acceptor.reset();
    return configError("https: cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
    acceptor.reset();
    return configError("https: cannot listen on " + where + ": " + ec.message());
  }
  unsigned short port = acceptor->local_endpoint(ec).port();

  pool = std::make_unique<asio::thread_pool>(c.worker_threads);
  shared->pool = pool.get();
  ops_pool = std::make_unique<asio::thread_pool>(1);
  shared->ops_pool = ops_pool.get();
  work.emplace(ioc.get_executor());
  asio::post(strand, [this] { accept(); });
  for (unsigned i = 0; i < c.io_threads; ++i)
    io_threads.emplace_back([this] { ioc.run(); });
  {
    std::lock_guard lock(state_mutex);
    state = State::Running;
  }
  return port;
}

void Server::Impl::accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](error_code ec, auto socket) {
    onAccept(ec, tcp::socket(std::move(socket)));
  });
}

void Server::Impl::onAccept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || shared->stopping || !acceptor->is_open()) return;
  if (ec) {  // out of descriptors and the like: try again shortly rather than spin
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([this](error_code wait_ec) {
      if (!wait_ec && !shared->stopping && acceptor->is_open()) accept();
    });
    return;
  }
  accept();
  error_code ignored;
  std::string remote, client;
  auto peer = socket.remote_endpoint(ignored);
  if (!ignored) {
    auto addr = peer.address();
    remote = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
    remote += ":" + std::to_string(peer.port());
    client = clientKey(addr);
  }
  const Shared::Admission admission = shared->admit(client);
  if (admission == Shared::Admission::Refused) {
    socket.close(ignored);
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);
  asio::any_io_executor ex = socket.get_executor();
  std::shared_ptr<SessionBase> session;
  if (tls_context) {
    session = std::make_shared<Session<ssl::stream<tcp::socket>>>(shared, ex, std::move(remote),
                                                                  std::move(socket), *tls_context);
  } else {
    session =
        std::make_shared<Session<tcp::socket>>(shared, ex, std::move(remote), std::move(socket));
  }
  session->registerSelf(std::move(client), admission == Shared::Admission::OpsOnly);
  session->begin();
}

void Server::Impl::stop(std::chrono::milliseconds grace) {
  std::lock_guard serial(stop_mutex);
  {
    std::lock_guard lock(state_mutex);
    if (state != State::Running) {
      state = State::Stopped;
      state_changed.notify_all();
      return;
    }
  }
  auto deadline = SteadyClock::now() + grace;
  shared->stopping = true;
  // Stop accepting now: new connections are refused from here on.
  std::promise<void> closed;
  asio::post(strand, [this, &closed] {
    error_code ignored;
    acceptor->close(ignored);
    accept_retry.cancel();
    {
      std::lock_guard lock(state_mutex);  // stopOnSignals() may be setting it up
      if (signals) signals->cancel(ignored);
    }
    closed.set_value();
  });
  closed.get_future().wait();
  for (auto& session : shared->snapshot())
    session->serverStopping();
  {
    std::unique_lock lock(shared->mutex);
    shared->changed.wait_until(lock, deadline, [&] { return shared->sessions.empty(); });
  }
  // Past the grace: close what is left (a handler still running keeps its thread until it
  // returns; its response is dropped).
  for (auto& session : shared->snapshot())
    session->forceClose();
  {
    std::unique_lock lock(shared->mutex);
    shared->changed.wait_for(lock, std::chrono::milliseconds(200),
                             [&] { return shared->sessions.empty(); });
  }
  work.reset();
  ioc.stop();
  for (auto& t : io_threads)
    t.join();
  io_threads.clear();
  pool->stop();
  pool->join();
  ops_pool->stop();
  ops_pool->join();
  {
    std::lock_guard lock(state_mutex);
    state = State::Stopped;
  }
  state_changed.notify_all();
}

Server::Server(ServerConfig config, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(handler))) {}

Server::~Server() {
  impl_->stop(std::chrono::seconds(0));
  std::lock_guard lock(impl_->stopper_mutex);
  if (impl_->stopper.joinable()) impl_->stopper.join();
}

Result<unsigned short> Server::start() {
  return impl_->start();
}

void Server::stop(std::chrono::milliseconds grace) {
  impl_->stop(grace);
}

void Server::stopOnSignals() {
  Impl* impl = impl_.get();
  {
    std::lock_guard lock(impl->state_mutex);
    if (impl->signals || impl->state == Impl::State::Stopped) return;
    // Registered now, so that a signal from here on is caught (asio queues it until the wait).
    impl->signals.emplace(impl->strand, SIGTERM, SIGINT);
  }
  asio::post(impl->strand, [impl] {
    impl->signals->async_wait([impl](error_code ec, int) {
      if (ec) return;
      std::lock_guard lock(impl->stopper_mutex);
      if (!impl->stopper.joinable()) {
        impl->stopper = std::thread([impl] { impl->stop(impl->shared->config.shutdown_grace); });
      }
    });
  });
}

void Server::wait() {
  std::unique_lock lock(impl_->state_mutex);
  impl_->state_changed.wait(lock, [&] { return impl_->state != Impl::State::Running; });
}

}  // namespace liaison::http
