#pragma once
// The answers to one form, indexed like the Questionnaire's items.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/form/answer.hpp"
#include "core/form/questionnaire.hpp"

namespace liaison::form {

struct Answer {
  AnswerValue value;
  std::string location;  // where it was read: "ligne 12", "champ PDF patient_nom", a FHIRPath
};

class FormResponse {
 public:
  explicit FormResponse(const Questionnaire& questionnaire)
      : questionnaire_(&questionnaire),
        answers_(questionnaire.items().size()),
        unreadable_(questionnaire.items().size(), 0) {}

  const Questionnaire& questionnaire() const { return *questionnaire_; }
  std::span<const Answer> answers(std::size_t item) const { return answers_[item]; }
  std::span<const Answer> answers(std::string_view link_id) const;
  const AnswerValue* first(std::string_view link_id) const;
  bool answered(std::size_t item) const { return !answers_[item].empty(); }
  void add(std::size_t item, Answer answer) { answers_[item].push_back(std::move(answer)); }
  void clear(std::size_t item) { answers_[item].clear(); }
  Answer* last(std::size_t item) {
    return answers_[item].empty() ? nullptr : &answers_[item].back();
  }

  // The input named the item but its answer could not be read (a value that is not one, a label
  // that names two items): "not answered" would say more than the input does.
  bool unreadable(std::size_t item) const { return unreadable_[item] != 0; }
  void markUnreadable(std::size_t item) { unreadable_[item] = 1; }

  // Whether the item is shown given enableWhen (and its ancestors').
  bool enabled(std::size_t item) const;

  std::optional<std::string> authored;  // FHIR dateTime, when the input carried one
  std::string id;                       // QuestionnaireResponse.id of the input, if any

 private:
  const Questionnaire* questionnaire_;
  std::vector<std::vector<Answer>> answers_;
  std::vector<char> unreadable_;
};

}  // namespace liaison::form
