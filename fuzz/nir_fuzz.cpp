// libFuzzer harness: the NIR / INS checks (src/core/nir) on arbitrary text.
// Input: "NIR" or "NIR|sex|birth year|birth month|INSEE birth place" (the traits are optional).
// Invariants: a valid NIR normalises to 15 characters that check again as valid, decode, and
// carry their own key; normalize() agrees with check(); traits only ever add issues.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/nir/nir.hpp"
#include "fuzz_check.hpp"

namespace {

using liaison::fuzz::require;
namespace nir = liaison::nir;

std::string_view nextField(std::string_view& rest) {
  const std::size_t bar = rest.find('|');
  const std::string_view field = rest.substr(0, bar);
  rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
  return field;
}

std::optional<int> number(std::string_view s) {
  int value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

nir::Traits traitsOf(std::string_view rest) {
  nir::Traits traits;
  if (const std::string_view sex = nextField(rest); sex.size() == 1) traits.sex = sex[0];
  traits.birth_year = number(nextField(rest));
  traits.birth_month = number(nextField(rest));
  if (const std::string_view place = nextField(rest); !place.empty()) {
    traits.birth_place_insee = std::string(place);
  }
  if (const std::string_view department = nextField(rest); !department.empty()) {
    traits.birth_department = std::string(department);
  }
  return traits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest = liaison::fuzz::asText(data, size);
  const std::string_view input = nextField(rest);
  const bool has_traits = !rest.empty();

  const nir::CheckResult result = nir::check(input, "fuzz");
  const std::optional<std::string> normalized = nir::normalize(input);
  // normalize() refuses characters outside the presentation; check() then has no normalized
  // text and says nir-invalid-character (which it also says of a letter outside the department).
  if (normalized) {
    require(*normalized == result.normalized);
  } else {
    require(result.normalized.empty());
    require(result.issues.contains(liaison::Errc::NirInvalidCharacter));
  }

  if (result.valid()) {
    require(result.normalized.size() == nir::kLength);
    const nir::CheckResult again = nir::check(result.normalized);
    require(again.valid());
    require(again.normalized == result.normalized);
    const std::optional<nir::Parts> parts = nir::decode(result.normalized);
    require(parts.has_value());
    require(parts->key == nir::expectedKey(result.normalized));
    require(parts->department.size() + parts->commune.size() == 5);
    require(parts->birth_place == result.normalized.substr(5, 5));
  }

  if (has_traits) {
    const nir::Traits traits = traitsOf(rest);
    const nir::CheckResult with_traits = nir::check(input, traits, "fuzz");
    require(with_traits.normalized == result.normalized);
    require(with_traits.issues.size() >= result.issues.size());
    if (with_traits.valid()) require(result.valid());
    if (result.valid()) {
      liaison::IssueList out;
      nir::checkTraits(result.normalized, traits, out);
      require(out.hasErrors() == !with_traits.valid());
    }
  }

  liaison::IssueList system_issues;
  const nir::IdentifierKind kind = nir::checkSystem(input, system_issues);
  require(kind == nir::kindOfSystem(input));
  if (const auto department = nir::departmentOfPostalCode(input)) {
    require(department->size() == 2 || department->size() == 3);
  }
  return 0;
}
