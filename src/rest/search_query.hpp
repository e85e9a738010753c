#pragma once
// A search's query string → the store's SearchRequest, pure: FHIR's search syntax as this API
// serves it (token, string, date, reference parameters; _count, _sort, _summary, _total, _include,
// the paging cursor), with unit tests (tests/unit/rest/search_query_test.cpp).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error/result.hpp"
#include "core/ports/store.hpp"
#include "map/search_parameters.hpp"
#include "rest/target.hpp"

namespace liaison::rest {

struct ParsedSearch {
  SearchRequest request;
  std::vector<std::pair<std::string, const map::SearchParameter*>> includes;  // type:param
  std::string names;  // parameter names only, for the audit trail
};

struct SearchLimits {
  int default_count = 20;
  int max_count = 1000;
};

// `base`: the API's base URL, so that a reference given as an absolute URL of this server is
// stored as Type/id. Errors: rest-search-parameter-unknown, rest-search-value-invalid.
Result<ParsedSearch> parseSearch(std::string_view type, const Target& target,
                                 const map::SearchParameters& params, SearchLimits limits,
                                 std::string_view base);

// GET /AuditEvent's query → the store's AuditQuery: patient (Patient/<id>, <id> or this server's
// absolute URL), date (with ge, gt, le, lt, eq, ne prefixes, on the record's instant), agent or
// principal ("client:<name>", "token:<name>", "user:<name>"), subtype (a restful-interaction
// code, with or without its system), action (C R U D E), _count and the paging cursor.
// `names`: the parameter names, for the audit of this read. Errors as parseSearch's.
struct ParsedAuditSearch {
  AuditQuery query;
  std::string names;
};
Result<ParsedAuditSearch> parseAuditSearch(const Target& target, SearchLimits limits,
                                           std::string_view base);

}  // namespace liaison::rest
