// What the API says of itself and of its resources in headers and links (issue 14's REST
// corrections), behind the fake in-memory store: links from the configured base URL only, never
// a request's Host; Last-Modified as an HTTP-date; the CapabilityStatement's date from the build.

#include <chrono>
#include <memory>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "rest/http_date.hpp"
#include "support/memory_store.hpp"
#include "support/test_support.hpp"
#include "unit/rest/shipped_policy.hpp"

namespace liaison {
namespace {

constexpr const char* kBase = "https://gw.test/fhir";

std::string headerOf(const http::Response& r, std::string_view name) {
  for (const auto& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "(none)";
}

// /healthz borrows no connection: it answers 200 while the store cannot be reached at all, with
// the database's state as the background check (app/) last recorded it.
TEST(ApiHealth, AnswersWithoutTheStoreAndSaysTheLastCheck) {
  static const fake::AllowAll everyone;
  pipeline::FormIntake forms(test::cardioPlus(), test::testClock());
  pipeline::MessageIntake messages(test::mssante(), test::cardioPlus(), test::testClock());
  rest::DatabaseHealth health;
  rest::ApiOptions o;
  o.base_url = kBase;
  o.authenticator = &everyone;
  o.policy = &test::shippedPolicy();
  o.database_health = &health;
  int connects = 0;
  rest::FhirApi api(
      [&connects]() -> Result<std::unique_ptr<Store>> {
        ++connects;
        return makeError(Errc::DbUnavailable, "no database in this test");
      },
      test::searchParameters(), messages, forms, test::testClock(), o);
  http::Request r;
  r.method = "GET";
  r.target = "/healthz";
  r.remote = "127.0.0.1:40000";
  http::Response unknown = api.handle(r);
  EXPECT_EQ(unknown.status, 200);
  EXPECT_EQ(unknown.body, R"({"status":"ok","database":"unknown"})");
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  health.record(false, now_ms - 12000);
  http::Response down = api.handle(r);
  EXPECT_EQ(down.status, 200);
  EXPECT_NE(down.body.find(R"("database":"unavailable")"), std::string::npos) << down.body;
  EXPECT_NE(down.body.find(R"("databaseCheckedSecondsAgo":12)"), std::string::npos) << down.body;
  health.record(true, now_ms);
  EXPECT_NE(api.handle(r).body.find(R"("database":"ok")"), std::string::npos);
  EXPECT_EQ(connects, 0);
  // Any other route does need the store, and says it is unavailable (503, Retry-After).
  r.target = "/Patient/p1";
  http::Response read = api.handle(r);
  EXPECT_EQ(read.status, 503);
  EXPECT_NE(headerOf(read, "Retry-After"), "(none)");
  EXPECT_GT(connects, 0);
}

class ApiHeaders : public ::testing::Test {
 protected:
  explicit ApiHeaders(const Clock& clock = test::testClock())
      : forms_(test::cardioPlus(), clock),
        messages_(test::mssante(), test::cardioPlus(), clock),
        api_(
            [this]() -> Result<std::unique_ptr<Store>> {
              return std::unique_ptr<Store>(std::make_unique<fake::MemoryStore>(state_));
            },
            test::searchParameters(), messages_, forms_, clock, options()) {}

  static rest::ApiOptions options() {
    static const fake::AllowAll everyone;
    rest::ApiOptions o;
    o.base_url = kBase;
    o.authenticator = &everyone;
    o.policy = &test::shippedPolicy();
    return o;
  }

 public:
  http::Response send(std::string method, std::string target, std::string body = "") {
    http::Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.push_back({"Host", "evil.example"});
    r.headers.push_back({"Content-Type", "application/fhir+json"});
    r.body = std::move(body);
    r.remote = "127.0.0.1:40000";
    return api_.handle(r);
  }

 protected:
  std::shared_ptr<fake::MemoryState> state_ = std::make_shared<fake::MemoryState>();
  pipeline::FormIntake forms_;
  pipeline::MessageIntake messages_;
  rest::FhirApi api_;
};

const std::string kPatient = R"({"resourceType":"Patient","name":[{"family":"FICTIF-TEST"}]})";

// An IMF-fixdate: "Mon, 23 Nov 2026 10:00:00 GMT".
const std::regex kImfFixdate(
    R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)");

TEST(HttpDate, InstantsAsImfFixdate) {
  EXPECT_EQ(rest::httpDate("2026-11-23T10:00:00Z"), "Mon, 23 Nov 2026 10:00:00 GMT");
  EXPECT_EQ(rest::httpDate("2026-11-23T10:00:00.123Z"), "Mon, 23 Nov 2026 10:00:00 GMT");
  EXPECT_EQ(rest::httpDate("2024-02-29T23:59:59.999999Z"), "Thu, 29 Feb 2024 23:59:59 GMT");
  // Offsets are brought back to UTC, across a day and a year.
  EXPECT_EQ(rest::httpDate("2025-01-01T00:30:00+01:00"), "Tue, 31 Dec 2024 23:30:00 GMT");
  EXPECT_EQ(rest::httpDate("2024-12-31T23:30:00-01:00"), "Wed, 01 Jan 2025 00:30:00 GMT");
  for (const char* bad : {"", "2026-11-23", "2026-11-23T10:00:00", "2026-02-30T10:00:00Z",
                          "2026-11-23T25:00:00Z", "2026-11-23T10:00:00.Z", "2026-11-23T10:00:00+1",
                          "2026-11-23 10:00:00Z", "2026-11-23T10:00:00Zjunk"}) {
    EXPECT_EQ(rest::httpDate(bad), std::nullopt) << bad;
  }
}

TEST_F(ApiHeaders, LastModifiedIsAnHttpDate) {
  auto created = send("POST", "/Patient", kPatient);
  ASSERT_EQ(created.status, 201) << created.body;
  // The test clock: 2026-11-23 10:00 UTC, a Monday.
  EXPECT_EQ(headerOf(created, "Last-Modified"), "Mon, 23 Nov 2026 10:00:00 GMT");
  const std::string location = headerOf(created, "Location");
  ASSERT_EQ(location.rfind(std::string(kBase) + "/Patient/", 0), 0u) << location;
  const std::string path = location.substr(std::string(kBase).size());
  const std::string id = path.substr(9, path.find('/', 9) - 9);
  for (const std::string& target : {"/Patient/" + id, "/Patient/" + id + "/_history/1"}) {
    auto read = send("GET", target);
    ASSERT_EQ(read.status, 200) << target << ": " << read.body;
    const std::string last_modified = headerOf(read, "Last-Modified");
    EXPECT_TRUE(std::regex_match(last_modified, kImfFixdate)) << target << ": " << last_modified;
    EXPECT_EQ(last_modified, "Mon, 23 Nov 2026 10:00:00 GMT");
  }
  auto updated =
      send("PUT", "/Patient/" + id,
           R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"FICTIF-AUTRE"}]})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(headerOf(updated, "Last-Modified"), "Mon, 23 Nov 2026 10:00:00 GMT");
}

