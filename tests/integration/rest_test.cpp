// The FHIR REST API (rest/FhirApi) against a real PostgreSQL, called as the HTTP server calls it.
// The messages are stored first through the same pipeline as the mailbox.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_audit_log.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "adapters/pg/pg_store.hpp"
#include "integration_env.hpp"
#include "parse/text/base64.hpp"
#include "pipeline/codec.hpp"
#include "pipeline/stored_intake.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "rest/http_date.hpp"
#include "support/test_support.hpp"

namespace liaison {
namespace {

using itest::message;

struct Reply {
  int status = 0;
  rapidjson::Document body;
  std::string text;
  std::string header(std::string_view name) const {
    for (const auto& h : headers)
      if (h.name == name) return h.value;
    return {};
  }
  std::vector<http::Header> headers;
};

// One database for the suite, filled once: ldl_ses + pps (patient A), tlm_da (patient B),
// issue 12's referral letter and consultation report (patient C, FICTIF-GIRAUD: a request, the
// mails' texts, conditions, treatments, an allergy), the complete fiche (a fourth patient).
class Rest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dsn_ = itest::freshDatabase("t_rest");
    ASSERT_FALSE(dsn_.empty());
    ASSERT_TRUE(pg::migrate(dsn_));
    messages_ = new pipeline::MessageIntake(test::mssante(), test::cardioPlus(), test::testClock());
    forms_ = new pipeline::FormIntake(test::cardioPlus(), test::testClock());
    // The suite's client: the certificate of the test PKI, as a coordinator (writes and deletes)
    // and ops (metrics); a reader and an intake client by token for the authorization tests.
    auto policy = rest::parsePolicy(test::readRepoFile("profiles/policy.json"));
    ASSERT_TRUE(policy) << policy.error().detail;
    policy_ = new auth::Policy(std::move(*policy));
    rest::AccessSettings access;
    access.clients.push_back({"secretariat-cardio-plus",
                              std::string(kSubject),
                              "",
                              {"coordinator", "ops"},
                              {"cardio-plus"}});
    access.tokens.push_back({"lecteur", rest::tokenHash("jeton-lecteur"), {"reader"}, {"*"}});
    access.tokens.push_back(
        {"plateforme", rest::tokenHash("jeton-plateforme"), {"intake-client"}, {"cardio-plus"}});
    // The audit tests' people: a secretary of the ESS, and an administrator who reads the trail.
    access.tokens.push_back(
        {"secretaire", rest::tokenHash("jeton-secretaire"), {"secretariat"}, {"cardio-plus"}});
    access.tokens.push_back(
        {"auditeur", rest::tokenHash("jeton-auditeur"), {"admin"}, {"cardio-plus"}});
    access_ = new rest::ClientAccess(std::move(access));
    rest::ApiOptions options{"https://gw.test/fhir", 20, 1000, nullptr, {}, {}};
    options.authenticator = access_;
    options.policy = policy_;
    api_ = new rest::FhirApi(
        [] {
          auto s = pg::PgStore::open(dsn_);
          if (!s) return Result<std::unique_ptr<Store>>(s.error());
          return Result<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(*s)));
        },
        test::searchParameters(), *messages_, *forms_, test::testClock(), options);
    for (const char* m :
         {"ldl_ses.eml", "pps.eml", "tlm_da.eml", "referral_note.eml", "cr_consultation.eml"}) {
      Reply r = post(message(m), "message/rfc822");
      ASSERT_EQ(r.status, 201) << m << ": " << r.text.substr(0, 400);
    }
    Reply fiche = post(test::readRepoFile("samples/fiches/fiche-complete.txt"), "text/plain");
    ASSERT_EQ(fiche.status, 201) << fiche.text.substr(0, 400);
  }
  static void TearDownTestSuite() {
    delete api_;
    delete access_;
    delete policy_;
    delete forms_;
    delete messages_;
    itest::dropDatabase("t_rest");
  }

  static Reply call(const std::string& method, const std::string& target, std::string body = {},
                    std::string content_type = {}, std::string subject = std::string(kSubject),
                    std::string authorization = {}) {
    http::Request request;
    request.method = method;
    request.target = target;
    request.body = std::move(body);
    request.client_subject = std::move(subject);
    if (!authorization.empty()) request.headers.push_back({"Authorization", authorization});
    request.remote = "127.0.0.1:5555";
    request.headers.push_back({"Host", "gw.test"});
    if (!content_type.empty()) request.headers.push_back({"Content-Type", content_type});
    http::Response response = api_->handle(request);
    Reply r;
    r.status = response.status;
    r.text = response.body;
    r.headers = response.headers;
    r.body.Parse(r.text.c_str());
    return r;
  }
  static Reply get(const std::string& target) { return call("GET", target); }
  static Reply post(std::string body, std::string type) {
    return call("POST", "/", std::move(body), std::move(type));
  }

  static std::vector<std::string> ids(const Reply& bundle, const char* mode = "match") {
    std::vector<std::string> out;
    if (!bundle.body.IsObject() || !bundle.body.HasMember("entry")) return out;
    for (const auto& e : bundle.body["entry"].GetArray()) {
      if (std::string_view(e["search"]["mode"].GetString()) != mode) continue;
      out.push_back(std::string(e["resource"]["resourceType"].GetString()) + "/" +
                    e["resource"]["id"].GetString());
    }
    return out;
  }

  static std::string patientA() {
    Reply r = get("/Patient?identifier=urn:oid:1.2.250.1.213.1.4.10%7C279035121518989");
    auto found = ids(r);
    EXPECT_EQ(found.size(), 1u) << r.text.substr(0, 300);
    return found.empty() ? "" : found.front();
  }

  static std::int64_t count(const std::string& sql) {
    auto db = pg::PgConnection::open(dsn_);
    auto r = (*db)->exec(sql);
    EXPECT_TRUE(r);
    return r ? r->integer(0, 0) : -1;
  }

  static inline std::string dsn_;
  static inline pipeline::MessageIntake* messages_ = nullptr;
  static inline pipeline::FormIntake* forms_ = nullptr;
  static inline rest::FhirApi* api_ = nullptr;
  static inline auth::Policy* policy_ = nullptr;
  static inline rest::ClientAccess* access_ = nullptr;
  static constexpr std::string_view kSubject = "CN=secretariat-cardio-plus,O=ESS Cardio+";
  // How the audit trail names the suite's client: principal, the role that allowed, credential.
  static constexpr std::string_view kAgent =
      "client:secretariat-cardio-plus role=coordinator (CN=secretariat-cardio-plus,O=ESS Cardio+)";
};

TEST_F(Rest, CapabilityStatementListsWhatIsServed) {
  Reply r = get("/metadata");
  ASSERT_EQ(r.status, 200);
  EXPECT_STREQ(r.body["resourceType"].GetString(), "CapabilityStatement");
  EXPECT_STREQ(r.body["fhirVersion"].GetString(), "4.0.1");
  EXPECT_STREQ(r.body["rest"][0]["security"]["service"][0]["coding"][0]["code"].GetString(),
               "Certificates");
  std::set<std::string> patient_params;
  for (const auto& res : r.body["rest"][0]["resource"].GetArray()) {
    if (std::string_view(res["type"].GetString()) != "Patient") continue;
    for (const auto& p : res["searchParam"].GetArray())
      patient_params.insert(p["name"].GetString());
  }
  for (const char* p : {"identifier", "name", "family", "given", "birthdate", "gender"})
    EXPECT_EQ(patient_params.count(p), 1u) << p;
  // The audit trail: read and search-type, by patient among others.
  bool audit = false;
  for (const auto& res : r.body["rest"][0]["resource"].GetArray()) {
    if (std::string_view(res["type"].GetString()) != "AuditEvent") continue;
    audit = res["interaction"].Size() == 2 &&
            std::string_view(res["searchParam"][0]["name"].GetString()) == "patient";
  }
  EXPECT_TRUE(audit) << r.text.substr(0, 200);
}

TEST_F(Rest, ReadVreadAndHistory) {
  const std::string patient = patientA();
  Reply r = get("/" + patient);
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.header("ETag"), "W/\"1\"");
  EXPECT_EQ(std::string("Patient/") + r.body["id"].GetString(), patient);
  EXPECT_STREQ(r.body["meta"]["versionId"].GetString(), "1");
  // The instant the store reads from last_updated is the one written into meta.lastUpdated, and
  // Last-Modified is that instant as an HTTP-date.
  const std::string updated = r.body["meta"]["lastUpdated"].GetString();
  const std::string modified = rest::httpDate(updated).value_or("?");
  EXPECT_EQ(r.header("Last-Modified"), modified);
  EXPECT_EQ(updated.size(), 24u) << updated;  // 2024-01-12T13:05:00.123Z
  EXPECT_EQ(updated.back(), 'Z');
  EXPECT_EQ(updated[10], 'T');
  EXPECT_EQ(get("/" + patient + "/_history/1").header("Last-Modified"), modified);
  Reply v2 = get("/" + patient + "/_history/2");
  EXPECT_EQ(v2.status, 404);
  EXPECT_STREQ(v2.body["resourceType"].GetString(), "OperationOutcome");
  Reply h = get("/" + patient + "/_history");
  ASSERT_EQ(h.status, 200);
  EXPECT_STREQ(h.body["type"].GetString(), "history");
  EXPECT_EQ(h.body["entry"].Size(), 1u);
  Reply missing = get("/Patient/does-not-exist");
  EXPECT_EQ(missing.status, 404);
  EXPECT_STREQ(missing.body["issue"][0]["details"]["coding"][0]["code"].GetString(),
               "rest-not-found");
  EXPECT_EQ(get("/Basic/1").status, 404);
  EXPECT_EQ(call("PATCH", "/" + patient).status, 405);
}

