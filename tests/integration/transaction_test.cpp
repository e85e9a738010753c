// Transaction Bundles posted to `POST /` (rest/transaction) against a real PostgreSQL: each entry's
// request honoured (POST, ifNoneExist, PUT, DELETE), references between entries resolved, and
// what is not supported refused with the entry's index and nothing stored.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "adapters/pg/pg_store.hpp"
#include "integration_env.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "support/test_support.hpp"

namespace liaison {
namespace {

constexpr std::string_view kSystem = "urn:oid:1.2.250.1.999.42";  // a fictitious local system

struct Reply {
  int status = 0;
  rapidjson::Document body;
  std::string text;
};

class Transaction : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = itest::migratedTestDatabase("t_tx_");
    ASSERT_NE(database_.db, nullptr);
    messages_ = std::make_unique<pipeline::MessageIntake>(test::mssante(), test::cardioPlus(),
                                                          test::testClock());
    forms_ = std::make_unique<pipeline::FormIntake>(test::cardioPlus(), test::testClock());
    auto policy = rest::parsePolicy(test::readRepoFile("profiles/policy.json"));
    ASSERT_TRUE(policy) << policy.error().detail;
    policy_ = std::make_unique<auth::Policy>(std::move(*policy));
    rest::AccessSettings access;
    access.tokens.push_back(
        {"coordination", rest::tokenHash("jeton-coordination"), {"coordinator"}, {"cardio-plus"}});
    access.tokens.push_back(
        {"secretariat", rest::tokenHash("jeton-secretariat"), {"secretariat"}, {"cardio-plus"}});
    access.tokens.push_back({"lecteur", rest::tokenHash("jeton-lecteur"), {"reader"}, {"*"}});
    access_ = std::make_unique<rest::ClientAccess>(std::move(access));
    rest::ApiOptions options{"https://gw.test/fhir", 20, 1000, nullptr, {}, {}};
    options.authenticator = access_.get();
    options.policy = policy_.get();
    const std::string dsn = database_.dsn;
    api_ = std::make_unique<rest::FhirApi>(
        [dsn] {
          auto s = pg::PgStore::open(dsn);
          if (!s) return Result<std::unique_ptr<Store>>(s.error());
          return Result<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(*s)));
        },
        test::searchParameters(), *messages_, *forms_, test::testClock(), options);
  }
  void TearDown() override {
    api_.reset();
    database_.db.reset();
    itest::dropDatabase(database_.name);
  }

  Reply call(const std::string& method, const std::string& target, std::string body = {},
             const std::string& token = "jeton-coordination") {
    http::Request request;
    request.method = method;
    request.target = target;
    request.body = std::move(body);
    request.headers.push_back({"Authorization", "Bearer " + token});
    request.headers.push_back({"Content-Type", "application/fhir+json"});
    request.remote = "127.0.0.1:5555";
    http::Response response = api_->handle(request);
    Reply r;
    r.status = response.status;
    r.text = response.body;
    r.body.Parse(r.text.c_str());
    return r;
  }
  Reply transaction(const std::string& entries, const std::string& token = "jeton-coordination") {
    return call("POST", "/",
                R"({"resourceType":"Bundle","type":"transaction","entry":[)" + entries + "]}",
                token);
  }
  std::int64_t count(const std::string& where) {
    return itest::count(*database_.db,
                        "SELECT count(*) FROM resource WHERE NOT deleted AND " + where);
  }

  static std::string patient(std::string_view family, std::string_view value,
                             std::string_view id = {}) {
    return R"({"resourceType":"Patient",)" +
           (id.empty() ? std::string() : R"("id":")" + std::string(id) + R"(",)") +
           R"("identifier":[{"system":")" + std::string(kSystem) + R"(","value":")" +
           std::string(value) + R"("}],"name":[{"family":")" + std::string(family) + R"("}]})";
  }
  static std::string response(const Reply& r, std::size_t i, const char* member) {
    if (!r.body.IsObject() || !r.body.HasMember("entry") || r.body["entry"].Size() <= i) return {};
    const auto& resp = r.body["entry"][static_cast<rapidjson::SizeType>(i)]["response"];
    return resp.HasMember(member) ? resp[member].GetString() : "";
  }
  static std::string issueExpression(const Reply& r) {
    if (!r.body.IsObject() || !r.body.HasMember("issue")) return {};
    const auto& issue = r.body["issue"][0];
    if (!issue.HasMember("expression") || !issue["expression"].IsArray() ||
        issue["expression"].Empty())
      return {};
    return issue["expression"][0].GetString();
  }
  static std::string issueCode(const Reply& r) {
    if (!r.body.IsObject() || !r.body.HasMember("issue")) return {};
    return r.body["issue"][0]["details"]["coding"][0]["code"].GetString();
  }

  itest::TestDatabase database_;
  std::unique_ptr<pipeline::MessageIntake> messages_;
  std::unique_ptr<pipeline::FormIntake> forms_;
  std::unique_ptr<auth::Policy> policy_;
  std::unique_ptr<rest::ClientAccess> access_;
  std::unique_ptr<rest::FhirApi> api_;
};

