#pragma once
// From HL7 v3 / CDA / XDS representations to FHIR: code system OIDs to canonical URIs, and
// HL7 timestamps (TS) to FHIR date/dateTime. Pure functions.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace liaison::fhir {

// The FHIR `system` of a code system OID: LOINC, SNOMED CT, UCUM, HL7 v3 and the French
// terminologies (TRE_*) we meet in CI-SIS documents; "urn:oid:<oid>" for any other.
std::string systemOfOid(std::string_view oid);

// HL7 v3 TS "YYYY[MM[DD[HH[MM[SS[.F]]]]]][+-ZZZZ]" → FHIR. A dateTime keeps its time only when
// the timezone is given (FHIR requires one with a time); otherwise the date part is returned.
// nullopt when the text is not a valid TS.
std::optional<std::string> dateTimeOfTs(std::string_view ts);
std::optional<std::string> dateOfTs(std::string_view ts);  // date part only: "1952-03-14"

// A time point as a FHIR dateTime in UTC to the second ("2026-11-23T10:00:00Z"), and as an
// instant to the millisecond ("2026-11-23T10:00:00.000Z", meta.lastUpdated).
std::string dateTimeOf(std::chrono::system_clock::time_point t);
std::string instantOf(std::chrono::system_clock::time_point t);

// A FHIR instant needs seconds and a timezone: "2024-01-16T15:11:12+01:00"; nullopt otherwise.
std::optional<std::string> instantOfTs(std::string_view ts);

}  // namespace liaison::fhir
