#include "map/mapping.hpp"

#include "core/json/json_out.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <deque>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "pipeline/form_source.hpp"
#include "support/test_support.hpp"

namespace liaison::map {
namespace {

// ---------------------------------------------------------------------------------------------
// A small source: a fixed vocabulary of names, each with any number of values. It owns the text
// and the codings its values point to.

class TestInput final : public SourceSchema, public Source {
 public:
  std::optional<int> bind(std::string_view name) const override {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (kNames[i] == name) return static_cast<int>(i);
    }
    return std::nullopt;
  }
  std::span<const Value> values(int binding) const override {
    return values_[static_cast<std::size_t>(binding)];
  }

  TestInput& add(std::string_view name, Value v) {
    values_[slot(name)].push_back(v);
    return *this;
  }
  TestInput& text(std::string_view name, std::string s) {
    strings_.push_back(std::move(s));
    return add(name, Value::ofString(strings_.back()));
  }
  TestInput& raw(std::string_view name, std::string json) {
    strings_.push_back(std::move(json));
    return add(name, Value::ofRawJson(strings_.back()));
  }
  TestInput& coding(std::string_view name, std::string system, std::string code,
                    std::string display) {
    codings_.push_back(form::Coding{std::move(system), std::move(code), std::move(display)});
    return add(name, Value::ofCoding(codings_.back()));
  }
  TestInput& integer(std::string_view name, std::int64_t i) {
    return add(name, Value::ofInteger(i));
  }
  TestInput& decimal(std::string_view name, double d) { return add(name, Value::ofDecimal(d)); }
  TestInput& boolean(std::string_view name, bool b) { return add(name, Value::ofBool(b)); }
  // A record of (field, value) pairs; text values are owned here.
  TestInput& record(std::string_view name, std::vector<std::pair<std::string, Value>> fields) {
    Record r;
    for (auto& [field, value] : fields) {
      strings_.push_back(field);
      r.set(strings_.back(), value);
    }
    records_.push_back(std::move(r));
    return add(name, Value::ofRecord(records_.back()));
  }
  Value keepText(std::string s) {
    strings_.push_back(std::move(s));
    return Value::ofString(strings_.back());
  }

 private:
  std::size_t slot(std::string_view name) const {
    auto b = bind(name);
    EXPECT_TRUE(b.has_value()) << "not in the test vocabulary: " << name;
    return b ? static_cast<std::size_t>(*b) : 0;
  }

  static inline const std::vector<std::string> kNames = {"answer.nom",
                                                         "answer.prenoms",
                                                         "answer.sexe",
                                                         "answer.naissance",
                                                         "answer.age",
                                                         "answer.poids",
                                                         "answer.taille",
                                                         "answer.fumeur",
                                                         "answer.actif",
                                                         "answer.motif",
                                                         "answer.note",
                                                         "answer.tel",
                                                         "answer.medecin",
                                                         "answer.raw",
                                                         "ins.value",
                                                         "ins.system",
                                                         "now",
                                                         "vitals"};
  std::vector<std::vector<Value>> values_ = std::vector<std::vector<Value>>(kNames.size());
  std::deque<std::string> strings_;   // a deque never moves its elements
  std::deque<form::Coding> codings_;  // idem
  std::deque<Record> records_;        // idem
};

constexpr const char* kGender = "http://hl7.org/fhir/administrative-gender";
constexpr const char* kMotif = "https://liaison.example.org/fhir/CodeSystem/motif";

// Dupont, Marie Louise, female, born 1985-04-12, 42, 72.5 kg, 170 cm, smoker, not active,
// two reasons (chest pain, dyspnoea). No note, no phone, no GP, no INS.
TestInput patientInput() {
  TestInput in;
  in.text("answer.nom", "Dupont")
      .text("answer.prenoms", "Marie Louise")
      .coding("answer.sexe", kGender, "female", "Female")
      .text("answer.naissance", "1985-04-12")
      .integer("answer.age", 42)
      .decimal("answer.poids", 72.5)
      .integer("answer.taille", 170)
      .boolean("answer.fumeur", true)
      .boolean("answer.actif", false)
      .coding("answer.motif", kMotif, "douleur-thoracique", "Douleur thoracique")
      .coding("answer.motif", kMotif, "dyspnee", "Dyspnée")
      .text("now", "2026-11-23T10:00:00Z");
  return in;
}

// ---------------------------------------------------------------------------------------------
// Helpers

std::string serialise(const rapidjson::Value& v) {
  std::string out;
  json::JsonOut w(out);
  json::JsonOutSax sax{w};
  v.Accept(sax);
  return out;
}

const rapidjson::Value* get(const rapidjson::Value& root, const std::string& pointer) {
  return rapidjson::Pointer(pointer.c_str()).Get(root);
}

// The compact JSON at `pointer` (RFC 6901), or "<absent>".
std::string at(const rapidjson::Value& root, const std::string& pointer) {
  const rapidjson::Value* v = get(root, pointer);
  return v == nullptr ? "<absent>" : serialise(*v);
}

struct Out {
  bool ok = false;
  BundleOutput bundle;
  rapidjson::Document doc;
  std::size_t entries() const { return doc.HasMember("entry") ? doc["entry"].Size() : 0; }
  // The JSON at `pointer` inside the resource of entry `i`.
  std::string res(std::size_t i, const std::string& pointer = "") const {
    return at(doc, "/entry/" + std::to_string(i) + "/resource" + pointer);
  }
  std::string entry(std::size_t i, const std::string& pointer = "") const {
    return at(doc, "/entry/" + std::to_string(i) + pointer);
  }
  // Entry index of the resource with `key`, from BundleOutput.resources.
  std::optional<std::size_t> indexOf(std::string_view key) const {
    for (std::size_t i = 0; i < bundle.resources.size(); ++i) {
      if (bundle.resources[i].key == key) return i;
    }
    return std::nullopt;
  }
  std::string fullUrl(std::string_view key) const {
    auto i = indexOf(key);
    return i ? bundle.resources[*i].full_url : "<no resource " + std::string(key) + ">";
  }
};

std::optional<Mapping> compileOk(std::string_view json, const SourceSchema& schema) {
  auto m = Mapping::compile(json, schema);
  if (!m) {
    ADD_FAILURE() << m.error().detail << "\nin mapping " << json;
    return std::nullopt;
  }
  return std::move(*m);
}

// Runs and parses. `dump` names a Bundle that is meant to be valid FHIR R4 (the conformance
// checker validates it); leave it empty for deliberately non-FHIR output.
Out runMapping(const Mapping& m, const Source& source, std::string_view dump = {},
               std::uint64_t seed = 42) {
  Out out;
  out.bundle = m.run(source, seed);
  out.doc.Parse(out.bundle.json.data(), out.bundle.json.size());
  if (out.doc.HasParseError() || !out.doc.IsObject()) {
    std::size_t at = out.doc.HasParseError() ? out.doc.GetErrorOffset() : 0;
    std::size_t from = at > 80 ? at - 80 : 0;
    ADD_FAILURE() << "not a JSON object (error at offset " << at << "): …"
                  << out.bundle.json.substr(from, 120) << "…";
    return out;
  }
  if (!dump.empty()) test::dumpBundle("mapping-" + std::string(dump), out.bundle.json);
  out.ok = true;
  return out;
}

Out mapAll(std::string_view mapping_json, const TestInput& in, std::string_view dump = {},
           std::uint64_t seed = 42) {
  auto m = compileOk(mapping_json, in);
  if (!m) return {};
  return runMapping(*m, in, dump, seed);
}

// A transaction mapping of one resource (key "r"); `head` is inserted before "resources".
std::string oneResource(std::string_view resource, std::string_view head = "") {
  return R"({"name":"test","bundleType":"transaction",)" + std::string(head) +
         R"("resources":[{"key":"r","resource":)" + std::string(resource) + "}]}";
}

Out mapOne(std::string_view resource, const TestInput& in, std::string_view dump = {},
           std::string_view head = "") {
  return mapAll(oneResource(resource, head), in, dump);
}

// The value[x] of the component whose code.text is `label`, as JSON, or "<absent>".
std::string component(const Out& out, std::size_t entry, std::string_view label,
                      std::string_view value_member) {
  const rapidjson::Value* comps =
      get(out.doc, "/entry/" + std::to_string(entry) + "/resource/component");
  if (comps == nullptr) return "<absent>";
  for (const auto& c : comps->GetArray()) {
    if (c.HasMember("code") && c["code"].HasMember("text") &&
        std::string_view(c["code"]["text"].GetString()) == label) {
      return c.HasMember(std::string(value_member)) ? serialise(c[std::string(value_member)])
                                                    : "<component without value>";
    }
  }
  return "<absent>";
}

std::string testName() {
  return ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// ---------------------------------------------------------------------------------------------
// Values and interpolation

TEST(MappingTemplate, WholeExpressionKeepsTheValueType) {
  TestInput in = patientInput();
  in.coding("answer.note", "", "sans-systeme", "")
      .raw(
          "answer.raw",
          R"({"coding":[{"system":"http://loinc.org","code":"72166-2","display":"Tobacco smoking status"}],"text":"Tabac"})");
  Out out = mapOne(R"json({
    "resourceType": "Observation", "status": "final", "code": "{{answer.raw}}",
    "component": [
      {"code": {"text": "bool"}, "valueBoolean": "{{answer.fumeur}}"},
      {"code": {"text": "false"}, "valueBoolean": "{{answer.actif}}"},
      {"code": {"text": "int"}, "valueInteger": "{{answer.age}}"},
      {"code": {"text": "dec"}, "valueQuantity": {"value": "{{answer.poids}}", "unit": "kg",
                                "system": "http://unitsofmeasure.org", "code": "kg"}},
      {"code": {"text": "str"}, "valueString": "{{answer.nom}}"},
      {"code": {"text": "coding"}, "valueCodeableConcept": {"coding": ["{{answer.sexe}}"]}},
      {"code": {"text": "bare"}, "valueCodeableConcept": {"coding": ["{{answer.note}}"]}},
      {"code": {"text": "spaces"}, "valueString": "{{ answer.nom }}"}
    ]})json",
                   in, testName());
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(
      out.res(0, "/code"),
      R"({"coding":[{"system":"http://loinc.org","code":"72166-2","display":"Tobacco smoking status"}],"text":"Tabac"})");
  EXPECT_EQ(component(out, 0, "bool", "valueBoolean"), "true");
  EXPECT_EQ(component(out, 0, "false", "valueBoolean"), "false");  // false is a value
  EXPECT_EQ(component(out, 0, "int", "valueInteger"), "42");
  EXPECT_EQ(component(out, 0, "dec", "valueQuantity"),
            R"({"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"})");
  EXPECT_EQ(component(out, 0, "str", "valueString"), R"("Dupont")");
  EXPECT_EQ(
      component(out, 0, "coding", "valueCodeableConcept"),
      R"({"coding":[{"system":"http://hl7.org/fhir/administrative-gender","code":"female","display":"Female"}]})");
  // A Coding without system or display writes only what it has.
  EXPECT_EQ(component(out, 0, "bare", "valueCodeableConcept"),
            R"({"coding":[{"code":"sans-systeme"}]})");
  EXPECT_EQ(component(out, 0, "spaces", "valueString"), R"("Dupont")");
  const rapidjson::Value* dec = get(out.doc, "/entry/0/resource/component/3/valueQuantity/value");
  ASSERT_NE(dec, nullptr);
  EXPECT_TRUE(dec->IsDouble());
  EXPECT_DOUBLE_EQ(dec->GetDouble(), 72.5);
}

TEST(MappingTemplate, InterpolationWritesTextOfEachPart) {
  TestInput in = patientInput();
  Out out = mapOne(R"json({
    "resourceType": "Observation", "status": "final", "code": {"text": "Synthèse"},
    "note": [
      {"text": "Patient {{answer.nom}}, {{answer.age}} ans, {{answer.poids}} kg, fumeur : {{answer.fumeur}}, actif : {{answer.actif}}, sexe : {{answer.sexe}}."},
      {"text": "{{answer.nom}}{{answer.age}}"},
      {"text": "Tél. {{answer.tel}}"},
      {"text": "{{answer.nom}} et {{answer.note}}"}
    ],
    "valueString": "{{answer.prenoms}} {{answer.nom}}"})json",
                   in, testName());
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.res(0, "/note/0/text"),
            R"("Patient Dupont, 42 ans, 72.5 kg, fumeur : true, actif : false, sexe : female.")");
  EXPECT_EQ(out.res(0, "/note/1/text"), R"("Dupont42")");
  // An interpolation with any absent part is dropped, with the object holding it.
  EXPECT_EQ(out.res(0, "/note/2"), "<absent>");
  EXPECT_EQ(out.res(0, "/valueString"), R"("Marie Louise Dupont")");
}

