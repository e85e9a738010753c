#include "rest/access.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <set>

namespace liaison::rest {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<unsigned char, 32> sha256(std::string_view bytes) {
  std::array<unsigned char, 32> out{};
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

// "Bearer abc" → "abc" (the scheme is case-insensitive, RFC 7235); "" when not a bearer token.
std::string_view bearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ')
    token.remove_suffix(1);
  return token;
}

auth::Principal principalOf(std::string_view name, auth::PrincipalKind kind,
                            const std::vector<std::string>& roles,
                            const std::vector<std::string>& ess, std::string credential) {
  return auth::Principal{std::string(name), kind, roles, ess, std::move(credential)};
}

}  // namespace

std::string tokenHash(std::string_view token) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : sha256(token)) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

ClientAccess::ClientAccess(AccessSettings settings) : settings_(std::move(settings)) {
  for (const TokenSettings& t : settings_.tokens) {
    std::array<unsigned char, 32> h{};
    // A malformed hash (the configuration reader refuses them) can match nothing: all ones is no
    // SHA-256 anyone can find a preimage for.
    h.fill(0xff);
    if (t.sha256.size() == 64) {
      bool ok = true;
      for (std::size_t i = 0; i < 32; ++i) {
        const int hi = hexDigit(t.sha256[2 * i]), lo = hexDigit(t.sha256[2 * i + 1]);
        if (hi < 0 || lo < 0) ok = false;
        h[i] = static_cast<unsigned char>(((hi < 0 ? 0 : hi) << 4) | (lo < 0 ? 0 : lo));
      }
      if (!ok) h.fill(0xff);
    }
    hashes_.push_back(h);
  }
}

auth::Authentication ClientAccess::authenticate(const auth::Credentials& c) const {
  using Status = auth::Authentication::Status;
  auth::Authentication out;
  if (!c.authorization.empty()) {
    const std::string_view token = bearerToken(c.authorization);
    // Another scheme is another method's (a session, …): not ours to judge, whatever
    // certificate comes with it. Nobody knows it: 401.
    if (token.empty()) return out;
    // Every configured hash is compared, in constant time, whatever matched before: the time
    // taken says nothing of which token (or how much of one) was right.
    const auto presented = sha256(token);
    std::size_t found = hashes_.size();
    for (std::size_t i = 0; i < hashes_.size(); ++i) {
      if (CRYPTO_memcmp(presented.data(), hashes_[i].data(), presented.size()) == 0) found = i;
    }
    if (found == hashes_.size()) {
      out.status = Status::Invalid;
      out.reason = "Jeton inconnu ou révoqué";
      return out;
    }
    const TokenSettings& t = settings_.tokens[found];
    out.status = Status::Ok;
    out.principal =
        principalOf(t.name, auth::PrincipalKind::Token, t.roles, t.ess, "token:" + t.name);
    return out;
  }
  if (c.client_subject.empty()) return out;  // None: no credential at all
  for (const ClientSettings& client : settings_.clients) {
    if (!client.subject.empty() && client.subject == c.client_subject) {
      out.status = Status::Ok;
      out.principal = principalOf(client.name, auth::PrincipalKind::Client, client.roles,
                                  client.ess, std::string(c.client_subject));
      return out;
    }
    if (!client.san.empty() && c.client_san != nullptr &&
        std::find(c.client_san->begin(), c.client_san->end(), client.san) != c.client_san->end()) {
      out.status = Status::Ok;
      out.principal = principalOf(client.name, auth::PrincipalKind::Client, client.roles,
                                  client.ess, client.san);
      return out;
    }
  }
  // A certificate of the trusted CA that the configuration does not name: with MSSanté's CA, any
  // health organisation in France. Not a client of ours.
  out.status = Status::Invalid;
  out.reason = "Certificat client inconnu de cette passerelle";
  return out;
}

Result<auth::Policy> parsePolicy(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError())
    return makeError(Errc::ConfigInvalid, std::string("policy: invalid JSON: ") +
                                              rapidjson::GetParseError_En(d.GetParseError()));
  auto bad = [](const std::string& where, const std::string& why) {
    return makeError(Errc::ConfigInvalid, where + ": " + why);
  };
  if (!d.IsObject()) return bad("$", "object expected");
  for (const auto& m : d.GetObject()) {
    const std::string_view k = m.name.GetString();
    if (k != "roles" && k != "description" && k != "$schema")
      return bad(std::string(k), "unknown setting");
  }
  if (!d.HasMember("roles") || !d["roles"].IsObject() || d["roles"].MemberCount() == 0)
    return bad("roles", "non-empty object expected");
  auth::Policy policy;
  for (const auto& role : d["roles"].GetObject()) {
    const std::string name = role.name.GetString();
    const std::string at = "roles." + name;
    if (name.empty()) return bad(at, "empty role name");
    if (!role.value.IsObject()) return bad(at, "object expected");
    for (const auto& m : role.value.GetObject()) {
      const std::string_view k = m.name.GetString();
      if (k != "grants" && k != "description")
        return bad(at + "." + std::string(k), "unknown setting");
    }
    if (!role.value.HasMember("grants") || !role.value["grants"].IsArray())
      return bad(at + ".grants", "array expected");
    std::vector<auth::Grant> grants;
    rapidjson::SizeType i = 0;
    for (const auto& g : role.value["grants"].GetArray()) {
      const std::string gat = at + ".grants[" + std::to_string(i++) + "]";
      if (!g.IsObject()) return bad(gat, "object expected");
      for (const auto& m : g.GetObject()) {
        const std::string_view k = m.name.GetString();
        if (k != "permissions" && k != "types")
          return bad(gat + "." + std::string(k), "unknown setting");
      }
      auth::Grant grant;
      if (!g.HasMember("permissions") || !g["permissions"].IsArray() || g["permissions"].Empty())
        return bad(gat + ".permissions", "non-empty array expected");
      rapidjson::SizeType j = 0;
      for (const auto& p : g["permissions"].GetArray()) {
        const std::string pat = gat + ".permissions[" + std::to_string(j++) + "]";
        if (!p.IsString()) return bad(pat, "string expected");
        auto permission = auth::permissionNamed(p.GetString());
        if (!permission) return bad(pat, std::string("unknown permission: ") + p.GetString());
        grant.permissions.insert(*permission);
      }
      if (g.HasMember("types")) {
        if (!g["types"].IsArray()) return bad(gat + ".types", "array expected");
        j = 0;
        for (const auto& t : g["types"].GetArray()) {
          const std::string tat = gat + ".types[" + std::to_string(j++) + "]";
          if (!t.IsString() || t.GetStringLength() == 0) return bad(tat, "resource type expected");
          grant.types.insert(t.GetString());
        }
      }
      grants.push_back(std::move(grant));
    }
    policy.addRole(name, std::move(grants));
  }
  return policy;
}

Result<Unit> checkRoles(const AccessSettings& access, const auth::Policy& policy) {
  for (std::size_t i = 0; i < access.clients.size(); ++i) {
    for (const std::string& r : access.clients[i].roles)
      if (!policy.hasRole(r))
        return makeError(Errc::ConfigInvalid, "access.clients[" + std::to_string(i) +
                                                  "].roles: no such role in the policy: " + r);
  }
  for (std::size_t i = 0; i < access.tokens.size(); ++i) {
    for (const std::string& r : access.tokens[i].roles)
      if (!policy.hasRole(r))
        return makeError(Errc::ConfigInvalid, "access.tokens[" + std::to_string(i) +
                                                  "].roles: no such role in the policy: " + r);
  }
  return Unit{};
}

}  // namespace liaison::rest