TEST_F(Transaction, PutCreatesThenUpdates) {
  const std::string put = R"({"request":{"method":"PUT","url":"Patient/fictif-1"},"resource":)" +
                          patient("FICTIF-PREMIER", "1", "fictif-1") + "}";
  Reply first = transaction(put);
  ASSERT_EQ(first.status, 200) << first.text;
  EXPECT_EQ(response(first, 0, "status"), "201 Created");
  EXPECT_EQ(response(first, 0, "location"), "Patient/fictif-1/_history/1");
  EXPECT_EQ(response(first, 0, "etag"), "W/\"1\"");
  Reply second = transaction(put);
  ASSERT_EQ(second.status, 200) << second.text;
  EXPECT_EQ(response(second, 0, "status"), "200 OK");
  EXPECT_EQ(response(second, 0, "location"), "Patient/fictif-1/_history/2");
  EXPECT_EQ(response(second, 0, "etag"), "W/\"2\"");
  EXPECT_EQ(count("type = 'Patient' AND id = 'fictif-1' AND version = 2"), 1);
  // ifMatch on a version that is not the current one: 412, nothing written.
  Reply stale = transaction(
      R"({"request":{"method":"PUT","url":"Patient/fictif-1","ifMatch":"W/\"1\""},"resource":)" +
      patient("FICTIF-PERIME", "1", "fictif-1") + "}");
  EXPECT_EQ(stale.status, 412) << stale.text;
  EXPECT_EQ(issueExpression(stale), "Bundle.entry[0].request.ifMatch");
  EXPECT_EQ(count("type = 'Patient' AND id = 'fictif-1' AND version = 2"), 1);
}

TEST_F(Transaction, DeleteRemovesAndAnswers204) {
  ASSERT_EQ(transaction(R"({"request":{"method":"PUT","url":"Patient/fictif-2"},"resource":)" +
                        patient("FICTIF-DEUX", "2", "fictif-2") + "}")
                .status,
            200);
  Reply removed = transaction(R"({"request":{"method":"DELETE","url":"Patient/fictif-2"}})");
  ASSERT_EQ(removed.status, 200) << removed.text;
  EXPECT_EQ(response(removed, 0, "status"), "204 No Content");
  EXPECT_EQ(response(removed, 0, "etag"), "W/\"2\"");
  EXPECT_EQ(count("type = 'Patient' AND id = 'fictif-2'"), 0);
  EXPECT_EQ(call("GET", "/Patient/fictif-2").status, 410);
  // A role without the delete permission may post transactions, not delete through them.
  ASSERT_EQ(transaction(R"({"request":{"method":"PUT","url":"Patient/fictif-3"},"resource":)" +
                        patient("FICTIF-TROIS", "3", "fictif-3") + "}")
                .status,
            200);
  Reply forbidden = transaction(R"({"request":{"method":"DELETE","url":"Patient/fictif-3"}})",
                                "jeton-secretariat");
  EXPECT_EQ(forbidden.status, 403) << forbidden.text;
  EXPECT_EQ(issueExpression(forbidden), "Bundle.entry[0].request.method");
  EXPECT_EQ(count("type = 'Patient' AND id = 'fictif-3'"), 1);
}

