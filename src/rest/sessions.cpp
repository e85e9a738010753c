#include "rest/sessions.hpp"

#include <rapidjson/document.h>

#include "parse/json/json_util.hpp"
#include "rest/target.hpp"

namespace liaison::rest {

std::string_view cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
        pair[name.size()] == '=')
      return pair.substr(name.size() + 1);
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return {};
}

std::string originOf(std::string_view base_url) {
  const std::size_t scheme = base_url.find("://");
  if (scheme == std::string_view::npos) return std::string(base_url);
  const std::size_t path = base_url.find('/', scheme + 3);
  return std::string(base_url.substr(0, path));
}

namespace {

bool unsafe(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// "10.0.0.1:51234" → "10.0.0.1"; "[::1]:443" → "[::1]": the limit is per client, not per port.
std::string_view hostOf(std::string_view remote) {
  const std::size_t colon = remote.rfind(':');
  if (colon == std::string_view::npos || remote.back() == ']') return remote;
  return remote.substr(0, colon);
}

}  // namespace

// A pooled connection, returned when done unless it failed.
class Sessions::Lease {
 public:
  Lease(const Sessions& s, std::unique_ptr<auth::AccountStore> store)
      : s_(s), store_(std::move(store)) {}
  ~Lease() {
    if (!broken_) s_.release(std::move(store_));
  }
  auth::AccountStore* operator->() { return store_.get(); }
  template <typename T>
  const Result<T>& check(const Result<T>& r) {
    if (!r) broken_ = true;
    return r;
  }

 private:
  const Sessions& s_;
  std::unique_ptr<auth::AccountStore> store_;
  bool broken_ = false;
};

Sessions::Sessions(AccountStoreFactory connect, const auth::Secrets& secrets,
                   auth::SessionSettings settings, std::string base_url)
    : connect_(std::move(connect)),
      secrets_(&secrets),
      settings_(settings),
      origin_(originOf(base_url)) {}

Sessions::~Sessions() = default;

Result<std::unique_ptr<auth::AccountStore>> Sessions::acquire() const {
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      auto s = std::move(pool_.back());
      pool_.pop_back();
      return s;
    }
  }
  return connect_();
}

void Sessions::release(std::unique_ptr<auth::AccountStore> store) const {
  std::lock_guard lock(pool_mutex_);
  pool_.push_back(std::move(store));
}

auth::Authentication Sessions::authenticate(const auth::Credentials& c) const {
  using Status = auth::Authentication::Status;
  auth::Authentication out;
  const std::string_view token = cookieValue(c.cookie, kSessionCookie);
  if (token.empty()) return out;  // None: not a browser session
  out.status = Status::Invalid;
  out.error = Errc::SessionExpired;
  out.reason = "Session expirée ou inconnue : se reconnecter";
  auto store = acquire();
  if (!store) {
    out.error = store.error().code;
    out.reason = "Base de données indisponible ; réessayer.";
    return out;
  }
  Lease lease(*this, std::move(*store));
  auto user = lease.check(lease->touchSession(secrets_->sha256(token), settings_));
  if (!user) {
    out.error = user.error().code;
    out.reason = "Base de données indisponible ; réessayer.";
    return out;
  }
  if (!*user) return out;
  // A cookie is sent by the browser whoever made the page that asks: a write needs the
  // session's CSRF token, which only our own pages have read, and our Origin when one is sent.
  if (unsafe(c.method)) {
    const std::string expected = auth::csrfToken(*secrets_, token);
    if (!secrets_->equal(c.csrf_token, expected) || (!c.origin.empty() && c.origin != origin_)) {
      out.error = Errc::CsrfRefused;
      out.reason = "Requête refusée : jeton X-CSRF-Token absent ou faux, ou origine étrangère";
      return out;
    }
  }
  out.status = Status::Ok;
  out.error = Errc::AuthRequired;
  out.reason.clear();
  out.principal = auth::Principal{(*user)->account, auth::PrincipalKind::User, (*user)->roles,
                                  (*user)->ess, "session:" + (*user)->account};
  return out;
}