TEST_F(Rest, PatientSearchParameters) {
  const std::string a = patientA();
  EXPECT_EQ(ids(get("/Patient?name=dupont")), std::vector<std::string>{a});
  EXPECT_EQ(ids(get("/Patient?family=FICTIF-DUP")), std::vector<std::string>{a});
  EXPECT_EQ(ids(get("/Patient?given=cam")), std::vector<std::string>{a});
  EXPECT_EQ(ids(get("/Patient?name:exact=camille%20rose")).size(), 0u);
  EXPECT_EQ(ids(get("/Patient?birthdate=1979-03-14")), std::vector<std::string>{a});
  EXPECT_EQ(ids(get("/Patient?birthdate=1979-03")), std::vector<std::string>{a});
  EXPECT_EQ(ids(get("/Patient?birthdate=1979-03-15")).size(), 0u);
  EXPECT_EQ(ids(get("/Patient?birthdate=ge1979-01-01&gender=female")), std::vector<std::string>{a});
  EXPECT_EQ(ids(get("/Patient?birthdate=lt1970")).size(), 3u);  // 1962, the fiche's 1952, C's 1948
  EXPECT_EQ(ids(get("/Patient?identifier=279035121518989")), std::vector<std::string>{a});
  EXPECT_EQ(ids(get("/Patient?identifier=urn:oid:1.2.250.1.213.1.4.8%7C279035121518989")).size(),
            0u);
  EXPECT_EQ(ids(get("/Patient?gender=male,female")).size(), 4u);
  Reply counted = get("/Patient?_summary=count");
  EXPECT_EQ(counted.body["total"].GetInt64(), 4);
  EXPECT_FALSE(counted.body.HasMember("entry"));
}

TEST_F(Rest, ClinicalSearchesByPatient) {
  const std::string a = patientA();
  const std::string id = a.substr(a.find('/') + 1);
  EXPECT_EQ(ids(get("/Observation?patient=" + id)).size(), 5u);
  EXPECT_EQ(ids(get("/Observation?subject=" + a + "&code=http://loinc.org%7C29463-7")).size(), 1u);
  EXPECT_EQ(ids(get("/Observation?patient=" + id + "&code=8480-6,8462-4")).size(), 2u);
  EXPECT_EQ(ids(get("/DocumentReference?patient=" + id)).size(), 3u);  // LDL-SES, its PDF, PPS
  EXPECT_EQ(ids(get("/DocumentReference?patient=" + id + "&type=11490-0")).size(), 1u);
  EXPECT_EQ(ids(get("/CarePlan?patient=" + id)).size(), 1u);
  EXPECT_EQ(ids(get("/Encounter?patient=" + id)).size(), 1u);
  EXPECT_EQ(ids(get("/Encounter?date=2024")).size(), 1u);
  Reply subject_without_type = get("/Observation?subject=" + id);
  EXPECT_EQ(subject_without_type.status, 400);
}

TEST_F(Rest, ServiceRequestSearchWithInclude) {
  Reply r = get("/ServiceRequest?_include=ServiceRequest:patient&_total=accurate");
  ASSERT_EQ(r.status, 200) << r.text.substr(0, 300);
  const auto matches = ids(r);
  const auto included = ids(r, "include");
  EXPECT_EQ(matches.size(), 3u);  // TLM-DA, the referral letter and the fiche
  EXPECT_EQ(r.body["total"].GetInt64(), 3);
  EXPECT_EQ(included.size(), 3u);
  for (const std::string& i : included)
    EXPECT_EQ(i.rfind("Patient/", 0), 0u) << i;
  EXPECT_EQ(ids(get("/ServiceRequest?authored=ge2000-01-01")).size(), 3u);
  EXPECT_EQ(ids(get("/ServiceRequest?authored=lt2000-01-01")).size(), 0u);
  EXPECT_EQ(ids(get("/ServiceRequest?_lastUpdated=ge2020-01-01")).size(), 3u);
}

// _include in one query per page (PgStore::readCurrent): the same resources, in the same order,
// as reading each reference the page holds; with limits.maxIncludes the page keeps the first
// ones and says it left the rest out.
TEST_F(Rest, IncludesAreTheReferencedResourcesReadInOneQuery) {
  const std::string query =
      "/ServiceRequest?_include=ServiceRequest:patient&_include=ServiceRequest:requester&_count="
      "100";
  Reply r = get(query);
  ASSERT_EQ(r.status, 200) << r.text.substr(0, 300);
  // What the page's references name, each once, by parameter then by match, read one by one.
  std::vector<std::string> expected;
  std::set<std::string> seen;
  for (const char* field : {"subject", "requester"}) {
    for (const auto& e : r.body["entry"].GetArray()) {
      if (std::string_view(e["search"]["mode"].GetString()) != "match") continue;
      const auto& res = e["resource"];
      if (!res.HasMember(field) || !res[field].HasMember("reference")) continue;
      const std::string ref = res[field]["reference"].GetString();
      if (!seen.insert(ref).second) continue;
      if (get("/" + ref).status == 200) expected.push_back(ref);
    }
  }
  ASSERT_GE(expected.size(), 3u);
  EXPECT_EQ(ids(r, "include"), expected);

  auto store = pg::PgStore::open(dsn_);
  ASSERT_TRUE(store);
  const std::vector<std::string> asked{expected[1], "Patient/inconnu", expected[0], "sans-barre"};
  auto read = (*store)->readCurrent(asked);
  ASSERT_TRUE(read) << read.error().detail;
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].type + "/" + (*read)[0].id, expected[1]);
  EXPECT_EQ((*read)[1].type + "/" + (*read)[1].id, expected[0]);
  EXPECT_FALSE((*read)[0].json.empty());

  rest::ApiOptions options{"https://gw.test/fhir", 20, 1000, nullptr, {}, {}};
  options.authenticator = access_;
  options.policy = policy_;
  options.max_includes = 2;
  rest::FhirApi capped(
      [] {
        auto s = pg::PgStore::open(dsn_);
        if (!s) return Result<std::unique_ptr<Store>>(s.error());
        return Result<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(*s)));
      },
      test::searchParameters(), *messages_, *forms_, test::testClock(), options);
  http::Request request;
  request.method = "GET";
  request.target = query;
  request.client_subject = std::string(kSubject);
  request.remote = "127.0.0.1:5555";
  Reply c;
  http::Response response = capped.handle(request);
  c.status = response.status;
  c.body.Parse(response.body.c_str());
  ASSERT_EQ(c.status, 200) << response.body.substr(0, 300);
  EXPECT_EQ(ids(c, "include"), (std::vector<std::string>{expected[0], expected[1]}));
  const auto& entries = c.body["entry"].GetArray();
  const auto& last = entries[entries.Size() - 1];
  EXPECT_EQ(std::string_view(last["search"]["mode"].GetString()), "outcome");
  EXPECT_EQ(
      std::string_view(last["resource"]["issue"][0]["details"]["coding"][0]["code"].GetString()),
      "rest-includes-truncated");
}

// What the API returns is FHIR R4: every searchset goes to the independent validator
// (tests/conformance, run after the suites by ctest).
TEST_F(Rest, SearchsetsForTheConformanceCheck) {
  for (const char* type :
       {"Patient", "ServiceRequest", "Observation", "DocumentReference", "CarePlan", "Encounter",
        "Practitioner", "Organization", "QuestionnaireResponse", "Consent", "Communication",
        "Condition", "MedicationStatement", "AllergyIntolerance", "PractitionerRole"}) {
    Reply r = get(std::string("/") + type + "?_count=100&_total=accurate");
    ASSERT_EQ(r.status, 200) << type;
    EXPECT_GT(r.body["total"].GetInt64(), 0) << type;
    test::dumpBundle(std::string("rest-searchset-") + type, r.text);
  }
  Reply with_requester =
      get("/ServiceRequest?_include=ServiceRequest:requester&_count=100&_total=accurate");
  ASSERT_EQ(with_requester.status, 200);
  EXPECT_FALSE(ids(with_requester, "include").empty());
  test::dumpBundle("rest-searchset-ServiceRequest-include-requester", with_requester.text);
  Reply history = get("/" + patientA() + "/_history");
  test::dumpBundle("rest-history-patient", history.text);
  Reply capability = get("/metadata");
  test::dumpBundle("rest-capability-statement", capability.text);
}

TEST_F(Rest, PagingVisitsEveryMatchOnce) {
  std::set<std::string> seen;
  std::string next = "/Observation?_count=7&_sort=_lastUpdated";
  int pages = 0;
  while (!next.empty() && pages < 50) {
    Reply page = get(next);
    ASSERT_EQ(page.status, 200) << page.text.substr(0, 300);
    for (const std::string& id : ids(page))
      EXPECT_TRUE(seen.insert(id).second) << id << " twice";
    next.clear();
    for (const auto& link : page.body["link"].GetArray()) {
      if (std::string_view(link["relation"].GetString()) == "next") {
        next = link["url"].GetString();
        next = next.substr(std::string("https://gw.test/fhir").size());
      }
    }
    ++pages;
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()),
            count("SELECT count(*) FROM resource WHERE type = 'Observation'"));
  EXPECT_GT(pages, 2);
}

TEST_F(Rest, BadSearchesAreClearErrors) {
  Reply unknown = get("/Patient?shoe-size=42");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_STREQ(unknown.body["issue"][0]["details"]["coding"][0]["code"].GetString(),
               "rest-search-parameter-unknown");
  EXPECT_EQ(get("/Patient?birthdate=14/03/1979").status, 400);
  EXPECT_EQ(get("/Patient?birthdate=xx1979").status, 400);
  EXPECT_EQ(get("/Patient?_count=-1").status, 400);
  EXPECT_EQ(get("/Patient?_cursor=garbage").status, 400);
  EXPECT_EQ(get("/Patient?_sort=birthdate").status, 400);
}

TEST_F(Rest, IngestThroughTheApiIsExactlyOnce) {
  const std::string mail = message("n1_pdf.eml");
  Reply first = post(mail, "message/rfc822");
  ASSERT_EQ(first.status, 201) << first.text.substr(0, 300);
  EXPECT_STREQ(first.body["resourceType"].GetString(), "Parameters");
  Reply again = post(mail, "message/rfc822");
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(again.body["parameter"][2]["valueBoolean"].GetBool());
  Reply bomb = post(message("xdm_bomb.eml"), "message/rfc822");
  EXPECT_EQ(bomb.status, 422);
  EXPECT_EQ(call("POST", "/", "", "message/rfc822").status, 400);
}

