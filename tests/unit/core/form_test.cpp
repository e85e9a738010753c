#include <gtest/gtest.h>

#include "core/form/form_response.hpp"
#include "core/form/questionnaire.hpp"

namespace liaison::form {
namespace {

const Coding kYes{"http://terminology.hl7.org/CodeSystem/v2-0136", "Y", "Oui"};
const Coding kNo{"http://terminology.hl7.org/CodeSystem/v2-0136", "N", "Non"};

// group "g" { choice "tabac" (Y/N); decimal "pa" enabled when tabac = Y; boolean "arret"
//             enabled when tabac != Y; string "note" enabled when pa exists AND tabac = Y (all) }
Item makeItem(std::string id, std::string text, ItemType type) {
  Item item;
  item.link_id = std::move(id);
  item.text = std::move(text);
  item.type = type;
  return item;
}

Questionnaire smallForm() {
  Questionnaire q;
  q.url = "urn:test";
  std::size_t gi = q.addItem(makeItem("g", "Groupe", ItemType::Group));
  q.addRoot(gi);
  auto child = [&](Item item) {
    item.parent = gi;
    std::size_t i = q.addItem(std::move(item));
    q.addChild(gi, i);
  };
  Item tabac = makeItem("tabac", "Tabac", ItemType::Choice);
  tabac.options = {kYes, kNo};
  child(tabac);
  Item pa = makeItem("pa", "Paquets-années", ItemType::Decimal);
  pa.enable_when = {{"tabac", EnableOperator::Equal, AnswerValue{kYes}}};
  child(pa);
  Item arret = makeItem("arret", "Arrêt", ItemType::Boolean);
  arret.enable_when = {{"tabac", EnableOperator::NotEqual, AnswerValue{kYes}}};
  child(arret);
  Item note = makeItem("note", "Note", ItemType::String);
  note.enable_when = {{"pa", EnableOperator::Exists, AnswerValue{true}},
                      {"tabac", EnableOperator::Equal, AnswerValue{kYes}}};
  note.enable_when_all = true;
  child(note);
  q.index();
  return q;
}

TEST(FormModel, IndexesItemsByLinkIdAndBuildsExpressions) {
  Questionnaire q = smallForm();
  ASSERT_NE(q.find("pa"), nullptr);
  EXPECT_EQ(q.find("pa")->index, 2u);
  EXPECT_EQ(q.find("missing"), nullptr);
  EXPECT_EQ(q.at(0).children.size(), 4u);
  EXPECT_EQ(itemExpression(q, q.find("pa")->index),
            "QuestionnaireResponse.item.where(linkId='g').item.where(linkId='pa')");
  EXPECT_EQ(findOption(*q.find("tabac"), "N")->display, "Non");
  EXPECT_EQ(findOption(*q.find("tabac"), "asked-unknown"), nullptr);
}

TEST(FormModel, EnableWhenEqualNotEqualExistsAndAll) {
  Questionnaire q = smallForm();
  FormResponse r(q);
  const std::size_t tabac = q.find("tabac")->index;
  const std::size_t pa = q.find("pa")->index;
  const std::size_t arret = q.find("arret")->index;
  const std::size_t note = q.find("note")->index;
  // Nothing answered: "=" is false, "!=" is true (no answer equals Y), "all" is false.
  EXPECT_FALSE(r.enabled(pa));
  EXPECT_TRUE(r.enabled(arret));
  EXPECT_FALSE(r.enabled(note));

  r.add(tabac, Answer{kYes, "line 1"});
  EXPECT_TRUE(r.enabled(pa));
  EXPECT_FALSE(r.enabled(arret));
  EXPECT_FALSE(r.enabled(note)) << "needs pa answered too";
  r.add(pa, Answer{Decimal{20}, "line 2"});
  EXPECT_TRUE(r.enabled(note));

  r.clear(tabac);
  r.add(tabac, Answer{kNo, "line 1"});
  EXPECT_FALSE(r.enabled(pa));
  EXPECT_TRUE(r.enabled(arret));
  EXPECT_FALSE(r.enabled(note));
}

TEST(FormModel, AnswersByLinkIdAndLast) {
  Questionnaire q = smallForm();
  FormResponse r(q);
  EXPECT_EQ(r.first("tabac"), nullptr);
  EXPECT_TRUE(r.answers("nope").empty());
  r.add(q.find("note")->index, Answer{std::string("a"), "line 3"});
  Answer* last = r.last(q.find("note")->index);
  ASSERT_NE(last, nullptr);
  auto* text = std::get_if<std::string>(&last->value);
  ASSERT_NE(text, nullptr);
  *text += "b";
  const AnswerValue* first = r.first("note");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(*first, AnswerValue{std::string("ab")});
}

TEST(FormModel, SameAnswerComparesCodingsByCode) {
  EXPECT_TRUE(sameAnswer(AnswerValue{kYes}, AnswerValue{Coding{"", "Y", ""}}));
  EXPECT_FALSE(sameAnswer(AnswerValue{kYes}, AnswerValue{Coding{"http://other", "Y", ""}}));
  EXPECT_FALSE(sameAnswer(AnswerValue{kYes}, AnswerValue{kNo}));
  EXPECT_TRUE(sameAnswer(AnswerValue{true}, AnswerValue{true}));
  EXPECT_FALSE(sameAnswer(AnswerValue{true}, AnswerValue{std::string("true")}));
}

TEST(FormModel, DatesPrintWithTheirPrecision) {
  EXPECT_EQ(toString(Date{1952, 3, 14}), "1952-03-14");
  EXPECT_EQ(toString(Date{1952, 3, 0}), "1952-03");
  EXPECT_EQ(toString(Date{1952, 0, 0}), "1952");
}

TEST(FormModel, ItemTypesRoundTrip) {
  for (auto name : {"group", "display", "boolean", "decimal", "integer", "date", "dateTime",
                    "string", "text", "choice", "open-choice"}) {
    auto t = itemTypeFromString(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(toString(*t), name);
  }
  EXPECT_FALSE(itemTypeFromString("attachment").has_value());
}

}  // namespace
}  // namespace liaison::form
