// The serve configuration's access object (app/access_config) and the policy file against its
// schema: every mistake named by its path.

#include "app/access_config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "app/config_schema.hpp"

namespace liaison::app {
namespace {

std::string repoFile(const std::string& path) {
  std::ifstream in(std::string(LIAISON_SOURCE_DIR) + "/" + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Read {
  std::optional<rest::AccessSettings> access;
  std::string errors;
};

Read read(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  std::ostringstream err;
  Read r;
  r.access = readAccessConfig(d, "/etc/liaison", "serve.json", err);
  r.errors = err.str();
  return r;
}

const std::string kHash = "14d194c482ff944e3877b91eddec924b1f815f41fbb35a42070097c23be37c85";

TEST(AccessConfig, ClientsTokensAndPolicy) {
  Read r = read(R"({"policy": "policy.json",
    "clients": [{"name": "secretariat", "subject": "CN=s,O=ESS Cardio\\+", "roles": ["secretariat"],
                 "ess": ["cardio-plus"]},
                {"name": "plateforme", "san": "DNS:plateforme.example", "roles": ["intake-client"],
                 "address": "bal-applicative@plateforme.mssante.fr"}],
    "tokens": [{"name": "supervision", "sha256": ")" +
                kHash + R"(", "roles": ["ops", "reader"]}]})");
  ASSERT_TRUE(r.access) << r.errors;
  EXPECT_EQ(r.errors, "");
  EXPECT_EQ(r.access->policy, "/etc/liaison/policy.json");  // relative to the configuration
  ASSERT_EQ(r.access->clients.size(), 2u);
  EXPECT_EQ(r.access->clients[0].subject, "CN=s,O=ESS Cardio\\+");
  EXPECT_EQ(r.access->clients[0].ess, std::vector<std::string>{"cardio-plus"});
  EXPECT_EQ(r.access->clients[1].san, "DNS:plateforme.example");
  EXPECT_EQ(r.access->clients[1].address, "bal-applicative@plateforme.mssante.fr");
  EXPECT_EQ(r.access->clients[0].address, "");
  ASSERT_EQ(r.access->tokens.size(), 1u);
  EXPECT_EQ(r.access->tokens[0].sha256, kHash);
  EXPECT_EQ(r.access->tokens[0].roles, (std::vector<std::string>{"ops", "reader"}));
}

TEST(AccessConfig, EveryMistakeNamedByItsPath) {
  Read r = read(R"({"client": [],
    "clients": [{"name": "a", "roles": ["reader"]},
                {"name": "b", "subject": "CN=b", "san": "DNS:b", "roles": []},
                {"name": "a", "subject": "CN=c", "roles": ["reader"], "role": "x"},
                {"name": "d", "subject": "CN=d", "roles": ["reader"], "address": "Dr X <x@y.fr>"}],
    "tokens": [{"name": "t", "sha256": "not-a-hash", "roles": ["ops"]},
               {"name": "u", "sha256": ")" +
                kHash + R"(", "roles": [""]}]})");
  EXPECT_FALSE(r.access);
  for (const char* expected : {
           "serve.json: access.client: unknown setting",
           "serve.json: access.clients[0]: exactly one of subject",
           "serve.json: access.clients[1]: exactly one of subject",
           "serve.json: access.clients[1].roles: non-empty array of strings expected",
           "serve.json: access.clients[2].role: unknown setting",
           "serve.json: access.clients[2].name: used twice: a",
           "serve.json: access.clients[3].address: a bare mail address expected",
           "serve.json: access.tokens[0].sha256: the token's SHA-256",
           "serve.json: access.tokens[1].roles[0]: non-empty string expected",
       })
    EXPECT_NE(r.errors.find(expected), std::string::npos) << expected << "\n" << r.errors;
}

TEST(PolicySchema, ShippedPolicyIsValidAndMistakesAreNamed) {
  auto schema = ConfigSchema::parse(repoFile("schemas/policy.schema.json"));
  ASSERT_TRUE(schema) << schema.error().detail;
  EXPECT_TRUE(schema->validate(std::string_view(repoFile("profiles/policy.json"))).empty());
  auto errors = schema->validate(std::string_view(
      R"({"roles": {"r": {"grants": [{"permissions": ["read", "rread"], "type": ["Patient"]}]}}})"));
  ASSERT_FALSE(errors.empty());
  std::string all;
  for (const SchemaError& e : errors)
    all += toString(e) + "\n";
  EXPECT_NE(all.find("roles.r.grants[0].type"), std::string::npos) << all;
  EXPECT_NE(all.find("roles.r.grants[0].permissions[1]"), std::string::npos) << all;
  // The README's serve example, access included, is valid (config_schema_test checks the rest).
}

}  // namespace
}  // namespace liaison::app
