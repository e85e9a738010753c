// rest/routes: the route table and its matching, pure.

#include "rest/routes.hpp"

#include <gtest/gtest.h>

#include "rest/target.hpp"

namespace liaison::rest {
namespace {

using auth::Interaction;

bool served(std::string_view type) {
  return type == "Patient" || type == "ServiceRequest";
}

Result<RouteMatch> match(std::string_view method, std::string_view target) {
  return matchRoute(routes(), method, parseTarget(target).path, served);
}

Interaction interactionOf(std::string_view method, std::string_view target) {
  auto m = match(method, target);
  EXPECT_TRUE(m) << method << " " << target << ": " << (m ? "" : m.error().detail);
  return m ? m->route->interaction : Interaction::Health;
}

TEST(Routes, EveryInteractionHasItsRoute) {
  EXPECT_EQ(interactionOf("GET", "/healthz"), Interaction::Health);
  EXPECT_EQ(interactionOf("GET", "/metrics"), Interaction::Metrics);
  EXPECT_EQ(interactionOf("GET", "/metadata"), Interaction::Capabilities);
  EXPECT_EQ(interactionOf("GET", "/outbox?status=failed"), Interaction::Outbox);
  EXPECT_EQ(interactionOf("POST", "/"), Interaction::Ingest);
  EXPECT_EQ(interactionOf("GET", "/Patient/p1"), Interaction::Read);
  EXPECT_EQ(interactionOf("HEAD", "/Patient/p1"), Interaction::Read);
  EXPECT_EQ(interactionOf("GET", "/Patient/p1/_history/3"), Interaction::Vread);
  EXPECT_EQ(interactionOf("GET", "/Patient/p1/_history"), Interaction::HistoryInstance);
  EXPECT_EQ(interactionOf("GET", "/Patient/_history"), Interaction::HistoryType);
  EXPECT_EQ(interactionOf("GET", "/Patient?name=x"), Interaction::Search);
  EXPECT_EQ(interactionOf("POST", "/Patient"), Interaction::Create);
  EXPECT_EQ(interactionOf("PUT", "/Patient/p1"), Interaction::Update);
  EXPECT_EQ(interactionOf("DELETE", "/Patient/p1"), Interaction::Delete);
  EXPECT_EQ(interactionOf("POST", "/Patient/$validate"), Interaction::Validate);
  EXPECT_EQ(interactionOf("GET", "/Binary/abc"), Interaction::Read);
}

TEST(Routes, CapturesTypeIdAndVersion) {
  auto m = match("GET", "/ServiceRequest/sr-1.2/_history/12");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, "ServiceRequest");
  EXPECT_EQ(m->id, "sr-1.2");
  EXPECT_EQ(m->version, 12);
  EXPECT_EQ(m->route->handler, Handler::Vread);
  m = match("GET", "/Binary/0123abc");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, "Binary");  // named by the route, not in the search parameters
  EXPECT_EQ(m->route->handler, Handler::Binary);
}

TEST(Routes, ReservedNamesAreNeverIdsAndWrongMethodsAre405) {
  // PUT /Patient/_history used to reach the store and answer 500 db-error.
  for (auto [method, target] : std::vector<std::pair<const char*, const char*>>{
           {"PUT", "/Patient/_history"},
           {"DELETE", "/Patient/_history"},
           {"POST", "/Patient/_history"},
           {"GET", "/Patient/$validate"},
           {"PUT", "/Patient"},
           {"DELETE", "/Patient"},
           {"GET", "/"},
           {"POST", "/metadata"},
           {"DELETE", "/outbox"},
           {"PUT", "/Binary/abc"},
           {"DELETE", "/Binary/abc"},
           {"PATCH", "/Patient/p1"},
           {"POST", "/Patient/p1"},
           {"PUT", "/Patient/p1/_history/1"},
       }) {
    auto m = match(method, target);
    ASSERT_FALSE(m) << method << " " << target;
    EXPECT_EQ(m.error().code, Errc::RestMethodNotAllowed) << method << " " << target;
  }
  EXPECT_EQ(allowedMethods(routes(), parseTarget("/Patient/p1").path), "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(allowedMethods(routes(), parseTarget("/Patient/_history").path), "GET, HEAD");
  EXPECT_EQ(allowedMethods(routes(), parseTarget("/Binary/b1").path), "GET, HEAD");
  EXPECT_EQ(allowedMethods(routes(), parseTarget("/Binary").path), "");
}

TEST(Routes, IdsAreValidatedOnEveryInteraction) {
  for (auto [method, target] : std::vector<std::pair<const char*, const char*>>{
           {"GET", "/Patient/a%20b"},
           {"GET", "/Patient/a+b"},
           {"PUT", "/Patient/a+b"},
           {"DELETE", "/Patient/a%2Fb"},
           {"GET", "/Patient/a;b/_history"},
           {"GET", "/Patient/x/_history/0"},
           {"GET", "/Patient/x/_history/v1"},
           {"GET", "/Binary/a%2Fb"},
       }) {
    auto m = match(method, target);
    ASSERT_FALSE(m) << method << " " << target;
    EXPECT_EQ(m.error().code, Errc::RestIdInvalid) << method << " " << target;
  }
  const std::string long_id(65, 'a');
  auto m = match("GET", "/Patient/" + long_id);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::RestIdInvalid);
}

TEST(Routes, UnknownPathsAndTypes) {
  for (const char* target : {"/nope", "/Patient/p1/x", "/Patient/p1/_history/1/x", "/_history",
                             "/Patient/$everything", "/Patient/_search"}) {
    auto m = match("GET", target);
    ASSERT_FALSE(m) << target;
    EXPECT_EQ(m.error().code, Errc::RestNotFound) << target;
  }
  auto m = match("GET", "/Observation/o1");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::RestTypeUnsupported);
  // Binary is routed by name: read only, never searched, created or deleted.
  for (auto [method, target] :
       std::vector<std::pair<const char*, const char*>>{{"GET", "/Binary"},
                                                        {"POST", "/Binary"},
                                                        {"GET", "/Binary/_history"},
                                                        {"POST", "/Binary/$validate"},
                                                        {"GET", "/Binary/b1/_history"}}) {
    m = match(method, target);
    ASSERT_FALSE(m) << method << " " << target;
    EXPECT_EQ(m.error().code, Errc::RestMethodNotAllowed) << method << " " << target;
  }
}

TEST(Routes, EveryRouteNeedsAPermissionButHealthAndLogin) {
  for (const Route& r : routes()) {
    const bool open = auth::requiredPermission(r.interaction) == auth::Permission::None;
    // The login is open (rate limited): it is where a person's credential is checked.
    EXPECT_EQ(open, r.pattern == "/healthz" || r.pattern == "/auth/login") << r.pattern;
  }
}

}  // namespace
}  // namespace liaison::rest
