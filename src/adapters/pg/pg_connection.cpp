#include "adapters/pg/pg_connection.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <vector>

namespace liaison::pg {
namespace {

Error errorOf(const PGresult* r, const PGconn* c) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string detail = primary != nullptr ? primary : PQerrorMessage(c);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' '))
    detail.pop_back();
  const std::string_view s = state != nullptr ? state : "";
  if (s.empty() && PQstatus(c) != CONNECTION_OK)
    return makeError(Errc::DbUnavailable, "PostgreSQL: " + detail);
  if (s.substr(0, 2) == "08" || s == "57P01" || s == "57P03")
    return makeError(Errc::DbUnavailable, "PostgreSQL " + std::string(s) + ": " + detail);
  // The server ended the session: idle in a transaction too long (the next statement learns it).
  if (s == "25P03") return makeError(Errc::DbUnavailable, "PostgreSQL 25P03: " + detail);
  // statement_timeout: the connection is still usable; the request may be tried again.
  if (s == "57014") return makeError(Errc::DbTimeout, "PostgreSQL 57014: " + detail);
  if (s == "40001" || s == "40P01")
    return makeError(Errc::DbSerialization, "PostgreSQL " + std::string(s) + ": " + detail);
  if (s == "23505") return makeError(Errc::DbConflict, "PostgreSQL 23505: " + detail);
  return makeError(Errc::DbError, "PostgreSQL " + std::string(s) + ": " + detail);
}

// A conninfo value in single quotes (backslash and quote escaped), as libpq reads them.
std::string quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

}  // namespace

Result<std::string> boundedConninfo(const std::string& conninfo, const SessionLimits& limits) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);  // it may quote the string (a password): not shown
  if (parsed == nullptr)
    return makeError(Errc::ConfigInvalid,
                     "database: not a libpq connection string (key=value … or postgresql://…)");
  std::string out;
  std::string options;
  bool has_connect_timeout = false;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view keyword = o->keyword;
    if (keyword == "options") {
      options = o->val;
      continue;
    }
    if (keyword == "connect_timeout") has_connect_timeout = true;
    out += (out.empty() ? "" : " ") + std::string(keyword) + "=" + quoted(o->val);
  }
  PQconninfoFree(parsed);
  if (!has_connect_timeout && limits.connect_timeout_seconds > 0)
    out += (out.empty() ? "" : " ") + std::string("connect_timeout=") +
           std::to_string(limits.connect_timeout_seconds);
  auto add = [&options](std::string_view setting, int value) {
    if (value <= 0 || options.find(setting) != std::string::npos) return;
    options += (options.empty() ? "" : " ") + std::string("-c ") + std::string(setting) + "=" +
               std::to_string(value);
  };
  add("statement_timeout", limits.statement_timeout_ms);
  add("idle_in_transaction_session_timeout", limits.idle_in_transaction_timeout_ms);
  if (!options.empty()) out += (out.empty() ? "" : " ") + std::string("options=") + quoted(options);
  return out;
}

PgResult::~PgResult() {
  if (r_ != nullptr) PQclear(r_);
}

int PgResult::rows() const {
  return PQntuples(r_);
}

bool PgResult::isNull(int row, int column) const {
  return PQgetisnull(r_, row, column) != 0;
}

std::string_view PgResult::text(int row, int column) const {
  if (isNull(row, column)) return {};
  return {PQgetvalue(r_, row, column), static_cast<std::size_t>(PQgetlength(r_, row, column))};
}

std::int64_t PgResult::integer(int row, int column) const {
  const std::string_view t = text(row, column);
  std::int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return v;
}