// Who may do what (profiles/policy.json): authenticated before routing, one decision per route.
TEST_F(Rest, EveryRouteButHealthNeedsAPrincipalWithTheRole) {
  const std::string a = patientA();
  // Nobody: 401 with a challenge, whatever the path (even one that does not exist).
  for (const char* target : {"/Patient", "/metadata", "/metrics", "/outbox", "/nope"}) {
    Reply r = call("GET", target, {}, {}, "");
    EXPECT_EQ(r.status, 401) << target;
    EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer realm=\"liaison\"") << target;
    EXPECT_STREQ(r.body["issue"][0]["details"]["coding"][0]["code"].GetString(), "auth-required");
  }
  EXPECT_EQ(call("GET", "/healthz", {}, {}, "").status, 200);
  // A certificate of the CA that no client of the configuration names, a wrong token.
  EXPECT_EQ(call("GET", "/" + a, {}, {}, "CN=someone-else,O=Autre").status, 401);
  EXPECT_EQ(call("GET", "/" + a, {}, {}, "", "Bearer jeton-faux").status, 401);
  EXPECT_EQ(call("GET", "/" + a, {}, {}, std::string(kSubject), "Bearer jeton-faux").status, 401);
  // A reader reads and searches, never writes: 403 forbidden.
  const std::string reader = "Bearer jeton-lecteur";
  EXPECT_EQ(call("GET", "/" + a, {}, {}, "", reader).status, 200);
  EXPECT_EQ(call("GET", "/Patient?gender=female", {}, {}, "", reader).status, 200);
  Reply refused = call("POST", "/", message("tlm_da.eml"), "message/rfc822", "", reader);
  EXPECT_EQ(refused.status, 403);
  EXPECT_STREQ(refused.body["issue"][0]["details"]["coding"][0]["code"].GetString(), "forbidden");
  EXPECT_EQ(call("DELETE", "/" + a, {}, {}, "", reader).status, 403);
  EXPECT_EQ(call("GET", "/metrics", {}, {}, "", reader).status, 403);
  // The intake client posts messages and reads nothing, not even a transaction Bundle's worth.
  const std::string platform = "Bearer jeton-plateforme";
  EXPECT_EQ(call("GET", "/" + a, {}, {}, "", platform).status, 403);
  EXPECT_EQ(call("GET", "/Patient", {}, {}, "", platform).status, 403);
  EXPECT_EQ(call("POST", "/", R"({"resourceType":"Bundle","type":"transaction","entry":[]})",
                 "application/fhir+json", "", platform)
                .status,
            403);
  Reply posted = call("POST", "/", message("tlm_da.eml"), "message/rfc822", "", platform);
  EXPECT_LT(posted.status, 300) << posted.text.substr(0, 300);
  // The refusals are in the audit trail, with the principal.
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE agent = 'token:lecteur role=- "
                  "(token:lecteur)' AND action = 'D' AND outcome = '4' AND what = '" +
                  a + "'"),
            1);
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE agent LIKE 'token:plateforme "
                  "role=intake-client%' AND action = 'C' AND outcome = '0'"),
            1);
  // The principal and the role in columns of their own, and in the FHIR view (V013).
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE principal = 'token:plateforme' AND "
                  "role = 'intake-client' AND action = 'C'"),
            1);
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE principal = 'token:lecteur' AND "
                  "role = '' AND action = 'D' AND outcome = '4'"),
            1);
  EXPECT_GE(count("SELECT count(*) FROM audit_event_fhir WHERE content->'agent'->0->'who'->"
                  "'identifier'->>'value' = 'token:lecteur' AND content->'agent'->0->'role'->0->>"
                  "'text' = 'reader' AND content->>'action' = 'R'"),
            1);
}

// Nonsense is a client error, never a 500: ids checked on every interaction, reserved names.
TEST_F(Rest, MalformedPathsAre400Or405) {
  EXPECT_EQ(call("PUT", "/Patient/_history", "{}", "application/fhir+json").status, 405);
  EXPECT_EQ(call("DELETE", "/Patient/_history").status, 405);
  EXPECT_EQ(call("POST", "/Patient/_history", "{}", "application/fhir+json").status, 405);
  Reply r = call("PUT", "/Patient/a+b", "{}", "application/fhir+json");
  EXPECT_EQ(r.status, 400);
  EXPECT_STREQ(r.body["issue"][0]["details"]["coding"][0]["code"].GetString(), "rest-id-invalid");
  EXPECT_EQ(call("DELETE", "/Patient/a%20b").status, 400);
  EXPECT_EQ(get("/Patient/" + std::string(65, 'x')).status, 400);
  EXPECT_EQ(get("/Patient/x/_history/0").status, 400);
  EXPECT_EQ(get("/Patient/x/_history?_count=abc").status, 400);
  EXPECT_EQ(get("/outbox?_count=-3").status, 400);
  Reply not_allowed = call("PATCH", "/Patient/x");
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_EQ(not_allowed.header("Allow"), "GET, HEAD, PUT, DELETE");
}

TEST_F(Rest, EveryReadIsAudited) {
  const std::string a = patientA();  // a search
  // Counted through the view that gives the trail as FHIR AuditEvents.
  const std::string reads_of_a =
      "SELECT count(*) FROM audit_event_fhir WHERE content->>'resourceType' = 'AuditEvent' "
      "AND content->'agent'->0->'who'->>'display' = '" +
      std::string(kAgent) +
      "' "
      "AND content->>'action' = 'R' AND content->'subtype'->0->>'code' = 'read' "
      "AND content->'entity'->0->'what'->>'display' = '" +
      a + "' AND content->>'outcome' = '0'";
  const std::int64_t before = count("SELECT count(*) FROM audit_event");
  const std::int64_t a_before = count(reads_of_a);
  get("/" + a);  // a read
  get("/Patient?gender=female");
  EXPECT_EQ(count("SELECT count(*) FROM audit_event"), before + 2);
  EXPECT_EQ(count(reads_of_a), a_before + 1);
  // Search values (an INS) never reach the audit trail, only parameter names.
  EXPECT_EQ(
      count("SELECT count(*) FROM audit_event_fhir WHERE content::text LIKE '%279035121518989%'"),
      0);
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE what = 'Patient?identifier' AND "
                  "subtype = 'search-type'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE what LIKE '%=%'"), 0);
  // Metadata and health checks are not patient data.
  get("/metadata");
  EXPECT_EQ(count("SELECT count(*) FROM audit_event"), before + 2);
}

// GET /Binary/{id}: a document's exact bytes (here put straight into the store, as the intake
// does in the transaction of its message), or the FHIR Binary on request; read only; audited.
TEST_F(Rest, BinaryServesTheExactBytes) {
  std::string bytes("%PDF-1.7\n\0\x01\x80\xff\r\n%%EOF\n", 20);
  const std::string id = pipeline::sha256Hex(bytes);
  {
    auto store = pg::PgStore::open(dsn_);
    ASSERT_TRUE(store) << store.error().detail;
    static const std::string kEss[] = {"cardio-plus"};
    (*store)->setEss(kEss);
    auto tx = (*store)->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->putBinary({id, "application/pdf", bytes}));
    ASSERT_TRUE((*tx)->commit());
  }
  auto request = [&](const std::string& method, const std::string& target,
                     const std::string& accept = {}) {
    http::Request r;
    r.method = method;
    r.target = target;
    r.client_subject = std::string(kSubject);
    r.remote = "127.0.0.1:5555";
    r.headers.push_back({"Host", "gw.test"});
    if (!accept.empty()) r.headers.push_back({"Accept", accept});
    return api_->handle(r);
  };
  auto header = [](const http::Response& r, std::string_view name) {
    for (const auto& h : r.headers)
      if (h.name == name) return h.value;
    return std::string();
  };
  const std::string reads =
      "SELECT count(*) FROM audit_event WHERE action = 'R' AND subtype = 'read' AND what = "
      "'Binary/" +
      id + "' AND agent = '" + std::string(kAgent) + "'";
  const std::int64_t reads_before = count(reads);

  http::Response raw = request("GET", "/Binary/" + id, "*/*");
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_EQ(raw.body, bytes);
  EXPECT_EQ(header(raw, "Content-Type"), "application/pdf");
  EXPECT_EQ(header(raw, "ETag"), "\"" + id + "\"");
  EXPECT_NE(header(raw, "Cache-Control").find("no-store"), std::string::npos);
  EXPECT_EQ(header(raw, "X-Content-Type-Options"), "nosniff");
  http::Response head = request("HEAD", "/Binary/" + id);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(header(head, "Content-Type"), "application/pdf");
  EXPECT_EQ(head.body.size(), bytes.size());  // the server sends its length, not the body
  EXPECT_EQ(count(reads), reads_before + 2);

  // The FHIR form: on Accept, or _format.
  for (const http::Response& fhir : {request("GET", "/Binary/" + id, "application/fhir+json"),
                                     request("GET", "/Binary/" + id + "?_format=json")}) {
    ASSERT_EQ(fhir.status, 200) << fhir.body;
    EXPECT_EQ(header(fhir, "Content-Type").rfind("application/fhir+json", 0), 0u);
    rapidjson::Document d;
    d.Parse(fhir.body.c_str());
    ASSERT_TRUE(d.IsObject()) << fhir.body;
    EXPECT_STREQ(d["resourceType"].GetString(), "Binary");
    EXPECT_EQ(std::string(d["id"].GetString()), id);
    EXPECT_STREQ(d["contentType"].GetString(), "application/pdf");
    EXPECT_EQ(parse::decodeBase64(d["data"].GetString()), bytes);
  }
  test::dumpBundle("rest-binary", request("GET", "/Binary/" + id, "application/fhir+json").body);

  // Unknown, invalid, and what is not served.
  const std::string unknown = pipeline::sha256Hex("never stored");
  Reply missing = get("/Binary/" + unknown);
  EXPECT_EQ(missing.status, 404);
  EXPECT_STREQ(missing.body["issue"][0]["details"]["coding"][0]["code"].GetString(),
               "rest-not-found");
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE what = 'Binary/" + unknown +
                  "' AND outcome = '4'"),
            1);
  EXPECT_EQ(get("/Binary/not*an*id").status, 400);
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    EXPECT_EQ(call(method, "/Binary/" + id, "{}", "application/fhir+json").status, 405) << method;
    EXPECT_EQ(call(method, "/Binary", "{}", "application/fhir+json").status, 405) << method;
  }
  EXPECT_EQ(get("/Binary").status, 405);  // not searchable
  // Stored once (the fixture's ingested mails stored theirs too).
  EXPECT_EQ(count("SELECT count(*) FROM binary_content WHERE id = '" + id + "'"), 1);

  // Read only, in the CapabilityStatement.
  Reply capability = get("/metadata");
  bool listed = false;
  for (const auto& res : capability.body["rest"][0]["resource"].GetArray()) {
    if (std::string_view(res["type"].GetString()) != "Binary") continue;
    listed = true;
    ASSERT_EQ(res["interaction"].Size(), 1u);
    EXPECT_STREQ(res["interaction"][0]["code"].GetString(), "read");
    EXPECT_FALSE(res.HasMember("searchParam"));
  }
  EXPECT_TRUE(listed);
}

