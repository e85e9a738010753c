#pragma once
// Dates as HTTP says them (RFC 9110 §5.6.7), pure.

#include <optional>
#include <string>
#include <string_view>

namespace liaison::rest {

// A FHIR instant ("2026-12-07T18:57:40.123Z", "2026-12-07T19:57:40+01:00") as an IMF-fixdate
// ("Mon, 07 Dec 2026 18:57:40 GMT"), the form Last-Modified takes: in UTC, to the second (the
// fraction is dropped). nullopt when it is not an instant.
std::optional<std::string> httpDate(std::string_view instant);

// The day this build was configured (SOURCE_DATE_EPOCH when set: reproducible), "YYYY-MM-DD":
// the CapabilityStatement's date, the same for every request of this binary.
std::string_view buildDate();

}  // namespace liaison::rest
