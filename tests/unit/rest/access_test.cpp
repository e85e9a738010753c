// core/auth authorize() and rest/access: principals, the policy as data, client certificates and
// bearer tokens. Pure: no server.

#include "rest/access.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/auth/authorize.hpp"

namespace liaison::rest {
namespace {

using auth::Decision;
using auth::Interaction;

std::string repoFile(const std::string& path) {
  std::ifstream in(std::string(LIAISON_SOURCE_DIR) + "/" + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const auth::Policy& shippedPolicy() {
  static const auth::Policy policy = [] {
    auto p = parsePolicy(repoFile("profiles/policy.json"));
    EXPECT_TRUE(p) << p.error().detail;
    return p ? *p : auth::Policy{};
  }();
  return policy;
}

auth::Principal as(std::string role, std::vector<std::string> ess = {"cardio-plus"}) {
  return auth::Principal{"c", auth::PrincipalKind::Client, {std::move(role)}, std::move(ess), ""};
}

Decision decide(const std::string& role, Interaction i, std::string_view type = "Patient") {
  const auth::Principal p = as(role);
  return auth::authorize(&p, shippedPolicy(), i, type, "");
}

TEST(Authorize, NobodyAuthenticatedGetsOnlyHealth) {
  EXPECT_EQ(auth::authorize(nullptr, shippedPolicy(), Interaction::Health, "", ""),
            Decision::Allow);
  for (Interaction i :
       {Interaction::Capabilities, Interaction::Metrics, Interaction::Outbox, Interaction::Ingest,
        Interaction::Read, Interaction::Search, Interaction::Create, Interaction::Delete})
    EXPECT_EQ(auth::authorize(nullptr, shippedPolicy(), i, "Patient", ""), Decision::AuthRequired);
}

TEST(Authorize, ShippedRoles) {
  // reader: read and search, nothing else.
  for (Interaction i : {Interaction::Read, Interaction::Vread, Interaction::HistoryInstance,
                        Interaction::HistoryType, Interaction::Search, Interaction::Capabilities})
    EXPECT_EQ(decide("reader", i), Decision::Allow) << auth::toString(i);
  for (Interaction i :
       {Interaction::Create, Interaction::Update, Interaction::Delete, Interaction::Ingest,
        Interaction::Transaction, Interaction::Metrics, Interaction::Outbox})
    EXPECT_EQ(decide("reader", i), Decision::Forbidden) << auth::toString(i);
  // intake-client: POST / of messages only.
  EXPECT_EQ(decide("intake-client", Interaction::Ingest), Decision::Allow);
  for (Interaction i : {Interaction::Read, Interaction::Search, Interaction::Transaction,
                        Interaction::Create, Interaction::Capabilities, Interaction::Metrics})
    EXPECT_EQ(decide("intake-client", i), Decision::Forbidden) << auth::toString(i);
  // ops: metrics and outbox, no patient data.
  EXPECT_EQ(decide("ops", Interaction::Metrics), Decision::Allow);
  EXPECT_EQ(decide("ops", Interaction::Outbox), Decision::Allow);
  EXPECT_EQ(decide("ops", Interaction::Read), Decision::Forbidden);
  EXPECT_EQ(decide("ops", Interaction::Search), Decision::Forbidden);
  // secretariat writes but never deletes; the coordinator deletes.
  EXPECT_EQ(decide("secretariat", Interaction::Create), Decision::Allow);
  EXPECT_EQ(decide("secretariat", Interaction::Transaction), Decision::Allow);
  EXPECT_EQ(decide("secretariat", Interaction::Delete), Decision::Forbidden);
  EXPECT_EQ(decide("secretariat", Interaction::Metrics), Decision::Forbidden);
  EXPECT_EQ(decide("coordinator", Interaction::Delete), Decision::Allow);
  // Grants by type: an IPA records observations, never a Patient.
  EXPECT_EQ(decide("ipa", Interaction::Create, "Observation"), Decision::Allow);
  EXPECT_EQ(decide("ipa", Interaction::Update, "Patient"), Decision::Forbidden);
  EXPECT_EQ(decide("ipa", Interaction::Read, "Patient"), Decision::Allow);
  EXPECT_EQ(decide("medecin", Interaction::Update, "ServiceRequest"), Decision::Allow);
  EXPECT_EQ(decide("medecin", Interaction::Delete, "ServiceRequest"), Decision::Forbidden);
  EXPECT_EQ(decide("admin", Interaction::Read), Decision::Forbidden);
  // A role the policy does not know grants nothing.
  EXPECT_EQ(decide("superuser", Interaction::Read), Decision::Forbidden);
}

TEST(Authorize, SeveralRolesAddUpAndCompartmentsNeedTheirEss) {
  auth::Principal p{"c", auth::PrincipalKind::Token, {"intake-client", "ops"}, {"cardio-plus"}, ""};
  EXPECT_EQ(auth::authorize(&p, shippedPolicy(), Interaction::Ingest, "", ""), Decision::Allow);
  EXPECT_EQ(auth::authorize(&p, shippedPolicy(), Interaction::Metrics, "", ""), Decision::Allow);
  EXPECT_EQ(auth::authorize(&p, shippedPolicy(), Interaction::Read, "Patient", ""),
            Decision::Forbidden);
  const auth::Principal reader = as("reader");
  EXPECT_EQ(auth::authorize(&reader, shippedPolicy(), Interaction::Read, "Patient", "cardio-plus"),
            Decision::Allow);
  EXPECT_EQ(auth::authorize(&reader, shippedPolicy(), Interaction::Read, "Patient", "dermato"),
            Decision::Forbidden);
  const auth::Principal everywhere = as("reader", {"*"});
  EXPECT_EQ(auth::authorize(&everywhere, shippedPolicy(), Interaction::Read, "Patient", "dermato"),
            Decision::Allow);
}

TEST(Policy, ShippedPolicyHasTheIssuesRoles) {
  for (const char* role :
       {"secretariat", "ipa", "medecin", "coordinator", "ops", "admin", "intake-client", "reader"})
    EXPECT_TRUE(shippedPolicy().hasRole(role)) << role;
}

TEST(Policy, ErrorsNameTheirPath) {
  auto error = [](const std::string& json) {
    auto p = parsePolicy(json);
    EXPECT_FALSE(p) << json;
    return p ? std::string() : p.error().detail;
  };
  EXPECT_EQ(error("[]"), "$: object expected");
  EXPECT_EQ(error("{\"roles\": {}}"), "roles: non-empty object expected");
  EXPECT_EQ(error("{\"roles\": {\"r\": {\"grants\": []}}, \"rolez\": 1}"),
            "rolez: unknown setting");
  EXPECT_EQ(error("{\"roles\": {\"r\": {\"grant\": []}}}"), "roles.r.grant: unknown setting");
  EXPECT_EQ(error("{\"roles\": {\"r\": {\"grants\": [{\"permissions\": [\"read\", \"rread\"]}]}}}"),
            "roles.r.grants[0].permissions[1]: unknown permission: rread");
  EXPECT_EQ(error("{\"roles\": {\"r\": {\"grants\": [{\"permissions\": [\"read\"], \"types\": "
                  "[1]}]}}}"),
            "roles.r.grants[0].types[0]: resource type expected");
  EXPECT_NE(error("{\"roles\": "), "");
}

AccessSettings settings() {
  AccessSettings a;
  a.clients.push_back({"secretariat-cardio-plus",
                       "CN=secretariat-cardio-plus,O=ESS Cardio\\+",
                       "",
                       {"secretariat"},
                       {"cardio-plus"}});
  a.clients.push_back({"plateforme", "", "DNS:plateforme.example", {"intake-client"}, {"*"}});
  a.tokens.push_back({"export", tokenHash("s3cret-token"), {"reader"}, {"cardio-plus"}});
  a.tokens.push_back({"ops", tokenHash("ops-token"), {"ops"}, {}});
  return a;
}

TEST(ClientAccess, ClientCertificatesBySubjectOrSan) {
  const ClientAccess access(settings());
  auto a = access.authenticate({"CN=secretariat-cardio-plus,O=ESS Cardio\\+", nullptr, ""});
  ASSERT_EQ(a.status, auth::Authentication::Status::Ok);
  EXPECT_EQ(a.principal->id, "secretariat-cardio-plus");
  EXPECT_EQ(a.principal->kind, auth::PrincipalKind::Client);
  EXPECT_EQ(a.principal->roles, std::vector<std::string>{"secretariat"});
  EXPECT_EQ(a.principal->ess, std::vector<std::string>{"cardio-plus"});

  const std::vector<std::string> sans{"email:x@y.test", "DNS:plateforme.example"};
  a = access.authenticate({"CN=whatever", &sans, ""});
  ASSERT_EQ(a.status, auth::Authentication::Status::Ok);
  EXPECT_EQ(a.principal->id, "plateforme");
  EXPECT_EQ(a.principal->credential, "DNS:plateforme.example");

  // A certificate of the trusted CA that no client names: not ours.
  a = access.authenticate({"CN=secretariat-cardio-plus,O=Autre", nullptr, ""});
  EXPECT_EQ(a.status, auth::Authentication::Status::Invalid);
  EXPECT_FALSE(a.principal);
  // Nothing at all.
  EXPECT_EQ(access.authenticate({}).status, auth::Authentication::Status::None);
}

TEST(ClientAccess, BearerTokensByTheirHash) {
  const ClientAccess access(settings());
  auto a = access.authenticate({"", nullptr, "Bearer s3cret-token"});
  ASSERT_EQ(a.status, auth::Authentication::Status::Ok);
  EXPECT_EQ(a.principal->id, "export");
  EXPECT_EQ(a.principal->kind, auth::PrincipalKind::Token);
  EXPECT_EQ(a.principal->credential, "token:export");
  EXPECT_EQ(access.authenticate({"", nullptr, "bearer  ops-token "}).principal->id, "ops");
  // A wrong token is refused even with a good certificate: the credential presented decides.
  for (const char* bad : {"Bearer s3cret-tokem", "Bearer s3cret-token2", "Bearer  x"}) {
    a = access.authenticate({"CN=secretariat-cardio-plus,O=ESS Cardio\\+", nullptr, bad});
    EXPECT_EQ(a.status, auth::Authentication::Status::Invalid) << bad;
    EXPECT_FALSE(a.principal) << bad;
  }
  // Another scheme (or none) is another method's to judge: None, even with a good certificate.
  for (const char* other : {"Basic dXNlcjpwYXNz", "s3cret-token", "Bearer ", "Bearer"}) {
    a = access.authenticate({"CN=secretariat-cardio-plus,O=ESS Cardio\\+", nullptr, other});
    EXPECT_EQ(a.status, auth::Authentication::Status::None) << other;
    EXPECT_FALSE(a.principal) << other;
  }
  // The hash is what is configured: the token itself never matches as a hash.
  AccessSettings raw;
  raw.tokens.push_back({"raw", "s3cret-token", {"reader"}, {}});
  EXPECT_EQ(ClientAccess(raw).authenticate({"", nullptr, "Bearer s3cret-token"}).status,
            auth::Authentication::Status::Invalid);
}

// A second method beside the machine clients (as sessions or Pro Santé Connect will be).
class FixedUser final : public auth::Authenticator {
 public:
  auth::Authentication authenticate(const auth::Credentials& c) const override {
    auth::Authentication a;
    if (c.authorization == "Session abc") {
      a.status = auth::Authentication::Status::Ok;
      a.principal = auth::Principal{"dupont", auth::PrincipalKind::User, {"medecin"}, {}, ""};
    }
    return a;
  }
};

TEST(Authenticators, FirstMethodThatKnowsTheCredentialDecides) {
  const ClientAccess clients(settings());
  const FixedUser users;
  auth::Authenticators all;
  all.add(clients);
  all.add(users);
  auto s = all.authenticate({"", nullptr, "Session abc"});  // not a machine client's scheme
  ASSERT_EQ(s.status, auth::Authentication::Status::Ok);
  EXPECT_EQ(s.principal->id, "dupont");
  // A wrong bearer token is Invalid from the machine clients: never retried with another method.
  EXPECT_EQ(all.authenticate({"", nullptr, "Bearer faux"}).status,
            auth::Authentication::Status::Invalid);
  auth::Authenticators users_first;
  users_first.add(users);
  users_first.add(clients);
  auto a = users_first.authenticate({"", nullptr, "Session abc"});
  ASSERT_EQ(a.status, auth::Authentication::Status::Ok);
  EXPECT_EQ(a.principal->kind, auth::PrincipalKind::User);
  a = users_first.authenticate({"", nullptr, "Bearer ops-token"});
  ASSERT_EQ(a.status, auth::Authentication::Status::Ok);
  EXPECT_EQ(a.principal->id, "ops");
  EXPECT_EQ(users_first.authenticate({}).status, auth::Authentication::Status::None);
  EXPECT_EQ(auth::Authenticators().authenticate({"CN=x", nullptr, ""}).status,
            auth::Authentication::Status::None);
}

TEST(ClientAccess, TokenHashIsSha256Hex) {
  EXPECT_EQ(tokenHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ClientAccess, RolesMustExistInThePolicy) {
  EXPECT_TRUE(checkRoles(settings(), shippedPolicy()));
  AccessSettings a = settings();
  a.tokens[1].roles.push_back("superuser");
  auto r = checkRoles(a, shippedPolicy());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail, "access.tokens[1].roles: no such role in the policy: superuser");
}

}  // namespace
}  // namespace liaison::rest
