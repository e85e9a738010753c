// libFuzzer harness: the whole REST request handling (rest::FhirApi::handle) behind the fake
// in-memory store (memory_store.hpp: the fuzzer cannot run PostgreSQL).
// Input: up to four requests separated by a line "===", each "METHOD TARGET" on its first line,
// then header lines "Name: value", an empty line and the body; so that a create can be followed
// by a read, an update or a history of what it made. Every input starts from the same store (a
// Patient p1 in two versions).
// Invariants: a status between 200 and 599; an answer with a JSON content type parses as JSON
// (RapidJSON's iterative parser: a deep answer would be a finding of its own); an error is an
// OperationOutcome (or, from POST /, the intake's Parameters); the in-memory store never fails,
// so no 500.

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "core/ports/clock.hpp"
#include "fuzz_check.hpp"
#include "map/search_parameters.hpp"
#include "pipeline/ess_profile.hpp"
#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "pipeline/mss_profile.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "support/memory_store.hpp"

namespace {

using liaison::fuzz::require;
namespace http = liaison::http;
namespace pipeline = liaison::pipeline;

std::string repoFile(const std::string& relative) {
  std::ifstream in(std::string(LIAISON_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  require(in.good() || in.eof());
  return s.str();
}

template <class T>
T orTrap(liaison::Result<T> r) {
  require(r.has_value());
  return std::move(*r);
}

struct Api {
  std::shared_ptr<liaison::fake::MemoryState> state =
      std::make_shared<liaison::fake::MemoryState>();
  liaison::fake::MemoryState initial;
  liaison::FixedClock clock{
      std::chrono::system_clock::time_point(std::chrono::seconds(1796000000))};
  std::shared_ptr<const pipeline::MssProfile> mss = orTrap(
      pipeline::MssProfile::load(repoFile("profiles/mssante/intake.json"),
                                 [](const std::string& name) -> liaison::Result<std::string> {
                                   return repoFile("profiles/mssante/" + name);
                                 }));
  std::shared_ptr<const pipeline::EssProfile> ess = orTrap(pipeline::EssProfile::load(
      repoFile("profiles/cardio-plus/ess.json"),
      repoFile("profiles/cardio-plus/questionnaire-fiche-demande.json"),
      repoFile("mappings/cardio-plus-fiche-demande.json"), mss->canonicalBase()));
  liaison::map::SearchParameters search = orTrap(
      liaison::map::SearchParameters::load(repoFile("profiles/fhir/search-parameters.json")));
  pipeline::FormIntake forms{ess, clock};
  pipeline::MessageIntake messages{mss, ess, clock};
  std::unique_ptr<liaison::rest::FhirApi> api;
  // Every request comes from the client CN=fuzz (coordinator and ops: every route), unless it
  // sends an Authorization header: then the token decides (Bearer fuzz-token, the same roles).
  liaison::auth::Policy policy =
      orTrap(liaison::rest::parsePolicy(repoFile("profiles/policy.json")));
  liaison::rest::ClientAccess access{liaison::rest::AccessSettings{
      "",
      {{"fuzz", "CN=fuzz", "", {"coordinator", "ops"}, {"cardio-plus"}}},
      {{"fuzz-token",
        liaison::rest::tokenHash("fuzz-token"),
        {"coordinator", "ops"},
        {"cardio-plus"}}}}};

  Api() {
    liaison::rest::ApiOptions options;
    options.base_url = "https://gw.test/fhir";
    options.authenticator = &access;
    options.policy = &policy;
    api = std::make_unique<liaison::rest::FhirApi>(
        [this]() -> liaison::Result<std::unique_ptr<liaison::Store>> {
          return std::unique_ptr<liaison::Store>(
              std::make_unique<liaison::fake::MemoryStore>(state));
        },
        search, messages, forms, clock, options);
    const std::string patient =
        R"({"resourceType":"Patient","id":"p1","name":[{"family":"FICTIF-TEST","given":["Anne"]}],)"
        R"("gender":"female","birthDate":"1970-03-01"})";
    for (int i = 0; i < 2; ++i) {
      http::Request put;
      put.method = "PUT";
      put.target = "/Patient/p1";
      put.headers.push_back({"Content-Type", "application/fhir+json"});
      put.body = patient;
      put.remote = "127.0.0.1:1";
      put.client_subject = "CN=fuzz";
      require(api->handle(put).status < 300);
    }
    initial = *state;
  }
};

http::Request requestOf(std::string_view text) {
  http::Request r;
  r.remote = "127.0.0.1:40000";
  r.client_subject = "CN=fuzz";
  std::size_t eol = text.find('\n');
  std::string_view line = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  const std::size_t space = line.find(' ');
  r.method = std::string(line.substr(0, space));
  r.target = space == std::string_view::npos ? "/" : std::string(line.substr(space + 1));
  while (!text.empty()) {
    eol = text.find('\n');
    line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty() || line == "\r") break;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.remove_prefix(1);
    r.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
  r.body = std::string(text);
  return r;
}

void check(const http::Response& res) {
  // LIAISON_FUZZ_VERBOSE=1: each answer on stderr, to see which invariant a crash broke.
  static const bool verbose = std::getenv("LIAISON_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "-> %d %.300s\n", res.status, res.body.c_str());
  require(res.status >= 200 && res.status <= 599);
  require(res.status != 500);
  std::string_view type;
  for (const auto& h : res.headers) {
    if (h.name == "Content-Type") type = h.value;
  }
  if (type.find("json") == std::string_view::npos || res.body.empty()) return;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(res.body.data(), res.body.size());
  require(!doc.HasParseError() && doc.IsObject());
  if (res.status >= 400) {  // an OperationOutcome, or the intake's Parameters (POST /) holding one
    require(doc.HasMember("resourceType") && doc["resourceType"].IsString());
    const std::string_view resource = doc["resourceType"].GetString();
    require(resource == "OperationOutcome" || resource == "Parameters");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Api* api = new Api();  // never destroyed: the fuzzer exits without unwinding
  *api->state = api->initial;
  std::string_view rest = liaison::fuzz::asText(data, size);
  for (int i = 0; i < 4 && !rest.empty(); ++i) {
    const std::size_t sep = rest.find("\n===\n");
    const std::string_view one = rest.substr(0, sep);
    rest = sep == std::string_view::npos ? std::string_view() : rest.substr(sep + 5);
    check(api->api->handle(requestOf(one)));
  }
  return 0;
}
