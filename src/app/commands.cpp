#include "app/commands.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/json/json_out.hpp"
#include "core/nir/nir.hpp"
#include "pipeline/form_intake.hpp"

namespace liaison::app {
namespace {

namespace fs = std::filesystem;

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};

std::optional<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(s).str();
}

// Where the repository's data (profiles/, mappings/) lives: $LIAISON_DATA_DIR, else the source
// tree.
fs::path dataDir() {
  if (const char* d = std::getenv("LIAISON_DATA_DIR"); d != nullptr && *d != '\0') return d;
  return LIAISON_SOURCE_DIR;
}

void writeString(json::JsonOut& w, std::string_view s) {
  w.String(s);
}

}  // namespace

void printUsage(std::ostream& out) {
  out << "liaison — HL7 FHIR / MSSanté gateway for ESS (équipes de soins spécialisés)\n\n"
         "Usage:\n"
         "  liaison nir VALUE [--sex M|F] [--birth-date YYYY-MM-DD] [--birth-place INSEE]\n"
         "              [--system OID]\n"
         "      Check a NIR / matricule INS: structure, key, consistency with the traits;\n"
         "      with --system, which INS it is (NIR .8, NIA .9, test .10, demo .11).\n"
         "      Prints {\"valid\", \"normalized\", \"issues\"}; exit 0 valid, 1 invalid, 2 usage.\n"
         "  liaison ingest PATH... [--ess CONFIG]\n"
         "      Read ESS request forms (QuestionnaireResponse JSON or plain text; directories are\n"
         "      read file by file) and print one JSON object per input and line:\n"
         "      {\"input\", \"status\", \"bundle\", \"outcome\", \"eligibility\"}.\n"
         "      Exit 0 when all are accepted or incomplete, 1 when any is quarantined, 2 usage.\n"
         "      CONFIG defaults to $LIAISON_ESS, else profiles/cardio-plus/ess.json.\n"
         "  liaison errors\n"
         "      Print the error catalogue (code, HTTP status, FHIR issue type, severity).\n"
         "  liaison --version | --help\n";
}

