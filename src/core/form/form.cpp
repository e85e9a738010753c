#include <array>
#include <cstdio>

#include "core/form/form_response.hpp"
#include "core/form/questionnaire.hpp"

namespace liaison::form {
namespace {

constexpr std::array<std::pair<std::string_view, ItemType>, 11> kItemTypes = {{
    {"group", ItemType::Group},
    {"display", ItemType::Display},
    {"boolean", ItemType::Boolean},
    {"decimal", ItemType::Decimal},
    {"integer", ItemType::Integer},
    {"date", ItemType::Date},
    {"dateTime", ItemType::DateTime},
    {"string", ItemType::String},
    {"text", ItemType::Text},
    {"choice", ItemType::Choice},
    {"open-choice", ItemType::OpenChoice},
}};

}  // namespace

std::optional<ItemType> itemTypeFromString(std::string_view s) {
  for (const auto& [name, type] : kItemTypes) {
    if (name == s) return type;
  }
  return std::nullopt;
}

std::string_view toString(ItemType t) {
  for (const auto& [name, type] : kItemTypes) {
    if (type == t) return name;
  }
  return "string";
}

std::string toString(const Date& d) {
  char buf[16];
  if (d.month == 0) {
    std::snprintf(buf, sizeof buf, "%04d", d.year);
  } else if (d.day == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02d", d.year, d.month);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
  }
  return buf;
}

bool sameAnswer(const AnswerValue& a, const AnswerValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* ca = std::get_if<Coding>(&a)) {
    const auto& cb = std::get<Coding>(b);
    return ca->code == cb.code &&
           (ca->system.empty() || cb.system.empty() || ca->system == cb.system);
  }
  return a == b;
}

std::size_t Questionnaire::addItem(Item item) {
  item.index = items_.size();
  items_.push_back(std::move(item));
  return items_.back().index;
}

void Questionnaire::index() {
  by_link_id_.clear();
  for (const Item& item : items_)
    by_link_id_.emplace(item.link_id, item.index);
}

const Item* Questionnaire::find(std::string_view link_id) const {
  auto it = by_link_id_.find(link_id);
  return it == by_link_id_.end() ? nullptr : &items_[it->second];
}

std::string itemExpression(const Questionnaire& questionnaire, std::size_t index) {
  std::string path;
  for (std::optional<std::size_t> at = index; at; at = questionnaire.at(*at).parent) {
    path.insert(0, ".item.where(linkId='" + questionnaire.at(*at).link_id + "')");
  }
  return "QuestionnaireResponse" + path;
}

const Coding* findOption(const Item& item, std::string_view code) {
  for (const Coding& c : item.options) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

std::span<const Answer> FormResponse::answers(std::string_view link_id) const {
  const Item* item = questionnaire_->find(link_id);
  if (item == nullptr) return {};
  return answers_[item->index];
}

const AnswerValue* FormResponse::first(std::string_view link_id) const {
  auto a = answers(link_id);
  return a.empty() ? nullptr : &a.front().value;
}

bool FormResponse::enabled(std::size_t index) const {
  const Item& item = questionnaire_->at(index);
  if (item.parent && !enabled(*item.parent)) return false;
  if (item.enable_when.empty()) return true;
  bool any = false;
  bool all = true;
  for (const EnableWhen& cond : item.enable_when) {
    const Item* q = questionnaire_->find(cond.question);
    bool met = false;
    if (q != nullptr) {
      const auto& given = answers_[q->index];
      switch (cond.op) {
        case EnableOperator::Exists: {
          const bool* want = std::get_if<bool>(&cond.answer);
          met = (want == nullptr || *want) ? !given.empty() : given.empty();
          break;
        }
        case EnableOperator::Equal:
          for (const Answer& a : given)
            met = met || sameAnswer(a.value, cond.answer);
          break;
        case EnableOperator::NotEqual:
          met = true;
          for (const Answer& a : given)
            met = met && !sameAnswer(a.value, cond.answer);
          break;
      }
    }
    any = any || met;
    all = all && met;
  }
  return item.enable_when_all ? all : any;
}

}  // namespace liaison::form