// The types the intake writes since issue 12 are searchable with their R4 parameters.
TEST_F(Rest, IssueTwelveTypesAreSearchable) {
  for (const char* search :
       {"/Communication?patient=x&sent=ge2024&status=completed&recipient=Practitioner/y"
        "&sender=Practitioner/z&identifier=a%7Cb&based-on=ServiceRequest/s",
        "/Condition?patient=x&code=I10&clinical-status=active&verification-status=confirmed"
        "&category=problem-list-item&onset-date=le2024",
        "/MedicationStatement?patient=x&code=123&status=active&effective=2024",
        "/AllergyIntolerance?patient=x&code=123&clinical-status=active"
        "&verification-status=confirmed",
        "/DocumentReference?relatesto=DocumentReference/d&related=Encounter/e&identifier=a",
        "/CarePlan?activity-date=ge2024-01-01",
        "/PractitionerRole?practitioner=p&organization=o&specialty=SM26"}) {
    Reply r = get(search);
    EXPECT_EQ(r.status, 200) << search << ": " << r.text.substr(0, 300);
  }
}

// The body of the MIME part that starts with `header` in a generated mail (up to the next
// boundary line), as it is written: still transfer-encoded.
std::string partBody(const std::string& mail, std::string_view header, std::string_view boundary) {
  const std::size_t at = mail.find(header);
  EXPECT_NE(at, std::string::npos) << header;
  if (at == std::string::npos) return {};
  const std::size_t start = mail.find("\r\n\r\n", at) + 4;
  const std::size_t end = mail.find("\r\n--" + std::string(boundary), start);
  return mail.substr(start, end - start);
}

// Quoted-printable (RFC 2045 §6.7) as the generator writes it: soft line breaks and =XX.
std::string decodeQuotedPrintable(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
    } else if (in.substr(i + 1, 2) == "\r\n") {
      i += 2;
    } else {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    }
  }
  return out;
}

std::string latin1ToUtf8(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// The string at a JSON Pointer ("/type/coding/0/code"), "" when there is none.
std::string textAt(const rapidjson::Value& v, const char* pointer) {
  const rapidjson::Value* at = rapidjson::Pointer(pointer).Get(v);
  return at != nullptr && at->IsString() ? std::string(at->GetString(), at->GetStringLength())
                                         : std::string();
}

// The matches of a searchset, by Type/id.
std::map<std::string, const rapidjson::Value*> matchesOf(const Reply& bundle) {
  std::map<std::string, const rapidjson::Value*> out;
  if (!bundle.body.IsObject() || !bundle.body.HasMember("entry")) return out;
  for (const auto& e : bundle.body["entry"].GetArray()) {
    if (std::string_view(e["search"]["mode"].GetString()) != "match") continue;
    out[std::string(e["resource"]["resourceType"].GetString()) + "/" +
        e["resource"]["id"].GetString()] = &e["resource"];
  }
  return out;
}

// Issue 12's round trip: the GP's referral letter (referral_note.eml, patient C) through the
// intake into the store, and back through the API: the request and its requester, the mail's
// text as the GP typed it, the letter, and its documents' exact bytes.
TEST_F(Rest, ReferralRoundTrip) {
  const std::string mail = message("referral_note.eml");
  const auto patients =
      ids(get("/Patient?identifier=urn:oid:1.2.250.1.213.1.4.10%7C248073818504263"));
  ASSERT_EQ(patients.size(), 1u);
  const std::string patient = patients[0];
  const std::string pid = patient.substr(patient.find('/') + 1);

  // The request the letter opened, from its author: PractitionerRole → Practitioner (RPPS).
  Reply requests = get("/ServiceRequest?patient=" + pid + "&_include=ServiceRequest:requester");
  ASSERT_EQ(requests.status, 200) << requests.text.substr(0, 300);
  const auto request_matches = matchesOf(requests);
  ASSERT_EQ(request_matches.size(), 1u) << requests.text.substr(0, 600);
  const std::string request = request_matches.begin()->first;
  const rapidjson::Value& sr = *request_matches.begin()->second;
  EXPECT_EQ(textAt(sr, "/status"), "active");
  EXPECT_EQ(textAt(sr, "/authoredOn"), "2024-01-15T09:30:00+01:00");  // the letter's date
  EXPECT_EQ(textAt(sr, "/subject/reference"), patient);
  const std::string requester = textAt(sr, "/requester/reference");
  ASSERT_EQ(requester.rfind("PractitionerRole/", 0), 0u) << requester;
  EXPECT_EQ(ids(requests, "include"), std::vector<std::string>{requester});
  Reply role = get("/" + requester);
  ASSERT_EQ(role.status, 200);
  const std::string practitioner_ref = textAt(role.body, "/practitioner/reference");
  Reply practitioner = get("/" + practitioner_ref);
  ASSERT_EQ(practitioner.status, 200) << practitioner_ref;
  bool rpps = false;
  for (int i = 0; i < 4; ++i) {
    const std::string at = "/identifier/" + std::to_string(i);
    rpps = rpps ||
           (textAt(practitioner.body, (at + "/system").c_str()) == "https://rpps.esante.gouv.fr" &&
            textAt(practitioner.body, (at + "/value").c_str()) == "99700234562");
  }
  EXPECT_TRUE(rpps) << practitioner.text;
  EXPECT_EQ(ids(get("/PractitionerRole?practitioner=" + practitioner_ref)),
            std::vector<std::string>{requester});

  // The mail's text, exactly as typed: its ISO-8859-1 quoted-printable part decoded here.
  std::string typed = latin1ToUtf8(decodeQuotedPrintable(
      partBody(mail, "Content-Type: text/plain; charset=iso-8859-1", "=_referral_note_")));
  for (std::size_t at = 0; (at = typed.find("\r\n", at)) != std::string::npos;)
    typed.erase(at, 1);
  ASSERT_EQ(typed.rfind("Cher confrère,\n", 0), 0u) << typed;
  Reply mails = get("/Communication?patient=" + pid);
  ASSERT_EQ(mails.status, 200);
  const rapidjson::Value* referral_mail = nullptr;
  for (const auto& [id, c] : matchesOf(mails)) {
    if (textAt(*c, "/identifier/0/value") == "referral_note.20240115093512@medecin.mssante.fr")
      referral_mail = c;
  }
  ASSERT_NE(referral_mail, nullptr) << mails.text.substr(0, 600);
  EXPECT_EQ(textAt(*referral_mail, "/payload/0/contentString"), typed);
  EXPECT_EQ(textAt(*referral_mail, "/about/0/reference"), request);
  EXPECT_EQ(textAt(*referral_mail, "/sent"), "2024-01-15T09:35:12+01:00");
  EXPECT_EQ(textAt(*referral_mail, "/subject/reference"), patient);

  // C's documents: the letter (a CDA and the PDF it carries) and the PDF attached to the mail,
  // the consultation report and its PDF; each linked to the request.
  Reply docs = get("/DocumentReference?patient=" + pid);
  ASSERT_EQ(docs.status, 200);
  const auto documents = matchesOf(docs);
  EXPECT_EQ(documents.size(), 4u) << docs.text.substr(0, 600);
  const rapidjson::Value* letter = nullptr;
  for (const auto& [id, d] : documents) {
    if (textAt(*d, "/type/coding/0/code") == "57133-1") letter = d;
    EXPECT_EQ(textAt(*d, "/context/related/0/reference"), request) << id;
  }
  ASSERT_NE(letter, nullptr);
  EXPECT_EQ(textAt(*letter, "/masterIdentifier/value"), "ADR-2024-0115-01");
  ASSERT_TRUE(letter->HasMember("content"));
  ASSERT_EQ((*letter)["content"].Size(), 2u);
  const std::string letter_id = "DocumentReference/" + textAt(*letter, "/id");
  EXPECT_EQ(textAt(sr, "/supportingInfo/0/reference"), letter_id);

  // GET /Binary: the CDA as it was in the archive (tests/data/cda/referral_note.xml, which the
  // generator puts in the XDM unchanged), and the PDF its nonXMLBody carried, byte for byte.
  const std::string cda = test::readRepoFile("tests/data/cda/referral_note.xml");
  const std::string marker = "representation=\"B64\">";
  const std::size_t b64 = cda.find(marker);
  ASSERT_NE(b64, std::string::npos);
  const std::size_t b64_end = cda.find("</text>", b64);
  const auto carried =
      parse::decodeBase64(cda.substr(b64 + marker.size(), b64_end - b64 - marker.size()));
  ASSERT_TRUE(carried);
  ASSERT_EQ(carried->rfind("%PDF-", 0), 0u);
  // The mail's own PDF attachment is the same letter (the generator asserts it; checked here).
  const auto attached = parse::decodeBase64(
      partBody(mail, "Content-Type: application/pdf; name=\"20240115_Lettre", "=_referral_note_"));
  ASSERT_TRUE(attached);
  EXPECT_EQ(*attached, *carried);
  const std::string pdf_url = "Binary/" + pipeline::sha256Hex(*carried);
  struct Expected {
    const char* content;
    const std::string* bytes;
    const char* type;
  };
  for (const Expected& e : {Expected{"/content/0/attachment", &cda, "text/xml"},
                            Expected{"/content/1/attachment", &*carried, "application/pdf"}}) {
    const rapidjson::Value* attachment = rapidjson::Pointer(e.content).Get(*letter);
    ASSERT_NE(attachment, nullptr) << e.content;
    const std::string url = textAt(*attachment, "/url");
    EXPECT_EQ(url, "Binary/" + pipeline::sha256Hex(*e.bytes));
    EXPECT_EQ(textAt(*attachment, "/contentType"), e.type);
    ASSERT_TRUE(attachment->HasMember("size") && (*attachment)["size"].IsInt64());
    EXPECT_EQ((*attachment)["size"].GetInt64(), static_cast<std::int64_t>(e.bytes->size()));
    EXPECT_EQ(textAt(*attachment, "/hash"), pipeline::sha1Base64(*e.bytes));
    Reply bytes = call("GET", "/" + url);
    ASSERT_EQ(bytes.status, 200) << url;
    EXPECT_EQ(bytes.header("Content-Type"), e.type);
    EXPECT_TRUE(bytes.text == *e.bytes)
        << url << ": " << bytes.text.size() << " bytes, expected " << e.bytes->size();
  }
  // The mail's PDF attachment has its DocumentReference, naming the same Binary: stored once.
  int naming_the_pdf = 0;
  for (const auto& [id, d] : documents) {
    for (int i = 0; i < 3; ++i) {
      const std::string at = "/content/" + std::to_string(i) + "/attachment/url";
      naming_the_pdf += textAt(*d, at.c_str()) == pdf_url;
    }
  }
  EXPECT_EQ(naming_the_pdf, 2);
  EXPECT_EQ(count("SELECT count(*) FROM binary_content WHERE 'Binary/' || id = '" + pdf_url + "'"),
            1);
}

TEST_F(Rest, HealthAndMetrics) {
  Reply health = get("/healthz");
  EXPECT_EQ(health.status, 200);
  Reply metrics = get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.text.find("liaison_http_requests_total{method=\"GET\",code=\"2xx\"}"),
            std::string::npos);
  EXPECT_NE(metrics.text.find("liaison_ingest_total{status=\"accepted\",duplicate=\"false\"}"),
            std::string::npos);
  EXPECT_NE(metrics.text.find("liaison_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
            std::string::npos);
}

}  // namespace
}  // namespace liaison

