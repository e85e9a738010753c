#pragma once
// The REST API's route table as data: method, path pattern, interaction (hence the permission
// authorize() asks for). Matching is pure and unit-tested (tests/unit/rest/routes_test.cpp); the
// FhirApi binds each route to its handler.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth/authorize.hpp"
#include "core/error/result.hpp"

namespace liaison::rest {

// Which handler serves a route (FhirApi's table of member functions is indexed by it).
enum class Handler {
  Health,
  Metrics,
  Capabilities,
  Outbox,
  Post,  // POST /: a message, or a transaction Bundle
  Binary,
  Read,
  Vread,
  History,
  Search,
  Create,
  Update,
  Delete,
  Validate,
  AuditSearch,
  AuditRead,
  Login,  // the sessions of local accounts (rest/sessions.hpp)
  Logout,
  Session,
};

struct Route {
  std::string_view method;  // GET also serves HEAD
  // Segments: literals, "{type}" (a resource type: [A-Z][A-Za-z]*), "{id}" (a FHIR id),
  // "{vid}" (a version, a positive integer). Literals beat placeholders, and a placeholder never
  // takes a segment that starts with '_' or '$' (FHIR's reserved names: _history, $validate …).
  std::string_view pattern;
  auth::Interaction interaction;
  Handler handler;
  std::string_view type = {};  // the resource type of routes that name it literally (Binary)
};

// Every route the API serves, in matching order.
std::span<const Route> routes();

struct RouteMatch {
  const Route* route = nullptr;
  std::string type;  // resource type ("" for /, /metadata, /metrics …)
  std::string id;
  std::int64_t version = 0;
};

// Matches method and decoded path segments. Errors: a path no route has → rest-not-found; a
// known path with another method → rest-method-not-allowed (405); an {id} that is not a FHIR id
// or a {vid} that is not a version → rest-id-invalid (400); a {type} that `served` does not
// know → rest-type-unsupported.
Result<RouteMatch> matchRoute(std::span<const Route> table, std::string_view method,
                              const std::vector<std::string>& path,
                              const std::function<bool(std::string_view)>& served);

// The methods a path allows, "GET, HEAD, PUT" (for 405's Allow header); "" if none.
std::string allowedMethods(std::span<const Route> table, const std::vector<std::string>& path);

}  // namespace liaison::rest
