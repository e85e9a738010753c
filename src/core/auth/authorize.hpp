#pragma once
// Who may do what on the REST API: principals, the interactions of the routes, and the policy that
// grants them by role. Pure: the policy is data (profiles/policy.json, read by rest/access), and
// authorize() is one decision with no I/O, taken once per request before any handler runs.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::auth {

// Who is asking. Machine clients today (a client certificate or a bearer token); people with
// local accounts or Pro Santé Connect later, as other kinds with the same fields.
enum class PrincipalKind { Client, Token, User };

struct Principal {
  std::string id;  // the configured name: "secretariat-cardio-plus"
  PrincipalKind kind = PrincipalKind::Client;
  std::vector<std::string> roles;  // names of the policy's roles
  std::vector<std::string> ess;    // the ESS it belongs to ("*": every ESS)
  std::string credential;          // what identified it, for the audit: subject, SAN, token name
};

std::string_view toString(PrincipalKind kind);  // "client", "token", "user"

// What a route does (FHIR restful interactions plus the gateway's own).
enum class Interaction {
  Health,           // GET /healthz: open to anyone
  Capabilities,     // GET /metadata
  Metrics,          // GET /metrics
  Outbox,           // GET /outbox
  Ingest,           // POST / with a message (mail or form)
  Transaction,      // POST / with a transaction Bundle
  Read,             // GET /{type}/{id}, GET /Binary/{id}
  Vread,            // GET /{type}/{id}/_history/{vid}
  HistoryInstance,  // GET /{type}/{id}/_history
  HistoryType,      // GET /{type}/_history
  Search,           // GET /{type}?…
  Create,           // POST /{type}
  Update,           // PUT /{type}/{id}
  Delete,           // DELETE /{type}/{id}
  Validate,         // POST /{type}/$validate
  AuditSearch,      // GET /AuditEvent?…: the audit trail
  AuditRead,        // GET /AuditEvent/{id}
  Login,            // POST /auth/login: open (rate limited)
  Logout,           // POST /auth/logout: a session
  Session,          // GET /auth/session: who is logged in
};

// The FHIR restful-interaction code (or ours: "ingest", "metrics" …), for audit and messages.
std::string_view toString(Interaction interaction);

// What a role is granted. Several interactions need one permission (read: read, vread, history).
enum class Permission {
  None,  // open (health)
  Capabilities,
  Metrics,
  Outbox,
  Ingest,
  Transaction,
  Read,
  Search,
  Create,
  Update,
  Delete,
  Validate,
  Audit,          // the audit trail: who did what with which patient's data
  Authenticated,  // any authenticated principal, whatever its roles (logout, who am I)
};

Permission requiredPermission(Interaction interaction);
std::string_view toString(Permission permission);  // its name in the policy file
std::optional<Permission> permissionNamed(std::string_view name);

// A role's grant: permissions on resource types (empty: any type; types do not apply to the
// permissions that name no resource — capabilities, metrics, outbox, ingest, transaction, audit).
struct Grant {
  std::set<Permission> permissions;
  std::set<std::string> types;
};

class Policy {
 public:
  void addRole(std::string name, std::vector<Grant> grants);
  bool hasRole(std::string_view name) const;
  bool allows(std::string_view role, Permission permission, std::string_view type) const;
  std::vector<std::string> roles() const;

 private:
  std::map<std::string, std::vector<Grant>, std::less<>> roles_;
};

enum class Decision { Allow, AuthRequired, Forbidden };

// The one authorization step. `principal` null: nobody authenticated. `compartment`: the ESS the
// request names (the X-ESS header), which a principal must belong to; "" when it names none: the
// rows are then those of the principal's ESS, which the database itself enforces (row-level
// security, adapters/pg/sql/V016__ess_isolation.sql).
Decision authorize(const Principal* principal, const Policy& policy, Interaction interaction,
                   std::string_view resource_type, std::string_view compartment);

}  // namespace liaison::auth