namespace liaison {
namespace {

std::string patientJson(const std::string& nir, const std::string& family,
                        const std::string& id = "") {
  return "{\"resourceType\":\"Patient\"" + (id.empty() ? "" : ",\"id\":\"" + id + "\"") +
         ",\"identifier\":[{\"system\":\"urn:oid:1.2.250.1.213.1.4.10\",\"value\":\"" + nir +
         "\"}],\"name\":[{\"family\":\"" + family +
         "\",\"given\":[\"Léa\"]}],\"gender\":\"male\",\"birthDate\":\"1980-05-02\"}";
}

TEST_F(Rest, CreateReadUpdateDeleteWithVersions) {
  const std::string nir = test::withKey("1800575056123");
  Reply created =
      call("POST", "/Patient", patientJson(nir, "ESSAI-CREATION"), "application/fhir+json");
  ASSERT_EQ(created.status, 201) << created.text;
  EXPECT_EQ(created.header("ETag"), "W/\"1\"");
  const std::string id = created.body["id"].GetString();
  EXPECT_NE(created.header("Location").find("/Patient/" + id + "/_history/1"), std::string::npos);
  EXPECT_EQ(ids(get("/Patient?identifier=" + nir)), std::vector<std::string>{"Patient/" + id});

  // The same INS again: refused; with If-None-Exist: the existing one.
  EXPECT_EQ(call("POST", "/Patient", patientJson(nir, "DOUBLON"), "application/fhir+json").status,
            409);
  {
    http::Request r;
    r.client_subject = std::string(kSubject);
    r.method = "POST";
    r.target = "/Patient";
    r.body = patientJson(nir, "DOUBLON");
    r.headers = {{"Host", "gw.test"},
                 {"Content-Type", "application/fhir+json"},
                 {"If-None-Exist", "identifier=urn:oid:1.2.250.1.213.1.4.10|" + nir}};
    http::Response resp = api_->handle(r);
    EXPECT_EQ(resp.status, 200);
    rapidjson::Document d;
    d.Parse(resp.body.c_str());
    ASSERT_TRUE(d.IsObject());
    EXPECT_EQ(std::string(d["id"].GetString()), id);
  }

  // Update with If-Match: version 2, the index follows, version 1 stays readable.
  auto put = [&](const std::string& body, const std::string& if_match) {
    http::Request r;
    r.client_subject = std::string(kSubject);
    r.method = "PUT";
    r.target = "/Patient/" + id;
    r.body = body;
    r.headers = {{"Host", "gw.test"}, {"Content-Type", "application/fhir+json"}};
    if (!if_match.empty()) r.headers.push_back({"If-Match", if_match});
    return api_->handle(r);
  };
  http::Response updated = put(patientJson(nir, "ESSAI-RENOMME", id), "W/\"1\"");
  ASSERT_EQ(updated.status, 200) << updated.body;
  {
    rapidjson::Document d;
    d.Parse(updated.body.c_str());
    ASSERT_TRUE(d.IsObject());
    EXPECT_STREQ(d["meta"]["versionId"].GetString(), "2");
    EXPECT_STREQ(d["meta"]["lastUpdated"].GetString(), "2026-11-23T10:00:00.000Z");
  }
  EXPECT_EQ(put(patientJson(nir, "PERIME", id), "W/\"1\"").status, 412);
  EXPECT_EQ(put(patientJson(nir, "AUTRE-ID", "another-id"), "").status, 400);
  EXPECT_EQ(ids(get("/Patient?family=essai-renomme")), std::vector<std::string>{"Patient/" + id});
  EXPECT_EQ(ids(get("/Patient?family=essai-creation")).size(), 0u);
  Reply v1 = get("/Patient/" + id + "/_history/1");
  EXPECT_NE(v1.text.find("ESSAI-CREATION"), std::string::npos);

  // Delete: gone, out of searches, in the history.
  Reply deleted = call("DELETE", "/Patient/" + id);
  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(get("/Patient/" + id).status, 410);
  EXPECT_EQ(ids(get("/Patient?identifier=" + nir)).size(), 0u);
  EXPECT_EQ(get("/Patient/" + id + "/_history").body["entry"].Size(), 3u);
  // One version per page, newest first, through the next links' cursors.
  std::vector<std::string> versions;
  std::string next = "/Patient/" + id + "/_history?_count=1";
  while (!next.empty() && versions.size() < 10) {
    Reply page = get(next);
    ASSERT_EQ(page.status, 200) << page.text;
    for (const auto& e : page.body["entry"].GetArray()) {
      versions.push_back(e.HasMember("resource") ? e["resource"]["meta"]["versionId"].GetString()
                                                 : std::string("deleted"));
    }
    next.clear();
    for (const auto& link : page.body["link"].GetArray()) {
      if (std::string_view(link["relation"].GetString()) == "next")
        next =
            std::string(link["url"].GetString()).substr(std::string("https://gw.test/fhir").size());
    }
  }
  EXPECT_EQ(versions, (std::vector<std::string>{"deleted", "2", "1"}));
  // The type's history has them too: superseded versions and the current one (a deletion).
  Reply type_history = get("/Patient/_history?_count=1000");
  ASSERT_EQ(type_history.status, 200) << type_history.text;
  int of_this_patient = 0;
  for (const auto& e : type_history.body["entry"].GetArray()) {
    const std::string url = e.HasMember("fullUrl") ? e["fullUrl"].GetString() : "";
    of_this_patient += url.find("/Patient/" + id) != std::string::npos;
  }
  EXPECT_EQ(of_this_patient, 3) << type_history.text.substr(0, 2000);
  EXPECT_EQ(call("DELETE", "/Patient/" + id).status, 404);
  EXPECT_EQ(call("POST", "/Observation", "{\"resourceType\":\"Patient\"}", "application/fhir+json")
                .status,
            400);
}

TEST_F(Rest, TransactionBundleResolvesReferences) {
  // Consistent with patientJson's traits (male, May 1980): a Bundle's INS is checked like any.
  const std::string nir = test::withKey("1800592123456");
  const std::string bundle =
      "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
      "{\"fullUrl\":\"urn:uuid:11111111-2222-4333-8444-555555555555\",\"resource\":" +
      patientJson(nir, "TRANSACTION") +
      ",\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}},"
      "{\"resource\":{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"coding\":"
      "[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},\"subject\":{\"reference\":"
      "\"urn:uuid:11111111-2222-4333-8444-555555555555\"},\"valueQuantity\":{\"value\":72,"
      "\"unit\":\"/min\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"/min\"}},"
      "\"request\":{\"method\":\"POST\",\"url\":\"Observation\"}}]}";
  Reply r = post(bundle, "application/fhir+json");
  ASSERT_EQ(r.status, 200) << r.text.substr(0, 300);
  EXPECT_STREQ(r.body["type"].GetString(), "transaction-response");
  const std::string patient = ids(get("/Patient?identifier=" + nir)).at(0);
  EXPECT_EQ(ids(get("/Observation?subject=" + patient + "&code=8867-4")).size(), 1u);
}

TEST_F(Rest, ValidateChecksTheIns) {
  Reply good = call("POST", "/Patient/$validate",
                    patientJson(test::withKey("1800575056123"), "VALIDE"), "application/fhir+json");
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.text.find("\"severity\":\"error\""), std::string::npos) << good.text;
  Reply bad = call("POST", "/Patient/$validate", patientJson("180057505612399", "CLE-FAUSSE"),
                   "application/fhir+json");
  EXPECT_EQ(bad.status, 200);
  EXPECT_NE(bad.text.find("nir-key"), std::string::npos) << bad.text;
  EXPECT_NE(bad.text.find("Patient.identifier[0].value"), std::string::npos) << bad.text;
}

// "Who saw patient X": every record names the patients of what it returned, with its own subtype
// (read, vread, history-instance, search-type), and the view gives them as Patient entities.
TEST_F(Rest, AuditNamesThePatientsOfEveryResourceReturned) {
  const std::string a = patientA();
  ASSERT_FALSE(a.empty());
  const std::string id = a.substr(std::string_view("Patient/").size());
  auto last = [](std::string_view subtype) {
    auto db = pg::PgConnection::open(dsn_);
    auto r = (*db)->exec(
        "SELECT array_to_string(ARRAY(SELECT unnest(patients) ORDER BY 1), ',') FROM "
        "audit_event WHERE subtype = '" +
        std::string(subtype) + "' ORDER BY id DESC LIMIT 1");
    EXPECT_TRUE(r && r->rows() == 1);
    return r && r->rows() == 1 ? std::string(r->text(0, 0)) : std::string("?");
  };
  ASSERT_EQ(get("/" + a).status, 200);
  EXPECT_EQ(last("read"), id);
  ASSERT_EQ(get("/" + a + "/_history/1").status, 200);
  EXPECT_EQ(last("vread"), id);
  ASSERT_EQ(get("/" + a + "/_history").status, 200);
  EXPECT_EQ(last("history-instance"), id);

  // A search with _include: the patients of the matches (their subject) and the included ones.
  Reply s = get("/ServiceRequest?_include=ServiceRequest:patient&_count=100");
  ASSERT_EQ(s.status, 200) << s.text.substr(0, 300);
  std::set<std::string> returned;
  for (const auto& e : s.body["entry"].GetArray()) {
    const auto& res = e["resource"];
    if (std::string_view(res["resourceType"].GetString()) == "Patient") {
      returned.insert(res["id"].GetString());
    } else if (res.HasMember("subject")) {
      const std::string ref = res["subject"]["reference"].GetString();
      if (ref.rfind("Patient/", 0) == 0) returned.insert(ref.substr(8));
    }
  }
  ASSERT_FALSE(returned.empty());
  std::string expected;
  for (const std::string& p : returned)
    expected += (expected.empty() ? "" : ",") + p;
  EXPECT_EQ(last("search-type"), expected);
  // As FHIR: an entity of type Patient per patient, after the one that says what was asked.
  EXPECT_GE(count("SELECT count(*) FROM audit_event_fhir WHERE content::jsonb @> "
                  "'{\"entity\":[{\"what\":{\"reference\":\"" +
                  a + "\"},\"role\":{\"code\":\"1\",\"display\":\"Patient\"}}]}'::jsonb"),
            3);
}

// A statement past limits.statementTimeoutMs (here a read waiting behind a lock another session
// holds) is cancelled by PostgreSQL and answered 503 db-timeout with Retry-After, not a 500, and
// the worker is free again; once the lock goes, the same read is served.
TEST_F(Rest, StatementTimeoutIs503DbTimeout) {
  const std::string a = patientA();
  ASSERT_FALSE(a.empty());
  auto bounded = pg::boundedConninfo(dsn_, {5, 300, 0});
  ASSERT_TRUE(bounded);
  const std::string conninfo = *bounded;
  rest::ApiOptions options{"https://gw.test/fhir", 20, 1000, nullptr, {}, {}};
  options.authenticator = access_;
  options.policy = policy_;
  rest::FhirApi api(
      [conninfo] {
        auto s = pg::PgStore::open(conninfo);
        if (!s) return Result<std::unique_ptr<Store>>(s.error());
        return Result<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(*s)));
      },
      test::searchParameters(), *messages_, *forms_, test::testClock(), options);
  http::Request request;
  request.method = "GET";
  request.target = "/" + a;
  request.client_subject = std::string(kSubject);
  request.remote = "127.0.0.1:5555";
  auto locker = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(locker);
  ASSERT_TRUE((*locker)->exec("BEGIN"));
  ASSERT_TRUE((*locker)->exec("LOCK TABLE resource IN ACCESS EXCLUSIVE MODE"));
  const auto t0 = std::chrono::steady_clock::now();
  http::Response slow = api.handle(request);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_EQ(slow.status, 503) << slow.body;
  EXPECT_NE(slow.body.find("\"db-timeout\""), std::string::npos) << slow.body;
  EXPECT_EQ(slow.body.find("PostgreSQL"), std::string::npos) << slow.body;
  bool retry_after = false;
  for (const auto& h : slow.headers)
    retry_after |= h.name == "Retry-After" && !h.value.empty();
  EXPECT_TRUE(retry_after);
  ASSERT_TRUE((*locker)->exec("ROLLBACK"));
  http::Response served = api.handle(request);
  EXPECT_EQ(served.status, 200) << served.body;
}