TEST(MappingTemplate, AbsentValuesDropTheProperty) {
  TestInput in;
  in.text("answer.nom", "Dupont").text("answer.note", "");  // empty text is absent
  EXPECT_FALSE(Value::ofString("").present());
  Out out = mapOne(R"json({
    "resourceType": "Patient",
    "gender": "{{code(answer.sexe)}}",
    "birthDate": "{{answer.naissance}}",
    "multipleBirthInteger": "{{answer.age}}",
    "name": [{"family": "{{answer.nom}}", "text": "{{answer.note}}",
              "suffix": ["{{answers.note}}"], "prefix": ["Mme {{answer.note}}"]}],
    "telecom": [{"$when": "answer.note", "system": "other", "value": "{{answer.nom}}"}],
    "communication": [{"$each": "answers.note",
                       "$value": {"language": {"text": "{{it}}"}}}]})json",
                   in, testName());
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.res(0), R"({"resourceType":"Patient","name":[{"family":"Dupont"}]})");
}

TEST(MappingTemplate, TextIsEscapedWhateverItHolds) {
  // Every control character, quotes, backslashes and UTF-8, at every 16-byte alignment.
  std::string nasty = "\"quoted\" \\ back\\slash, accentué ✓, ";
  for (char c = 1; c < 0x20; ++c)
    nasty += std::string("0123456789abcdefghij") + c;  // a long plain run before each
  TestInput in;
  std::vector<std::string> expected;
  for (int pad = 0; pad < 16; ++pad) {
    expected.push_back(std::string(static_cast<std::size_t>(pad), 'x') + nasty + " fin");
    in.text("answer.note", expected.back());
  }
  in.text("answer.nom", nasty);
  Out out = mapOne(R"json({
    "resourceType": "Patient",
    "name": [{"$each": "answers.note", "$value": {"text": "{{it}}"}}],
    "address": [{"text": "Adresse : {{answer.nom}} fin", "line": ["Ligne \u001f\u001a\"\\ fin de ligne"]}]})json",
                   in);  // not dumped: FHIR strings do not allow most control characters
  ASSERT_TRUE(out.ok);
  const rapidjson::Value* names = get(out.doc, "/entry/0/resource/name");
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(names->Size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ((*names)[static_cast<rapidjson::SizeType>(i)]["text"].GetString(), expected[i]) << i;
  const rapidjson::Value* text = get(out.doc, "/entry/0/resource/address/0/text");
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->GetString(), "Adresse : " + nasty + " fin");
  const rapidjson::Value* line = get(out.doc, "/entry/0/resource/address/0/line/0");
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(std::string(line->GetString()), "Ligne \x1f\x1a\"\\ fin de ligne");
}

// ---------------------------------------------------------------------------------------------
// Objects and arrays

