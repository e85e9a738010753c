#include "pipeline/form_source.hpp"

#include <array>

namespace liaison::pipeline {
namespace {

constexpr std::array<std::pair<std::string_view, Fact>, static_cast<std::size_t>(Fact::Count)>
    kFacts = {{
        {"questionnaire.url", Fact::QuestionnaireUrl},
        {"questionnaire.version", Fact::QuestionnaireVersion},
        {"questionnaireResponse.items", Fact::ResponseItems},
        {"ins.value", Fact::InsValue},
        {"ins.system", Fact::InsSystem},
        {"ins.type", Fact::InsType},
        {"ins.use", Fact::InsUse},
        {"identity.status", Fact::IdentityStatus},
        {"birthPlace.insee", Fact::BirthPlaceInsee},
        {"birthPlace.postalCode", Fact::BirthPlacePostalCode},
        {"request.status", Fact::RequestStatus},
        {"request.authored", Fact::RequestAuthored},
        {"now", Fact::Now},
        {"ess.id", Fact::EssId},
        {"ess.name", Fact::EssName},
        {"ess.organization.name", Fact::EssOrganizationName},
        {"ess.organization.identifier.system", Fact::EssIdentifierSystem},
        {"ess.organization.identifier.value", Fact::EssIdentifierValue},
        {"ess.mailbox", Fact::EssMailbox},
        {"form.unrecognised", Fact::FormUnrecognised},
    }};

}  // namespace

std::optional<int> FormSchema::bind(std::string_view name) const {
  if (name.substr(0, 7) == "answer.") {
    const form::Item* item = q_->find(name.substr(7));
    if (item == nullptr || item->type == form::ItemType::Group) return std::nullopt;
    return static_cast<int>(item->index);
  }
  for (const auto& [n, f] : kFacts) {
    if (n == name) return factBinding(*q_, f);
  }
  return std::nullopt;
}

FormSource::FormSource(const form::FormResponse& response)
    : response_(&response),
      values_(response.questionnaire().items().size() + static_cast<std::size_t>(Fact::Count)) {
  const auto& items = response.questionnaire().items();
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (const form::Answer& a : response.answers(i)) {
      map::Value v;
      if (const auto* b = std::get_if<bool>(&a.value)) {
        v = map::Value::ofBool(*b);
      } else if (const auto* n = std::get_if<std::int64_t>(&a.value)) {
        v = map::Value::ofInteger(*n);
      } else if (const auto* d = std::get_if<form::Decimal>(&a.value)) {
        v = map::Value::ofDecimal(d->value);
      } else if (const auto* s = std::get_if<std::string>(&a.value)) {
        v = map::Value::ofString(*s);
      } else if (const auto* date = std::get_if<form::Date>(&a.value)) {
        strings_.push_back(form::toString(*date));
        v = map::Value::ofString(strings_.back());
      } else if (const auto* c = std::get_if<form::Coding>(&a.value)) {
        v = map::Value::ofCoding(*c);
      }
      if (v.present()) values_[i].push_back(v);
    }
  }
  const auto& q = response.questionnaire();
  set(Fact::QuestionnaireUrl, q.url);
  set(Fact::QuestionnaireVersion, q.version);
}

void FormSource::set(Fact f, std::string text) {
  auto& slot =
      values_[static_cast<std::size_t>(FormSchema::factBinding(response_->questionnaire(), f))];
  slot.clear();
  if (text.empty()) return;
  strings_.push_back(std::move(text));
  slot.push_back(map::Value::ofString(strings_.back()));
}

void FormSource::setRawJson(Fact f, std::string json) {
  auto& slot =
      values_[static_cast<std::size_t>(FormSchema::factBinding(response_->questionnaire(), f))];
  slot.clear();
  strings_.push_back(std::move(json));
  slot.push_back(map::Value::ofRawJson(strings_.back()));
}

}  // namespace liaison::pipeline
