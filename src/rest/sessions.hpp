#pragma once
// People's browser sessions (issue 14): POST /auth/login checks a local account's password and
// opens a session — an opaque random token in a `Secure; HttpOnly; SameSite=Strict` cookie, only
// its SHA-256 in the database —, and the session Authenticator recognises the cookie on later
// requests (after the machine clients in the chain), with the CSRF check of unsafe methods.
// Lock-out in the database (instances agree), a per-address limit on login attempts in memory.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/auth/accounts.hpp"
#include "core/auth/authenticator.hpp"

namespace liaison::rest {

using AccountStoreFactory = std::function<Result<std::unique_ptr<auth::AccountStore>>()>;

inline constexpr std::string_view kSessionCookie = "liaison_session";

// The value of cookie `name` in a Cookie header ("a=1; liaison_session=xyz"); "" if absent.
std::string_view cookieValue(std::string_view header, std::string_view name);

// "https://gw.example:8443/fhir" → "https://gw.example:8443" (what a browser sends as Origin).
std::string originOf(std::string_view base_url);

struct LoginOutcome {
  Errc error = Errc::LoginFailed;  // meaningful when !ok
  bool ok = false;
  bool locked_now = false;       // this failure locked the account (for the audit)
  std::int64_t retry_after = 0;  // seconds, for 429
  std::string user;              // the name tried (the audit's entity), even when it failed
  auth::SessionUser session;     // when ok
  std::string token, csrf;       // when ok
};

class Sessions final : public auth::Authenticator {
 public:
  Sessions(AccountStoreFactory connect, const auth::Secrets& secrets,
           auth::SessionSettings settings, std::string base_url);
  ~Sessions() override;

  auth::Authentication authenticate(const auth::Credentials& credentials) const override;

  // `body`: JSON {"username","password"} or a form (application/x-www-form-urlencoded).
  LoginOutcome login(std::string_view content_type, std::string_view body,
                     std::string_view client_address);
  Result<Unit> logout(std::string_view cookie_header);
  std::string csrfOf(std::string_view cookie_header) const;
  const auth::SessionSettings& settings() const { return settings_; }

 private:
  class Lease;
  Result<std::unique_ptr<auth::AccountStore>> acquire() const;
  void release(std::unique_ptr<auth::AccountStore> store) const;
  bool allowAttempt(std::string_view client_address);

  AccountStoreFactory connect_;
  const auth::Secrets* secrets_;
  auth::SessionSettings settings_;
  std::string origin_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<auth::AccountStore>> pool_;
  std::mutex attempts_mutex_;
  // Per client address (without its port): the current minute's window and its attempts.
  std::map<std::string, std::pair<std::chrono::steady_clock::time_point, int>, std::less<>>
      attempts_;
};

}  // namespace liaison::rest
