// Forms → validated, serialised FHIR Bundles per second on one core (issue 2's figure, and issue
// 13's: the same request in the paper form's wording — samples/fiches/fiche-papier.txt, marks
// after the options, two fields per row — against our own layout, fiche-complete.txt; goal
// >= 80 %; bench/run-form-bench prints the ratio). Each iteration runs the whole intake of one
// form: parse (text or QuestionnaireResponse JSON), mandatory fields, NIR/INS with traits,
// eligibility, mapping, and the Bundle's JSON text.

#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "pipeline/form_intake.hpp"

namespace {

using namespace liaison;

std::string readFile(const std::string& relative) {
  std::ifstream in(std::string(LIAISON_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<const pipeline::EssProfile> cardioPlus() {
  static auto profile = pipeline::EssProfile::load(
      readFile("profiles/cardio-plus/ess.json"),
      readFile("profiles/cardio-plus/questionnaire-fiche-demande.json"),
      readFile("mappings/cardio-plus-fiche-demande.json"), "https://liaison.ess.example/fhir");
  if (!profile) std::abort();
  return *profile;
}

const FixedClock kClock(std::chrono::sys_days{std::chrono::year{2026} / 11 / 23});

void runIntake(benchmark::State& state, const std::string& form) {
  pipeline::FormIntake intake(cardioPlus(), kClock);
  std::size_t bytes_out = 0;
  for (auto _ : state) {
    pipeline::IngestResult r = intake.ingest(form);
    bytes_out += r.bundle_json.size();
    benchmark::DoNotOptimize(r.bundle_json.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["bundle_bytes"] =
      benchmark::Counter(static_cast<double>(bytes_out) / static_cast<double>(state.iterations()));
}

void BM_FormTextToBundle(benchmark::State& state) {
  runIntake(state, readFile("samples/fiches/fiche-complete.txt"));
}
BENCHMARK(BM_FormTextToBundle);

void BM_FormPaperLayoutToBundle(benchmark::State& state) {
  runIntake(state, readFile("samples/fiches/fiche-papier.txt"));
}
BENCHMARK(BM_FormPaperLayoutToBundle);

void BM_FormQuestionnaireResponseToBundle(benchmark::State& state) {
  runIntake(state, readFile("samples/fiches/questionnaire-response.json"));
}
BENCHMARK(BM_FormQuestionnaireResponseToBundle);

void BM_FormIncompleteToBundle(benchmark::State& state) {
  runIntake(state, readFile("samples/fiches/fiche-incomplete.txt"));
}
BENCHMARK(BM_FormIncompleteToBundle);

}  // namespace

BENCHMARK_MAIN();
