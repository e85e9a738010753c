#pragma once
// Shared helpers for liaison's tests: repository files, the Cardio+ profile, a fixed clock, and
// the dump of every produced Bundle for the independent conformance check.

#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports/clock.hpp"
#include "map/search_parameters.hpp"
#include "pipeline/ess_profile.hpp"
#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "pipeline/mss_profile.hpp"

namespace liaison::test {

std::string readRepoFile(std::string_view relative_path);  // fails the test when unreadable
std::string repoPath(std::string_view relative_path);

// profiles/cardio-plus as shipped (loaded once).
std::shared_ptr<const pipeline::EssProfile> cardioPlus();

// profiles/mssante/intake.json and the mappings it names, as shipped (loaded once).
std::shared_ptr<const pipeline::MssProfile> mssante();

// profiles/fhir/search-parameters.json (loaded once).
const map::SearchParameters& searchParameters();

// 2026-11-23T10:00:00Z: every test sees the same "today".
const Clock& testClock();
std::chrono::system_clock::time_point testNow();

// A NIR (15 chars) from its first 13 characters, with the key computed from the rule.
std::string withKey(std::string_view first13);

// Writes the Bundle to $LIAISON_CONFORMANCE_DIR/<name>.json when that variable is set.
void dumpBundle(std::string_view name, std::string_view bundle_json);

// Ingests with the Cardio+ profile and the test clock, dumping any Bundle under `name`.
pipeline::IngestResult ingestCardioPlus(std::string_view bytes, std::string_view name);

// Ingests one mail with the MSSanté and Cardio+ profiles and the test clock, dumping any Bundle.
pipeline::IngestResult ingestMessage(std::string_view bytes, std::string_view name);

// A Bundle produced by an intake, parsed, with the lookups the tests use.
struct Bundle {
  rapidjson::Document doc;
  std::vector<const rapidjson::Value*> of(std::string_view type) const;
  const rapidjson::Value& one(std::string_view type) const;  // fails the test unless exactly one
  std::map<std::string, int> counts() const;                 // resources per type
  std::string fullUrlOf(const rapidjson::Value& resource) const;
};

// The result's transaction Bundle (fails the test when it is not one; then an empty Bundle).
Bundle parseBundle(const pipeline::IngestResult& result);

// Replaces the value of the first "Label : …" line (exact label) in a text form.
std::string replaceLine(std::string text, std::string_view label, std::string_view new_value);
std::string removeLine(std::string text, std::string_view label);

}  // namespace liaison::test
