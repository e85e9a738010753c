#include "core/auth/authorize.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace liaison::auth {

std::string_view toString(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::Client:
      return "client";
    case PrincipalKind::Token:
      return "token";
    case PrincipalKind::User:
      return "user";
  }
  return "client";
}

std::string_view toString(Interaction interaction) {
  switch (interaction) {
    case Interaction::Health:
      return "health";
    case Interaction::Capabilities:
      return "capabilities";
    case Interaction::Metrics:
      return "metrics";
    case Interaction::Outbox:
      return "outbox";
    case Interaction::Ingest:
      return "ingest";
    case Interaction::Transaction:
      return "transaction";
    case Interaction::Read:
      return "read";
    case Interaction::Vread:
      return "vread";
    case Interaction::HistoryInstance:
      return "history-instance";
    case Interaction::HistoryType:
      return "history-type";
    case Interaction::Search:
      return "search-type";
    case Interaction::Create:
      return "create";
    case Interaction::Update:
      return "update";
    case Interaction::Delete:
      return "delete";
    case Interaction::Validate:
      return "validate";
    case Interaction::AuditSearch:
      return "audit-search";
    case Interaction::AuditRead:
      return "audit-read";
    case Interaction::Login:
      return "login";
    case Interaction::Logout:
      return "logout";
    case Interaction::Session:
      return "session";
  }
  return "read";
}

Permission requiredPermission(Interaction interaction) {
  switch (interaction) {
    case Interaction::Health:
      return Permission::None;
    case Interaction::Capabilities:
      return Permission::Capabilities;
    case Interaction::Metrics:
      return Permission::Metrics;
    case Interaction::Outbox:
      return Permission::Outbox;
    case Interaction::Ingest:
      return Permission::Ingest;
    case Interaction::Transaction:
      return Permission::Transaction;
    case Interaction::Read:
    case Interaction::Vread:
    case Interaction::HistoryInstance:
    case Interaction::HistoryType:
      return Permission::Read;
    case Interaction::Search:
      return Permission::Search;
    case Interaction::Create:
      return Permission::Create;
    case Interaction::Update:
      return Permission::Update;
    case Interaction::Delete:
      return Permission::Delete;
    case Interaction::Validate:
      return Permission::Validate;
    case Interaction::AuditSearch:
    case Interaction::AuditRead:
      return Permission::Audit;
    case Interaction::Login:
      return Permission::None;
    case Interaction::Logout:
    case Interaction::Session:
      return Permission::Authenticated;
  }
  return Permission::Read;  // unreachable: every enumerator is listed
}

namespace {
constexpr std::array<std::pair<Permission, std::string_view>, 12> kPermissionNames{{
    {Permission::Capabilities, "capabilities"},
    {Permission::Metrics, "metrics"},
    {Permission::Outbox, "outbox"},
    {Permission::Ingest, "ingest"},
    {Permission::Transaction, "transaction"},
    {Permission::Read, "read"},
    {Permission::Search, "search"},
    {Permission::Create, "create"},
    {Permission::Update, "update"},
    {Permission::Delete, "delete"},
    {Permission::Validate, "validate"},
    {Permission::Audit, "audit"},
}};

// Permissions that act on no resource type of their own: a grant's types do not restrict them.
bool typeless(Permission p) {
  return p == Permission::Capabilities || p == Permission::Metrics || p == Permission::Outbox ||
         p == Permission::Ingest || p == Permission::Transaction || p == Permission::Audit;
}
}  // namespace

std::string_view toString(Permission permission) {
  for (const auto& [p, name] : kPermissionNames)
    if (p == permission) return name;
  return "none";
}

std::optional<Permission> permissionNamed(std::string_view name) {
  for (const auto& [p, n] : kPermissionNames)
    if (n == name) return p;
  return std::nullopt;
}

void Policy::addRole(std::string name, std::vector<Grant> grants) {
  roles_[std::move(name)] = std::move(grants);
}

bool Policy::hasRole(std::string_view name) const {
  return roles_.find(name) != roles_.end();
}

bool Policy::allows(std::string_view role, Permission permission, std::string_view type) const {
  const auto it = roles_.find(role);
  if (it == roles_.end()) return false;
  for (const Grant& g : it->second) {
    if (!g.permissions.count(permission)) continue;
    if (typeless(permission) || g.types.empty() || g.types.count(std::string(type))) return true;
  }
  return false;
}

std::vector<std::string> Policy::roles() const {
  std::vector<std::string> out;
  for (const auto& [name, grants] : roles_)
    out.push_back(name);
  return out;
}

Decision authorize(const Principal* principal, const Policy& policy, Interaction interaction,
                   std::string_view resource_type, std::string_view compartment) {
  const Permission needed = requiredPermission(interaction);
  if (needed == Permission::None) return Decision::Allow;
  if (principal == nullptr) return Decision::AuthRequired;
  if (needed == Permission::Authenticated) return Decision::Allow;
  if (!compartment.empty()) {
    const auto& ess = principal->ess;
    if (std::find(ess.begin(), ess.end(), compartment) == ess.end() &&
        std::find(ess.begin(), ess.end(), "*") == ess.end())
      return Decision::Forbidden;
  }
  for (const std::string& role : principal->roles)
    if (policy.allows(role, needed, resource_type)) return Decision::Allow;
  return Decision::Forbidden;
}

}  // namespace liaison::auth
