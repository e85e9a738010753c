// Loads a realistic FHIR data set into the store through the real write path, for the API
// benchmark (bench/run-api-bench): per patient, a Patient (INS-NIR identifier, name, birthDate,
// gender), one ServiceRequest (subject, status, category, code, authoredOn) and 8 Observations
// (subject, LOINC code, effectiveDateTime, valueQuantity) — 10 resources per patient.
//
// Each transaction is one FHIR transaction Bundle of --batch patients (urn:uuid references), run
// through pipeline::applyTransaction exactly as an ingested message's resources are: JSON parse,
// one identifier_holder claim per Patient (INS), references rewritten, ids and meta set, the
// search-index entries from SearchParameters::extract, then one StoreTransaction::create (resource,
// resource_history and search_* rows in one statement) and COMMIT. --threads connections in
// parallel, each taking the next batch.
//
//   liaison_bench_api_load --db DSN --patients N [--batch P] [--threads T] [--out DIR] [--seed S]
//
// Prints one line "resources=… seconds=… resources_per_s=…", and writes
// DIR/patient-ids.txt (one Patient id a line, for wrk).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/pg/pg_store.hpp"
#include "core/fhir/terminology.hpp"
#include "core/json/json_out.hpp"
#include "map/search_parameters.hpp"
#include "pipeline/stored_intake.hpp"

