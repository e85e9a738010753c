// rest/search_query: a search's query string → the store's SearchRequest, pure.

#include "rest/search_query.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace liaison::rest {
namespace {

Result<ParsedSearch> parse(std::string_view type, std::string_view query) {
  return parseSearch(type, parseTarget("/" + std::string(type) + "?" + std::string(query)),
                     test::searchParameters(), SearchLimits{20, 1000}, "https://gw.test/fhir");
}

Errc errorOf(std::string_view type, std::string_view query) {
  auto r = parse(type, query);
  EXPECT_FALSE(r) << query;
  return r ? Errc::RestNotFound : r.error().code;
}

TEST(SearchQuery, TokensStringsDatesAndReferences) {
  auto r = parse("Patient",
                 "identifier=urn:oid:1.2.250.1.213.1.4.10%7C279035121518989&name:exact=L%C3%A9a&"
                 "birthdate=ge1979-03&gender=female,male");
  ASSERT_TRUE(r) << r.error().detail;
  const SearchRequest& q = r->request;
  EXPECT_EQ(q.type, "Patient");
  EXPECT_EQ(q.count, 20);
  ASSERT_EQ(q.all.size(), 4u);
  EXPECT_EQ(q.all[0].kind, SearchKind::Token);
  EXPECT_EQ(q.all[0].any[0].op, "system");
  EXPECT_EQ(q.all[0].any[0].first, "urn:oid:1.2.250.1.213.1.4.10");
  EXPECT_EQ(q.all[0].any[0].second, "279035121518989");
  EXPECT_EQ(q.all[1].kind, SearchKind::String);
  EXPECT_EQ(q.all[1].any[0].op, "exact");
  EXPECT_EQ(q.all[1].any[0].second, "lea");  // accents and case folded
  EXPECT_EQ(q.all[2].kind, SearchKind::Date);
  EXPECT_EQ(q.all[2].any[0].op, "ge");
  EXPECT_EQ(q.all[2].any[0].first, "1979-03-01");
  ASSERT_EQ(q.all[3].any.size(), 2u);                       // comma = OR
  EXPECT_EQ(r->names, "birthdate,gender,identifier,name");  // names only, for the audit

  // A reference by id alone takes the parameter's target type; a URL of this server, its path.
  r = parse("ServiceRequest", "patient=p1&requester=https://gw.test/fhir/Practitioner/x");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->request.all[0].any[0].second, "Patient/p1");
  EXPECT_EQ(r->request.all[1].any[0].second, "Practitioner/x");
}

TEST(SearchQuery, ResultParameters) {
  auto r = parse("Patient", "_count=0&_sort=_lastUpdated&_total=accurate&_cursor=abc&_format=json");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->request.count, 0);
  EXPECT_TRUE(r->request.count_only);
  EXPECT_TRUE(r->request.oldest_first);
  EXPECT_TRUE(r->request.total);
  EXPECT_EQ(r->request.after, "abc");
  EXPECT_EQ(parse("Patient", "_count=5000")->request.count, 1000);  // capped
  EXPECT_TRUE(parse("Patient", "_summary=count")->request.count_only);
  r = parse("ServiceRequest", "_include=ServiceRequest:patient");
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->includes.size(), 1u);
  EXPECT_EQ(r->includes[0].second->name, "patient");
}

TEST(SearchQuery, MistakesAreClientErrors) {
  EXPECT_EQ(errorOf("Patient", "shoe-size=42"), Errc::RestSearchUnknown);
  for (const char* bad :
       {"_count=-1", "_count=x", "_count=", "_sort=birthdate", "_summary=true", "birthdate=xx1979",
        "birthdate=14/03/1979", "gender=", "gender:exact=female", "name:fuzzy=x", "name=%20",
        "_include=Patient:nope", "_include=ServiceRequest:status"})
    EXPECT_EQ(errorOf("Patient", bad), Errc::RestSearchInvalid) << bad;
}

// GET /AuditEvent: patient in its three spellings, a date range, agent, subtype with or without
// its system, paging.
TEST(SearchQuery, AuditTrail) {
  auto q = parseAuditSearch(
      parseTarget("/AuditEvent?patient=Patient/p1,p2&patient=https://gw.test/fhir/Patient/p3"
                  "&date=ge2026-12-07&date=lt2026-12-08T10:00:00Z&agent=token:lecteur"
                  "&subtype=http://hl7.org/fhir/restful-interaction%7Cread,vread&action=R"
                  "&_count=5&_cursor=42"),
      SearchLimits{20, 1000}, "https://gw.test/fhir");
  ASSERT_TRUE(q) << q.error().detail;
  ASSERT_EQ(q->query.patients.size(), 2u);
  EXPECT_EQ(q->query.patients[0], (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(q->query.patients[1], (std::vector<std::string>{"p3"}));
  ASSERT_EQ(q->query.recorded.size(), 2u);
  EXPECT_EQ(q->query.recorded[0].op, "ge");
  EXPECT_EQ(q->query.recorded[0].first.substr(0, 10), "2026-12-07");
  EXPECT_EQ(q->query.recorded[1].op, "lt");
  EXPECT_EQ(q->query.principals.at(0), (std::vector<std::string>{"token:lecteur"}));
  EXPECT_EQ(q->query.subtypes.at(0), (std::vector<std::string>{"read", "vread"}));
  EXPECT_EQ(q->query.actions.at(0), (std::vector<std::string>{"R"}));
  EXPECT_EQ(q->query.count, 5);
  EXPECT_EQ(q->query.after, "42");
  EXPECT_EQ(q->names, "_count,_cursor,action,agent,date,patient,subtype");

  auto code = [](const char* target) {
    auto r = parseAuditSearch(parseTarget(target), SearchLimits{20, 1000}, "");
    return r ? Errc::RestNotFound : r.error().code;
  };
  EXPECT_EQ(code("/AuditEvent?patient=Patient/a%20b"), Errc::RestSearchInvalid);
  EXPECT_EQ(code("/AuditEvent?date=hier"), Errc::RestSearchInvalid);
  EXPECT_EQ(code("/AuditEvent?date=ge2026-01-01,le2026-02-01"), Errc::RestSearchInvalid);
  EXPECT_EQ(code("/AuditEvent?action=X"), Errc::RestSearchInvalid);
  EXPECT_EQ(code("/AuditEvent?name=x"), Errc::RestSearchUnknown);
  EXPECT_EQ(code("/AuditEvent?_count=abc"), Errc::RestSearchInvalid);
  EXPECT_EQ(code("/AuditEvent"), Errc::RestNotFound);  // no error
}

}  // namespace
}  // namespace liaison::rest