// Fail closed: with the batched audit log (as `liaison serve` runs), a read answers only once its
// record is in the database; when the trail cannot be written, 503 and none of the data.
TEST_F(Rest, AuditThatCannotBeWrittenFailsTheRequest) {
  const std::string a = patientA();
  ASSERT_FALSE(a.empty());
  const std::string trail_db = "t_rest_audit_down";
  std::string trail = itest::freshDatabase(trail_db);
  ASSERT_TRUE(pg::migrate(trail));
  auto log = pg::PgAuditLog::open(trail);
  ASSERT_TRUE(log) << log.error().detail;
  rest::ApiOptions options{"https://gw.test/fhir", 20, 1000, log->get(), {}, {}};
  options.authenticator = access_;
  options.policy = policy_;
  rest::FhirApi api(
      [] {
        auto s = pg::PgStore::open(dsn_);
        if (!s) return Result<std::unique_ptr<Store>>(s.error());
        return Result<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(*s)));
      },
      test::searchParameters(), *messages_, *forms_, test::testClock(), options);
  http::Request request;
  request.method = "GET";
  request.target = "/" + a;
  request.client_subject = std::string(kSubject);
  request.remote = "127.0.0.1:5555";
  http::Response ok = api.handle(request);
  ASSERT_EQ(ok.status, 200) << ok.body;
  // Durable when the answer leaves, without a flush.
  auto trail_conn = pg::PgConnection::open(trail);
  ASSERT_TRUE(trail_conn);
  const std::string written = "SELECT count(*) FROM audit_event WHERE what = '" + a +
                              "' AND patients = ARRAY['" + a.substr(8) + "']";
  auto rows = (*trail_conn)->exec(written);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->integer(0, 0), 1);
  trail_conn->reset();
  // The trail's database goes away (its connection with it): the read fails, its data unsent.
  itest::dropDatabase(trail_db);
  http::Response down = api.handle(request);
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.body.find("\"resourceType\":\"Patient\""), std::string::npos) << down.body;
  EXPECT_NE(down.body.find("OperationOutcome"), std::string::npos) << down.body;
}

