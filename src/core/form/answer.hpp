#pragma once
// Answers of a form, independent of how the form arrived (QuestionnaireResponse JSON or text).

#include <cstdint>
#include <string>
#include <variant>

namespace liaison::form {

struct Coding {
  std::string system;
  std::string code;
  std::string display;
  bool operator==(const Coding& o) const { return system == o.system && code == o.code; }
};

// A calendar date with the precision it was given in (FHIR date: YYYY, YYYY-MM, YYYY-MM-DD).
struct Date {
  int year = 0;
  int month = 0;  // 0 when absent
  int day = 0;    // 0 when absent
  bool operator==(const Date&) const = default;
};
std::string toString(const Date& d);  // FHIR format

struct Decimal {
  double value = 0;
  bool operator==(const Decimal&) const = default;
};

using AnswerValue = std::variant<bool, std::int64_t, Decimal, std::string, Date, Coding>;

bool sameAnswer(const AnswerValue& a, const AnswerValue& b);  // codings compare by code

}  // namespace liaison::form
