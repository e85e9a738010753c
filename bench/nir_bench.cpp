// Throughput of NIR checking, the per-patient hot path of bulk intake.
// Target: >= 10 million check() calls per second on one core for valid NIRs with spaces.

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/nir/nir.hpp"

namespace liaison::nir {
namespace {

// A power of two so that the rotating index is a mask; large enough to defeat branch history
// (~1000 distinct inputs), small enough to stay in L1/L2 like a batch being processed.
constexpr std::size_t kCount = 1024;

struct Sample {
  std::string input;  // with presentation spaces
  Traits traits;
};

// Deterministic pseudo-random generator: the same inputs on every run.
class Lcg {
 public:
  std::uint32_t next(std::uint32_t bound) {
    state_ = state_ * 6364136223846793005u + 1442695040888963407u;
    return static_cast<std::uint32_t>(state_ >> 33) % bound;
  }

 private:
  std::uint64_t state_ = 42;
};

std::string twoDigits(std::uint32_t v) {
  return {static_cast<char>('0' + v / 10 % 10), static_cast<char>('0' + v % 10)};
}

std::string threeDigits(std::uint32_t v) {
  return static_cast<char>('0' + v / 100 % 10) + twoDigits(v);
}

// Valid NIRs across the layouts (mainland, Corsica, overseas, abroad), sex 1/2, real months.
std::vector<Sample> validSamples() {
  Lcg rng;
  std::vector<Sample> samples;
  samples.reserve(kCount);
  while (samples.size() < kCount) {
    const bool male = rng.next(2) == 0;
    const std::uint32_t year = 1930 + rng.next(95);
    const std::uint32_t month = 1 + rng.next(12);
    std::string place;
    switch (rng.next(10)) {
      case 0:
        place = (rng.next(2) == 0 ? "2A" : "2B") + threeDigits(1 + rng.next(999));
        break;
      case 1:
        place = "97" + std::to_string(1 + rng.next(6)) + twoDigits(1 + rng.next(99));
        break;
      case 2:
        place = "99" + threeDigits(100 + rng.next(400));
        break;
      default:
        place = twoDigits(1 + rng.next(95)) + threeDigits(1 + rng.next(999));
        break;
    }
    std::string body = std::string(male ? "1" : "2") + twoDigits(year) + twoDigits(month) + place +
                       threeDigits(1 + rng.next(999));
    const std::string n = body + twoDigits(static_cast<std::uint32_t>(expectedKey(body)));

    Sample s;
    // "S YY MM DD CCC OOO KK" (the commune group absorbs the overseas third digit: still valid)
    s.input = n.substr(0, 1) + ' ' + n.substr(1, 2) + ' ' + n.substr(3, 2) + ' ' + n.substr(5, 2) +
              ' ' + n.substr(7, 3) + ' ' + n.substr(10, 3) + ' ' + n.substr(13, 2);
    s.traits.sex = male ? 'M' : 'F';
    s.traits.birth_year = static_cast<int>(year);
    s.traits.birth_month = static_cast<int>(month);
    s.traits.birth_place_insee = place;
    samples.push_back(std::move(s));
  }
  return samples;
}

// Half valid, half spread over the usual failures (typing errors, truncation, wrong fields).
std::vector<std::string> mixedInputs() {
  const std::vector<Sample> valid = validSamples();
  std::vector<std::string> inputs;
  inputs.reserve(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    std::string s = valid[i].input;
    switch (i % 8) {
      case 1:  // a wrong digit in the order number: key mismatch
        s[s.size() - 5] = s[s.size() - 5] == '9' ? '1' : static_cast<char>(s[s.size() - 5] + 1);
        break;
      case 3:  // the key is missing
        s.resize(s.size() - 3);
        break;
      case 5:  // a stray letter
        s[2] = 'O';
        break;
      case 7:  // month 13 and a provisional sex digit
        s[0] = '7';
        s[5] = '1';
        s[6] = '3';
        break;
      default:
        break;
    }
    inputs.push_back(std::move(s));
  }
  return inputs;
}

void BM_NirCheckValid(benchmark::State& state) {
  const std::vector<Sample> samples = validSamples();
  for (const Sample& s : samples) {
    if (!check(s.input).issues.empty()) {
      state.SkipWithError("a generated NIR is not valid");
      return;
    }
  }
  std::size_t i = 0;
  for (auto _ : state) {
    CheckResult result = check(samples[i].input);
    benchmark::DoNotOptimize(result);
    i = (i + 1) & (kCount - 1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_NirCheckValid);

void BM_NirCheckMixed(benchmark::State& state) {
  const std::vector<std::string> inputs = mixedInputs();
  std::size_t invalid = 0;
  for (const std::string& input : inputs) {
    invalid += check(input).valid() ? 0 : 1;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    CheckResult result = check(inputs[i]);
    benchmark::DoNotOptimize(result);
    i = (i + 1) & (kCount - 1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["invalid_share"] = static_cast<double>(invalid) / static_cast<double>(kCount);
}
BENCHMARK(BM_NirCheckMixed);

void BM_NirCheckWithTraits(benchmark::State& state) {
  const std::vector<Sample> samples = validSamples();
  for (const Sample& s : samples) {
    if (!check(s.input, s.traits).issues.empty()) {
      state.SkipWithError("a generated NIR does not match its traits");
      return;
    }
  }
  std::size_t i = 0;
  for (auto _ : state) {
    CheckResult result = check(samples[i].input, samples[i].traits);
    benchmark::DoNotOptimize(result);
    i = (i + 1) & (kCount - 1);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_NirCheckWithTraits);

}  // namespace
}  // namespace liaison::nir

BENCHMARK_MAIN();
