#pragma once
// NIR / INS matricule: structure, key and consistency with the patient's traits.
// Pure code: no I/O, no allocation on the valid path (the hot path of bulk intake).
//
// Accepted presentation (normalisation): ASCII digits and the Corsican department letters
// A/B (either case), with any number of separators between characters: space, tab, '.', '-',
// '/', '_' and the no-break spaces U+00A0 / U+202F (UTF-8). Leading/trailing separators are
// ignored. Anything else is `nir-invalid-character`.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error/error.hpp"

namespace liaison::nir {

inline constexpr std::size_t kLength = 15;

// The identifier systems of a matricule INS (FR Core slices, CI-SIS recordTarget roots).
enum class IdentifierKind : std::uint8_t { InsNir, InsNia, InsNirTest, InsNirDemo, Unknown };

struct IdentifierSystem {
  IdentifierKind kind;
  std::string_view oid;           // "1.2.250.1.213.1.4.8"
  std::string_view uri;           // "urn:oid:1.2.250.1.213.1.4.8"
  std::string_view fr_core_type;  // FR Core v2-0203 type code: "INS-NIR", "INS-NIA", ...
  std::string_view use;           // Identifier.use: "official" (NIR, test, demo) or "temp" (NIA)
};

// Accepts "urn:oid:1.2.250.1.213.1.4.8" or the bare OID. Unknown systems give kind Unknown.
IdentifierKind kindOfSystem(std::string_view system);
const IdentifierSystem& identifierSystem(IdentifierKind kind);  // kind != Unknown

// The identifier system of a matricule: unknown systems are an error (ins-system-unknown),
// test and demo INS a warning (ins-test-system: never accepted as a real patient's INS).
IdentifierKind checkSystem(std::string_view system, IssueList& out, std::string_view location = {});

// The fields of a normalised 15-character NIR (views into the normalised text).
struct Parts {
  char sex;                     // '1'..'8'
  int year;                     // two digits, 0..99
  int month;                    // as written: 1..12, or a pseudo-month 20..42 / 50..99
  std::string_view department;  // "01".."95", "2A", "2B", "971".."989", "99" (abroad)
  std::string_view commune;     // 3 digits; 2 digits overseas; INSEE country code when abroad
  std::string_view
      birth_place;  // positions 6..10: the INSEE code of the birth place ("99xxx" abroad)
  int order;        // 1..999
  int key;          // as written, 0..99
  bool born_abroad;
  bool overseas;
};

// Patient traits to cross-check (each optional: absent traits are not checked).
struct Traits {
  std::optional<char> sex;                       // 'M' or 'F'
  std::optional<int> birth_year;                 // four digits
  std::optional<int> birth_month;                // 1..12
  std::optional<std::string> birth_place_insee;  // 5-char INSEE code ("2A004", "99126")
  std::optional<std::string> birth_department;  // department only, when only a postal code is known
};

struct CheckResult {
  std::string normalized;  // presentation removed; upper case; may be != 15 chars when invalid
  IssueList issues;
  bool valid() const { return !issues.hasErrors(); }
};

// Structure and key. Every failure has its own code (see errc.def, "nir-*").
// `location` is copied into each issue (e.g. a linkId or an expression).
CheckResult check(std::string_view input, std::string_view location = {});

// Structure, key, then consistency with the traits (codes "nir-traits-*").
CheckResult check(std::string_view input, const Traits& traits, std::string_view location = {});

// Consistency of an already valid, normalised NIR with the traits; appends to `out`.
void checkTraits(std::string_view normalized, const Traits& traits, IssueList& out,
                 std::string_view location = {});

// Fields of a normalised NIR of 15 characters whose characters are in place; nullopt otherwise.
std::optional<Parts> decode(std::string_view normalized);

// Expected key (1..97) of the first 13 characters of a normalised NIR; -1 if not computable.
int expectedKey(std::string_view normalized);

// Removes the accepted presentation; nullopt when a character is not accepted.
std::optional<std::string> normalize(std::string_view input);

// Department of a French postal code ("38000" -> "38", "20000" -> "2A", "97400" -> "974");
// nullopt when the text is not a 5-digit postal code.
std::optional<std::string> departmentOfPostalCode(std::string_view postal_code);

}  // namespace liaison::nir
