#pragma once
// ESS eligibility: inclusion and exclusion criteria, configured per ESS (data, not code), read
// with three-valued logic: a criterion the form cannot decide makes the request "to_review".
//
// Rules (JSON, in the ESS configuration under "eligibility"):
//   {"ageAtLeast": 65}                          patient's age in full years on the day of intake
//   {"equals": {"item": linkId, "code": "Y"}}   the answer's code (unknown if unanswered,
//                                               unreadable or "asked-unknown")
//   {"anyEquals": {"items": [linkId…], "code": "Y"}}
//   {"answered": linkId}                        (unknown when the item was named but unreadable)
//   {"outsideTerritory": true}                  residence département not in "territory"
//   {"noValidNir": true}                        see NirFinding
//   {"all": [rules]}, {"any": [rules]}, {"not": rule}

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"
#include "core/form/form_response.hpp"

namespace liaison::validate {

enum class Tri : std::uint8_t { False, True, Unknown };

// What the form says of the NIR, for {"noValidNir": true} ("sans NIR"): only a NIR that is
// absent (the item empty or not in the form) or a number that is not one (a provisional number)
// means "sans NIR"; a NIR that was there but could not be read or does not check out (a key, a
// length, a trait that disagrees) is for the secretariat to look at, not a reason to refuse.
enum class NirFinding : std::uint8_t { Valid, Absent, NotANir, Doubtful };

struct EligibilityFacts {
  std::optional<int> age_years;
  NirFinding nir = NirFinding::Absent;
  std::optional<std::string> department;  // of the patient's residence
  std::string nir_doubt;                  // why, when Doubtful (French; never the NIR itself)
};

enum class EligibilityStatus : std::uint8_t { Eligible, NotEligible, ToReview };
std::string_view toString(EligibilityStatus s);

struct EligibilityReason {
  std::string code;    // criterion code from the configuration
  std::string kind;    // "inclusion" | "exclusion"
  std::string text;    // French label for the secretariat
  Tri value;           // True: met; Unknown: could not be decided from the form
  std::string detail;  // when Unknown: what the form lacks ("« Angor » non renseigné"…)
};

struct Eligibility {
  EligibilityStatus status = EligibilityStatus::ToReview;
  std::vector<EligibilityReason> reasons;
};

class EligibilityRules {
 public:
  // Reads "territory" and "eligibility" of an ESS configuration document; item names are
  // checked against the Questionnaire.
  static Result<EligibilityRules> parse(std::string_view ess_config_json,
                                        const form::Questionnaire& questionnaire);

  Eligibility evaluate(const form::FormResponse& response, const EligibilityFacts& facts) const;
  const std::vector<std::string>& territory() const;

  EligibilityRules(EligibilityRules&&) noexcept;
  EligibilityRules& operator=(EligibilityRules&&) noexcept;
  ~EligibilityRules();

 private:
  struct Impl;
  explicit EligibilityRules(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::validate
