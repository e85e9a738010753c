#include "app/access_config.hpp"

#include <set>
#include <string>

namespace liaison::app {

std::optional<rest::AccessSettings> readAccessConfig(const rapidjson::Value& access,
                                                     const std::filesystem::path& base,
                                                     std::string_view where, std::ostream& err) {
  bool ok = true;
  auto bad = [&](const std::string& path, const std::string& why) {
    err << where << ": " << path << ": " << why << "\n";
    ok = false;
  };
  rest::AccessSettings out;
  if (!access.IsObject()) {
    bad("access", "object expected");
    return std::nullopt;
  }
  for (const auto& m : access.GetObject()) {
    const std::string_view k = m.name.GetString();
    if (k != "policy" && k != "clients" && k != "tokens")
      bad("access." + std::string(k), "unknown setting");
  }
  if (access.HasMember("policy")) {
    const auto& p = access["policy"];
    if (!p.IsString() || p.GetStringLength() == 0) {
      bad("access.policy", "non-empty string expected");
    } else {
      const std::filesystem::path path(p.GetString());
      out.policy = (path.is_absolute() ? path : base / path).string();
    }
  }
  // roles and ess: arrays of non-empty strings.
  auto names = [&](const rapidjson::Value& o, const char* key, const std::string& at,
                   bool required) {
    std::vector<std::string> list;
    if (!o.HasMember(key)) {
      if (required) bad(at + "." + key, "required");
      return list;
    }
    const auto& v = o[key];
    if (!v.IsArray() || (required && v.Empty())) {
      bad(at + "." + key, required ? "non-empty array of strings expected" : "array expected");
      return list;
    }
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      if (!v[i].IsString() || v[i].GetStringLength() == 0)
        bad(at + "." + key + "[" + std::to_string(i) + "]", "non-empty string expected");
      else
        list.emplace_back(v[i].GetString());
    }
    return list;
  };
  auto string = [&](const rapidjson::Value& o, const char* key, const std::string& at) {
    if (!o.HasMember(key)) return std::string();
    if (!o[key].IsString() || o[key].GetStringLength() == 0) {
      bad(at + "." + key, "non-empty string expected");
      return std::string();
    }
    return std::string(o[key].GetString());
  };
  std::set<std::string> seen;
  auto named = [&](const rapidjson::Value& o, const std::string& at) {
    std::string name = string(o, "name", at);
    if (!o.HasMember("name")) bad(at + ".name", "required");
    if (!name.empty() && !seen.insert(name).second) bad(at + ".name", "used twice: " + name);
    return name;
  };
  if (access.HasMember("clients")) {
    const auto& clients = access["clients"];
    if (!clients.IsArray()) bad("access.clients", "array expected");
    for (rapidjson::SizeType i = 0; clients.IsArray() && i < clients.Size(); ++i) {
      const std::string at = "access.clients[" + std::to_string(i) + "]";
      const auto& c = clients[i];
      if (!c.IsObject()) {
        bad(at, "object expected");
        continue;
      }
      for (const auto& m : c.GetObject()) {
        const std::string_view k = m.name.GetString();
        if (k != "name" && k != "subject" && k != "san" && k != "roles" && k != "ess" &&
            k != "address")
          bad(at + "." + std::string(k), "unknown setting");
      }
      rest::ClientSettings client;
      client.name = named(c, at);
      client.subject = string(c, "subject", at);
      client.san = string(c, "san", at);
      if (c.HasMember("subject") == c.HasMember("san"))
        bad(at, "exactly one of subject (the certificate's RFC 2253 subject) or san expected");
      client.roles = names(c, "roles", at, true);
      client.ess = names(c, "ess", at, false);
      client.address = string(c, "address", at);
      if (!client.address.empty() &&
          (client.address.find('@') == std::string::npos ||
           client.address.find_first_of(" <>,;\r\n") != std::string::npos))
        bad(at + ".address", "a bare mail address expected (name@domain)");
      out.clients.push_back(std::move(client));
    }
  }
  if (access.HasMember("tokens")) {
    const auto& tokens = access["tokens"];
    if (!tokens.IsArray()) bad("access.tokens", "array expected");
    for (rapidjson::SizeType i = 0; tokens.IsArray() && i < tokens.Size(); ++i) {
      const std::string at = "access.tokens[" + std::to_string(i) + "]";
      const auto& t = tokens[i];
      if (!t.IsObject()) {
        bad(at, "object expected");
        continue;
      }
      for (const auto& m : t.GetObject()) {
        const std::string_view k = m.name.GetString();
        if (k != "name" && k != "sha256" && k != "roles" && k != "ess")
          bad(at + "." + std::string(k), "unknown setting");
      }
      rest::TokenSettings token;
      token.name = named(t, at);
      token.sha256 = string(t, "sha256", at);
      // The hash, never the token: 64 lower-case hex digits (sha256sum's output).
      if (token.sha256.size() != 64 ||
          token.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
        bad(at + ".sha256", "the token's SHA-256 as 64 lower-case hex digits expected");
      token.roles = names(t, "roles", at, true);
      token.ess = names(t, "ess", at, false);
      out.tokens.push_back(std::move(token));
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace liaison::app