// Links come from the configured base URL: a client's Host header never reaches them.
TEST_F(ApiHeaders, LinksNeverFollowTheHostHeader) {
  auto created = send("POST", "/Patient", kPatient);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(headerOf(created, "Location").rfind(kBase, 0), 0u);
  for (const char* target : {"/Patient", "/Patient/_history", "/metadata"}) {
    auto r = send("GET", target);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(r.body.find("evil.example"), std::string::npos) << target << ": " << r.body;
    EXPECT_NE(r.body.find(kBase), std::string::npos) << target << ": " << r.body;
  }
}

std::string capabilityDate(ApiHeaders& test) {
  auto r = test.send("GET", "/metadata");
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (r.status != 200 || !d.IsObject() || !d.HasMember("date") || !d["date"].IsString())
    return "(no date) " + r.body.substr(0, 200);
  return d["date"].GetString();
}

class ApiHeadersLater : public ApiHeaders {
 protected:
  static const Clock& later() {
    using namespace std::chrono;
    static const FixedClock clock(sys_days{year{2031} / March / 14} + hours{15});
    return clock;
  }
  ApiHeadersLater() : ApiHeaders(later()) {}
};

// The CapabilityStatement's date is the build's (src/CMakeLists.txt), whatever the time of the
// request: a server answering on another day says the same.
TEST_F(ApiHeaders, CapabilityStatementDateIsTheBuilds) {
  const std::string date = capabilityDate(*this);
  EXPECT_TRUE(std::regex_match(date, std::regex(R"(\d{4}-\d\d-\d\d)"))) << date;
  EXPECT_EQ(date, rest::buildDate());
  EXPECT_EQ(date, LIAISON_EXPECTED_BUILD_DATE);
  EXPECT_NE(date, "2026-11-23");  // the clock's day
}

TEST_F(ApiHeadersLater, CapabilityStatementDateIsTheBuildsOnAnotherDay) {
  EXPECT_EQ(capabilityDate(*this), rest::buildDate());
}

}  // namespace
}  // namespace liaison