TEST(MappingTemplate, ObjectsAndArraysKeepOnlyWhatIsPresent) {
  TestInput in = patientInput();
  Out out = mapOne(R"json({
    "resourceType": "Patient",
    "extension": [],
    "contact": {},
    "maritalStatus": {"text": "Inconnu", "coding": []},
    "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "{{ins.value}}"}],
    "telecom": [{"system": "phone", "value": "{{answer.tel}}", "use": "home"},
                {"system": "email", "value": "secretariat@example.org", "use": "work"}],
    "name": [{"family": "{{answer.nom}}",
              "given": ["{{firstWord(answer.prenoms)}}", "{{answer.note}}", "Literal"]}],
    "address": [{"use": "home", "line": ["{{answer.note}}", "{{answer.tel}}"]}],
    "communication": [{"language": {"text": "Français"}, "extension": [], "modifierExtension": [{}]}],
    "link": [[], {}]})json",
                   in, testName());
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.res(0, "/extension"), "<absent>");
  EXPECT_EQ(out.res(0, "/contact"), "<absent>");
  EXPECT_EQ(out.res(0, "/link"), "<absent>");
  // Literal objects are kept, without their empty members.
  EXPECT_EQ(out.res(0, "/maritalStatus"), R"({"text":"Inconnu"})");
  EXPECT_EQ(out.res(0, "/communication"), R"([{"language":{"text":"Français"}}])");
  // An object whose dynamic members are all absent is dropped (its literals do not count),
  // and so is an array left empty.
  EXPECT_EQ(out.res(0, "/identifier"), "<absent>");
  EXPECT_EQ(out.res(0, "/address"), "<absent>");
  EXPECT_EQ(out.res(0, "/telecom"),
            R"([{"system":"email","value":"secretariat@example.org","use":"work"}])");
  EXPECT_EQ(out.res(0, "/name/0/given"), R"(["Marie","Literal"])");
}

TEST(MappingTemplate, DynamicObjectWithEmptyMembersIsJudgedOnItsDynamicMembers) {
  TestInput in = patientInput();
  const char* tmpl = R"json({
    "resourceType": "Patient",
    "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "{{ins.value}}",
                    "extension": [], "period": {}}]})json";
  Out without = mapOne(tmpl, in, testName() + "-without");
  ASSERT_TRUE(without.ok);
  EXPECT_EQ(without.res(0), R"({"resourceType":"Patient"})");
  in.text("ins.value", "185057800608436");
  Out with = mapOne(tmpl, in, testName() + "-with");
  ASSERT_TRUE(with.ok);
  EXPECT_EQ(with.res(0, "/identifier"),
            R"([{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"185057800608436"}])");
}

// ---------------------------------------------------------------------------------------------
// $when

TEST(MappingWhen, ConditionsOnObjects) {
  struct Case {
    const char* condition;
    bool expected;
  };
  const Case cases[] = {
      {"answer.nom", true},
      {"answer.note", false},   // absent
      {"answer.actif", false},  // boolean false
      {"answer.fumeur", true},
      {"answer.age", true},
      {"not answer.note", true},
      {"not answer.actif", true},
      {"not not answer.nom", true},
      {"answer.sexe == 'female'", true},  // a Coding compares by code
      {"answer.sexe == female", true},    // unquoted literal
      {"code(answer.sexe) == 'female'", true},
      {"answer.sexe == 'male'", false},
      {"answer.sexe != 'male'", true},
      {"answer.sexe != 'female'", false},
      {"display(answer.sexe) == 'Female'", true},
      {"answer.note == 'x'", false},
      {"answer.note != 'x'", true},  // absent differs from everything
      {"answer.fumeur == 'true'", true},
      {"answer.fumeur == true", true},
      {"answer.actif == 'false'", true},
      {"answer.actif == 'true'", false},
      {"answer.age == '42'", true},
      {"answer.poids == '72.5'", true},
      {"answer.nom == 'Dupont'", true},
      {"answer.nom=='Dupont'", true},
      {"answer.nom == 'Du pont'", false},
      {"answers.motif == 'dyspnee'", true},  // any of the answers
      {"answer.motif == 'dyspnee'", false},  // the first answer only
      {"answers.motif != 'dyspnee'", false},
      {"answer.nom and answer.fumeur", true},
      {"answer.nom and answer.note", false},
      {"answer.note or answer.nom", true},
      {"answer.note or answer.actif", false},
      {"answer.note or answer.actif or answer.fumeur", true},
      {"answer.nom and not answer.note", true},
      {"answer.fumeur or answer.nom and answer.note", true},  // "and" binds tighter
      {"answer.note and answer.nom or answer.fumeur", true},
      {"answer.nom and answer.fumeur and answer.actif", false},
      {"answer.sexe == 'female' and answer.fumeur == 'true'", true},
  };
  TestInput in = patientInput();
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.condition);
    std::string tmpl = R"({"resourceType":"Patient","name":[{"$when":")" +
                       std::string(c.condition) + R"(","family":"{{answer.nom}}"}]})";
    Out out = mapOne(tmpl, in, testName() + "-" + std::to_string(n++));
    ASSERT_TRUE(out.ok);
    EXPECT_EQ(out.res(0, "/name"), c.expected ? R"([{"family":"Dupont"}])" : "<absent>");
  }
}

TEST(MappingWhen, ObjectWithOnlyLiteralMembersFollowsItsCondition) {
  const char* tmpl = R"json({
    "resourceType": "Observation", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2",
                         "display": "Tobacco smoking status"}]},
    "valueCodeableConcept": {"coding": [
      {"$when": "answer.fumeur", "system": "http://snomed.info/sct", "code": "77176002",
       "display": "Smoker"},
      {"$when": "not answer.fumeur", "system": "http://snomed.info/sct", "code": "8392000",
       "display": "Non-smoker"}]},
    "note": [{"$when": "answer.note"}]})json";
  TestInput smoker;
  smoker.boolean("answer.fumeur", true);
  Out a = mapOne(tmpl, smoker, testName() + "-smoker");
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(
      a.res(0, "/valueCodeableConcept"),
      R"({"coding":[{"system":"http://snomed.info/sct","code":"77176002","display":"Smoker"}]})");
  EXPECT_EQ(a.res(0, "/note"), "<absent>");  // {"$when": …} alone is an empty object

  TestInput non_smoker;
  non_smoker.boolean("answer.fumeur", false).text("answer.note", "x");
  Out b = mapOne(tmpl, non_smoker, testName() + "-non-smoker");
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(
      b.res(0, "/valueCodeableConcept"),
      R"({"coding":[{"system":"http://snomed.info/sct","code":"8392000","display":"Non-smoker"}]})");
  EXPECT_EQ(b.res(0, "/note"), "<absent>");
}

// ---------------------------------------------------------------------------------------------
// Resources: when, references, forEach

constexpr const char* kWithDoctor = R"json({
  "name": "test", "bundleType": "transaction",
  "resources": [
    {"key": "patient", "resource": {
      "resourceType": "Patient", "name": [{"family": "{{answer.nom}}"}],
      "generalPractitioner": [{"reference": "{{ref.medecin}}", "display": "Médecin traitant"}]}},
    {"key": "obs", "resource": {
      "resourceType": "Observation", "status": "final", "code": {"text": "Tabac"},
      "subject": {"reference": "{{ref.patient}}"},
      "performer": [{"reference": "{{ref.medecin}}"}],
      "valueBoolean": "{{answer.fumeur}}",
      "note": [{"text": "Vu par {{ref.medecin}}"}]}},
    {"key": "medecin", "when": "answer.medecin", "resource": {
      "resourceType": "Practitioner", "name": [{"text": "{{answer.medecin}}"}]}}
  ]})json";

TEST(MappingResource, WhenDropsTheEntryAndEveryReferenceToIt) {
  TestInput in = patientInput();
  Out out = mapAll(kWithDoctor, in, testName());
  ASSERT_TRUE(out.ok);
  ASSERT_EQ(out.entries(), 2u);
  ASSERT_EQ(out.bundle.resources.size(), 2u);
  EXPECT_EQ(out.bundle.resources[0].key, "patient");
  EXPECT_EQ(out.bundle.resources[1].key, "obs");
  EXPECT_EQ(out.res(0, "/generalPractitioner"), "<absent>");
  EXPECT_EQ(out.res(1, "/performer"), "<absent>");
  EXPECT_EQ(out.res(1, "/note"), "<absent>");
  EXPECT_EQ(out.res(1, "/subject/reference"), "\"" + out.fullUrl("patient") + "\"");
  EXPECT_EQ(out.bundle.json.find("medecin"), std::string::npos);
}