TEST_F(Transaction, IfNoneExistMatchesOrCreates) {
  const std::string conditional =
      R"({"fullUrl":"urn:uuid:5f1c2a0e-0000-4000-8000-000000000001",)"
      R"("request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=)" +
      std::string(kSystem) + R"(|4"},"resource":)" + patient("FICTIF-QUATRE", "4") + "}";
  Reply miss = transaction(conditional);
  ASSERT_EQ(miss.status, 200) << miss.text;
  EXPECT_EQ(response(miss, 0, "status"), "201 Created");
  const std::string location = response(miss, 0, "location");
  EXPECT_EQ(count("type = 'Patient'"), 1);
  Reply hit = transaction(conditional);
  ASSERT_EQ(hit.status, 200) << hit.text;
  EXPECT_EQ(response(hit, 0, "status"), "200 OK");
  EXPECT_EQ(response(hit, 0, "location"), location);  // the same resource, same version
  EXPECT_EQ(count("type = 'Patient'"), 1);
}

TEST_F(Transaction, ReferencesBetweenEntriesNameTheIdsUsed) {
  // A Patient found by ifNoneExist and a new Observation pointing at it by its urn:uuid.
  ASSERT_EQ(transaction(R"({"request":{"method":"PUT","url":"Patient/fictif-5"},"resource":)" +
                        patient("FICTIF-CINQ", "5", "fictif-5") + "}")
                .status,
            200);
  const std::string bundle =
      R"({"fullUrl":"urn:uuid:5f1c2a0e-0000-4000-8000-000000000005",)"
      R"("request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=)" +
      std::string(kSystem) + R"(|5"},"resource":)" + patient("FICTIF-CINQ", "5") +
      R"(},{"fullUrl":"urn:uuid:5f1c2a0e-0000-4000-8000-000000000006",)"
      R"("request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation",)"
      R"("status":"final","code":{"text":"Poids"},)"
      R"("subject":{"reference":"urn:uuid:5f1c2a0e-0000-4000-8000-000000000005"}}})";
  Reply r = transaction(bundle);
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(response(r, 0, "status"), "200 OK");
  EXPECT_EQ(response(r, 0, "location"), "Patient/fictif-5/_history/1");
  EXPECT_EQ(response(r, 1, "status"), "201 Created");
  EXPECT_EQ(count("type = 'Observation' AND content->'subject'->>'reference' = 'Patient/fictif-5'"),
            1);
  // And the search index follows the rewritten reference.
  Reply found = call("GET", "/Observation?subject=Patient/fictif-5");
  ASSERT_EQ(found.status, 200) << found.text;
  ASSERT_TRUE(found.body.HasMember("entry")) << found.text;
  EXPECT_EQ(found.body["entry"].Size(), 1u) << found.text;
}

TEST_F(Transaction, ConditionalUpdateCreatesUpdatesOrRefusesSeveral) {
  auto put = [](std::string_view value, std::string_view family) {
    return R"({"request":{"method":"PUT","url":"Patient?identifier=)" + std::string(kSystem) + "|" +
           std::string(value) + R"("},"resource":)" + patient(family, value) + "}";
  };
  Reply created = transaction(put("8", "FICTIF-HUIT"));
  ASSERT_EQ(created.status, 200) << created.text;
  EXPECT_EQ(response(created, 0, "status"), "201 Created");
  const std::string location = response(created, 0, "location");
  ASSERT_TRUE(location.ends_with("/_history/1")) << location;
  const std::string id = location.substr(0, location.find("/_history"));
  Reply updated = transaction(put("8", "FICTIF-HUIT-BIS"));
  ASSERT_EQ(updated.status, 200) << updated.text;
  EXPECT_EQ(response(updated, 0, "status"), "200 OK");
  EXPECT_EQ(response(updated, 0, "location"), id + "/_history/2");
  EXPECT_EQ(count("type = 'Patient'"), 1);
  EXPECT_EQ(count("type = 'Patient' AND content->'name'->0->>'family' = 'FICTIF-HUIT-BIS'"), 1);
  // Two stored Patients with that identifier: 412, the entry named, nothing written.
  ASSERT_EQ(transaction(R"({"request":{"method":"PUT","url":"Patient/fictif-9"},"resource":)" +
                        patient("FICTIF-NEUF", "8", "fictif-9") + "}")
                .status,
            200);
  Reply several = transaction(put("8", "FICTIF-HUIT-TER"));
  EXPECT_EQ(several.status, 412) << several.text;
  EXPECT_EQ(issueExpression(several), "Bundle.entry[0].request.url");
  EXPECT_EQ(count("content->'name'->0->>'family' = 'FICTIF-HUIT-TER'"), 0);
}

