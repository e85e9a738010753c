// _include resolved in one store call per page, with a cap (issue 14's time and memory bounds),
// behind the fake in-memory store (which counts the calls); PgStore's one query is tested
// against PostgreSQL in integration/rest_test.cpp.

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "support/memory_store.hpp"
#include "support/test_support.hpp"
#include "unit/rest/shipped_policy.hpp"

namespace liaison {
namespace {

void put(fake::MemoryState& state, const std::string& type, const std::string& id,
         const std::string& json) {
  StoredResource r;
  r.type = type;
  r.id = id;
  r.last_updated = "2026-12-01T10:00:00.000Z";
  r.json = json;
  state.write(std::move(r));
}

struct Page {
  std::vector<std::string> matches, included, outcomes;
};

Page pageOf(const http::Response& r) {
  Page p;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  EXPECT_FALSE(d.HasParseError()) << r.body;
  if (d.HasParseError() || !d.HasMember("entry")) return p;
  for (const auto& e : d["entry"].GetArray()) {
    const std::string mode = e["search"]["mode"].GetString();
    const auto& res = e["resource"];
    const std::string what = std::string(res["resourceType"].GetString()) +
                             (res.HasMember("id") ? "/" + std::string(res["id"].GetString()) : "");
    if (mode == "match") p.matches.push_back(what);
    if (mode == "include") p.included.push_back(what);
    if (mode == "outcome") {
      EXPECT_FALSE(e.HasMember("fullUrl"));
      p.outcomes.push_back(res["issue"][0]["severity"].GetString() + std::string(" ") +
                           res["issue"][0]["details"]["coding"][0]["code"].GetString());
    }
  }
  return p;
}

class ApiInclude : public ::testing::Test {
 protected:
  ApiInclude()
      : forms_(test::cardioPlus(), test::testClock()),
        messages_(test::mssante(), test::cardioPlus(), test::testClock()) {
    // Three requests: two patients, one practitioner; one points to a patient that is gone.
    put(*state_, "Patient", "p1", R"({"resourceType":"Patient","id":"p1"})");
    put(*state_, "Patient", "p2", R"({"resourceType":"Patient","id":"p2"})");
    put(*state_, "Practitioner", "d1", R"({"resourceType":"Practitioner","id":"d1"})");
    const char* kRequest =
        R"({"resourceType":"ServiceRequest","id":"%s","status":"active","intent":"order",)"
        R"("subject":{"reference":"Patient/%s"},"requester":{"reference":"Practitioner/d1"}})";
    int n = 0;
    for (const char* patient : {"p1", "p2", "p1", "gone"}) {
      const std::string id = "sr" + std::to_string(++n);
      char json[512];
      std::snprintf(json, sizeof json, kRequest, id.c_str(), patient);
      put(*state_, "ServiceRequest", id, json);
    }
  }

  rest::FhirApi api(int max_includes) {
    static const fake::AllowAll everyone;
    rest::ApiOptions o;
    o.base_url = "https://gw.test/fhir";
    o.authenticator = &everyone;
    o.policy = &test::shippedPolicy();
    o.max_includes = max_includes;
    return rest::FhirApi(
        [this]() -> Result<std::unique_ptr<Store>> {
          return std::unique_ptr<Store>(std::make_unique<fake::MemoryStore>(state_));
        },
        test::searchParameters(), messages_, forms_, test::testClock(), o);
  }

  static http::Response get(rest::FhirApi& api, std::string target) {
    http::Request r;
    r.method = "GET";
    r.target = std::move(target);
    r.remote = "127.0.0.1:40000";
    return api.handle(r);
  }

  std::shared_ptr<fake::MemoryState> state_ = std::make_shared<fake::MemoryState>();
  pipeline::FormIntake forms_;
  pipeline::MessageIntake messages_;
};

TEST_F(ApiInclude, OneStoreCallPerPageInTheOrderMet) {
  auto a = api(1000);
  http::Response r =
      get(a, "/ServiceRequest?_include=ServiceRequest:patient&_include=ServiceRequest:requester");
  ASSERT_EQ(r.status, 200) << r.body;
  const Page p = pageOf(r);
  EXPECT_EQ(p.matches.size(), 4u);
  // Each target once, in the order the page meets them; the one that is gone left out.
  EXPECT_EQ(p.included, (std::vector<std::string>{"Patient/p1", "Patient/p2", "Practitioner/d1"}));
  EXPECT_TRUE(p.outcomes.empty());
  EXPECT_EQ(state_->batch_reads, 1);
  EXPECT_EQ(state_->reads, 0);
  // Without _include, no call at all.
  state_->batch_reads = 0;
  ASSERT_EQ(get(a, "/ServiceRequest").status, 200);
  EXPECT_EQ(state_->batch_reads, 0);
}

TEST_F(ApiInclude, CappedPerPageWithAWarningEntry) {
  auto a = api(2);
  http::Response r =
      get(a, "/ServiceRequest?_include=ServiceRequest:patient&_include=ServiceRequest:requester");
  ASSERT_EQ(r.status, 200) << r.body;
  const Page p = pageOf(r);
  EXPECT_EQ(p.matches.size(), 4u);
  EXPECT_EQ(p.included, (std::vector<std::string>{"Patient/p1", "Patient/p2"}));
  EXPECT_EQ(p.outcomes, (std::vector<std::string>{"warning rest-includes-truncated"}));
  // Within the cap (one include here: the gone patient is a reference, not a resource), no
  // warning: the cap counts the references asked for.
  const Page within = pageOf(get(a, "/ServiceRequest?_include=ServiceRequest:requester"));
  EXPECT_EQ(within.included, (std::vector<std::string>{"Practitioner/d1"}));
  EXPECT_TRUE(within.outcomes.empty());
}

}  // namespace
}  // namespace liaison
