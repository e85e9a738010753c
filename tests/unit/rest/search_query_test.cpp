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

}  // namespace
}  // namespace liaison::rest
