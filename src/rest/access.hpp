#pragma once
// The machine clients the serve configuration names (its `access` object): client certificates
// matched by subject DN or subjectAltName, and bearer tokens for scripts, stored as SHA-256
// hashes and compared in constant time. And the roles → permissions policy, read from its JSON
// (profiles/policy.json, schemas/policy.schema.json).

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth/authenticator.hpp"
#include "core/auth/authorize.hpp"
#include "core/error/result.hpp"
#include "core/ports/store.hpp"

namespace liaison::rest {

struct ClientSettings {
  std::string name;
  std::string subject;  // exact RFC 2253 subject of the certificate ("" if matched by SAN)
  std::string san;      // one subjectAltName: "DNS:host", "email:a@b", "URI:…" ("" if by subject)
  std::vector<std::string> roles, ess;
  // Where the answers to the messages it posts to `POST /` go (MDNs, notices): the transport
  // vouches for this address, not for any the message names. "" = none: the HTTP answer only.
  std::string address = {};
};

struct TokenSettings {
  std::string name;
  std::string sha256;  // hex SHA-256 of the token (the token itself is never configured)
  std::vector<std::string> roles, ess;
};

struct AccessSettings {
  std::string policy;  // path of the policy file ("" = profiles/policy.json)
  std::vector<ClientSettings> clients;
  std::vector<TokenSettings> tokens;
};

// Machine clients: a bearer token when the request has an Authorization header (a wrong one is
// Invalid, whatever certificate comes with it; another scheme is None, left to other methods),
// else the verified client certificate.
class ClientAccess final : public auth::Authenticator {
 public:
  explicit ClientAccess(AccessSettings settings);
  auth::Authentication authenticate(const auth::Credentials& credentials) const override;

 private:
  AccessSettings settings_;
  std::vector<std::array<unsigned char, 32>> hashes_;  // tokens' hashes, decoded
};

// The policy from its JSON text; errors name the JSON path ("roles.reader.grants[0].permissions").
Result<auth::Policy> parsePolicy(std::string_view json);

// Every role the clients and tokens name exists in the policy; the first that does not is named.
Result<Unit> checkRoles(const AccessSettings& access, const auth::Policy& policy);

// Hex SHA-256 of a token (what the configuration stores; `liaison` prints it for operators).
std::string tokenHash(std::string_view token);

}  // namespace liaison::rest
