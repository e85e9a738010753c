// The configuration schemas (schemas/*.schema.json) and their validator: every error named by its
// path in plain words, and every configuration the repository ships or documents valid.

#include "app/config_schema.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/schema.h>

namespace liaison::app {
namespace {

std::string repoFile(const std::string& relative) {
  std::ifstream in(std::string(LIAISON_SOURCE_DIR) + "/" + relative, std::ios::binary);
  EXPECT_TRUE(in) << relative;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const ConfigSchema& schema(const std::string& name) {
  static std::map<std::string, ConfigSchema> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) {
    auto parsed = ConfigSchema::parse(repoFile("schemas/" + name));
    if (!parsed) ADD_FAILURE() << name << ": " << parsed.error().detail;
    it = loaded.emplace(name, std::move(*parsed)).first;
  }
  return it->second;
}

std::vector<std::string> errorsOf(const std::string& schema_name, const std::string& json) {
  std::vector<std::string> out;
  for (const SchemaError& e : schema(schema_name).validate(std::string_view(json)))
    out.push_back(toString(e));
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& e : v)
    s += e + "\n";
  return s;
}

// RapidJSON's own validator agrees with the walk that explains the errors.
bool rapidJsonAccepts(const std::string& schema_name, const std::string& json) {
  rapidjson::Document sd;
  sd.Parse(repoFile("schemas/" + schema_name).c_str());
  rapidjson::SchemaDocument compiled(sd);
  rapidjson::Document d;
  d.Parse(json.c_str());
  rapidjson::SchemaValidator v(compiled);
  return !d.HasParseError() && d.Accept(v);
}

const char* kServe = "serve.schema.json";

// The README's example, as an operator would copy it.
const std::string kReadmeServe = R"({"listen": {"address": "0.0.0.0", "port": 8443},
   "tls": {"cert": "server.crt", "key": "server.key", "clientCa": "ca.crt", "requireClientCert": true},
   "database": "host=/run/postgresql dbname=liaison user=liaison_server",
   "baseUrl": "https://liaison.example/fhir",
   "threads": {"io": 2, "workers": 4},
   "limits": {"bodyBytes": 16777216, "headerBytes": 16384, "readTimeoutMs": 30000, "idleTimeoutMs": 60000}})";