// "Who saw patient X", asked as an administrator: a secretary's read of the patient, search with
// _include and read of one of its documents' Binary are each an AuditEvent naming the patient,
// with its subtype, the principal, its role and ESS, and the client's address. Nobody else may
// read the trail (403, itself recorded), and the admin's reads of it are recorded too.
TEST_F(Rest, AdminFindsWhoSawAPatient) {
  auto as = [](const std::string& who, const std::string& target) {
    return call("GET", target, {}, {}, "", "Bearer jeton-" + who);
  };
  // A patient with a document whose bytes are a Binary.
  Reply docs = get("/DocumentReference?_count=200");
  ASSERT_EQ(docs.status, 200) << docs.text.substr(0, 300);
  std::string patient, binary;
  for (const auto& e : docs.body["entry"].GetArray()) {
    const auto& d = e["resource"];
    const auto* url = rapidjson::Pointer("/content/0/attachment/url").Get(d);
    const auto* subject = rapidjson::Pointer("/subject/reference").Get(d);
    if (url && url->IsString() && subject && subject->IsString() &&
        std::string_view(url->GetString()).rfind("Binary/", 0) == 0 &&
        std::string_view(subject->GetString()).rfind("Patient/", 0) == 0) {
      binary = url->GetString();
      patient = subject->GetString();
      break;
    }
  }
  ASSERT_FALSE(binary.empty()) << "no stored document with a Binary";
  const std::string id = patient.substr(8);

  ASSERT_EQ(as("secretaire", "/" + patient).status, 200);
  Reply found = as("secretaire",
                   "/DocumentReference?patient=" + patient + "&_include=DocumentReference:subject");
  ASSERT_EQ(found.status, 200) << found.text.substr(0, 300);
  ASSERT_EQ(ids(found, "include"), std::vector<std::string>{patient});
  ASSERT_EQ(as("secretaire", "/" + binary).status, 200);

  // The secretary may not read the trail, nor may a reader: 403, and the attempt is recorded.
  const std::string trail = "/AuditEvent?patient=" + patient + "&agent=token:secretaire";
  for (const char* who : {"secretaire", "lecteur"}) {
    Reply refused = as(who, trail);
    EXPECT_EQ(refused.status, 403) << who << ": " << refused.text.substr(0, 300);
    EXPECT_EQ(refused.text.find("AuditEvent\",\"id"), std::string::npos);
    EXPECT_EQ(as(who, "/AuditEvent/1").status, 403) << who;
  }
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE principal = 'token:secretaire' AND "
                  "subtype = 'search-type' AND what = 'AuditEvent' AND outcome = '4'"),
            1);
  // The coordinator of the suite's client neither.
  EXPECT_EQ(get(trail).status, 403);

  Reply events = as("auditeur", trail);
  ASSERT_EQ(events.status, 200) << events.text.substr(0, 300);
  EXPECT_STREQ(events.body["type"].GetString(), "searchset");
  test::dumpBundle("rest-searchset-AuditEvent", events.text);  // FHIR R4 (tests/conformance)
  // Newest first: the Binary read, the search, the read (the 403s above were not about patients).
  std::vector<std::string> subtypes, whats;
  for (const auto& e : events.body["entry"].GetArray()) {
    const auto& ev = e["resource"];
    EXPECT_STREQ(ev["resourceType"].GetString(), "AuditEvent");
    EXPECT_EQ(std::string(e["fullUrl"].GetString()),
              "https://gw.test/fhir/AuditEvent/" + std::string(ev["id"].GetString()));
    subtypes.push_back(ev["subtype"][0]["code"].GetString());
    whats.push_back(ev["entity"][0]["what"]["display"].GetString());
    const auto& agent = ev["agent"];
    ASSERT_EQ(agent.Size(), 2u) << "requestor and its ESS";
    EXPECT_STREQ(agent[0]["who"]["identifier"]["value"].GetString(), "token:secretaire");
    EXPECT_STREQ(agent[0]["role"][0]["text"].GetString(), "secretariat");
    EXPECT_TRUE(agent[0]["requestor"].GetBool());
    EXPECT_STREQ(agent[0]["network"]["address"].GetString(), "127.0.0.1");
    EXPECT_STREQ(agent[0]["network"]["type"].GetString(), "2");
    EXPECT_STREQ(agent[1]["who"]["identifier"]["system"].GetString(), "urn:liaison:ess");
    EXPECT_STREQ(agent[1]["who"]["identifier"]["value"].GetString(), "cardio-plus");
    EXPECT_FALSE(agent[1]["requestor"].GetBool());
    bool names_patient = false;
    for (const auto& entity : ev["entity"].GetArray())
      names_patient |= entity["what"].HasMember("reference") &&
                       std::string_view(entity["what"]["reference"].GetString()) == patient;
    EXPECT_TRUE(names_patient) << whats.back();
    EXPECT_STREQ(ev["outcome"].GetString(), "0");
  }
  EXPECT_EQ(subtypes, (std::vector<std::string>{"read", "search-type", "read"}));
  ASSERT_EQ(whats.size(), 3u);
  EXPECT_EQ(whats[0], binary);
  EXPECT_EQ(whats[1], "DocumentReference?_include,patient");
  EXPECT_EQ(whats[2], patient);
  // One of them by id, and the filters: subtype, date, patient in its bare form.
  const std::string first = events.body["entry"][0]["resource"]["id"].GetString();
  Reply one = as("auditeur", "/AuditEvent/" + first);
  ASSERT_EQ(one.status, 200) << one.text.substr(0, 300);
  EXPECT_EQ(std::string(one.body["entity"][0]["what"]["display"].GetString()), binary);
  EXPECT_EQ(as("auditeur", "/AuditEvent/999999999").status, 404);
  Reply searches =
      as("auditeur", "/AuditEvent?patient=" + id + "&agent=token:secretaire&subtype=search-type");
  ASSERT_EQ(searches.status, 200);
  EXPECT_EQ(searches.body["entry"].Size(), 1u);
  EXPECT_EQ(
      as("auditeur", "/AuditEvent?patient=" + id + "&agent=token:secretaire&date=lt2000-01-01")
          .body.HasMember("entry"),
      false);
  EXPECT_EQ(
      as("auditeur", "/AuditEvent?patient=" + id + "&agent=token:secretaire&date=ge2000-01-01")
          .body["entry"]
          .Size(),
      3u);
  EXPECT_EQ(as("auditeur", "/AuditEvent?nom=x").status, 400);
  EXPECT_EQ(call("POST", "/AuditEvent", "{}", "application/fhir+json", "", "Bearer jeton-auditeur")
                .status,
            405);

  // The admin's reads of the trail are recorded, naming the patients they showed.
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE principal = 'token:auditeur' AND "
                  "role = 'admin' AND subtype = 'search-type' AND what LIKE 'AuditEvent?%' AND "
                  "patients = ARRAY['" +
                  id + "'] AND ess = ARRAY['cardio-plus'] AND address = '127.0.0.1'"),
            3);
  EXPECT_GE(count("SELECT count(*) FROM audit_event WHERE principal = 'token:auditeur' AND "
                  "subtype = 'read' AND what = 'AuditEvent/" +
                  first + "'"),
            1);
}

// Paging through the trail: _count per page, the next link's cursor, every record once.
TEST_F(Rest, AuditTrailPages) {
  const std::string a = patientA();
  ASSERT_FALSE(a.empty());
  // Record ids that cross a power of ten (998 … 1002): newest first is by number, not by text.
  ASSERT_GE(count("SELECT setval('audit_event_id_seq', greatest(997, (SELECT max(id) FROM "
                  "audit_event)))"),
            997);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(call("GET", "/" + a, {}, {}, "", "Bearer jeton-secretaire").status, 200);
  auto admin = [](const std::string& target) {
    return call("GET", target, {}, {}, "", "Bearer jeton-auditeur");
  };
  const std::string query = "/AuditEvent?patient=" + a + "&agent=token:secretaire&subtype=read";
  Reply all = admin(query + "&_count=1000");
  ASSERT_EQ(all.status, 200);
  std::vector<std::string> expected;
  for (const auto& e : all.body["entry"].GetArray())
    expected.push_back(e["resource"]["id"].GetString());
  ASSERT_GE(expected.size(), 5u);
  for (std::size_t i = 1; i < expected.size(); ++i)
    EXPECT_GT(std::stoll(expected[i - 1]), std::stoll(expected[i])) << "newest first";
  std::vector<std::string> seen;
  std::string target = query + "&_count=2";
  int pages = 0;
  while (!target.empty() && pages < 100) {
    Reply page = admin(target);
    ASSERT_EQ(page.status, 200) << target << ": " << page.text.substr(0, 300);
    ++pages;
    if (page.body.HasMember("entry")) {
      EXPECT_LE(page.body["entry"].Size(), 2u);
      for (const auto& e : page.body["entry"].GetArray())
        seen.push_back(e["resource"]["id"].GetString());
    }
    target.clear();
    for (const auto& l : page.body["link"].GetArray())
      if (std::string_view(l["relation"].GetString()) == "next") {
        const std::string url = l["url"].GetString();
        target = url.substr(std::string_view("https://gw.test/fhir").size());
      }
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, static_cast<int>((expected.size() + 1) / 2));
  EXPECT_EQ(admin("/AuditEvent?_cursor=x").status, 400);
}

// A write is recorded in its own transaction: when its audit record cannot be written (here a
// CHECK that refuses every record but reads), the request answers 503 and nothing it would have
// written stands — create, update, delete, a transaction Bundle, a message posted to /.
TEST_F(Rest, WriteWithoutItsAuditRecordIsNotWritten) {
  const std::string nir = test::withKey("1800575056456");
  Reply kept = call("POST", "/Patient", patientJson(nir, "FICTIF-AUDIT"), "application/fhir+json");
  ASSERT_EQ(kept.status, 201) << kept.text.substr(0, 300);
  const std::string kept_id = kept.body["id"].GetString();
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE action = 'C' AND subtype = 'create' AND "
                  "what = 'Patient/" +
                  kept_id + "' AND patients = ARRAY['" + kept_id + "'] AND outcome = '0'"),
            1);
  const std::int64_t resources = count("SELECT count(*) FROM resource");
  const std::int64_t journal = count("SELECT count(*) FROM ingest_outcome");
  auto db = pg::PgConnection::open(dsn_);
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->script(
      "ALTER TABLE audit_event ADD CONSTRAINT t_reads_only CHECK (action = 'R') NOT VALID"));
  const std::string other = test::withKey("1800575056789");
  EXPECT_EQ(call("POST", "/Patient", patientJson(other, "FICTIF-NONECRIT"), "application/fhir+json")
                .status,
            503);
  EXPECT_EQ(call("PUT", "/Patient/" + kept_id, patientJson(nir, "FICTIF-MODIFIE", kept_id),
                 "application/fhir+json")
                .status,
            503);
  EXPECT_EQ(call("DELETE", "/Patient/" + kept_id).status, 503);
  const std::string bundle =
      "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"resource\":" +
      patientJson(other, "FICTIF-NONECRIT") +
      ",\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}";
  EXPECT_EQ(post(bundle, "application/fhir+json").status, 503);
  std::string fiche = test::readRepoFile("samples/fiches/fiche-complete.txt");
  fiche += "\n";  // another message than the suite's
  EXPECT_EQ(post(fiche, "text/plain").status, 503);
  ASSERT_TRUE((*db)->script("ALTER TABLE audit_event DROP CONSTRAINT t_reads_only"));

  EXPECT_EQ(count("SELECT count(*) FROM resource"), resources);
  EXPECT_EQ(count("SELECT count(*) FROM ingest_outcome"), journal);
  Reply still = get("/Patient/" + kept_id);
  ASSERT_EQ(still.status, 200);
  EXPECT_STREQ(still.body["meta"]["versionId"].GetString(), "1");
  EXPECT_EQ(still.text.find("FICTIF-MODIFIE"), std::string::npos);
  // Once the trail takes records again, the same write stands with its record.
  EXPECT_EQ(call("DELETE", "/Patient/" + kept_id).status, 200);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE action = 'D' AND what = 'Patient/" +
                  kept_id + "' AND outcome = '0' AND patients = ARRAY['" + kept_id + "']"),
            1);
}

