// FhirApi against hostile bodies and failing stores (issue 14), without a server or a database:
// behind the fake in-memory store of tests/support/memory_store.hpp. What a client is told: a
// stable code, never the store's own words.

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "support/memory_store.hpp"
#include "support/test_support.hpp"
#include "unit/rest/shipped_policy.hpp"

namespace liaison {
namespace {

rest::ApiOptions options() {
  static const fake::AllowAll everyone;
  rest::ApiOptions o;
  o.base_url = "https://gw.test/fhir";
  o.authenticator = &everyone;
  o.policy = &test::shippedPolicy();
  return o;
}

class HostileApi : public ::testing::Test {
 protected:
  HostileApi()
      : forms_(test::cardioPlus(), test::testClock()),
        messages_(test::mssante(), test::cardioPlus(), test::testClock()),
        api_(
            [this]() -> Result<std::unique_ptr<Store>> {
              return std::unique_ptr<Store>(std::make_unique<fake::MemoryStore>(state_));
            },
            test::searchParameters(), messages_, forms_, test::testClock(), options()) {}

  http::Response send(std::string method, std::string target, std::string body) {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.push_back({"Content-Type", "application/fhir+json"});
    r.body = std::move(body);
    r.remote = "127.0.0.1:40000";
    return api_.handle(r);
  }

  std::shared_ptr<fake::MemoryState> state_ = std::make_shared<fake::MemoryState>();
  pipeline::FormIntake forms_;
  pipeline::MessageIntake messages_;
  rest::FhirApi api_;
};

const std::string kPatient = R"({"resourceType":"Patient","name":[{"family":"FICTIF-TEST"}]})";

TEST_F(HostileApi, DeepBodiesAre400JsonTooDeep) {
  const std::string deep = std::string(200 * 1024, '[') + std::string(200 * 1024, ']');
  for (const char* target : {"/Patient", "/Patient/$validate"}) {
    auto r = send("POST", target, deep);
    EXPECT_NE(r.body.find("json-too-deep"), std::string::npos) << target << ": " << r.body;
    if (std::string_view(target) == "/Patient") {
      EXPECT_EQ(r.status, 400);
    }
  }
  auto put = send("PUT", "/Patient/p1", R"({"resourceType":"Patient","id":"p1","x":)" + deep + "}");
  EXPECT_EQ(put.status, 400);
  EXPECT_NE(put.body.find("json-too-deep"), std::string::npos) << put.body;
  // A deep transaction Bundle is no transaction: answered as a posted message, never a crash.
  auto tx =
      send("POST", "/",
           R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" + deep + "}]}");
  EXPECT_GE(tx.status, 400);
  EXPECT_LT(tx.status, 500) << tx.body;
  EXPECT_EQ(send("POST", "/Patient", kPatient).status, 201);  // and the API goes on
}

TEST_F(HostileApi, InvalidUtf8Is400NotA500) {
  auto r = send("POST", "/Patient",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"L\xC9GER\"}]}");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("json-invalid-utf8"), std::string::npos) << r.body;
}

TEST_F(HostileApi, TheStoresMessageNeverReachesTheClient) {
  const std::string pg =
      "PostgreSQL 23505: duplicate key value violates unique constraint \"resource_pkey\" "
      "DETAIL: Key (type, id)=(Patient, FICTIF-SECRET) already exists.";
  for (Errc code : {Errc::DbConflict, Errc::DbError, Errc::DbUnavailable}) {
    state_->failing_writes = Error{code, pg};
    const std::string stable(info(code).code);
    auto create = send("POST", "/Patient", kPatient);
    EXPECT_EQ(create.status, info(code).http_status) << stable;
    EXPECT_NE(create.body.find(stable), std::string::npos) << create.body;
    auto tx = send("POST", "/",
                   R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" +
                       kPatient + R"(,"request":{"method":"POST","url":"Patient"}}]})");
    EXPECT_EQ(tx.status, info(code).http_status) << stable << ": " << tx.body;
    for (const auto* r : {&create, &tx}) {
      EXPECT_EQ(r->body.find("PostgreSQL"), std::string::npos) << r->body;
      EXPECT_EQ(r->body.find("resource_pkey"), std::string::npos) << r->body;
      EXPECT_EQ(r->body.find("FICTIF-SECRET"), std::string::npos) << r->body;
    }
  }
}

}  // namespace
}  // namespace liaison