TEST(MappingResource, ReferencesMayPointForwards) {
  TestInput in = patientInput();
  in.text("answer.medecin", "Dr Martin");
  Out out = mapAll(kWithDoctor, in, testName());
  ASSERT_TRUE(out.ok);
  ASSERT_EQ(out.entries(), 3u);
  EXPECT_EQ(out.res(2, "/resourceType"), R"("Practitioner")");
  std::string doctor = out.entry(2, "/fullUrl");
  EXPECT_EQ(doctor, "\"" + out.fullUrl("medecin") + "\"");
  EXPECT_EQ(out.res(0, "/generalPractitioner"),
            R"([{"reference":)" + doctor + R"(,"display":"Médecin traitant"}])");
  EXPECT_EQ(out.res(1, "/performer/0/reference"), doctor);
  EXPECT_EQ(out.res(1, "/note/0/text"), "\"Vu par " + out.fullUrl("medecin") + "\"");
}

TEST(MappingResource, WhenSeesOnlyEarlierResources) {
  TestInput in = patientInput();
  Out out = mapAll(R"json({"name": "test", "resources": [
      {"key": "patient", "resource": {"resourceType": "Patient", "name": [{"family": "{{answer.nom}}"}]}},
      {"key": "after-patient", "when": "ref.patient and refs('pat')",
       "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "a"},
                    "subject": {"reference": "{{ref.patient}}"}}},
      {"key": "before-doctor", "when": "ref.doctor",
       "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "b"},
                    "performer": [{"reference": "{{ref.doctor}}"}]}},
      {"key": "doctor", "resource": {"resourceType": "Practitioner", "name": [{"text": "Dr X"}]}}
    ]})json",
                   in, testName());
  ASSERT_TRUE(out.ok);
  std::vector<std::string> keys;
  for (const auto& r : out.bundle.resources)
    keys.push_back(r.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"patient", "after-patient", "doctor"}));
}

TEST(MappingResource, ForEachSubstitutesVariables) {
  TestInput in = patientInput();
  in.boolean("answer.actif", true);
  const char* mapping = R"json({
    "name": "test", "bundleType": "transaction",
    "resources": [
      {"key": "patient", "resource": {"resourceType": "Patient", "name": [{"family": "{{answer.nom}}"}]}},
      {"key": "obs-${id}", "when": "answer.${id}",
       "forEach": [
         {"id": "poids", "order": 1, "unit": "kg",
          "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
          "component": [{"code": {"text": "Méthode"}, "valueString": "Balance"}]},
         {"id": "taille", "order": 2, "unit": "cm",
          "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body height"}]},
          "component": []},
         {"id": "tel", "order": 3, "unit": "1", "code": {"text": "Jamais écrit"}, "component": []}
       ],
       "resource": {
         "resourceType": "Observation", "status": "final", "code": "${code}",
         "subject": {"reference": "{{ref.patient}}"},
         "valueQuantity": {"value": "{{answer.${id}}}", "unit": "${unit}",
                           "system": "http://unitsofmeasure.org", "code": "${unit}"},
         "note": [{"text": "Mesure n°${order} (${id}, en ${unit}) : {{answer.${id}}} ${unit}"}],
         "component": "${component}"}},
      {"key": "flag-${id}", "forEach": [{"id": "fumeur", "type": "Boolean"}, {"id": "age", "type": "Integer"}],
       "resource": {
         "resourceType": "Observation", "status": "final", "code": {"text": "${id}"},
         "subject": {"reference": "{{ref.patient}}"},
         "value${type}": "{{answer.${id}}}"}}
    ]})json";
  Out out = mapAll(mapping, in, testName());
  ASSERT_TRUE(out.ok);
  std::vector<std::string> keys;
  for (const auto& r : out.bundle.resources)
    keys.push_back(r.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"patient", "obs-poids", "obs-taille", "flag-fumeur",
                                            "flag-age"}));
  ASSERT_EQ(out.entries(), 5u);
  // Whole-value substitution keeps the JSON value (object, array, string).
  EXPECT_EQ(
      out.res(1, "/code"),
      R"({"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]})");
  EXPECT_EQ(out.res(1, "/component"), R"([{"code":{"text":"Méthode"},"valueString":"Balance"}])");
  EXPECT_EQ(out.res(1, "/valueQuantity"),
            R"({"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"})");
  // Text substitution inside strings (numbers by their JSON text), before {{…}} is compiled.
  EXPECT_EQ(out.res(1, "/note/0/text"), R"("Mesure n°1 (poids, en kg) : 72.5 kg")");
  EXPECT_EQ(out.res(2, "/note/0/text"), R"("Mesure n°2 (taille, en cm) : 170 cm")");
  EXPECT_EQ(out.res(2, "/valueQuantity/value"), "170");
  // An empty array variable is an empty array: omitted.
  EXPECT_EQ(out.res(2, "/component"), "<absent>");
  // Substitution inside member names.
  EXPECT_EQ(out.res(3, "/valueBoolean"), "true");
  EXPECT_EQ(out.res(4, "/valueInteger"), "42");
  EXPECT_EQ(out.res(4, "/code/text"), R"("age")");
}

TEST(MappingEach, RepeatsOverAllAnswersAndOverReferences) {
  TestInput in = patientInput();
  const char* mapping = R"json({
    "name": "test", "bundleType": "transaction",
    "tables": {"snomed": {
      "douleur-thoracique": {"system": "http://snomed.info/sct", "code": "29857009", "display": "Chest pain"},
      "dyspnee": {"system": "http://snomed.info/sct", "code": "267036007", "display": "Dyspnea"}}},
    "resources": [
      {"key": "patient", "resource": {"resourceType": "Patient", "name": [{"family": "{{answer.nom}}"}]}},
      {"key": "demande", "resource": {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "subject": {"reference": "{{ref.patient}}"},
        "code": {"coding": [{"$each": "answers.motif", "$value": "{{it}}"}]},
        "reasonCode": [{"$each": "answers.motif", "$value": {
          "coding": ["{{it}}", "{{lookup('snomed', code(it))}}"], "text": "{{display(it)}}"}}],
        "supportingInfo": [{"reference": "{{ref.patient}}"},
                           {"$each": "refs('obs-')", "$value": {"reference": "{{it}}"}},
                           {"$each": "answer.note", "$value": {"reference": "{{it}}"}}],
        "note": [{"$each": "answers.note", "$value": {"text": "{{it}}"}}],
        "orderDetail": [{"text": "Premier motif : {{display(answers.motif)}}"},
                        {"text": "Première mesure : {{refs('obs-')}}"},
                        {"text": "Hors $each : {{it}}"}]}},
      {"key": "obs-${id}", "when": "answer.${id}",
       "forEach": [{"id": "poids"}, {"id": "tel"}, {"id": "age"}],
       "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "${id}"},
                    "subject": {"reference": "{{ref.patient}}"}, "valueString": "{{text(answer.${id})}}"}},
      {"key": "observation-hors-prefixe", "resource": {
        "resourceType": "Observation", "status": "final", "code": {"text": "autre"},
        "subject": {"reference": "{{ref.patient}}"}}}
    ]})json";
  Out out = mapAll(mapping, in, testName());
  ASSERT_TRUE(out.ok);
  ASSERT_EQ(out.entries(), 5u);
  EXPECT_EQ(out.res(1, "/code"),
            "{\"coding\":[{\"system\":\"" + std::string(kMotif) +
                "\",\"code\":\"douleur-thoracique\",\"display\":\"Douleur thoracique\"},"
                "{\"system\":\"" +
                kMotif + "\",\"code\":\"dyspnee\",\"display\":\"Dyspnée\"}]}");
  EXPECT_EQ(out.res(1, "/reasonCode/1/coding/1"),
            R"({"system":"http://snomed.info/sct","code":"267036007","display":"Dyspnea"})");
  EXPECT_EQ(out.res(1, "/reasonCode/0/coding/1/code"), R"("29857009")");
  EXPECT_EQ(out.res(1, "/reasonCode/0/text"), R"("Douleur thoracique")");
  EXPECT_EQ(out.res(1, "/reasonCode/1/text"), R"("Dyspnée")");
  EXPECT_EQ(out.res(1, "/reasonCode/2"), "<absent>");
  // refs('obs-'): the emitted resources whose key starts with the prefix, in file order.
  EXPECT_EQ(out.res(1, "/supportingInfo"), "[{\"reference\":\"" + out.fullUrl("patient") +
                                               "\"},{\"reference\":\"" + out.fullUrl("obs-poids") +
                                               "\"},{\"reference\":\"" + out.fullUrl("obs-age") +
                                               "\"}]");
  EXPECT_EQ(out.res(1, "/note"), "<absent>");  // nothing to repeat over
  // "answers.X" outside $each is its first answer.
  EXPECT_EQ(out.res(1, "/orderDetail/0/text"), R"("Premier motif : Douleur thoracique")");
  // refs() outside $each is the first one; "it" outside $each is absent.
  EXPECT_EQ(out.res(1, "/orderDetail/1/text"),
            "\"Première mesure : " + out.fullUrl("obs-poids") + "\"");
  EXPECT_EQ(out.res(1, "/orderDetail/2"), "<absent>");
}

