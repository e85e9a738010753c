#include "validate/form_validation.hpp"

namespace liaison::validate {
namespace {

// "« Nom » (Patient)": the section name tells the secretariat which "Nom" is meant.
std::string describe(const form::Questionnaire& q, const form::Item& item) {
  std::string s = "« " + item.text + " »";
  if (item.parent) s += " (" + q.at(*item.parent).text + ")";
  return s;
}

// An answer that says something: an unticked "☐ Pas de médecin traitant" (false) does not stand
// for the doctor's name it is the alternative to.
bool statesSomething(const form::FormResponse& r, std::size_t item) {
  for (const form::Answer& a : r.answers(item)) {
    const bool* b = std::get_if<bool>(&a.value);
    if (b == nullptr || *b) return true;
  }
  return false;
}

}  // namespace

IssueList validateMandatoryFields(const form::FormResponse& response) {
  const form::Questionnaire& q = response.questionnaire();
  IssueList issues;
  for (const form::Item& item : q.items()) {
    if (item.type == form::ItemType::Group || item.type == form::ItemType::Display) {
      if (!item.required_one_of.empty() && response.enabled(item.index)) {
        bool any = false;
        std::string names;
        for (const std::string& id : item.required_one_of) {
          const form::Item* other = q.find(id);
          any = any || (other != nullptr && statesSomething(response, other->index));
          if (other != nullptr)
            names += (names.empty() ? "" : " ou ") + ("« " + other->text + " »");
        }
        if (!any) {
          issues.add(Errc::FormRequiredMissing,
                     "Champ obligatoire manquant : renseigner " + names + ".",
                     form::itemExpression(q, item.index), item.required_one_of.front());
        }
      }
      continue;
    }
    if (!response.enabled(item.index)) continue;
    if (item.required && !response.answered(item.index)) {
      std::string message = item.repeats
                                ? "Au moins une réponse est requise pour " + describe(q, item) + "."
                                : "Champ obligatoire manquant : " + describe(q, item) + ".";
      issues.add(Errc::FormRequiredMissing, std::move(message), form::itemExpression(q, item.index),
                 item.link_id);
      continue;
    }
    if (item.required_true && response.answered(item.index)) {
      const bool* b = std::get_if<bool>(&response.answers(item.index).front().value);
      if (b != nullptr && !*b) {
        std::string message = *item.required_true == Errc::FormConsentNotAttested
                                  ? "Le consentement du patient n'est pas attesté : la demande ne "
                                    "peut pas être instruite."
                                  : "Document obligatoire non fourni : " + describe(q, item) +
                                        " — à demander au demandeur.";
        issues.add(*item.required_true, std::move(message), form::itemExpression(q, item.index),
                   item.link_id);
      }
    }
  }
  return issues;
}

}  // namespace liaison::validate
