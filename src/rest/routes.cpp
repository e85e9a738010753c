#include "rest/routes.hpp"

#include <algorithm>
#include <array>

#include "rest/target.hpp"

namespace liaison::rest {
namespace {

using auth::Interaction;

constexpr std::array kRoutes{
    Route{"GET", "/healthz", Interaction::Health, Handler::Health},
    Route{"GET", "/metrics", Interaction::Metrics, Handler::Metrics},
    Route{"GET", "/metadata", Interaction::Capabilities, Handler::Capabilities},
    Route{"GET", "/outbox", Interaction::Outbox, Handler::Outbox},
    // People's browser sessions (local accounts): lower-case segments, never a resource type.
    Route{"POST", "/auth/login", Interaction::Login, Handler::Login},
    Route{"POST", "/auth/logout", Interaction::Logout, Handler::Logout},
    Route{"GET", "/auth/session", Interaction::Session, Handler::Session},
    // A message (mail, form) or a transaction Bundle: FhirApi tells them apart by the body
    // before authorizing (Interaction::Transaction then).
    Route{"POST", "/", Interaction::Ingest, Handler::Post},
    // Documents' bytes: read only, not searchable.
    Route{"GET", "/Binary/{id}", Interaction::Read, Handler::Binary, "Binary"},
    // The audit trail (admin): searched and read, never written through the API.
    Route{"GET", "/AuditEvent", Interaction::AuditSearch, Handler::AuditSearch, "AuditEvent"},
    Route{"GET", "/AuditEvent/{id}", Interaction::AuditRead, Handler::AuditRead, "AuditEvent"},
    Route{"GET", "/{type}/{id}/_history/{vid}", Interaction::Vread, Handler::Vread},
    Route{"GET", "/{type}/{id}/_history", Interaction::HistoryInstance, Handler::History},
    Route{"GET", "/{type}/_history", Interaction::HistoryType, Handler::History},
    Route{"POST", "/{type}/$validate", Interaction::Validate, Handler::Validate},
    Route{"GET", "/{type}/{id}", Interaction::Read, Handler::Read},
    Route{"PUT", "/{type}/{id}", Interaction::Update, Handler::Update},
    Route{"DELETE", "/{type}/{id}", Interaction::Delete, Handler::Delete},
    Route{"GET", "/{type}", Interaction::Search, Handler::Search},
    Route{"POST", "/{type}", Interaction::Create, Handler::Create},
};

std::vector<std::string_view> segmentsOf(std::string_view pattern) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < pattern.size()) {
    if (pattern[start] == '/') {
      ++start;
      continue;
    }
    std::size_t end = pattern.find('/', start);
    if (end == std::string_view::npos) end = pattern.size();
    out.push_back(pattern.substr(start, end - start));
    start = end;
  }
  return out;
}

bool reserved(std::string_view segment) {
  return !segment.empty() && (segment[0] == '_' || segment[0] == '$');
}

bool looksLikeType(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] < 'A' || s[0] > 'Z') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

// How well a path fits a pattern: -1 no fit, else the number of literal segments (more wins).
int fit(std::string_view pattern, const std::vector<std::string>& path) {
  const auto segments = segmentsOf(pattern);
  if (segments.size() != path.size()) return -1;
  int literals = 0;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string_view s = segments[i];
    if (s == "{type}") {
      if (!looksLikeType(path[i])) return -1;
    } else if (s == "{id}" || s == "{vid}") {
      if (reserved(path[i])) return -1;
    } else if (s != path[i]) {
      return -1;
    } else {
      ++literals;
    }
  }
  return literals;
}

bool methodFits(std::string_view route_method, std::string_view method) {
  return route_method == method || (route_method == "GET" && method == "HEAD");
}

}  // namespace

std::span<const Route> routes() {
  return kRoutes;
}

Result<RouteMatch> matchRoute(std::span<const Route> table, std::string_view method,
                              const std::vector<std::string>& path,
                              const std::function<bool(std::string_view)>& served) {
  // The best fitting path shape first; then the method among the routes of that shape.
  int best = -1;
  for (const Route& r : table)
    best = std::max(best, fit(r.pattern, path));
  if (best < 0) return makeError(Errc::RestNotFound, "Chemin inconnu");
  const Route* found = nullptr;
  for (const Route& r : table) {
    if (fit(r.pattern, path) == best && methodFits(r.method, method)) {
      found = &r;
      break;
    }
  }
  if (found == nullptr)
    return makeError(Errc::RestMethodNotAllowed, "Méthode " + std::string(method).substr(0, 16) +
                                                     " non prise en charge ici (" +
                                                     allowedMethods(table, path) + ")");
  RouteMatch m;
  m.route = found;
  m.type = std::string(found->type);
  const auto segments = segmentsOf(found->pattern);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (segments[i] == "{type}") {
      m.type = path[i];
    } else if (segments[i] == "{id}") {
      if (!isFhirId(path[i]))
        return makeError(Errc::RestIdInvalid, "Identifiant invalide : [A-Za-z0-9-.]{1,64} attendu");
      m.id = path[i];
    } else if (segments[i] == "{vid}") {
      auto v = parseVersion(path[i]);
      if (!v) return makeError(Errc::RestIdInvalid, "Version invalide : entier positif attendu");
      m.version = *v;
    }
  }
  // A type the table routes by name (Binary) has those routes only: read only, not searchable.
  if (found->type.empty() && !m.type.empty()) {
    for (const Route& r : table) {
      if (r.type == m.type)
        return makeError(
            Errc::RestMethodNotAllowed,
            m.type + " : seulement " + std::string(r.method) + " " + std::string(r.pattern));
    }
  }
  if (found->type.empty() && !m.type.empty() && !served(m.type))
    return makeError(Errc::RestTypeUnsupported, "Type de ressource non servi : " + m.type);
  return m;
}

std::string allowedMethods(std::span<const Route> table, const std::vector<std::string>& path) {
  int best = -1;
  for (const Route& r : table)
    best = std::max(best, fit(r.pattern, path));
  std::string out;
  if (best < 0) return out;
  auto literalType = [&](const std::string& segment) {
    return std::any_of(table.begin(), table.end(),
                       [&](const Route& r) { return r.type == segment; });
  };
  for (const Route& r : table) {
    if (fit(r.pattern, path) != best) continue;
    // {type} is always the first segment; a type routed by name has only its own routes.
    if (r.type.empty() && !path.empty() && r.pattern.rfind("/{type}", 0) == 0 &&
        literalType(path[0]))
      continue;
    std::string m(r.method);
    if (m == "GET") m = "GET, HEAD";
    if (out.find(m) == std::string::npos) out += (out.empty() ? "" : ", ") + m;
  }
  return out;
}

}  // namespace liaison::rest