// ---------------------------------------------------------------------------------------------
// Functions

TEST(MappingEach, OneResourcePerRecordReadingItsFields) {
  TestInput in = patientInput();
  const form::Coding weight{"http://loinc.org", "29463-7", "Body weight"};
  const form::Coding height{"http://loinc.org", "8302-2", "Body height"};
  in.record("vitals", {{"code", Value::ofCoding(weight)},
                       {"value", Value::ofDecimal(71.5)},
                       {"unit", in.keepText("kg")}})
      .record("vitals", {{"code", Value::ofCoding(height)},
                         {"value", Value::ofDecimal(168)},
                         {"unit", in.keepText("cm")}})
      .record("vitals", {{"code", Value::ofCoding(weight)}, {"unit", in.keepText("kg")}});
  const char* mapping = R"json({"resources": [
    {"key": "patient", "resource": {"resourceType": "Patient", "name": [{"family": "{{answer.nom}}"}]}},
    {"key": "vital", "each": "vitals", "when": "it.value",
     "resource": {"resourceType": "Observation", "status": "final",
                  "code": {"coding": ["{{it.code}}"]}, "subject": {"reference": "{{ref.patient}}"},
                  "valueQuantity": {"value": "{{it.value}}", "unit": "{{it.unit}}",
                                    "system": "http://unitsofmeasure.org", "code": "{{it.unit}}"},
                  "note": [{"text": "{{it.missing}}"}]}},
    {"key": "list", "resource": {"resourceType": "List", "status": "current", "mode": "snapshot",
      "entry": [{"$each": "refs('vital')", "$value": {"item": {"reference": "{{it}}"}}}]}}]})json";
  Out out = mapAll(mapping, in, "mapping-each-records");
  ASSERT_EQ(out.doc["entry"].Size(), 4u) << "the record without a value is left out by its when";
  EXPECT_EQ(at(out.doc, "/entry/1/resource/code/coding/0/code"), R"("29463-7")");
  EXPECT_EQ(at(out.doc, "/entry/1/resource/valueQuantity/value"), "71.5");
  EXPECT_EQ(at(out.doc, "/entry/2/resource/valueQuantity/unit"), R"("cm")");
  EXPECT_EQ(get(out.doc, "/entry/1/resource/note"), nullptr) << "an unknown field is absent";
  EXPECT_EQ(at(out.doc, "/entry/3/resource/entry/1/item/reference"),
            at(out.doc, "/entry/2/fullUrl"));
  EXPECT_NE(at(out.doc, "/entry/1/fullUrl"), at(out.doc, "/entry/2/fullUrl"));
}

TEST(MappingBundle, SeveralMappingsFillOneBundleAndAppliesToIsRead) {
  TestInput in = patientInput();
  auto first = compileOk(R"json({"appliesTo": {"documentCode": ["11490-0", "75496-0"]},
    "resources": [{"key": "p", "resource": {"resourceType": "Patient"}}]})json",
                         in);
  auto second =
      compileOk(R"json({"resources": [{"key": "o", "resource": {"resourceType": "Organization",
    "name": "{{answer.nom}}"}}]})json",
                in);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->appliesTo().at("documentCode"),
            (std::vector<std::string>{"11490-0", "75496-0"}));
  EXPECT_TRUE(second->appliesTo().empty());
  std::string text;
  json::JsonOut w(text);
  std::vector<EmittedResource> emitted;
  w.StartArray();
  first->writeEntries(in, 1, w, true, emitted);
  second->writeEntries(in, 2, w, false, emitted);
  w.EndArray();
  rapidjson::Document d;
  d.Parse(text.c_str());
  ASSERT_FALSE(d.HasParseError()) << text;
  ASSERT_EQ(d.Size(), 2u);
  EXPECT_TRUE(d[0].HasMember("request"));
  EXPECT_FALSE(d[1].HasMember("request"));
  ASSERT_EQ(emitted.size(), 2u);
  EXPECT_EQ(emitted[1].resource_type, "Organization");
  EXPECT_EQ(emitted[1].full_url, d[1]["fullUrl"].GetString());
  auto bad = Mapping::compile(
      R"({"appliesTo": ["x"], "resources": [{"key": "p", "resource": {"resourceType": "Patient"}}]})",
      in);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::MappingInvalid);
}

TEST(MappingFunction, CodingTextAndNumberFunctions) {
  TestInput in = patientInput();
  const char* head = R"json("tables": {
      "motif": {"dyspnee": {"system": "http://snomed.info/sct", "code": "267036007", "display": "Dyspnea"}},
      "libelle": {"female": "Féminin", "male": "Masculin", "empty": ""}},)json";
  const char* resource = R"json({
    "resourceType": "Observation", "status": "final", "code": {"text": "Fonctions"},
    "component": [
      {"code": {"text": "code"}, "valueString": "{{code(answer.sexe)}}"},
      {"code": {"text": "code-text"}, "valueString": "{{code(answer.nom)}}"},
      {"code": {"text": "code-int"}, "valueString": "{{code(answer.age)}}"},
      {"code": {"text": "display"}, "valueString": "{{display(answer.sexe)}}"},
      {"code": {"text": "display-text"}, "valueString": "{{display(answer.nom)}}"},
      {"code": {"text": "system"}, "valueString": "{{system(answer.sexe)}}"},
      {"code": {"text": "lookup-object"}, "valueCodeableConcept": {"coding": ["{{lookup('motif', code(answers.motif))}}"]}},
      {"code": {"text": "lookup-string"}, "valueString": "{{lookup('libelle', code(answer.sexe))}}"},
      {"code": {"text": "lookup-coding"}, "valueString": "{{lookup('libelle', answer.sexe)}}"},
      {"code": {"text": "lookup-missing"}, "valueString": "{{lookup('libelle', answer.nom)}}"},
      {"code": {"text": "lookup-empty"}, "valueString": "{{lookup('libelle', 'empty')}}"},
      {"code": {"text": "lookup-literal"}, "valueString": "{{lookup('libelle', 'male')}}"},
      {"code": {"text": "bmi"}, "valueQuantity": {"value": "{{bmi(answer.poids, answer.taille)}}", "unit": "kg/m2"}},
      {"code": {"text": "bmi-absent"}, "valueQuantity": {"value": "{{bmi(answer.poids, answer.tel)}}", "unit": "kg/m2"}},
      {"code": {"text": "year"}, "valueInteger": "{{year(answer.naissance)}}"},
      {"code": {"text": "year-short"}, "valueInteger": "{{year(answer.nom)}}"},
      {"code": {"text": "year-int"}, "valueInteger": "{{year(answer.age)}}"},
      {"code": {"text": "text-int"}, "valueString": "{{text(answer.age)}}"},
      {"code": {"text": "text-dec"}, "valueString": "{{text(answer.poids)}}"},
      {"code": {"text": "text-bool"}, "valueString": "{{text(answer.fumeur)}}"},
      {"code": {"text": "text-false"}, "valueString": "{{text(answer.actif)}}"},
      {"code": {"text": "text-coding"}, "valueString": "{{text(answer.sexe)}}"},
      {"code": {"text": "text-absent"}, "valueString": "{{text(answer.tel)}}"},
      {"code": {"text": "firstWord"}, "valueString": "{{firstWord(answer.prenoms)}}"},
      {"code": {"text": "firstWord-one"}, "valueString": "{{firstWord(answer.nom)}}"},
      {"code": {"text": "nested"}, "valueString": "{{text(year(answer.naissance))}}"},
      {"code": {"text": "interp"}, "valueString": "IMC {{bmi(answer.poids, answer.taille)}}, né(e) en {{year(answer.naissance)}}"}
    ]})json";
  Out out = mapOne(resource, in, testName(), head);
  ASSERT_TRUE(out.ok);
  auto str = [&](std::string_view label) { return component(out, 0, label, "valueString"); };
  EXPECT_EQ(str("code"), R"("female")");
  EXPECT_EQ(str("code-text"), R"("Dupont")");  // text passes through code()
  EXPECT_EQ(str("code-int"), "<absent>");
  EXPECT_EQ(str("display"), R"("Female")");
  EXPECT_EQ(str("display-text"), "<absent>");
  EXPECT_EQ(str("system"), "\"" + std::string(kGender) + "\"");
  EXPECT_EQ(component(out, 0, "lookup-object", "valueCodeableConcept"), "<absent>");  // 1st motif
  EXPECT_EQ(str("lookup-string"), R"("Féminin")");
  EXPECT_EQ(str("lookup-coding"), R"("Féminin")");  // a Coding looks up by its code
  EXPECT_EQ(str("lookup-missing"), "<absent>");
  EXPECT_EQ(str("lookup-empty"), "<absent>");
  EXPECT_EQ(str("lookup-literal"), R"("Masculin")");
  EXPECT_EQ(component(out, 0, "bmi", "valueQuantity"), R"({"value":25.1,"unit":"kg/m2"})");
  EXPECT_EQ(component(out, 0, "bmi-absent", "valueQuantity"), "<absent>");
  EXPECT_EQ(component(out, 0, "year", "valueInteger"), "1985");
  EXPECT_EQ(component(out, 0, "year-short", "valueInteger"), "<absent>");
  EXPECT_EQ(component(out, 0, "year-int", "valueInteger"), "<absent>");
  EXPECT_EQ(str("text-int"), R"("42")");
  EXPECT_EQ(str("text-dec"), R"("72.5")");
  EXPECT_EQ(str("text-bool"), R"("true")");
  EXPECT_EQ(str("text-false"), R"("false")");
  EXPECT_EQ(str("text-coding"), R"("Female")");
  EXPECT_EQ(str("text-absent"), "<absent>");
  EXPECT_EQ(str("firstWord"), R"("Marie")");
  EXPECT_EQ(str("firstWord-one"), R"("Dupont")");
  EXPECT_EQ(str("nested"), R"("1985")");
  EXPECT_EQ(str("interp"), R"("IMC 25.1, né(e) en 1985")");
}