TEST_F(Transaction, WhatIsNotSupportedIs422WithTheEntryAndNothingStored) {
  const std::string create = R"({"request":{"method":"POST","url":"Patient"},"resource":)" +
                             patient("FICTIF-SIX", "6") + "}";
  for (
      const auto& [entry, where] : std::vector<std::pair<std::string, std::string>>{
          {R"({"request":{"method":"PATCH","url":"Patient/x"},"resource":{"resourceType":"Patient"}})",
           "Bundle.entry[1].request.method"},
          {R"({"request":{"method":"GET","url":"Patient?name=x"}})",
           "Bundle.entry[1].request.method"},
          {R"({"request":{"method":"DELETE","url":"Patient?identifier=x"}})",
           "Bundle.entry[1].request.url"},
          {R"({"resource":{"resourceType":"Patient"}})", "Bundle.entry[1].request"},
      }) {
    Reply r = transaction(create + "," + entry);
    EXPECT_EQ(r.status, 422) << entry << ": " << r.text;
    EXPECT_EQ(issueExpression(r), where) << entry;
    EXPECT_EQ(count("true"), 0) << entry;
  }
  Reply patch = transaction(create + "," + R"({"request":{"method":"PATCH","url":"Patient/x"}})");
  EXPECT_EQ(issueCode(patch), "rest-transaction-unsupported");
  // A failure after writes (the second entry's If-Match) rolls the first back too.
  Reply stale =
      transaction(create + "," +
                  R"({"request":{"method":"PUT","url":"Patient/fictif-7","ifMatch":"W/\"3\""},)" +
                  R"("resource":)" + patient("FICTIF-SEPT", "7", "fictif-7") + "}");
  EXPECT_EQ(stale.status, 412) << stale.text;
  EXPECT_EQ(count("true"), 0);
}

// Nonsense in a request is a 4xx naming the entry, never a 500, and writes nothing.
TEST_F(Transaction, MalformedRequestsAreClientErrorsNamingTheEntry) {
  for (
      const auto& [entry, where] : std::vector<std::pair<std::string, std::string>>{
          {R"({"request":"POST","resource":{"resourceType":"Patient"}})",
           "Bundle.entry[0].request"},
          {R"({"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Patient"}})",
           "Bundle.entry[0].request.url"},
          {R"({"request":{"method":"PUT","url":"Patient/a/../b"},"resource":{"resourceType":"Patient"}})",
           "Bundle.entry[0].request.url"},
          {R"({"request":{"method":"POST","url":"Patient","ifNoneExist":"inconnu=1"},"resource":{"resourceType":"Patient"}})",
           "Bundle.entry[0].request.ifNoneExist"},
          {R"({"request":{"method":"PUT","url":"Patient/x","ifMatch":"W/\"-1\""},"resource":{"resourceType":"Patient"}})",
           "Bundle.entry[0].request.ifMatch"},
          {R"({"request":{"method":"POST","url":"Inconnu"},"resource":{"resourceType":"Inconnu"}})",
           "Bundle.entry[0].request.url"},
      }) {
    Reply r = transaction(entry);
    EXPECT_GE(r.status, 400) << entry << ": " << r.text;
    EXPECT_LT(r.status, 500) << entry << ": " << r.text;
    EXPECT_EQ(issueExpression(r), where) << entry << ": " << r.text;
  }
  // Two entries writing one resource.
  const std::string put = R"({"request":{"method":"PUT","url":"Patient/fictif-10"},"resource":)" +
                          patient("FICTIF-DIX", "10", "fictif-10") + "}";
  Reply twice = transaction(put + "," + put);
  EXPECT_EQ(twice.status, 422) << twice.text;
  EXPECT_EQ(issueExpression(twice), "Bundle.entry[1].request.url");
  EXPECT_EQ(count("true"), 0);
}

}  // namespace
}  // namespace liaison