// Per-ESS isolation through the API (issue 14), with the server's connections as the gateway's
// login role (only liaison_gateway: the row-level security policies apply to it, not to the
// superuser the other tests use). A message stored for ESS A by POST /, the same message (another
// Message-ID) for ESS B by a mailbox intake whose ESS profile is B: a principal of A finds none of
// B's resources by read, vread, search, _include, history or Binary; "*" finds both.
TEST(RestIsolation, APrincipalOfOneEssSeesNothingOfAnother) {
  const std::string name = "t_rest_ess";
  const std::string admin_dsn = itest::freshDatabase(name);
  ASSERT_FALSE(admin_dsn.empty());
  ASSERT_TRUE(pg::migrate(admin_dsn));
  auto admin = pg::PgConnection::open(admin_dsn);
  ASSERT_TRUE(admin);
  ASSERT_TRUE((*admin)->script(
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
      "'liaison_test_server') THEN CREATE ROLE liaison_test_server LOGIN; END IF; END $$; "
      "GRANT liaison_gateway TO liaison_test_server"));
  std::string dsn = admin_dsn;
  dsn.replace(dsn.find("user=postgres"), 13, "user=liaison_test_server");

  const pipeline::MessageIntake messages(test::mssante(), test::cardioPlus(), test::testClock());
  const pipeline::FormIntake forms(test::cardioPlus(), test::testClock());
  auto policy = rest::parsePolicy(test::readRepoFile("profiles/policy.json"));
  ASSERT_TRUE(policy) << policy.error().detail;
  rest::AccessSettings access;
  access.tokens.push_back(
      {"a", rest::tokenHash("jeton-a"), {"coordinator", "intake-client"}, {"ess-a"}});
  access.tokens.push_back({"c", rest::tokenHash("jeton-c"), {"reader"}, {"ess-c"}});
  access.tokens.push_back({"aucun", rest::tokenHash("jeton-aucun"), {"reader"}, {}});
  access.tokens.push_back(
      {"tous", rest::tokenHash("jeton-tous"), {"coordinator", "intake-client"}, {"*"}});
  rest::ClientAccess clients(std::move(access));
  rest::ApiOptions options{"https://gw.test/fhir", 20, 1000, nullptr, {}, {}};
  options.authenticator = &clients;
  options.policy = &*policy;
  rest::FhirApi api(
      [dsn] {
        auto s = pg::PgStore::open(dsn);
        if (!s) return Result<std::unique_ptr<Store>>(s.error());
        return Result<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(*s)));
      },
      test::searchParameters(), messages, forms, test::testClock(), options);
  auto call = [&api](const std::string& method, const std::string& target, const std::string& token,
                     std::string body = {}, std::string ess = {}) -> Reply {
    http::Request request;
    request.method = method;
    request.target = target;
    request.body = std::move(body);
    request.remote = "127.0.0.1:5555";
    request.headers.push_back({"Authorization", "Bearer " + token});
    request.headers.push_back({"Content-Type", "message/rfc822"});
    if (!ess.empty()) request.headers.push_back({"X-ESS", std::move(ess)});
    http::Response response = api.handle(request);
    Reply r;
    r.status = response.status;
    r.text = response.body;
    r.headers = response.headers;
    r.body.Parse(r.text.c_str());
    return r;
  };
  auto ids = [](const Reply& bundle) {
    std::set<std::string> out;
    if (!bundle.body.IsObject() || !bundle.body.HasMember("entry")) return out;
    for (const auto& e : bundle.body["entry"].GetArray())
      out.insert(std::string(e["resource"]["resourceType"].GetString()) + "/" +
                 e["resource"]["id"].GetString());
    return out;
  };

  // A: POST / by a principal of A alone (its ESS, no header needed).
  const std::string mail = message("referral_note.eml");
  Reply posted = call("POST", "/", "jeton-a", mail);
  ASSERT_EQ(posted.status, 201) << posted.text.substr(0, 400);
  // B: a mailbox whose ESS profile is B (the intake writes as its profile's id).
  std::string ess_b = test::readRepoFile("profiles/cardio-plus/ess.json");
  ess_b.replace(ess_b.find("\"cardio-plus\""), 13, "\"ess-b\"");
  auto profile_b = pipeline::EssProfile::load(
      ess_b, test::readRepoFile("profiles/cardio-plus/questionnaire-fiche-demande.json"),
      test::readRepoFile("mappings/cardio-plus-fiche-demande.json"),
      test::mssante()->canonicalBase());
  ASSERT_TRUE(profile_b) << profile_b.error().detail;
  ASSERT_EQ((*profile_b)->id, "ess-b");
  const pipeline::MessageIntake messages_b(test::mssante(), *profile_b, test::testClock());
  std::string other = mail;
  other.insert(other.find("Message-ID: <") + 13, "ess-b.");
  {
    auto store = pg::PgStore::open(dsn);
    ASSERT_TRUE(store);
    pipeline::StoredIntake mailbox_b(**store, messages_b, forms, test::searchParameters(),
                                     test::testClock());
    EXPECT_EQ(mailbox_b.ess(), "ess-b");
    auto stored = mailbox_b.ingest(other, "imap:b/INBOX/1", true);
    ASSERT_TRUE(stored) << stored.error().detail;
    ASSERT_NE(stored->result.status, pipeline::IngestStatus::Quarantined);
  }
  auto count = [&](const std::string& sql) {
    auto r = (*admin)->exec(sql);
    EXPECT_TRUE(r) << sql;
    return r ? r->integer(0, 0) : -1;
  };
  EXPECT_GT(count("SELECT count(*) FROM resource WHERE ess = 'ess-b'"), 3);
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE ess = 'ess-a'"),
            count("SELECT count(*) FROM resource WHERE ess = 'ess-b'"));
  EXPECT_EQ(count("SELECT count(*) FROM resource WHERE ess NOT IN ('ess-a', 'ess-b')"), 0);

  const std::string ins = "/Patient?identifier=urn:oid:1.2.250.1.213.1.4.10%7C248073818504263";
  Reply everyone = call("GET", ins, "jeton-tous");
  ASSERT_EQ(everyone.status, 200);
  ASSERT_EQ(ids(everyone).size(), 2u) << everyone.text.substr(0, 300);  // one Patient per ESS
  const auto a_found = ids(call("GET", ins, "jeton-a"));
  ASSERT_EQ(a_found.size(), 1u);
  const std::string a = *a_found.begin();
  std::string b;
  for (const std::string& p : ids(everyone))
    if (p != a) b = p;
  ASSERT_FALSE(b.empty());
  // B's resources, for the reads by id below.
  auto of_b = (*admin)->exec("SELECT type || '/' || id FROM resource WHERE ess = 'ess-b'");
  ASSERT_TRUE(of_b);

  // Read, vread and instance history of B's: 404, as for an id that does not exist.
  EXPECT_EQ(call("GET", "/" + a, "jeton-a").status, 200);
  for (int i = 0; i < of_b->rows(); ++i) {
    const std::string r(of_b->text(i, 0));
    EXPECT_EQ(call("GET", "/" + r, "jeton-a").status, 404) << r;
    EXPECT_EQ(call("GET", "/" + r + "/_history/1", "jeton-a").status, 404) << r;
    Reply history = call("GET", "/" + r + "/_history", "jeton-a");
    EXPECT_TRUE(history.status == 404 || ids(history).empty()) << r << history.text;
  }
  EXPECT_EQ(call("GET", "/" + b, "jeton-tous").status, 200);
  // Searches, _include and type history: only A's.
  const std::string searches[] = {"/Patient",
                                  "/Patient?name=FICTIF",
                                  "/ServiceRequest?_include=ServiceRequest:subject",
                                  "/DocumentReference?subject=" + b,
                                  "/ServiceRequest?subject=" + b,
                                  "/Patient/_history",
                                  "/DocumentReference/_history"};
  for (const std::string& target : searches) {
    Reply r = call("GET", target, "jeton-a");
    ASSERT_EQ(r.status, 200) << target << ": " << r.text.substr(0, 300);
    for (const std::string& found : ids(r)) {
      for (int i = 0; i < of_b->rows(); ++i)
        EXPECT_NE(found, of_b->text(i, 0)) << target;
    }
  }
  Reply included = call("GET", "/ServiceRequest?_include=ServiceRequest:subject", "jeton-a");
  EXPECT_EQ(ids(included).count(a), 1u) << included.text.substr(0, 300);
  Reply both = call("GET", "/ServiceRequest?_include=ServiceRequest:subject", "jeton-tous");
  EXPECT_EQ(ids(both).count(b), 1u);
  // Binary: the PDF is stored in each ESS; an ESS without it, or a principal of none, gets 404.
  auto binary = (*admin)->exec("SELECT id FROM binary_content WHERE ess = 'ess-b' LIMIT 1");
  ASSERT_TRUE(binary && binary->rows() == 1);
  const std::string bytes = "/Binary/" + std::string(binary->text(0, 0));
  EXPECT_EQ(call("GET", bytes, "jeton-a").status, 200);
  EXPECT_EQ(call("GET", bytes, "jeton-c").status, 404);
  EXPECT_EQ(call("GET", bytes, "jeton-aucun").status, 404);
  EXPECT_EQ(call("GET", "/" + a, "jeton-c").status, 404);
  Reply nothing = call("GET", "/Patient", "jeton-aucun");
  ASSERT_EQ(nothing.status, 200);
  EXPECT_TRUE(ids(nothing).empty());

  // Writes: "*" must name its ESS; an ESS that is not the principal's is refused (403).
  std::string third = mail;
  third.insert(third.find("Message-ID: <") + 13, "tous.");
  Reply unnamed = call("POST", "/", "jeton-tous", third);
  EXPECT_EQ(unnamed.status, 400) << unnamed.text;
  EXPECT_NE(unnamed.text.find("rest-ess-required"), std::string::npos);
  EXPECT_EQ(call("POST", "/", "jeton-a", third, "ess-b").status, 403);
  EXPECT_EQ(call("GET", "/Patient", "jeton-a", {}, "ess-b").status, 403);
  Reply named = call("POST", "/", "jeton-tous", third, "ess-c");
  EXPECT_EQ(named.status, 201) << named.text.substr(0, 300);
  EXPECT_EQ(ids(call("GET", ins, "jeton-c")).size(), 1u);
  // X-ESS narrows a read of several to one.
  EXPECT_EQ(ids(call("GET", ins, "jeton-tous", {}, "ess-b")), std::set<std::string>{b});
  admin->reset();
  itest::dropDatabase(name);
}
}  // namespace
}  // namespace liaison