TEST(MappingFunction, LookupReturnsTheTableRowVerbatim) {
  TestInput in;
  in.coding("answer.motif", kMotif, "dyspnee", "Dyspnée");
  Out out = mapOne(R"json({
      "resourceType": "Observation", "status": "final",
      "code": {"coding": ["{{lookup('motif', code(answer.motif))}}"]},
      "valueCodeableConcept": "{{lookup('concept', answer.motif)}}"})json",
                   in, testName(), R"json("tables": {
        "motif": {"dyspnee": {"system": "http://snomed.info/sct", "code": "267036007", "display": "Dyspnea"}},
        "concept": {"dyspnee": {"coding": [{"system": "http://snomed.info/sct", "code": "267036007"}], "text": "Dyspnée"}}},)json");
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(
      out.res(0, "/code"),
      R"({"coding":[{"system":"http://snomed.info/sct","code":"267036007","display":"Dyspnea"}]})");
  EXPECT_EQ(
      out.res(0, "/valueCodeableConcept"),
      R"({"coding":[{"system":"http://snomed.info/sct","code":"267036007"}],"text":"Dyspnée"})");
}

TEST(MappingFunction, BmiRoundsToOneDecimalAndNeedsTwoPositiveNumbers) {
  struct Case {
    Value kg;
    Value cm;
    const char* expected;
  };
  const Case cases[] = {
      {Value::ofDecimal(72.5), Value::ofInteger(170), "25.1"},    // 25.086…
      {Value::ofInteger(80), Value::ofInteger(180), "24.7"},      // 24.691…
      {Value::ofDecimal(70), Value::ofDecimal(175), "22.9"},      // 22.857…
      {Value::ofInteger(90), Value::ofInteger(150), "40.0"},      // exactly 40
      {Value::ofInteger(0), Value::ofInteger(170), "<absent>"},   // zero weight
      {Value::ofInteger(70), Value::ofInteger(0), "<absent>"},    // zero height
      {Value::ofInteger(70), Value{}, "<absent>"},                // absent height
      {Value::ofString("70"), Value::ofInteger(170), "<absent>"}  // text is not a number
  };
  const char* tmpl = R"json({
    "resourceType": "Observation", "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5", "display": "Body mass index (BMI) [Ratio]"}]},
    "valueQuantity": {"value": "{{bmi(answer.poids, answer.taille)}}", "unit": "kg/m2",
                      "system": "http://unitsofmeasure.org", "code": "kg/m2"}})json";
  int n = 0;
  for (const Case& c : cases) {
    TestInput in;
    in.add("answer.poids", c.kg);
    if (c.cm.present()) in.add("answer.taille", c.cm);
    SCOPED_TRACE(n);
    Out out = mapOne(tmpl, in, testName() + "-" + std::to_string(n++));
    ASSERT_TRUE(out.ok);
    EXPECT_EQ(out.res(0, "/valueQuantity/value"), c.expected);
  }
}

TEST(MappingFunction, FirstWordSkipsLeadingSeparators) {
  const std::pair<const char*, const char*> cases[] = {
      {"Marie Louise", R"("Marie")"},
      {"Jean-Pierre Paul", R"("Jean-Pierre")"},
      {"  Jean, Paul", R"("Jean")"},
      {"Anne,Sophie", R"("Anne")"},
      {" , ", "<absent>"},
  };
  for (const auto& [given, expected] : cases) {
    SCOPED_TRACE(given);
    TestInput in;
    in.text("answer.prenoms", given);
    Out out = mapOne(
        R"({"resourceType":"Patient","name":[{"given":["{{firstWord(answer.prenoms)}}"]}]})", in);
    ASSERT_TRUE(out.ok);
    EXPECT_EQ(out.res(0, "/name/0/given/0"), expected);
  }
}

// ---------------------------------------------------------------------------------------------
// Bundle, requests, ids

constexpr const char* kThree = R"json({
  "name": "trois", "source": "https://liaison.example.org/fhir/Questionnaire/test",
  "bundleType": "%TYPE%",
  "resources": [
    {"key": "patient",
     "request": {"method": "POST", "url": "Patient",
                 "ifNoneExist": "identifier={{ins.system}}|{{ins.value}}"},
     "resource": {"resourceType": "Patient", "name": [{"family": "{{answer.nom}}"}]}},
    {"key": "obs-tabac", "resource": {
      "resourceType": "Observation", "status": "final", "code": {"text": "Tabac"},
      "subject": {"reference": "{{ref.patient}}"}, "valueBoolean": "{{answer.fumeur}}"}},
    {"key": "demande", "request": {"method": "PUT", "url": "ServiceRequest?identifier=urn:x|{{answer.nom}}"},
     "resource": {
      "resourceType": "ServiceRequest", "status": "active", "intent": "order",
      "subject": {"reference": "{{ref.patient}}"},
      "supportingInfo": [{"reference": "{{ref.obs-tabac}}"}]}}
  ]})json";

std::string threeOfType(std::string_view type) {
  std::string m = kThree;
  m.replace(m.find("%TYPE%"), 6, type);
  return m;
}