bool Sessions::allowAttempt(std::string_view client_address) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(attempts_mutex_);
  // Forget the windows that ended, now and then, so that the map stays small.
  if (attempts_.size() > 10000) {
    for (auto it = attempts_.begin(); it != attempts_.end();)
      it = now - it->second.first > std::chrono::minutes(1) ? attempts_.erase(it) : std::next(it);
  }
  auto [it, fresh] = attempts_.try_emplace(std::string(hostOf(client_address)), now, 0);
  if (!fresh && now - it->second.first > std::chrono::minutes(1)) it->second = {now, 0};
  return ++it->second.second <= settings_.attempts_per_minute;
}

LoginOutcome Sessions::login(std::string_view content_type, std::string_view body,
                             std::string_view client_address) {
  LoginOutcome out;
  std::string user, password;
  if (content_type.find("application/x-www-form-urlencoded") != std::string_view::npos) {
    for (const auto& [name, value] : parseTarget("/?" + std::string(body)).query) {
      if (name == "username") user = value;
      if (name == "password") password = value;
    }
  } else {
    rapidjson::Document d;
    if (!json::parseExternalJson(d, body) && d.IsObject()) {
      if (d.HasMember("username") && d["username"].IsString()) user = d["username"].GetString();
      if (d.HasMember("password") && d["password"].IsString())
        password = std::string(d["password"].GetString(), d["password"].GetStringLength());
    }
  }
  out.user = auth::validUserName(user) ? user : "";
  if (!allowAttempt(client_address)) {
    out.error = Errc::LoginRateLimited;
    out.retry_after = 60;
    return out;
  }
  auto store = acquire();
  if (!store) {
    out.error = store.error().code;
    return out;
  }
  Lease lease(*this, std::move(*store));
  std::optional<auth::Account> account;
  if (!out.user.empty() && password.size() <= auth::kMaxPasswordLength) {
    auto found = lease.check(lease->find(out.user));
    if (!found) {
      out.error = found.error().code;
      return out;
    }
    account = std::move(*found);
  }
  if (account && account->locked) {
    out.error = Errc::AccountLocked;
    out.retry_after = std::max<std::int64_t>(1, account->locked_seconds_left);
    return out;
  }
  // The same work whether the account exists or not: an unknown name is verified against a
  // hash of nobody's password, so that the time taken does not tell which names exist.
  const bool verified =
      secrets_->verifyPassword(account ? account->password_hash : secrets_->dummyHash(), password);
  if (!account || !verified || account->disabled) {
    out.error = Errc::LoginFailed;
    if (account && !verified) {
      auto locked = lease.check(
          lease->recordFailure(account->name, settings_.max_failures, settings_.lockout));
      out.locked_now = locked && *locked;
    }
    return out;
  }
  if (auto r = lease.check(lease->recordSuccess(account->name)); !r) {
    out.error = r.error().code;
    return out;
  }
  out.token = secrets_->randomToken();
  if (auto r = lease.check(lease->createSession(secrets_->sha256(out.token), account->name,
                                                settings_, hostOf(client_address)));
      !r) {
    out.error = r.error().code;
    out.token.clear();
    return out;
  }
  out.ok = true;
  out.csrf = auth::csrfToken(*secrets_, out.token);
  out.session = auth::SessionUser{account->name, account->roles, account->ess};
  return out;
}

Result<Unit> Sessions::logout(std::string_view cookie_header) {
  const std::string_view token = cookieValue(cookie_header, kSessionCookie);
  if (token.empty()) return Unit{};
  auto store = acquire();
  if (!store) return store.error();
  Lease lease(*this, std::move(*store));
  return lease.check(lease->deleteSession(secrets_->sha256(token)));
}

std::string Sessions::csrfOf(std::string_view cookie_header) const {
  return auth::csrfToken(*secrets_, cookieValue(cookie_header, kSessionCookie));
}

}  // namespace liaison::rest
