#pragma once
// People's local accounts and their browser sessions (issue 14): the pure rules (names,
// password policy, lock-out) and the ports the REST API and `liaison user` use — the account
// store (PostgreSQL: adapters/pg/pg_accounts) and the secrets (libsodium: adapters/crypto).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"
#include "core/ports/store.hpp"  // Unit

namespace liaison::auth {

// A user name: [A-Za-z0-9._@-]{1,64} (as the table's CHECK says).
bool validUserName(std::string_view name);

// The password policy, checked when a password is set (never at login: an old password that a
// newer policy would refuse still logs in, and its owner changes it). Errors in French, naming
// the rule broken; never the password.
Result<Unit> checkPasswordPolicy(std::string_view name, std::string_view password);
inline constexpr std::size_t kMinPasswordLength = 12;    // characters (UTF-8 code points)
inline constexpr std::size_t kMaxPasswordLength = 1024;  // bytes: argon2 of a huge input is a DoS

struct Account {
  std::string name;
  std::string password_hash;  // libsodium's crypto_pwhash_str text ("$argon2id$v=19$…")
  std::vector<std::string> roles, ess;
  bool disabled = false;
  int failed_logins = 0;
  bool locked = false;  // locked_until is in the future (the database's clock)
  std::int64_t locked_seconds_left = 0;
};

// Sessions and login limits (the serve configuration's `sessions` object).
struct SessionSettings {
  std::chrono::minutes idle{30};
  std::chrono::minutes absolute{12 * 60};
  int max_failures = 5;              // consecutive failed logins before the account is locked…
  std::chrono::minutes lockout{15};  // …for this long
  int attempts_per_minute = 20;      // login attempts from one client address
};

// Who a valid session belongs to.
struct SessionUser {
  std::string account;
  std::vector<std::string> roles, ess;
};

// The accounts and sessions in the database. One instance per connection, like Store: not shared
// between threads. Times are the database's (two instances agree on expiry and lock-out).
class AccountStore {
 public:
  virtual ~AccountStore() = default;
  virtual Result<std::optional<Account>> find(std::string_view name) = 0;
  virtual Result<std::vector<Account>> list() = 0;
  // `liaison user`: add fails with db-conflict if the name is taken; the others with
  // rest-not-found if there is no such account.
  virtual Result<Unit> add(const Account& account) = 0;
  virtual Result<Unit> setPassword(std::string_view name, std::string_view hash) = 0;
  virtual Result<Unit> setDisabled(std::string_view name, bool disabled) = 0;
  // One more failed login, counted atomically; locks the account for `lockout` when the count
  // reaches `max_failures`. Answers whether this failure locked it.
  virtual Result<bool> recordFailure(std::string_view name, int max_failures,
                                     std::chrono::minutes lockout) = 0;
  virtual Result<Unit> recordSuccess(std::string_view name) = 0;
  virtual Result<Unit> createSession(std::string_view token_sha256, std::string_view account,
                                     const SessionSettings& settings,
                                     std::string_view client_address) = 0;
  // The session's user if it is neither idle nor past its absolute expiry and its account is
  // enabled; its idle expiry is then pushed back. nullopt: no such session (or expired, or the
  // account disabled).
  virtual Result<std::optional<SessionUser>> touchSession(std::string_view token_sha256,
                                                          const SessionSettings& settings) = 0;
  virtual Result<Unit> deleteSession(std::string_view token_sha256) = 0;
};

// Password hashes and random tokens (libsodium's, in adapters/crypto).
class Secrets {
 public:
  virtual ~Secrets() = default;
  virtual Result<std::string> hashPassword(std::string_view password) const = 0;
  virtual bool verifyPassword(std::string_view hash, std::string_view password) const = 0;
  // Hashed with other (weaker) parameters than today's: rehash at the next password change.
  virtual bool needsRehash(std::string_view hash) const = 0;
  // A hash of a random password: what an unknown user's login is verified against, so that it
  // takes as long as a known user's.
  virtual const std::string& dummyHash() const = 0;
  virtual std::string randomToken() const = 0;  // 32 random bytes, base64url without padding
  virtual std::string sha256(std::string_view bytes) const = 0;          // 32 raw bytes
  virtual bool equal(std::string_view a, std::string_view b) const = 0;  // constant time
};

// The CSRF token of a session: derived from its token (base64url of SHA-256 of a label and the
// token), so nothing more is stored; whoever lacks the cookie cannot compute it.
std::string csrfToken(const Secrets& secrets, std::string_view session_token);

std::string base64url(std::string_view bytes);

}  // namespace liaison::auth
