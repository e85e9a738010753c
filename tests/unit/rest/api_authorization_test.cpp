// Who may do what, through FhirApi::handle itself (no server, no database: the fake in-memory
// store): for every route of the table and every role of the shipped policy, the answer is 403
// exactly when profiles/policy.json does not permit the route's interaction, and 401 for nobody.

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "rest/routes.hpp"
#include "rest/target.hpp"
#include "support/memory_store.hpp"
#include "support/test_support.hpp"

namespace liaison {
namespace {

const std::vector<std::string> kRoles = {"reader",  "intake-client", "secretariat", "ipa",
                                         "medecin", "coordinator",   "ops",         "admin"};

// One request per route, and per kind of body for POST / (a message, a transaction Bundle).
struct Sample {
  const char* method;
  const char* target;
  const char* body;
  const char* content_type;
  auth::Interaction interaction;
};
const std::vector<Sample> kSamples = {
    {"GET", "/healthz", "", "", auth::Interaction::Health},
    {"GET", "/metrics", "", "", auth::Interaction::Metrics},
    {"GET", "/metadata", "", "", auth::Interaction::Capabilities},
    {"GET", "/outbox", "", "", auth::Interaction::Outbox},
    {"POST", "/", "", "message/rfc822", auth::Interaction::Ingest},
    {"POST", "/", R"({"resourceType":"Bundle","type":"transaction","entry":[]})",
     "application/fhir+json", auth::Interaction::Transaction},
    {"GET", "/Binary/b1", "", "", auth::Interaction::Read},
    {"GET", "/Patient/p1/_history/1", "", "", auth::Interaction::Vread},
    {"GET", "/Patient/p1/_history", "", "", auth::Interaction::HistoryInstance},
    {"GET", "/Patient/_history", "", "", auth::Interaction::HistoryType},
    {"POST", "/Patient/$validate", "{}", "application/fhir+json", auth::Interaction::Validate},
    {"GET", "/Patient/p1", "", "", auth::Interaction::Read},
    {"HEAD", "/Patient/p1", "", "", auth::Interaction::Read},
    {"PUT", "/Patient/p1", "{}", "application/fhir+json", auth::Interaction::Update},
    {"PUT", "/Observation/o1", "{}", "application/fhir+json", auth::Interaction::Update},
    {"DELETE", "/Patient/p1", "", "", auth::Interaction::Delete},
    {"GET", "/Patient?gender=female", "", "", auth::Interaction::Search},
    {"POST", "/Patient", "{}", "application/fhir+json", auth::Interaction::Create},
    {"POST", "/Observation", "{}", "application/fhir+json", auth::Interaction::Create},
    {"GET", "/AuditEvent?patient=Patient/p1", "", "", auth::Interaction::AuditSearch},
    {"GET", "/AuditEvent/1", "", "", auth::Interaction::AuditRead},
    // People's sessions (tests/integration/accounts_test.cpp drives them on the real server).
    {"POST", "/auth/login", "{}", "application/json", auth::Interaction::Login},
    {"POST", "/auth/logout", "", "", auth::Interaction::Logout},
    {"GET", "/auth/session", "", "", auth::Interaction::Session},
};

class ApiAuthorization : public ::testing::Test {
 protected:
  ApiAuthorization()
      : policy_(*rest::parsePolicy(test::readRepoFile("profiles/policy.json"))),
        access_(settings()),
        forms_(test::cardioPlus(), test::testClock()),
        messages_(test::mssante(), test::cardioPlus(), test::testClock()),
        api_(
            [this]() -> Result<std::unique_ptr<Store>> {
              return std::unique_ptr<Store>(std::make_unique<fake::MemoryStore>(state_));
            },
            test::searchParameters(), messages_, forms_, test::testClock(), options()) {}

  static rest::AccessSettings settings() {
    rest::AccessSettings a;
    for (const std::string& role : kRoles)
      a.tokens.push_back({role, rest::tokenHash("jeton-" + role), {role}, {"cardio-plus"}});
    return a;
  }
  rest::ApiOptions options() {
    rest::ApiOptions o;
    o.base_url = "https://gw.test/fhir";
    o.authenticator = &access_;
    o.policy = &policy_;
    return o;
  }

  http::Response send(const Sample& s, const std::string& authorization) {
    http::Request r;
    r.method = s.method;
    r.target = s.target;
    r.body = s.body;
    if (*s.content_type != '\0') r.headers.push_back({"Content-Type", s.content_type});
    if (!authorization.empty()) r.headers.push_back({"Authorization", authorization});
    r.remote = "127.0.0.1:40000";
    return api_.handle(r);
  }

  auth::Policy policy_;
  rest::ClientAccess access_;
  std::shared_ptr<fake::MemoryState> state_ = std::make_shared<fake::MemoryState>();
  pipeline::FormIntake forms_;
  pipeline::MessageIntake messages_;
  rest::FhirApi api_;
};

TEST_F(ApiAuthorization, SamplesCoverEveryRoute) {
  std::set<const rest::Route*> covered;
  for (const Sample& s : kSamples) {
    auto m = rest::matchRoute(rest::routes(), s.method, rest::parseTarget(s.target).path,
                              [](std::string_view) { return true; });
    ASSERT_TRUE(m) << s.method << " " << s.target;
    if (m->route->interaction == s.interaction) covered.insert(m->route);
  }
  for (const rest::Route& r : rest::routes())
    EXPECT_EQ(covered.count(&r), 1u) << r.method << " " << r.pattern;
}

TEST_F(ApiAuthorization, NobodyGetsOnlyHealth) {
  for (const Sample& s : kSamples) {
    const http::Response r = send(s, "");
    if (s.interaction == auth::Interaction::Health) {
      EXPECT_EQ(r.status, 200) << s.target;
    } else if (s.interaction == auth::Interaction::Login) {
      EXPECT_EQ(r.status, 404) << s.target;  // open, but no sessions configured here
    } else {
      EXPECT_EQ(r.status, 401) << s.method << " " << s.target;
    }
  }
}

TEST_F(ApiAuthorization, EachRoleGetsWhatThePolicySaysOnEveryRoute) {
  int allowed = 0, refused = 0;
  for (const std::string& role : kRoles) {
    for (const Sample& s : kSamples) {
      // The session routes need a session, which no role grants: accounts_test covers them.
      if (std::string_view(s.target).starts_with("/auth/")) continue;
      const std::string type =
          rest::parseTarget(s.target).path.empty() ? "" : rest::parseTarget(s.target).path[0];
      const bool permitted = s.interaction == auth::Interaction::Health ||
                             policy_.allows(role, auth::requiredPermission(s.interaction), type);
      const http::Response r = send(s, "Bearer jeton-" + role);
      if (permitted) {
        ++allowed;
        EXPECT_NE(r.status, 401) << role << ": " << s.method << " " << s.target;
        EXPECT_NE(r.status, 403) << role << ": " << s.method << " " << s.target;
        EXPECT_LT(r.status, 500) << role << ": " << s.method << " " << s.target << " " << r.body;
      } else {
        ++refused;
        EXPECT_EQ(r.status, 403) << role << ": " << s.method << " " << s.target;
        EXPECT_NE(r.body.find("\"forbidden\""), std::string::npos) << r.body;
      }
    }
  }
  // The matrix has both outcomes for real: a policy granting all (or nothing) would show here.
  EXPECT_GT(allowed, 40);
  EXPECT_GT(refused, 40);
}

}  // namespace
}  // namespace liaison