int runNir(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::optional<std::string_view> value;
  std::optional<std::string_view> system;
  nir::Traits traits;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto next = [&]() -> std::optional<std::string_view> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--sex") {
      auto v = next();
      if (!v || (*v != "M" && *v != "F")) {
        err << "liaison nir: --sex takes M or F\n";
        return kExitUsage;
      }
      traits.sex = (*v)[0];
    } else if (a == "--birth-date") {
      auto v = next();
      int y = 0, m = 0, d = 0;
      if (!v || v->size() != 10 ||
          std::sscanf(std::string(*v).c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 ||
          d < 1 || d > 31) {
        err << "liaison nir: --birth-date takes YYYY-MM-DD\n";
        return kExitUsage;
      }
      traits.birth_year = y;
      traits.birth_month = m;
    } else if (a == "--birth-place") {
      auto v = next();
      if (!v || v->size() != 5) {
        err << "liaison nir: --birth-place takes a 5-character INSEE code\n";
        return kExitUsage;
      }
      std::string code(*v);
      std::transform(code.begin(), code.end(), code.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      traits.birth_place_insee = code;
    } else if (a == "--system") {
      system = next();
      if (!system) {
        err << "liaison nir: --system takes an OID or urn:oid: URI\n";
        return kExitUsage;
      }
    } else if (a.substr(0, 2) == "--") {
      err << "liaison nir: unknown option " << a << "\n";
      return kExitUsage;
    } else if (!value) {
      value = a;
    } else {
      err << "liaison nir: one VALUE only\n";
      return kExitUsage;
    }
  }
  if (!value) {
    err << "liaison nir: VALUE is required\n";
    return kExitUsage;
  }
  nir::CheckResult r = nir::check(*value, traits);
  std::optional<nir::IdentifierKind> kind;
  if (system) kind = nir::checkSystem(*system, r.issues);
  std::string text;
  json::JsonOut w(text);
  w.StartObject();
  w.Key("valid");
  w.Bool(r.valid());
  w.Key("normalized");
  writeString(w, r.normalized);
  if (kind && *kind != nir::IdentifierKind::Unknown) {
    w.Key("type");  // FR Core identifier type: INS-NIR, INS-NIA, INS-NIR-TEST, INS-NIR-DEMO
    writeString(w, nir::identifierSystem(*kind).fr_core_type);
  }
  w.Key("issues");
  w.StartArray();
  for (const Issue& issue : r.issues.items()) {
    w.StartObject();
    w.Key("code");
    writeString(w, info(issue.code).code);
    w.Key("severity");
    writeString(w, toString(issue.severity));
    w.Key("message");
    writeString(w, issue.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  out << text << "\n";
  return r.valid() ? kExitOk : kExitFailure;
}

int runIngest(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::optional<fs::path> ess_path;
  std::vector<fs::path> inputs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--ess") {
      if (i + 1 >= args.size()) {
        err << "liaison ingest: --ess takes a configuration file\n";
        return kExitUsage;
      }
      ess_path = fs::path(args[++i]);
    } else if (args[i].substr(0, 2) == "--") {
      err << "liaison ingest: unknown option " << args[i] << "\n";
      return kExitUsage;
    } else {
      inputs.emplace_back(args[i]);
    }
  }
  if (inputs.empty()) {
    err << "liaison ingest: at least one PATH is required\n";
    return kExitUsage;
  }
  if (!ess_path) {
    const char* env = std::getenv("LIAISON_ESS");
    ess_path = (env != nullptr && *env != '\0') ? fs::path(env)
                                                : dataDir() / "profiles/cardio-plus/ess.json";
  }
  // Configuration errors are the operator's: report and stop before reading any input.
  auto ess_text = readFile(*ess_path);
  if (!ess_text) {
    err << "liaison ingest: cannot read ESS configuration " << ess_path->string() << "\n";
    return kExitUsage;
  }
  auto files = pipeline::essFiles(*ess_text);
  if (!files) {
    err << "liaison ingest: " << files.error().detail << "\n";
    return kExitUsage;
  }
  fs::path base = ess_path->parent_path();
  auto questionnaire = readFile(base / files->questionnaire);
  auto mapping = readFile(base / files->mapping);
  if (!questionnaire || !mapping) {
    err << "liaison ingest: cannot read " << (questionnaire ? files->mapping : files->questionnaire)
        << " (relative to " << base.string() << ")\n";
    return kExitUsage;
  }
  auto ess = pipeline::EssProfile::load(*ess_text, *questionnaire, *mapping);
  if (!ess) {
    err << "liaison ingest: " << info(ess.error().code).code << ": " << ess.error().detail << "\n";
    return kExitUsage;
  }
  SystemClock clock;
  pipeline::FormIntake intake(*ess, clock);

  // Expand directories (sorted, so that runs are reproducible); hidden files are skipped.
  std::vector<fs::path> files_to_read;
  for (const fs::path& p : inputs) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(
               p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().filename().string().front() != '.')
          found.push_back(it->path());
      }
      std::sort(found.begin(), found.end());
      files_to_read.insert(files_to_read.end(), found.begin(), found.end());
    } else {
      files_to_read.push_back(p);
    }
  }
  bool any_quarantined = false;
  for (const fs::path& p : files_to_read) {
    pipeline::IngestResult result;
    if (auto bytes = readFile(p)) {
      result = intake.ingest(*bytes);
    } else {
      result.status = pipeline::IngestStatus::Quarantined;
      result.quarantine = makeError(Errc::InputUnreadable, "Fichier illisible.");
      result.issues.add(Errc::InputUnreadable, "Fichier illisible.", {}, p.string());
    }
    any_quarantined = any_quarantined || result.status == pipeline::IngestStatus::Quarantined;
    out << pipeline::reportLine(p.string(), result) << "\n";
  }
  return any_quarantined ? kExitFailure : kExitOk;
}

int runErrors(std::ostream& out) {
  for (const ErrcInfo& row : catalogue()) {
    out << row.code << "\t" << row.http_status << "\t" << row.issue_type << "\t"
        << toString(row.severity) << "\n";
  }
  return kExitOk;
}

}  // namespace liaison::app
