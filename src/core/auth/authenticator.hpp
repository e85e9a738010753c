#pragma once
// How a request's credentials become a Principal. An interface so that other methods (local
// accounts with sessions, Pro Santé Connect / OpenID Connect) plug in beside the machine clients
// of rest/access: each looks at what the request carries and answers.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth/authorize.hpp"
#include "core/error/error.hpp"

namespace liaison::auth {

// What the HTTP adapter verified or received; plain strings, no socket.
struct Credentials {
  std::string_view client_subject;  // RFC 2253 subject of the verified certificate
  const std::vector<std::string>* client_san = nullptr;  // its subjectAltNames ("DNS:…", "email:…")
  std::string_view authorization;                        // the Authorization header, as received
  // A browser's session (local accounts): the Cookie header, and for the CSRF check of unsafe
  // methods the method, the X-CSRF-Token and Origin headers.
  std::string_view cookie = {};
  std::string_view method = {};
  std::string_view csrf_token = {};
  std::string_view origin = {};
};

struct Authentication {
  enum class Status {
    None,     // no credential this method knows
    Ok,       // principal is set
    Invalid,  // a credential was presented and is wrong (bad token, unknown certificate)
  };
  Status status = Status::None;
  std::optional<Principal> principal;
  std::string reason;  // why Invalid, for the client (never the credential itself)
  // The answer's code when Invalid: auth-required, or a session's session-expired (401) or
  // csrf-refused (403).
  Errc error = Errc::AuthRequired;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual Authentication authenticate(const Credentials& credentials) const = 0;
};

// Several methods side by side (machine clients, then sessions of local accounts, Pro Santé
// Connect …): each is asked in turn; the first that knows the credential decides — Ok, or Invalid
// (a wrong credential is never retried with another method); None from all is None.
class Authenticators final : public Authenticator {
 public:
  void add(const Authenticator& method) { methods_.push_back(&method); }
  Authentication authenticate(const Credentials& credentials) const override {
    for (const Authenticator* m : methods_) {
      Authentication a = m->authenticate(credentials);
      if (a.status != Authentication::Status::None) return a;
    }
    return {};
  }

 private:
  std::vector<const Authenticator*> methods_;  // not owned: they outlive this list
};

}  // namespace liaison::auth
