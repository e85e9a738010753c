#pragma once
// A request target (path + query) parsed, pure: the REST API's URL rules in one place, with
// unit tests (tests/unit/rest/target_test.cpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error/result.hpp"

namespace liaison::rest {

struct Target {
  std::vector<std::string> path;                           // decoded segments, empty ones dropped
  std::vector<std::pair<std::string, std::string>> query;  // decoded name, value
  std::string raw_query;
};

// Percent-decoding. In a query '+' is a space (HTML forms, application/x-www-form-urlencoded);
// in a path it is itself (RFC 3986): `plus_is_space` says which.
std::string urlDecode(std::string_view s, bool plus_is_space);
std::string urlEncode(std::string_view s);

// "/Patient/a%2Bb?name=x+y&_count=2" → path {Patient, a+b}, query {name: "x y", _count: 2}.
// Segments are split before decoding, so an encoded '/' stays inside its segment.
Target parseTarget(std::string_view target);

// A FHIR logical id: [A-Za-z0-9\-\.]{1,64}.
bool isFhirId(std::string_view id);

// `_count` wherever it is taken (search, history, outbox): a non-negative decimal integer, capped
// at `max` (FHIR lets a server return fewer); anything else is rest-search-value-invalid.
Result<int> parseCount(std::string_view value, int max);

// If-Match / a version id: a positive decimal integer, nullopt otherwise.
std::optional<std::int64_t> parseVersion(std::string_view value);

}  // namespace liaison::rest