namespace {

using namespace liaison;

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "liaison_bench_api_load: " << what << "\n";
  std::exit(2);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

constexpr const char* kSyllables[] = {
    "ber", "dur",   "mar", "tin",  "lef", "vre",   "mo",  "rel",  "gar", "nier", "rou", "sseau",
    "fon", "taine", "dup", "ont",  "lam", "bert",  "bon", "net",  "fau", "re",   "mer", "cier",
    "bla", "nc",    "gui", "lle",  "cha", "pel",   "lau", "rent", "bru", "nel",  "ro",  "ger",
    "pe",  "tit",   "le",  "goff", "ri",  "chard", "an",  "dre",  "mi",  "chel", "da",  "vid"};
constexpr const char* kGivenFemale[] = {"Marie",     "Nathalie", "Isabelle",  "Sylvie", "Catherine",
                                        "Françoise", "Monique",  "Christine", "Sophie", "Hélène",
                                        "Claire",    "Camille",  "Léa",       "Chloé",  "Anne"};
constexpr const char* kGivenMale[] = {"Jean",     "Pierre",  "Michel",  "André", "Philippe",
                                      "Alain",    "Jacques", "Bernard", "Éric",  "Nicolas",
                                      "François", "Louis",   "Paul",    "Hugo",  "Thomas"};

struct Loinc {
  const char* code;
  const char* display;
  const char* category;
  const char* unit;
  double low;
  double high;
};
constexpr Loinc kObservations[] = {
    {"8867-4", "Fréquence cardiaque", "vital-signs", "/min", 50, 110},
    {"8480-6", "Pression artérielle systolique", "vital-signs", "mm[Hg]", 95, 180},
    {"8462-4", "Pression artérielle diastolique", "vital-signs", "mm[Hg]", 55, 105},
    {"29463-7", "Poids corporel", "vital-signs", "kg", 45, 120},
    {"8302-2", "Taille", "vital-signs", "cm", 150, 195},
    {"39156-5", "Indice de masse corporelle", "vital-signs", "kg/m2", 18, 38},
    {"2093-3", "Cholestérol total", "laboratory", "g/L", 1.4, 3.2},
    {"4548-4", "Hémoglobine A1c", "laboratory", "%", 4.8, 9.5}};

struct Advice {
  const char* code;
  const char* display;
};
constexpr Advice kAdvice[] = {{"11429006", "Consultation"},
                              {"29303009", "Électrocardiogramme"},
                              {"40701008", "Échocardiographie"},
                              {"164847006", "Holter ECG"}};

// A valid NIR (sex, birth year and month, département, commune, order, key = 97 - N mod 97).
std::string nirOf(int sex, int year, int month, std::uint64_t serial) {
  int departement = 1 + static_cast<int>(serial % 95);
  if (departement == 20) departement = 96;  // 20 is Corsica's 2A/2B: unique and valid instead
  char body[14];
  std::snprintf(body, sizeof body, "%d%02d%02d%02d%03d%03d", sex, year % 100, month, departement,
                static_cast<int>(1 + (serial / 95) % 900), static_cast<int>(1 + serial / 85500));
  const std::uint64_t n = std::strtoull(body, nullptr, 10);
  char key[3];
  std::snprintf(key, sizeof key, "%02d", static_cast<int>(97 - n % 97));
  return std::string(body) + key;
}

std::string date(int y, int m, int d) {
  char b[16];
  std::snprintf(b, sizeof b, "%04d-%02d-%02d", y, m, d);
  return b;
}

// The transaction Bundle of patients [first, first + count).
std::string bundleOf(std::uint64_t first, int count, std::uint64_t seed) {
  std::string out;
  out.reserve(static_cast<std::size_t>(count) * 8000);
  json::JsonOut w(out);
  w.StartObject();
  w.Key("resourceType");
  w.String("Bundle");
  w.Key("type");
  w.String("transaction");
  w.Key("entry");
  w.StartArray();
  for (int k = 0; k < count; ++k) {
    const std::uint64_t p = first + static_cast<std::uint64_t>(k);
    std::mt19937_64 rng(seed * 1000003 + p);
    auto pick = [&rng](auto n) { return static_cast<std::size_t>(rng() % n); };
    auto uniform = [&rng](double lo, double hi) {
      return lo + (hi - lo) * static_cast<double>(rng() % 10000) / 10000.0;
    };
    const int sex = 1 + static_cast<int>(pick(2));
    const int year = 1930 + static_cast<int>(pick(90));
    const int month = 1 + static_cast<int>(pick(12));
    const int day = 1 + static_cast<int>(pick(28));
    std::string family;
    for (std::size_t s = 0, n = 2 + pick(2); s < n; ++s)
      family += kSyllables[pick(std::size(kSyllables))];
    family[0] = static_cast<char>(family[0] - 'a' + 'A');
    const char* given = sex == 1 ? kGivenMale[pick(std::size(kGivenMale))]
                                 : kGivenFemale[pick(std::size(kGivenFemale))];
    const char* given2 = sex == 1 ? kGivenMale[pick(std::size(kGivenMale))]
                                  : kGivenFemale[pick(std::size(kGivenFemale))];
    const std::string patient_url = "urn:uuid:patient-" + std::to_string(p);

    auto codeable = [&w](const char* system, const char* code, const char* display) {
      w.StartObject();
      w.Key("coding");
      w.StartArray();
      w.StartObject();
      w.Key("system");
      w.String(system);
      w.Key("code");
      w.String(code);
      w.Key("display");
      w.String(display);
      w.EndObject();
      w.EndArray();
      w.EndObject();
    };
    auto entry = [&w](const std::string& full_url, const char* type) {
      w.StartObject();
      w.Key("fullUrl");
      w.String(full_url);
      w.Key("request");
      w.StartObject();
      w.Key("method");
      w.String("POST");
      w.Key("url");
      w.String(type);
      w.EndObject();
      w.Key("resource");
      w.StartObject();
      w.Key("resourceType");
      w.String(type);
    };
    auto subject = [&] {
      w.Key("subject");
      w.StartObject();
      w.Key("reference");
      w.String(patient_url);
      w.EndObject();
    };

    // Patient
    entry(patient_url, "Patient");
    w.Key("meta");
    w.StartObject();
    w.Key("profile");
    w.StartArray();
    w.String("https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins");
    w.EndArray();
    w.EndObject();
    w.Key("extension");
    w.StartArray();
    w.StartObject();
    w.Key("url");
    w.String("https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability");
    w.Key("extension");
    w.StartArray();
    w.StartObject();
    w.Key("url");
    w.String("identityStatus");
    w.Key("valueCoding");
    w.StartObject();
    w.Key("system");
    w.String("https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-identity-status");
    w.Key("code");
    w.String("VALI");
    w.EndObject();
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.EndArray();
    w.Key("identifier");
    w.StartArray();
    w.StartObject();
    w.Key("use");
    w.String("official");
    w.Key("type");
    codeable("https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "INS-NIR",
             "NIR définitif");
    w.Key("system");
    w.String("urn:oid:1.2.250.1.213.1.4.8");
    w.Key("value");
    w.String(nirOf(sex, year, month, p));
    w.EndObject();
    w.EndArray();
    w.Key("name");
    w.StartArray();
    w.StartObject();
    w.Key("use");
    w.String("official");
    w.Key("family");
    w.String(family);
    w.Key("given");
    w.StartArray();
    w.String(given);
    w.String(given2);
    w.EndArray();
    w.EndObject();
    w.EndArray();
    w.Key("gender");
    w.String(sex == 1 ? "male" : "female");
    w.Key("birthDate");
    w.String(date(year, month, day));
    w.Key("address");
    w.StartArray();
    w.StartObject();
    w.Key("postalCode");
    w.String(std::to_string(10000 + pick(85000)));
    w.Key("country");
    w.String("FR");
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.EndObject();

    // ServiceRequest: 60 % active, 30 % completed, 10 % draft.
    const std::size_t s = pick(10);
    const Advice& advice = kAdvice[pick(std::size(kAdvice))];
    const int sr_year = 2021 + static_cast<int>(pick(4));
    entry("urn:uuid:sr-" + std::to_string(p), "ServiceRequest");
    w.Key("status");
    w.String(s < 6 ? "active" : (s < 9 ? "completed" : "draft"));
    w.Key("intent");
    w.String("order");
    w.Key("category");
    w.StartArray();
    codeable("http://snomed.info/sct", "11429006", "Consultation");
    w.EndArray();
    w.Key("code");
    codeable("http://snomed.info/sct", advice.code, advice.display);
    subject();
    w.Key("authoredOn");
    w.String(date(sr_year, 1 + static_cast<int>(pick(12)), 1 + static_cast<int>(pick(28))));
    w.Key("reasonCode");
    w.StartArray();
    w.StartObject();
    w.Key("text");
    w.String("Avis cardiologique : dyspnée d'effort, souffle systolique");
    w.EndObject();
    w.EndArray();
    w.Key("note");
    w.StartArray();
    w.StartObject();
    w.Key("text");
    w.String("Demande d'avis spécialisé adressée à l'ESS Cardio+.");
    w.EndObject();
    w.EndArray();
    w.EndObject();
    w.EndObject();

    // Observations: one of each code, on a date of the last three years.
    const std::string when = date(2022 + static_cast<int>(pick(3)), 1 + static_cast<int>(pick(12)),
                                  1 + static_cast<int>(pick(28)));
    for (std::size_t o = 0; o < std::size(kObservations); ++o) {
      const Loinc& l = kObservations[o];
      entry("urn:uuid:obs-" + std::to_string(p) + "-" + std::to_string(o), "Observation");
      w.Key("status");
      w.String("final");
      w.Key("category");
      w.StartArray();
      codeable("http://terminology.hl7.org/CodeSystem/observation-category", l.category,
               l.category);
      w.EndArray();
      w.Key("code");
      codeable("http://loinc.org", l.code, l.display);
      subject();
      w.Key("effectiveDateTime");
      w.String(when + "T10:" + (o < 10 ? "0" : "") + std::to_string(o) + ":00+01:00");
      w.Key("valueQuantity");
      w.StartObject();
      w.Key("value");
      w.Double(static_cast<double>(static_cast<long>(uniform(l.low, l.high) * 10)) / 10.0);
      w.Key("unit");
      w.String(l.unit);
      w.Key("system");
      w.String("http://unitsofmeasure.org");
      w.Key("code");
      w.String(l.unit);
      w.EndObject();
      w.EndObject();
      w.EndObject();
    }
  }
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dsn;
  std::uint64_t patients = 100000;
  int batch = 100;
  int threads = 2;
  std::uint64_t seed = 42;
  std::string out_dir = ".";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--db") {
      dsn = next();
    } else if (a == "--patients") {
      patients = std::stoull(next());
    } else if (a == "--batch") {
      batch = std::stoi(next());
    } else if (a == "--threads") {
      threads = std::stoi(next());
    } else if (a == "--seed") {
      seed = std::stoull(next());
    } else if (a == "--out") {
      out_dir = next();
    } else {
      fail(
          "usage: liaison_bench_api_load --db DSN --patients N [--batch P] [--threads T] "
          "[--out DIR] [--seed S]");
    }
  }
  if (dsn.empty() || batch < 1 || threads < 1) fail("--db DSN is required; batch, threads > 0");

  auto search = map::SearchParameters::load(
      readFile(std::string(LIAISON_SOURCE_DIR) + "/profiles/fhir/search-parameters.json"));
  if (!search) fail(search.error().detail);

  const std::uint64_t batches = (patients + static_cast<std::uint64_t>(batch) - 1) / batch;
  std::vector<std::string> patient_ids(patients);
  std::atomic<std::uint64_t> next_batch{0};
  std::atomic<std::uint64_t> resources{0};
  std::atomic<bool> failed{false};
  std::mutex err_mutex;

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto store = pg::PgStore::open(dsn);
      if (!store) {
        std::lock_guard lock(err_mutex);
        std::cerr << "connect: " << store.error().detail << "\n";
        failed = true;
        return;
      }
      // The rows belong to one ESS (sql/V016__ess_isolation.sql), the bench's principals'.
      static const std::string kEss[] = {"cardio-plus"};
      (*store)->setEss(kEss);
      for (std::uint64_t b = next_batch++; b < batches && !failed; b = next_batch++) {
        const std::uint64_t first = b * static_cast<std::uint64_t>(batch);
        const int count = static_cast<int>(std::min<std::uint64_t>(batch, patients - first));
        const std::string bundle = bundleOf(first, count, seed);
        const std::string now = fhir::instantOf(std::chrono::system_clock::now());
        std::string response;
        auto tx = (*store)->begin();
        if (!tx) {
          std::lock_guard lock(err_mutex);
          std::cerr << "begin: " << tx.error().detail << "\n";
          failed = true;
          return;
        }
        auto outcome = pipeline::applyTransaction(bundle, **tx, now, *search,
                                                  pipeline::IncomingRules::builtIn(), response, 0);
        if (outcome) {
          if (auto c = (*tx)->commit(); !c) outcome = c.error();
        }
        if (!outcome) {
          std::lock_guard lock(err_mutex);
          std::cerr << "batch " << b << ": " << outcome.error().detail << "\n";
          failed = true;
          return;
        }
        for (std::size_t i = 0; i < outcome->stored.size(); ++i) {
          const StoredVersion& v = outcome->stored[i];
          if (v.type == "Patient") patient_ids[first + i / 10] = v.id;
        }
        resources += outcome->stored.size();
        if (b % 50 == 0) {
          std::lock_guard lock(err_mutex);
          const double s =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
          std::cerr << "\r  " << resources.load() << " resources, " << static_cast<long>(s)
                    << " s, " << static_cast<long>(static_cast<double>(resources.load()) / s)
                    << " /s   " << std::flush;
        }
      }
    });
  }
  for (std::thread& t : pool)
    t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << "\n";
  if (failed) return 1;

  std::ofstream ids(out_dir + "/patient-ids.txt");
  for (const std::string& id : patient_ids)
    ids << id << "\n";
  std::printf("resources=%llu seconds=%.2f resources_per_s=%.0f threads=%d batch_patients=%d\n",
              static_cast<unsigned long long>(resources.load()), seconds,
              static_cast<double>(resources.load()) / seconds, threads, batch);
  return 0;
}
