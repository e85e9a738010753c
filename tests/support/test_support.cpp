#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace liaison::test {

std::string repoPath(std::string_view relative_path) {
  return std::string(LIAISON_SOURCE_DIR) + "/" + std::string(relative_path);
}

std::string readRepoFile(std::string_view relative_path) {
  std::ifstream in(repoPath(relative_path), std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << relative_path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<const pipeline::EssProfile> cardioPlus() {
  static const std::shared_ptr<const pipeline::EssProfile> profile = [] {
    auto p = pipeline::EssProfile::load(
        readRepoFile("profiles/cardio-plus/ess.json"),
        readRepoFile("profiles/cardio-plus/questionnaire-fiche-demande.json"),
        readRepoFile("mappings/cardio-plus-fiche-demande.json"), mssante()->canonicalBase());
    if (!p) {
      ADD_FAILURE() << "Cardio+ profile: " << p.error().detail;
      std::abort();
    }
    return *p;
  }();
  return profile;
}

std::shared_ptr<const pipeline::MssProfile> mssante() {
  static const std::shared_ptr<const pipeline::MssProfile> profile = [] {
    auto p = pipeline::MssProfile::load(readRepoFile("profiles/mssante/intake.json"),
                                        [](const std::string& name) -> Result<std::string> {
                                          return readRepoFile("profiles/mssante/" + name);
                                        });
    if (!p) {
      ADD_FAILURE() << "MSSanté profile: " << p.error().detail;
      std::abort();
    }
    return *p;
  }();
  return profile;
}

const map::SearchParameters& searchParameters() {
  static const map::SearchParameters parameters = [] {
    auto p = map::SearchParameters::load(readRepoFile("profiles/fhir/search-parameters.json"));
    if (!p) {
      ADD_FAILURE() << "search parameters: " << p.error().detail;
      std::abort();
    }
    return *p;
  }();
  return parameters;
}

std::chrono::system_clock::time_point testNow() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 23} + hours{10};
}

const Clock& testClock() {
  static const FixedClock clock(testNow());
  return clock;
}

std::string withKey(std::string_view first13) {
  std::string digits(first13);
  std::string numeric = digits;
  if (numeric.substr(5, 2) == "2A") numeric.replace(5, 2, "19");
  if (numeric.substr(5, 2) == "2B") numeric.replace(5, 2, "18");
  unsigned long long n = std::stoull(numeric);
  unsigned key = static_cast<unsigned>(97 - n % 97);
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02u", key);
  return digits + buf;
}

void dumpBundle(std::string_view name, std::string_view bundle_json) {
  const char* dir = std::getenv("LIAISON_CONFORMANCE_DIR");
  if (dir == nullptr || *dir == '\0' || bundle_json.empty()) return;
  std::filesystem::create_directories(dir);
  std::string file;
  for (char c : name)
    file += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  std::ofstream out(std::string(dir) + "/" + file + ".json", std::ios::binary | std::ios::trunc);
  out << bundle_json;
}

pipeline::IngestResult ingestCardioPlus(std::string_view bytes, std::string_view name) {
  pipeline::FormIntake intake(cardioPlus(), testClock());
  pipeline::IngestResult r = intake.ingest(bytes);
  dumpBundle(name, r.bundle_json);
  return r;
}

pipeline::IngestResult ingestMessage(std::string_view bytes, std::string_view name) {
  static const pipeline::MessageIntake intake(mssante(), cardioPlus(), testClock());
  pipeline::IngestResult r = intake.ingest(bytes);
  dumpBundle(name, r.bundle_json);
  return r;
}

std::vector<const rapidjson::Value*> Bundle::of(std::string_view type) const {
  std::vector<const rapidjson::Value*> out;
  for (const auto& e : doc["entry"].GetArray()) {
    if (std::string_view(e["resource"]["resourceType"].GetString()) == type)
      out.push_back(&e["resource"]);
  }
  return out;
}

const rapidjson::Value& Bundle::one(std::string_view type) const {
  static const rapidjson::Value null;
  auto all = of(type);
  EXPECT_EQ(all.size(), 1u) << type;
  return all.empty() ? null : *all.front();
}

std::map<std::string, int> Bundle::counts() const {
  std::map<std::string, int> c;
  for (const auto& e : doc["entry"].GetArray())
    ++c[e["resource"]["resourceType"].GetString()];
  return c;
}

std::string Bundle::fullUrlOf(const rapidjson::Value& resource) const {
  for (const auto& e : doc["entry"].GetArray()) {
    if (&e["resource"] == &resource) return e["fullUrl"].GetString();
  }
  return {};
}

Bundle parseBundle(const pipeline::IngestResult& result) {
  Bundle b;
  b.doc.Parse(result.bundle_json.data(), result.bundle_json.size());
  EXPECT_FALSE(b.doc.HasParseError()) << result.bundle_json.substr(0, 200);
  if (b.doc.HasParseError() || !b.doc.IsObject() || !b.doc.HasMember("entry"))
    b.doc.Parse(R"({"type":"none","entry":[]})");
  EXPECT_STREQ(b.doc["type"].GetString(), "transaction");
  return b;
}

std::string replaceLine(std::string text, std::string_view label, std::string_view new_value) {
  std::string prefix = "\n" + std::string(label) + " :";
  std::size_t at = text.find(prefix);
  EXPECT_NE(at, std::string::npos) << "no line " << label;
  if (at == std::string::npos) return text;
  std::size_t end = text.find('\n', at + 1);
  text.replace(at + 1, end - at - 1, std::string(label) + " : " + std::string(new_value));
  return text;
}

std::string removeLine(std::string text, std::string_view label) {
  std::string prefix = "\n" + std::string(label) + " :";
  std::size_t at = text.find(prefix);
  EXPECT_NE(at, std::string::npos) << "no line " << label;
  if (at == std::string::npos) return text;
  std::size_t end = text.find('\n', at + 1);
  text.erase(at, end - at);
  return text;
}

}  // namespace liaison::test
