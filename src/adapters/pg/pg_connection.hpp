#pragma once
// A libpq connection and its results, RAII, with PostgreSQL errors turned into liaison's codes:
// SQLSTATE class 08 → db-unavailable, 40001/40P01 → db-serialization (both transient, retried),
// 57014 (a statement cancelled by statement_timeout) → db-timeout (transient), 23505 →
// db-conflict, anything else → db-error. Error details carry PostgreSQL's primary
// message only: its DETAIL line may quote key values (an INS), which must not reach logs.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error/result.hpp"
#include "core/ports/store.hpp"

struct pg_conn;
struct pg_result;

namespace liaison::pg {

class PgResult {
 public:
  explicit PgResult(pg_result* r) : r_(r) {}
  PgResult(PgResult&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  bool isNull(int row, int column) const;
  std::string_view text(int row, int column) const;  // "" when NULL
  std::int64_t integer(int row, int column) const;

 private:
  pg_result* r_;
};

// A query parameter: text, or binary bytes (bytea).
struct Param {
  std::string_view value;
  bool binary = false;
  bool null = false;
};

// Time bounds of every session (issue 14). A server that stops answering, a network that drops
// packets silently, a statement that runs away or a transaction left open must not hold a
// gateway's worker (or a lock) for ever.
struct SessionLimits {
  int connect_timeout_seconds = 5;         // libpq connect_timeout (libpq counts 2 at least)
  int statement_timeout_ms = 0;            // 0: none (migrations, reindex, `liaison ingest`)
  int idle_in_transaction_timeout_ms = 0;  // 0: none
};

// `conninfo` (key=value or a postgresql:// URI) as a key=value string carrying `limits`:
// connect_timeout, and statement_timeout / idle_in_transaction_session_timeout as `-c` settings
// of the `options` parameter (so that every connection opened with it has them, whoever opens
// it). What the operator's string sets explicitly wins: its connect_timeout, or an `options`
// that already names one of these settings, is kept as written. Errors: config-invalid (the
// message never quotes the string, which may hold a password).
Result<std::string> boundedConninfo(const std::string& conninfo, const SessionLimits& limits);

class PgConnection {
 public:
  // Every connection has TCP keepalives (idle 30 s, then 3 probes 10 s apart: a peer gone
  // without a FIN is noticed in about a minute, not after the kernel's two hours) and a
  // connect_timeout of 5 s, unless `conninfo` sets them itself.
  static Result<std::unique_ptr<PgConnection>> open(const std::string& conninfo);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // One statement with $1… parameters (text results).
  Result<PgResult> exec(std::string_view sql, std::initializer_list<Param> params = {});
  Result<PgResult> exec(std::string_view sql, const std::vector<Param>& params);
  // The same, as a statement prepared once per connection (planned once): for the fixed SQL of
  // the hot paths. Not for searches, whose plans depend on the values (LIKE prefixes).
  Result<PgResult> execPrepared(const std::string& sql, std::initializer_list<Param> params);
  // Dynamic SQL of a bounded number of shapes (searches): prepared while fewer than 256
  // statements are, then run unprepared. PostgreSQL keeps custom plans where the values matter.
  Result<PgResult> execPrepared(const std::string& sql, const std::vector<Param>& params);

  // Several statements, no parameters (migrations).
  Result<Unit> script(std::string_view sql);

  // `COPY … FROM STDIN` with `data` in COPY's text format (rows already escaped: see
  // appendCopyField): the cheapest way to append many rows in one statement.
  Result<Unit> copyIn(std::string_view copy_sql, std::string_view data);

  // A string as an SQL literal, quoted and escaped by libpq (for the rare value the planner must
  // see: a search prefix).
  std::string literal(std::string_view value) const;

  bool ok() const;
  // The value libpq uses for a connection parameter ("keepalives_idle"); "" when unset.
  std::string option(std::string_view keyword) const;

 private:
  explicit PgConnection(pg_conn* c) : c_(c) {}
  Result<PgResult> run(const std::string* prepared_name, const std::string& sql,
                       const std::vector<Param>& params);
  pg_conn* c_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL → statement name
};

// Appends `value` as one field of COPY's text format: backslash, tab, newline and carriage
// return escaped (the field and row delimiters stay unambiguous whatever the value holds).
void appendCopyField(std::string& out, std::string_view value);

}  // namespace liaison::pg