TEST(ConfigSchema, ValidConfigurationHasNoError) {
  EXPECT_EQ(joined(errorsOf(kServe, kReadmeServe)), "");
  EXPECT_EQ(joined(errorsOf(kServe, R"({"baseUrl": "http://127.0.0.1:8080"})")), "");
  EXPECT_TRUE(rapidJsonAccepts(kServe, kReadmeServe));
}

// The public base URL is the configuration's, never a request's Host header (issue 14).
TEST(ConfigSchema, BaseUrlIsRequired) {
  EXPECT_EQ(joined(errorsOf(kServe, "{}")), "baseUrl: required setting missing\n");
  EXPECT_FALSE(rapidJsonAccepts(kServe, "{}"));
  for (const char* bad :
       {R"({"baseUrl": "gw.example/fhir"})", R"({"baseUrl": "https://gw.example/"})",
        R"({"baseUrl": "https://gw.example/fhir?x=1"})"}) {
    EXPECT_EQ(joined(errorsOf(kServe, bad)),
              "baseUrl: https://host[:port][/path] without a trailing '/' expected\n")
        << bad;
    EXPECT_FALSE(rapidJsonAccepts(kServe, bad)) << bad;
  }
  EXPECT_TRUE(rapidJsonAccepts(kServe, R"({"baseUrl": "https://gw.example:8443/fhir/r4"})"));
}

TEST(ConfigSchema, MisspeltSettingNamedByItsPath) {
  auto e = errorsOf(
      kServe,
      R"({"baseUrl": "https://gw.test/fhir", "tls": {"cert": "a", "key": "b", "requireClientCerts": true}})");
  ASSERT_EQ(e.size(), 1u) << joined(e);
  EXPECT_EQ(e[0], "tls.requireClientCerts: unknown setting");
  EXPECT_FALSE(rapidJsonAccepts(
      kServe, R"({"baseUrl": "https://gw.test/fhir", "tls": {"requireClientCerts": true}})"));

  EXPECT_EQ(joined(errorsOf(kServe, R"({"baseUrl": "https://gw.test/fhir", "colour": "blue"})")),
            "colour: unknown setting\n");
  EXPECT_EQ(
      joined(errorsOf(
          kServe,
          R"({"baseUrl": "https://gw.test/fhir", "mail": {"gateway": {"address": "a@b"}, "mailboxes": [{"name": "x", "url": "imaps://h", "ca": "ca.crt", "pollSecond": 3}]}})")),
      "mail.mailboxes[0].pollSecond: unknown setting\n");
  EXPECT_EQ(
      joined(errorsOf(
          kServe,
          R"({"baseUrl": "https://gw.test/fhir", "mail": {"gateway": {"address": "a@b"}, "outbox": {"retries": 1}}})")),
      "mail.outbox.retries: unknown setting\n");
  // A name that is not an identifier is quoted, control characters escaped.
  EXPECT_EQ(
      joined(errorsOf(kServe, R"({"baseUrl": "https://gw.test/fhir", "listen": {"a.b\n": 1}})")),
      "listen[\"a.b\\n\"]: unknown setting\n");
}

TEST(ConfigSchema, WrongTypesAndRangesInPlainWords) {
  EXPECT_EQ(joined(errorsOf(
                kServe, R"({"baseUrl": "https://gw.test/fhir", "limits": {"bodyBytes": "16M"}})")),
            "limits.bodyBytes: integer from 1024 to 1073741824 expected\n");
  EXPECT_EQ(joined(errorsOf(kServe,
                            R"({"baseUrl": "https://gw.test/fhir", "limits": {"bodyBytes": 10}})")),
            "limits.bodyBytes: integer from 1024 to 1073741824 expected\n");
  EXPECT_EQ(joined(errorsOf(kServe,
                            R"({"baseUrl": "https://gw.test/fhir", "listen": {"port": 8443.5}})")),
            "listen.port: integer from 0 to 65535 expected\n");
  EXPECT_EQ(
      joined(errorsOf(
          kServe, R"({"baseUrl": "https://gw.test/fhir", "tls": {"requireClientCert": "yes"}})")),
      "tls.requireClientCert: true or false expected\n");
  EXPECT_EQ(joined(errorsOf(kServe, R"({"baseUrl": "https://gw.test/fhir", "tls": {"cert": ""}})")),
            "tls.cert: non-empty string expected\n");
  EXPECT_EQ(joined(errorsOf(kServe, R"({"baseUrl": "https://gw.test/fhir", "tls": true})")),
            "tls: object expected\n");
  EXPECT_EQ(joined(errorsOf(kServe, R"([1])")), "(top level): object expected\n");
  for (const char* bad : {R"({"limits": {"bodyBytes": "16M"}})", R"({"listen": {"port": 1e9}})",
                          R"({"tls": true})", R"({"mail": {}})"}) {
    EXPECT_FALSE(rapidJsonAccepts(kServe, bad)) << bad;
  }
}

TEST(ConfigSchema, EveryErrorIsListed) {
  auto e = errorsOf(
      kServe,
      R"({"baseUrl": "https://gw.test/fhir", "listen": {"port": -1, "host": "x"}, "tls": {"enabled": 1},
      "mail": {"gateway": {"address": "nobody"},
               "mailboxes": [{"name": "a b", "url": "http://x"}],
               "smtp": {"url": "smtps://x", "ca": "ca", "timeoutSeconds": 0}}})");
  const std::string all = joined(e);
  for (const char* expected :
       {"listen.port: integer from 0 to 65535 expected", "listen.host: unknown setting",
        "tls.enabled: true or false expected",
        "mail.gateway.address: a mail address (name@domain) expected",
        "mail.mailboxes[0].ca: required setting missing",
        "mail.mailboxes[0].name: a short name without spaces or '/' expected",
        "mail.mailboxes[0].url: imaps://host:port or imap://host:port expected",
        "mail.smtp.timeoutSeconds: integer from 1 to 3600 expected"}) {
    EXPECT_NE(all.find(expected), std::string::npos) << expected << "\nin:\n" << all;
  }
  EXPECT_EQ(e.size(), 8u) << all;
  EXPECT_EQ(joined(errorsOf(kServe, R"({"baseUrl": "https://gw.test/fhir", "mail": {}})")),
            "mail.gateway: required setting missing\n");
}

TEST(ConfigSchema, NotJsonAndHostileNesting) {
  auto e = errorsOf(kServe, "{\"listen\": ");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].rfind("(top level): not JSON: ", 0), 0u) << e[0];
  const std::string deep = "{\"log\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(joined(errorsOf(kServe, deep)), "(top level): nested too deeply\n");
  EXPECT_FALSE(ConfigSchema::parse("not a schema"));
  // A patterned value far longer than any real one: refused, not matched (std::regex recurses).
  const std::string long_name =
      R"({"baseUrl": "https://gw.test/fhir", "mail": {"gateway": {"address": "a@b"}, "mailboxes": [{"name": ")" +
      std::string(1 << 20, 'x') + R"(", "url": "imaps://h", "ca": "ca.pem"}]}})";
  EXPECT_EQ(joined(errorsOf(kServe, long_name)),
            "mail.mailboxes[0].name: at most 4096 characters expected\n");
}

// A keyword the walk does not read still fails the document, through RapidJSON's verdict, with the
// path of the value it rejected.
TEST(ConfigSchema, RapidJsonVerdictIsTheBackstop) {
  auto s = ConfigSchema::parse(
      R"({"type": "object", "properties": {"tls": {"type": "object", "dependencies": {"key": ["cert"]}}}})");
  ASSERT_TRUE(s);
  rapidjson::Document d;
  d.Parse(R"({"tls": {"key": "server.key"}})");
  auto errors = s->validate(d);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(toString(errors[0]), "tls: fails the schema's \"dependencies\" rule");
  d.Parse(R"({"tls": {"key": "server.key", "cert": "server.crt"}})");
  EXPECT_TRUE(s->validate(d).empty());
}

std::vector<std::string> readmeConfigurations();

// Every member of `v`, at any depth, replaced in turn by values of every JSON type and renamed;
// `check` runs on each variant, then the member is restored.
void mutateEach(rapidjson::Document& d, rapidjson::Value& v, const std::string& at,
                const std::function<void(const std::string&)>& check) {
  auto& a = d.GetAllocator();
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      const std::string name(m.name.GetString(), m.name.GetStringLength());
      rapidjson::Value saved(m.value, a);
      rapidjson::Value variants[] = {rapidjson::Value("x"),
                                     rapidjson::Value(""),
                                     rapidjson::Value(7),
                                     rapidjson::Value(-1),
                                     rapidjson::Value(true),
                                     rapidjson::Value(rapidjson::kObjectType),
                                     rapidjson::Value(rapidjson::kArrayType),
                                     rapidjson::Value()};
      for (rapidjson::Value& variant : variants) {
        m.value = variant;
        check(at + "/" + name);
      }
      m.value.CopyFrom(saved, a);
      m.name.SetString((name + "x").c_str(), a);
      check(at + "/" + name + "x");
      m.name.SetString(name.c_str(), a);
      mutateEach(d, m.value, at + "/" + name, check);
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      mutateEach(d, v[i], at + "/" + std::to_string(i), check);
  }
}

// The walk that names the errors and RapidJSON's validator agree on every variant of the shipped
// configurations: no error the schema would not raise, no failure left unexplained.
TEST(ConfigSchema, ErrorWalkAgreesWithRapidJsonOnEveryVariant) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {kServe, readmeConfigurations().at(0)},
      {kServe, readmeConfigurations().at(1)},
      {"ess.schema.json", repoFile("profiles/cardio-plus/ess.json")},
      {"mss-intake.schema.json", repoFile("profiles/mssante/intake.json")},
      {"incoming.schema.json", repoFile("profiles/fhir/incoming.json")},
      {"policy.schema.json", repoFile("profiles/policy.json")}};
  int variants = 0;
  for (const auto& [schema_name, text] : files) {
    rapidjson::Document sd;
    sd.Parse(repoFile("schemas/" + schema_name).c_str());
    rapidjson::SchemaDocument compiled(sd);
    rapidjson::Document d;
    d.Parse(text.c_str());
    ASSERT_FALSE(d.HasParseError()) << schema_name;
    mutateEach(d, d, "", [&](const std::string& at) {
      rapidjson::SchemaValidator v(compiled);
      const bool accepted = d.Accept(v);
      const auto errors = schema(schema_name).validate(d);
      ++variants;
      bool backstop_only = errors.size() == 1 && errors[0].message.find("fails the schema") == 0;
      EXPECT_EQ(errors.empty(), accepted) << schema_name << " " << at;
      EXPECT_FALSE(backstop_only) << schema_name << " " << at << ": " << toString(errors[0]);
    });
  }
  EXPECT_GT(variants, 1500);
}

// Every JSON block of the README that shows a configuration: the serve example and its "mail"
// section (a member, completed into an object), as an operator would copy them.
std::vector<std::string> readmeConfigurations() {
  const std::string readme = repoFile("README.md");
  std::vector<std::string> blocks;
  const std::string open = "```json\n";
  for (std::size_t at = readme.find(open); at != std::string::npos;
       at = readme.find(open, at + 1)) {
    const std::size_t begin = at + open.size();
    const std::size_t end = readme.find("```", begin);
    std::string block = readme.substr(begin, end - begin);
    if (block.find("\"mail\":") != std::string::npos && block.find('{') > block.find("\"mail\""))
      block = "{\"baseUrl\": \"https://liaison.example/fhir\", " + block + "}";
    blocks.push_back(block);
  }
  return blocks;
}

TEST(ConfigSchema, ShippedAndDocumentedConfigurationsAreValid) {
  const auto readme = readmeConfigurations();
  ASSERT_GE(readme.size(), 2u);
  bool mail = false;
  for (const std::string& block : readme) {
    EXPECT_EQ(joined(errorsOf(kServe, block)), "") << block;
    EXPECT_TRUE(rapidJsonAccepts(kServe, block)) << block;
    mail = mail || block.find("\"mailboxes\"") != std::string::npos;
  }
  EXPECT_TRUE(mail);
  for (const char* ess : {"profiles/cardio-plus/ess.json", "tests/data/ess-dermato/ess.json"}) {
    EXPECT_EQ(joined(errorsOf("ess.schema.json", repoFile(ess))), "") << ess;
    EXPECT_TRUE(rapidJsonAccepts("ess.schema.json", repoFile(ess))) << ess;
  }
  EXPECT_EQ(joined(errorsOf("mss-intake.schema.json", repoFile("profiles/mssante/intake.json"))),
            "");
  EXPECT_TRUE(rapidJsonAccepts("mss-intake.schema.json", repoFile("profiles/mssante/intake.json")));
  EXPECT_EQ(joined(errorsOf("incoming.schema.json", repoFile("profiles/fhir/incoming.json"))), "");
  EXPECT_TRUE(rapidJsonAccepts("incoming.schema.json", repoFile("profiles/fhir/incoming.json")));
  EXPECT_EQ(joined(errorsOf("policy.schema.json", repoFile("profiles/policy.json"))), "");
  EXPECT_TRUE(rapidJsonAccepts("policy.schema.json", repoFile("profiles/policy.json")));
}

// A copy of a shipped file with one change, as an operator's typo would make it.
std::string edited(const std::string& text, const std::string& from, const std::string& to) {
  std::string out = text;
  const std::size_t at = out.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) out.replace(at, from.size(), to);
  return out;
}

TEST(ConfigSchema, EssConfigurationErrorsAtAnyDepth) {
  const std::string cardio = repoFile("profiles/cardio-plus/ess.json");
  const char* kEss = "ess.schema.json";
  struct Case {
    std::string from, to, error;
  } cases[] = {
      {"\"mailbox\":", "\"mailBox\":", "organization.mailBox: unknown setting"},
      {"\"birthDate\":", "\"birthdate\":", "form.identity.birthdate: unknown setting"},
      {"\"ageAtLeast\": 65", "\"ageAtLeast\": \"65\"",
       "eligibility.inclusion[0].rule.ageAtLeast: integer from 0 to 150 expected"},
      {"\"item\": \"situation-dependance\"", "\"itme\": \"situation-dependance\"",
       "eligibility.inclusion[4].rule.any[0].equals.item: required setting missing\n"
       "eligibility.inclusion[4].rule.any[0].equals.itme: unknown setting"},
      {"\"outsideTerritory\": true", "\"outsideTerritory\": false",
       "eligibility.exclusion[2].rule.outsideTerritory: true expected"},
      {"\"38\"", "\"380\"",
       "territory.departements[0]: a département code (\"38\", \"2A\", \"974\") expected"},
      {"\"id\": \"cardio-plus\",", "", "id: required setting missing"},
  };
  for (const Case& c : cases) {
    const std::string text = edited(cardio, c.from, c.to);
    EXPECT_EQ(joined(errorsOf(kEss, text)), c.error + "\n") << c.from;
    EXPECT_FALSE(rapidJsonAccepts(kEss, text)) << c.from;
  }
  // A rule is one operator.
  const std::string two =
      edited(cardio, "\"ageAtLeast\": 65", "\"ageAtLeast\": 65, \"noValidNir\": true");
  EXPECT_EQ(joined(errorsOf(kEss, two)),
            "eligibility.inclusion[0].rule: at most 1 member(s) expected\n");
  EXPECT_FALSE(rapidJsonAccepts(kEss, two));
}

TEST(ConfigSchema, MssIntakeErrors) {
  const std::string intake = repoFile("profiles/mssante/intake.json");
  const char* kMss = "mss-intake.schema.json";
  EXPECT_EQ(joined(errorsOf(kMss, edited(intake, "\"toQualify\"", "\"toqualify\""))),
            "toQualify: required setting missing\ntoqualify: unknown setting\n");
  EXPECT_EQ(joined(errorsOf(kMss, edited(intake, "example/fhir\"", "example/fhir/\""))),
            "canonicalBase: an http(s) URL without a trailing slash expected\n");
  EXPECT_EQ(joined(errorsOf(kMss, edited(intake, "\"entries\": [", "\"entries\": [1, "))),
            "entries[0]: non-empty string expected\n");
  EXPECT_FALSE(rapidJsonAccepts(kMss, edited(intake, "example/fhir\"", "example/fhir/\"")));
  EXPECT_TRUE(rapidJsonAccepts(
      kMss, edited(intake, "\"canonicalBase\"",
                   "\"traceHeaders\": [\"Received\", \"X-Spam\"], \"canonicalBase\"")));
  EXPECT_FALSE(
      rapidJsonAccepts(kMss, edited(intake, "\"canonicalBase\"",
                                    "\"traceHeaders\": [\"Received: x\"], \"canonicalBase\"")));
}

}  // namespace
}  // namespace liaison::app
