#include "adapters/pg/pg_accounts.hpp"

#include "adapters/pg/pg_audit_log.hpp"
#include "adapters/pg/pg_connection.hpp"

namespace liaison::pg {
namespace {

// Roles and ESS travel as "a,b" (array_to_string): their names hold no comma (`liaison user`
// checks them).
std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

constexpr std::string_view kAccountColumns =
    "name, password_hash, array_to_string(roles, ','), array_to_string(ess, ','), disabled, "
    "failed_logins, coalesce(locked_until > now(), false), "
    "greatest(0, ceil(extract(epoch FROM locked_until - now())))::bigint";

auth::Account accountAt(const PgResult& r, int row) {
  auth::Account a;
  a.name = std::string(r.text(row, 0));
  a.password_hash = std::string(r.text(row, 1));
  a.roles = splitList(r.text(row, 2));
  a.ess = splitList(r.text(row, 3));
  a.disabled = r.text(row, 4) == "t";
  a.failed_logins = static_cast<int>(r.integer(row, 5));
  a.locked = r.text(row, 6) == "t";
  a.locked_seconds_left = r.isNull(row, 7) ? 0 : r.integer(row, 7);
  return a;
}

std::string minutes(std::chrono::minutes m) {
  return std::to_string(m.count()) + " minutes";
}

Result<Unit> oneRow(const Result<PgResult>& r, std::string_view name) {
  if (!r) return r.error();
  if (r->rows() == 0) return makeError(Errc::RestNotFound, "Compte inconnu : " + std::string(name));
  return Unit{};
}

}  // namespace

Result<std::unique_ptr<PgAccounts>> PgAccounts::open(const std::string& conninfo) {
  auto db = PgConnection::open(conninfo);
  if (!db) return db.error();
  return std::unique_ptr<PgAccounts>(new PgAccounts(std::move(*db)));
}

PgAccounts::PgAccounts(std::unique_ptr<PgConnection> db) : db_(std::move(db)) {}
PgAccounts::~PgAccounts() = default;

Result<std::optional<auth::Account>> PgAccounts::find(std::string_view name) {
  auto r = db_->execPrepared(
      "SELECT " + std::string(kAccountColumns) + " FROM user_account WHERE name = $1", {{name}});
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<auth::Account>();
  return std::optional(accountAt(*r, 0));
}

Result<std::vector<auth::Account>> PgAccounts::list() {
  auto r = db_->exec("SELECT " + std::string(kAccountColumns) + " FROM user_account ORDER BY name");
  if (!r) return r.error();
  std::vector<auth::Account> out;
  for (int i = 0; i < r->rows(); ++i)
    out.push_back(accountAt(*r, i));
  return out;
}

Result<Unit> PgAccounts::add(const auth::Account& a) {
  const std::string roles = textArrayLiteral(a.roles), ess = textArrayLiteral(a.ess);
  auto r = db_->exec(
      "INSERT INTO user_account (name, password_hash, roles, ess, disabled) "
      "VALUES ($1, $2, $3::text[], $4::text[], $5)",
      {{a.name}, {a.password_hash}, {roles}, {ess}, {a.disabled ? "true" : "false"}});
  if (!r) return r.error();
  return Unit{};
}

Result<Unit> PgAccounts::setPassword(std::string_view name, std::string_view hash) {
  // A new password also ends the lock-out and every session opened with the old one.
  auto r = db_->exec(
      "WITH a AS (UPDATE user_account SET password_hash = $2, password_changed_at = now(), "
      "updated_at = now(), failed_logins = 0, locked_until = NULL WHERE name = $1 RETURNING name), "
      "s AS (DELETE FROM user_session WHERE account IN (SELECT name FROM a)) SELECT name FROM a",
      {{name}, {hash}});
  return oneRow(r, name);
}

Result<Unit> PgAccounts::setDisabled(std::string_view name, bool disabled) {
  // Disabling also deletes its sessions (touchSession refuses them anyway: belt and braces).
  auto r = db_->exec(
      "WITH a AS (UPDATE user_account SET disabled = $2, updated_at = now() WHERE name = $1 "
      "RETURNING name, disabled), "
      "s AS (DELETE FROM user_session WHERE account IN (SELECT name FROM a WHERE disabled)) "
      "SELECT name FROM a",
      {{name}, {disabled ? "true" : "false"}});
  return oneRow(r, name);
}

Result<bool> PgAccounts::recordFailure(std::string_view name, int max_failures,
                                       std::chrono::minutes lockout) {
  // One statement: two instances counting failures at once neither lose one nor both lock.
  // The count restarts at the lock, so that the next failure after it ends counts from zero.
  const std::string max = std::to_string(max_failures), lock = minutes(lockout);
  auto r = db_->execPrepared(
      "UPDATE user_account SET "
      "locked_until = CASE WHEN failed_logins + 1 >= $2::int THEN now() + $3::interval "
      "ELSE locked_until END, "
      "failed_logins = CASE WHEN failed_logins + 1 >= $2::int THEN 0 ELSE failed_logins + 1 END "
      "WHERE name = $1 RETURNING locked_until IS NOT NULL AND locked_until > now()",
      {{name}, {max}, {lock}});
  if (!r) return r.error();
  return r->rows() > 0 && r->text(0, 0) == "t";
}

Result<Unit> PgAccounts::recordSuccess(std::string_view name) {
  auto r = db_->execPrepared(
      "UPDATE user_account SET failed_logins = 0, locked_until = NULL WHERE name = $1 "
      "AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
      {{name}});
  if (!r) return r.error();
  return Unit{};
}

Result<Unit> PgAccounts::createSession(std::string_view token_sha256, std::string_view account,
                                       const auth::SessionSettings& settings,
                                       std::string_view client_address) {
  const std::string idle = minutes(settings.idle), absolute = minutes(settings.absolute);
  auto r = db_->execPrepared(
      "INSERT INTO user_session (token_sha256, account, idle_expires_at, absolute_expires_at, "
      "client_address) VALUES ($1, $2, least(now() + $3::interval, now() + $4::interval), "
      "now() + $4::interval, $5)",
      {{token_sha256, true}, {account}, {idle}, {absolute}, {client_address}});
  if (!r) return r.error();
  // Expired sessions of anyone are swept now and then: a login is rare enough to pay for it.
  auto swept = db_->exec(
      "DELETE FROM user_session WHERE ctid IN (SELECT ctid FROM user_session "
      "WHERE absolute_expires_at < now() OR idle_expires_at < now() LIMIT 100)");
  if (!swept) return swept.error();
  return Unit{};
}

Result<std::optional<auth::SessionUser>> PgAccounts::touchSession(
    std::string_view token_sha256, const auth::SessionSettings& settings) {
  const std::string idle = minutes(settings.idle);
  auto r = db_->execPrepared(
      "UPDATE user_session s SET last_seen_at = now(), "
      "idle_expires_at = least(now() + $2::interval, s.absolute_expires_at) "
      "FROM user_account a WHERE s.token_sha256 = $1 AND a.name = s.account AND NOT a.disabled "
      "AND s.idle_expires_at > now() AND s.absolute_expires_at > now() "
      "RETURNING a.name, array_to_string(a.roles, ','), array_to_string(a.ess, ',')",
      {{token_sha256, true}, {idle}});
  if (!r) return r.error();
  if (r->rows() == 0) return std::optional<auth::SessionUser>();
  return std::optional(auth::SessionUser{std::string(r->text(0, 0)), splitList(r->text(0, 1)),
                                         splitList(r->text(0, 2))});
}

Result<Unit> PgAccounts::deleteSession(std::string_view token_sha256) {
  auto r =
      db_->execPrepared("DELETE FROM user_session WHERE token_sha256 = $1", {{token_sha256, true}});
  if (!r) return r.error();
  return Unit{};
}

}  // namespace liaison::pg