TEST(MappingBundle, RequestsDefaultToPostOfTheType) {
  TestInput in = patientInput();
  in.text("ins.system", "urn:oid:1.2.250.1.213.1.4.8").text("ins.value", "285057800608436");
  Out out = mapAll(threeOfType("transaction"), in, testName());
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(at(out.doc, "/resourceType"), R"("Bundle")");
  EXPECT_EQ(at(out.doc, "/type"), R"("transaction")");
  ASSERT_EQ(out.entries(), 3u);
  EXPECT_EQ(
      out.entry(0, "/request"),
      R"({"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:oid:1.2.250.1.213.1.4.8|285057800608436"})");
  EXPECT_EQ(out.entry(1, "/request"), R"({"method":"POST","url":"Observation"})");
  EXPECT_EQ(out.entry(2, "/request"),
            R"({"method":"PUT","url":"ServiceRequest?identifier=urn:x|Dupont"})");

  TestInput no_ins = patientInput();  // the conditional create loses its condition
  Out plain = mapAll(threeOfType("transaction"), no_ins, testName() + "-no-ins");
  ASSERT_TRUE(plain.ok);
  EXPECT_EQ(plain.entry(0, "/request"), R"({"method":"POST","url":"Patient"})");
}

TEST(MappingBundle, CollectionAndBatchBundles) {
  TestInput in = patientInput();
  Out collection = mapAll(threeOfType("collection"), in, testName() + "-collection");
  ASSERT_TRUE(collection.ok);
  EXPECT_EQ(at(collection.doc, "/type"), R"("collection")");
  ASSERT_EQ(collection.entries(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(collection.entry(i, "/request"), "<absent>");
    EXPECT_NE(collection.entry(i, "/fullUrl"), "<absent>");
  }
  Out batch = mapAll(threeOfType("batch"), in, testName() + "-batch");
  ASSERT_TRUE(batch.ok);
  EXPECT_EQ(at(batch.doc, "/type"), R"("batch")");
  EXPECT_EQ(batch.entry(1, "/request"), R"({"method":"POST","url":"Observation"})");
}

TEST(MappingBundle, BundleWithoutEntriesHasNoEntryArray) {
  TestInput in;  // nothing answered: every resource is conditional
  Out out = mapAll(R"json({"name": "test", "resources": [
      {"key": "patient", "when": "answer.nom",
       "resource": {"resourceType": "Patient", "name": [{"family": "{{answer.nom}}"}]}}]})json",
                   in, testName());
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.bundle.json, R"({"resourceType":"Bundle","type":"transaction"})");
  EXPECT_TRUE(out.bundle.resources.empty());
}

TEST(MappingBundle, IdsAreDeterministicVersion4Uuids) {
  TestInput in = patientInput();
  auto m = compileOk(threeOfType("transaction"), in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name(), "trois");
  EXPECT_EQ(m->sourceName(), "https://liaison.example.org/fhir/Questionnaire/test");
  Out a = runMapping(*m, in, testName(), 7);
  Out b = runMapping(*m, in, {}, 7);
  Out c = runMapping(*m, in, testName() + "-other-seed", 8);
  ASSERT_TRUE(a.ok && b.ok && c.ok);
  EXPECT_EQ(a.bundle.json, b.bundle.json);
  EXPECT_NE(a.bundle.json, c.bundle.json);

  const std::regex uuid(
      "urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  ASSERT_EQ(a.bundle.resources.size(), 3u);
  std::set<std::string> all;
  for (std::size_t i = 0; i < a.bundle.resources.size(); ++i) {
    const EmittedResource& r = a.bundle.resources[i];
    SCOPED_TRACE(r.key);
    EXPECT_TRUE(std::regex_match(r.full_url, uuid)) << r.full_url;
    EXPECT_EQ(a.entry(i, "/fullUrl"), "\"" + r.full_url + "\"");
    EXPECT_EQ(a.res(i, "/resourceType"), "\"" + r.resource_type + "\"");
    EXPECT_EQ(r.full_url, "urn:uuid:" + deriveUuid(7, r.key));
    EXPECT_NE(r.full_url, c.bundle.resources[i].full_url);
    EXPECT_EQ(c.bundle.resources[i].full_url, "urn:uuid:" + deriveUuid(8, r.key));
    all.insert(r.full_url);
    all.insert(c.bundle.resources[i].full_url);
  }
  EXPECT_EQ(all.size(), 6u);
  EXPECT_EQ(a.res(2, "/supportingInfo/0/reference"), "\"" + a.fullUrl("obs-tabac") + "\"");
  EXPECT_EQ(deriveUuid(7, "patient"), deriveUuid(7, "patient"));
  EXPECT_NE(deriveUuid(7, "patient"), deriveUuid(7, "patient2"));
}

// ---------------------------------------------------------------------------------------------
// Compile errors

TEST(MappingCompile, ErrorsNameTheirPlace) {
  struct Case {
    const char* what;
    std::string mapping;
    std::vector<std::string> detail;  // fragments of the error detail
  };
  auto patient = [](std::string_view member) {
    return oneResource(R"({"resourceType":"Patient",)" + std::string(member) + "}");
  };
  const std::vector<Case> cases = {
      {"invalid JSON", R"({"resources": [)", {"mapping JSON", "offset"}},
      {"not an object", "[]", {"resources"}},
      {"no resources", R"({"name": "x"})", {"resources"}},
      {"empty resources", R"({"name": "x", "resources": []})", {"resources"}},
      {"only an empty forEach",
       R"({"resources": [{"key": "a-${x}", "forEach": [], "resource": {"resourceType": "Patient"}}]})",
       {"resources"}},
      {"resource without key",
       R"({"resources": [{"resource": {"resourceType": "Patient"}}]})",
       {"resources[0]", "key"}},
      {"resource without resource", R"({"resources": [{"key": "a"}]})", {"resources[0]"}},
      {"second resource without key",
       R"({"resources": [{"key": "a", "resource": {"resourceType": "Patient"}}, {"resource": {}}]})",
       {"resources[1]"}},
      {"no resourceType",
       R"({"resources": [{"key": "a", "resource": {"id": "x"}}]})",
       {"a:", "resourceType"}},
      {"duplicate key",
       R"({"resources": [{"key": "a", "resource": {"resourceType": "Patient"}},
                         {"key": "a", "resource": {"resourceType": "Patient"}}]})",
       {"duplicate resource key a"}},
      {"duplicate key via forEach",
       R"({"resources": [{"key": "obs-${x}", "forEach": [{"x": "1"}, {"x": "1"}],
                          "resource": {"resourceType": "Observation"}}]})",
       {"duplicate resource key obs-1"}},
      {"empty request",
       R"({"resources": [{"key": "a", "request": {}, "resource": {"resourceType": "Patient"}}]})",
       {"a.request", "method"}},
      {"request without url",
       R"({"resources": [{"key": "a", "request": {"method": "PUT"}, "resource": {"resourceType": "Patient"}}]})",
       {"a.request", "url"}},
      {"forEach not an array",
       R"({"resources": [{"key": "a", "forEach": {}, "resource": {"resourceType": "Patient"}}]})",
       {"resources[0]", "forEach"}},
      {"unknown name",
       patient(R"("name": [{"family": "{{answer.inconnu}}"}])"),
       {"r.name[0].family", "unknown name answer.inconnu"}},
      {"unknown name in interpolation",
       patient(R"("name": [{"text": "M. {{answer.inconnu}}"}])"),
       {"r.name[0].text", "unknown name answer.inconnu"}},
      {"unknown answers",
       patient(R"("gender": "{{answers.inconnu}}")"),
       {"r.gender", "unknown name answers.inconnu"}},
      {"unknown reference",
       patient(R"("link": [{"other": {"reference": "{{ref.nope}}"}}])"),
       {"r.link[0].other.reference", "unknown resource key nope"}},
      {"unknown function",
       patient(R"("gender": "{{lower(answer.nom)}}")"),
       {"r.gender", "unknown function lower"}},
      {"wrong arity",
       patient(R"("gender": "{{code(answer.sexe, answer.nom)}}")"),
       {"r.gender", "wrong argument count for code"}},
      {"wrong arity bmi",
       patient(R"("gender": "{{bmi(answer.poids)}}")"),
       {"wrong argument count for bmi"}},
      {"lookup of an unknown table",
       patient(R"("gender": "{{lookup('sexe', answer.sexe)}}")"),
       {"r.gender", "unknown table sexe"}},
      {"lookup without a table name",
       patient(R"("gender": "{{lookup(answer.nom, answer.sexe)}}")"),
       {"r.gender", "table name"}},
      {"refs without a prefix", patient(R"("gender": "{{refs(answer.nom)}}")"), {"refs()"}},
      {"unbound variable",
       patient(R"("name": [{"text": "{{answer.${x}}}"}])"),
       {"r.name[0].text", "unbound variable"}},
      {"unbound variable in text",
       patient(R"("gender": "${sexe}")"),
       {"r.gender", "unbound variable"}},
      {"unbound variable in a member name",
       patient(R"("value${type}": "x")"),
       {"r", "unbound variable", "value${type}"}},
      {"unterminated {{",
       patient(R"("name": [{"text": "M. {{answer.nom"}])"),
       {"r.name[0].text", "unterminated {{"}},
      {"unterminated second {{",
       patient(R"("name": [{"text": "{{answer.nom}} {{answer.nom"}])"),
       {"r.name[0].text", "unterminated {{"}},
      {"empty expression", patient(R"("gender": "{{}}")"), {"r.gender", "expression expected"}},
      {"trailing text in expression",
       patient(R"("gender": "{{answer.nom answer.sexe}}")"),
       {"r.gender", "unexpected"}},
      {"unclosed call", patient(R"("gender": "{{code(answer.sexe}}")"), {"r.gender", "')'"}},
      {"bad condition: single =",
       R"({"resources": [{"key": "a", "when": "answer.nom = 'x'", "resource": {"resourceType": "Patient"}}]})",
       {"a:", "unexpected"}},
      {"bad condition: no literal",
       R"({"resources": [{"key": "a", "when": "answer.nom ==", "resource": {"resourceType": "Patient"}}]})",
       {"a:", "literal expected"}},
      {"bad condition: dangling and",
       R"({"resources": [{"key": "a", "when": "answer.nom and", "resource": {"resourceType": "Patient"}}]})",
       {"a:", "expression expected"}},
      {"bad condition: parentheses",
       R"j({"resources": [{"key": "a", "when": "not (answer.nom or answer.tel)", "resource": {"resourceType": "Patient"}}]})j",
       {"a:"}},
      {"bad condition: unterminated quote",
       R"({"resources": [{"key": "a", "when": "answer.nom == 'x", "resource": {"resourceType": "Patient"}}]})",
       {"a:", "unterminated string"}},
      {"bad $when",
       patient(R"("name": [{"$when": "answer.nom ==", "text": "x"}])"),
       {"r.name[0]", "literal expected"}},
      {"$when not a string",
       patient(R"("name": [{"$when": true, "text": "x"}])"),
       {"r.name[0]", "$when"}},
      {"$each without $value",
       patient(R"("name": [{"$each": "answers.nom"}])"),
       {"r.name[0]", "$value"}},
      {"$each as a member",
       patient(R"("name": {"$each": "answers.nom", "$value": {"text": "{{it}}"}})"),
       {"r.name", "$each"}},
      {"bad request",
       R"({"resources": [{"key": "a", "request": {"method": "POST", "url": "{{nope}}"},
                                          "resource": {"resourceType": "Patient"}}]})",
       {"a.request.url", "unknown name nope"}},
      {"table not an object",
       oneResource(R"({"resourceType":"Patient"})", R"("tables": {"t": 1},)"),
       {"table"}},
  };
  TestInput schema;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto m = Mapping::compile(c.mapping, schema);
    if (m) {
      ADD_FAILURE() << "compiled: " << c.mapping;
      continue;
    }
    EXPECT_EQ(m.error().code, Errc::MappingInvalid);
    for (const std::string& fragment : c.detail)
      EXPECT_NE(m.error().detail.find(fragment), std::string::npos)
          << "\"" << fragment << "\" not in: " << m.error().detail;
  }
}

