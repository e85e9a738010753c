#pragma once
// The values a form mapping reads: the answers ("answer.<linkId>") and the facts intake
// computed about them (INS, status, ESS, dates). The names are the vocabulary of mappings/.

#include <deque>
#include <string>
#include <vector>

#include "core/form/form_response.hpp"
#include "map/value.hpp"

namespace liaison::pipeline {

// Facts offered to mappings besides the answers; see mappings/README.md.
enum class Fact : int {
  QuestionnaireUrl,
  QuestionnaireVersion,
  ResponseItems,  // RawJson: QuestionnaireResponse.item
  InsValue,       // only when the NIR is valid
  InsSystem,
  InsType,
  InsUse,
  IdentityStatus,   // FR Core identity reliability code
  BirthPlaceInsee,  // when the form's birth place is an INSEE code (consistent with the NIR)
  BirthPlacePostalCode,
  RequestStatus,    // ServiceRequest.status: "active" or "draft" (incomplete)
  RequestAuthored,  // FHIR dateTime
  Now,              // FHIR dateTime of intake
  EssId,
  EssName,
  EssOrganizationName,
  EssIdentifierSystem,
  EssIdentifierValue,
  EssMailbox,
  FormUnrecognised,  // the text form's lines not understood, "ligne N : texte", one a line
  Count
};

class FormSchema final : public map::SourceSchema {
 public:
  explicit FormSchema(const form::Questionnaire& q) : q_(&q) {}
  std::optional<int> bind(std::string_view name) const override;
  static int factBinding(const form::Questionnaire& q, Fact f) {
    return static_cast<int>(q.items().size()) + static_cast<int>(f);
  }

 private:
  const form::Questionnaire* q_;
};

class FormSource final : public map::Source {
 public:
  explicit FormSource(const form::FormResponse& response);
  std::span<const map::Value> values(int binding) const override {
    return values_[static_cast<std::size_t>(binding)];
  }
  void set(Fact f, std::string text);  // a text fact (absent when empty)
  void setRawJson(Fact f, std::string json);

 private:
  const form::FormResponse* response_;
  std::deque<std::string> strings_;  // owns the text of values; a deque never moves it
  std::vector<std::vector<map::Value>> values_;
};

}  // namespace liaison::pipeline