Result<std::unique_ptr<PgConnection>> PgConnection::open(const std::string& conninfo) {
  // Defaults before `dbname`, which holds the operator's string (expanded): what it sets wins.
  static constexpr const char* kKeywords[] = {
      "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
      "dbname",          nullptr};
  const char* values[] = {"5", "1", "30", "10", "3", conninfo.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(kKeywords, values, 1);
  if (c == nullptr) return makeError(Errc::DbUnavailable, "PostgreSQL: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string message = PQerrorMessage(c);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    PQfinish(c);
    return makeError(Errc::DbUnavailable, "PostgreSQL: " + message);
  }
  // Dates without a zone are UTC (search indexes, FHIR instants written as UTC).
  if (PGresult* tz = PQexec(c, "SET TimeZone = 'UTC'"); tz != nullptr) PQclear(tz);
  // Prepared statements keep one generic plan: a search planned again at each execution spent
  // more in the planner (~0.5 ms) than in the executor. The one value whose selectivity matters
  // to the plan, a string prefix, is written into the SQL of an unprepared statement (PgStore).
  if (PGresult* plans = PQexec(c, "SET plan_cache_mode = force_generic_plan"); plans != nullptr)
    PQclear(plans);
  // Server notices ("already exists, skipping") are not for the operator's terminal.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(c));
}

std::string PgConnection::literal(std::string_view value) const {
  char* quoted = PQescapeLiteral(c_, value.data(), value.size());
  if (quoted == nullptr) return "NULL";  // invalid in the connection's encoding: matches nothing
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

PgConnection::~PgConnection() {
  PQfinish(c_);
}

bool PgConnection::ok() const {
  return PQstatus(c_) == CONNECTION_OK;
}

std::string PgConnection::option(std::string_view keyword) const {
  std::string out;
  PQconninfoOption* options = PQconninfo(c_);
  if (options == nullptr) return out;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (keyword == o->keyword && o->val != nullptr) out = o->val;
  }
  PQconninfoFree(options);
  return out;
}

Result<PgResult> PgConnection::exec(std::string_view sql, std::initializer_list<Param> params) {
  return exec(sql, std::vector<Param>(params));
}

Result<PgResult> PgConnection::exec(std::string_view sql, const std::vector<Param>& params) {
  return run(nullptr, std::string(sql), params);
}

Result<PgResult> PgConnection::execPrepared(const std::string& sql,
                                            std::initializer_list<Param> params) {
  return execPrepared(sql, std::vector<Param>(params));
}

Result<PgResult> PgConnection::execPrepared(const std::string& sql,
                                            const std::vector<Param>& params) {
  constexpr std::size_t kMaxPrepared = 256;
  auto it = prepared_.find(sql);
  if (it == prepared_.end() && prepared_.size() >= kMaxPrepared) return run(nullptr, sql, params);
  if (it == prepared_.end()) {
    const std::string name = "liaison_" + std::to_string(prepared_.size() + 1);
    PGresult* r =
        PQprepare(c_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr);
    const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK) {
      Error e = errorOf(r, c_);
      if (r != nullptr) PQclear(r);
      return e;
    }
    PQclear(r);
    it = prepared_.emplace(sql, name).first;
  }
  return run(&it->second, sql, params);
}

Result<PgResult> PgConnection::run(const std::string* prepared_name, const std::string& statement,
                                   const std::vector<Param>& params) {
  std::vector<std::string> copies;  // libpq wants NUL-terminated text parameters
  copies.reserve(params.size());
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params) {
    if (p.null) {
      values.push_back(nullptr);
    } else if (p.binary) {
      values.push_back(p.value.data());
    } else {
      copies.emplace_back(p.value);
      values.push_back(copies.back().c_str());
    }
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  PGresult* r = prepared_name != nullptr
                    ? PQexecPrepared(c_, prepared_name->c_str(), static_cast<int>(values.size()),
                                     values.data(), lengths.data(), formats.data(), 0)
                    : PQexecParams(c_, statement.c_str(), static_cast<int>(values.size()), nullptr,
                                   values.data(), lengths.data(), formats.data(), 0);
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Error e = errorOf(r, c_);
    if (r != nullptr) PQclear(r);
    return e;
  }
  return PgResult(r);
}

Result<Unit> PgConnection::copyIn(std::string_view copy_sql, std::string_view data) {
  const std::string text(copy_sql);
  PGresult* r = PQexec(c_, text.c_str());
  if (r == nullptr || PQresultStatus(r) != PGRES_COPY_IN) {
    Error e = errorOf(r, c_);
    if (r != nullptr) PQclear(r);
    return e;
  }
  PQclear(r);
  // libpq sends in pieces of any size; large ones are split only to keep int lengths.
  constexpr std::size_t kPiece = 1 << 20;
  bool sent = true;
  for (std::size_t at = 0; sent && at < data.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, data.size() - at);
    sent = PQputCopyData(c_, data.data() + at, static_cast<int>(n)) == 1;
  }
  if (PQputCopyEnd(c_, sent ? nullptr : "liaison: COPY data not sent") != 1) {
    return errorOf(nullptr, c_);
  }
  std::optional<Error> failure;
  while ((r = PQgetResult(c_)) != nullptr) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !failure) failure = errorOf(r, c_);
    PQclear(r);
  }
  if (failure) return *failure;
  return Unit{};
}

void appendCopyField(std::string& out, std::string_view value) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escaped = c == '\\'   ? "\\\\"
                          : c == '\t' ? "\\t"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                                      : nullptr;
    if (escaped == nullptr) continue;
    out.append(value.substr(start, i - start));
    out.append(escaped);
    start = i + 1;
  }
  out.append(value.substr(start));
}

Result<Unit> PgConnection::script(std::string_view sql) {
  const std::string text(sql);
  PGresult* r = PQexec(c_, text.c_str());
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Error e = errorOf(r, c_);
    if (r != nullptr) PQclear(r);
    return e;
  }
  PQclear(r);
  return Unit{};
}

}  // namespace liaison::pg