// The worked example of mappings/README.md compiles and does what the README says.
class NamedInput final : public SourceSchema, public Source {
 public:
  explicit NamedInput(std::vector<std::string> names)
      : names_(std::move(names)), values_(names_.size()) {}
  std::optional<int> bind(std::string_view name) const override {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) return static_cast<int>(i);
    }
    return std::nullopt;
  }
  std::span<const Value> values(int binding) const override {
    return values_[static_cast<std::size_t>(binding)];
  }
  void add(std::string_view name, Value v) {
    auto b = bind(name);
    ASSERT_TRUE(b) << name;
    values_[static_cast<std::size_t>(*b)].push_back(v);
  }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<Value>> values_;
};

TEST(MappingCompile, ReadmeWorkedExample) {
  std::string readme = test::readRepoFile("mappings/README.md");
  std::size_t section = readme.find("## Worked example");
  ASSERT_NE(section, std::string::npos);
  std::size_t open = readme.find("```json\n", section);
  ASSERT_NE(open, std::string::npos);
  open += 8;
  std::string example = readme.substr(open, readme.find("```", open) - open);

  NamedInput in({"answer.patient-nir", "answer.patient-nom", "answer.patient-prenoms",
                 "answer.patient-sexe", "answer.patient-date-naissance", "answer.motif",
                 "answer.lesion-localisation", "answer.lesion-description", "answer.photos-jointes",
                 "ins.value", "ins.system", "ins.use", "request.status", "request.authored",
                 "ess.name"});
  const form::Coding female{kGender, "female", "Féminin"};
  const form::Coding avis{"https://liaison.example.org/fhir/CodeSystem/dermato-motif", "avis",
                          "Avis diagnostique"};
  const form::Coding visage{"https://liaison.example.org/fhir/CodeSystem/dermato-site", "visage",
                            "Visage"};
  in.add("answer.patient-nom", Value::ofString("Dupont"));
  in.add("answer.patient-prenoms", Value::ofString("Marie Louise"));
  in.add("answer.patient-sexe", Value::ofCoding(female));
  in.add("answer.patient-date-naissance", Value::ofString("1985-04-12"));
  in.add("answer.motif", Value::ofCoding(avis));
  in.add("answer.lesion-localisation", Value::ofCoding(visage));
  in.add("answer.photos-jointes", Value::ofBool(true));
  in.add("request.status", Value::ofString("active"));
  in.add("request.authored", Value::ofString("2026-11-23T10:00:00Z"));
  in.add("ess.name", Value::ofString("Dermato+"));

  auto m = compileOk(example, in);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sourceName(), "https://liaison.example.org/fhir/Questionnaire/dermato-plus-demande");
  Out out = runMapping(*m, in, testName());
  ASSERT_TRUE(out.ok);
  ASSERT_EQ(out.entries(), 3u);
  EXPECT_EQ(out.entry(0, "/request"), R"({"method":"POST","url":"Patient"})");  // no valid NIR
  EXPECT_EQ(out.res(0, "/identifier"), "<absent>");
  EXPECT_EQ(out.res(1, "/bodySite/coding/1/code"), R"("89545001")");
  EXPECT_EQ(out.res(2, "/supportingInfo/0/reference"), "\"" + out.fullUrl("obs-lesion") + "\"");
  EXPECT_EQ(out.res(2, "/note/0/text"), R"("Photographies jointes au message MSSanté.")");
}

TEST(MappingCompile, RealCardioPlusMappingCompiles) {
  const form::Questionnaire& q = test::cardioPlus()->questionnaire;
  pipeline::FormSchema schema(q);
  const std::string text = test::readRepoFile("mappings/cardio-plus-fiche-demande.json");
  // It uses the deployment's canonical base: without it, an unbound variable.
  auto unbound = Mapping::compile(text, schema);
  ASSERT_FALSE(unbound);
  EXPECT_NE(unbound.error().detail.find("${canonical}"), std::string::npos);
  auto m = Mapping::compile(text, schema, {{"canonical", "https://gw.example/fhir"}});
  ASSERT_TRUE(m) << m.error().detail;
  EXPECT_EQ(m->name(), "cardio-plus-fiche-demande");
  EXPECT_EQ(m->sourceName(), q.url);
  EXPECT_FALSE(q.url.empty());
  // The schema is what makes names valid: the same file does not compile against another.
  TestInput other;
  auto wrong = Mapping::compile(text, other, {{"canonical", "https://gw.example/fhir"}});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::MappingInvalid);
  EXPECT_EQ(wrong.error().detail.find("unbound"), std::string::npos) << wrong.error().detail;
}

}  // namespace
}  // namespace liaison::map
