#include "app/commands.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "adapters/crypto/sodium_secrets.hpp"
#include "adapters/http/server.hpp"
#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_accounts.hpp"
#include "adapters/pg/pg_audit_log.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "adapters/pg/pg_store.hpp"
#include "app/access_config.hpp"
#include "app/config_schema.hpp"
#include "app/mail_service.hpp"
#include "core/auth/accounts.hpp"
#include "core/json/json_out.hpp"
#include "core/nir/nir.hpp"
#include "pipeline/form_intake.hpp"
#include "pipeline/message_intake.hpp"
#include "pipeline/stored_intake.hpp"
#include "rest/fhir_api.hpp"
#include "rest/sessions.hpp"

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

// Checks the text of a configuration file against schemas/<schema> of the data directory and
// prints every error ("liaison serve: FILE: tls.cert: non-empty string expected"); false when any.
bool conformsToSchema(std::string_view text, const fs::path& file, const char* schema,
                      std::string_view command, std::ostream& err) {
  const fs::path schema_path = dataDir() / "schemas" / schema;
  auto schema_text = readFile(schema_path);
  auto checker = schema_text ? ConfigSchema::parse(*schema_text)
                             : Result<ConfigSchema>(makeError(Errc::ConfigInvalid, "unreadable"));
  if (!checker) {
    err << command << ": cannot read the schema " << schema_path.string() << " ("
        << checker.error().detail << ")\n";
    return false;
  }
  const std::vector<SchemaError> errors = checker->validate(text);
  for (const SchemaError& e : errors)
    err << command << ": " << file.string() << ": " << toString(e) << "\n";
  return errors.empty();
}

// A configuration file parsed and checked against its schema (see conformsToSchema).
std::optional<rapidjson::Document> readCheckedConfig(const fs::path& file, const char* schema,
                                                     std::string_view command, std::ostream& err) {
  auto text = readFile(file);
  if (!text) {
    err << command << ": cannot read " << file.string() << "\n";
    return std::nullopt;
  }
  if (!conformsToSchema(*text, file, schema, command, err)) return std::nullopt;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(text->data(), text->size());
  return d;
}

void writeString(json::JsonOut& w, std::string_view s) {
  w.String(s);
}

std::optional<std::string> databaseFromEnvironment() {
  if (const char* d = std::getenv("LIAISON_DB"); d != nullptr && *d != '\0') return d;
  return std::nullopt;
}

// One line of `liaison ingest --db` output: the intake's line plus what the store kept.
std::string storedLine(std::string_view input, const pipeline::StoredIngest& s,
                       std::string_view issue_system) {
  std::string line;
  if (s.duplicate) {
    json::JsonOut w(line);
    w.StartObject();
    w.Key("input");
    w.String(input);
    w.Key("status");
    w.String(pipeline::toString(s.result.status));
    w.Key("outcome");
    w.RawValue(s.outcome_json.data(), s.outcome_json.size());
  } else {
    line = pipeline::reportLine(input, s.result, issue_system);
    line.pop_back();  // reopen the object
  }
  std::string tail;
  json::JsonOut w(tail);
  w.StartObject();
  w.Key("journal");
  w.Int64(s.journal_id);
  w.Key("duplicate");
  w.Bool(s.duplicate);
  if (!s.response_json.empty()) {
    w.Key("response");
    w.RawValue(s.response_json.data(), s.response_json.size());
  }
  w.EndObject();
  line += ",\"stored\":" + tail + "}";
  return line;
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
         "  liaison ingest PATH... [--ess CONFIG] [--mss CONFIG] [--db DSN]\n"
         "      Read MSSanté messages (.eml, Maildir; IHE_XDM.ZIP with CDA R2, FHIR attachments,\n"
         "      forms in the body, PDF or free text) and ESS request forms (QuestionnaireResponse\n"
         "      JSON or plain text); directories are read file by file, with progress on stderr.\n"
         "      Print one JSON object per input and line:\n"
         "      {\"input\", \"status\", \"bundle\", \"outcome\", \"eligibility\"}.\n"
         "      Exit 0 when all are accepted or incomplete, 1 when any is quarantined, 2 usage.\n"
         "      --ess defaults to $LIAISON_ESS, else profiles/cardio-plus/ess.json;\n"
         "      --mss defaults to profiles/mssante/intake.json.\n"
         "      With --db (or $LIAISON_DB), each input is journaled in PostgreSQL first, then its\n"
         "      resources and outcome are stored in one transaction; an input already ingested\n"
         "      returns its first outcome (\"duplicate\": true) and writes nothing.\n"
         "  liaison db migrate|status|reindex [--db DSN]\n"
         "      Apply the schema migrations (under an advisory lock), print the version, or\n"
         "      rebuild the search index (after profiles/fhir/search-parameters.json changed).\n"
         "  liaison serve [--config FILE] [--db DSN] [--port N]\n"
         "      Serve the FHIR R4 REST API over HTTPS (mutual TLS when configured). FILE is JSON\n"
         "      (default $LIAISON_CONFIG) checked against schemas/serve.schema.json: listen, tls,\n"
         "      database, baseUrl, threads, limits, ess, mss, access, insecureForTests, mail (the\n"
         "      MSSanté transport: mailboxes polled over IMAP, answers sent over SMTP).\n"
         "      $LIAISON_DB overrides the database. Checked before any socket opens. Prints the\n"
         "      address it listens on; SIGTERM/SIGINT stop it gracefully.\n"
         "  liaison pull --config FILE [--db DSN]\n"
         "      Once: process interrupted messages, fetch every mailbox of the \"mail\" section\n"
         "      (journal, mark on the server, ingest, queue acknowledgements), then send the\n"
         "      outbox until nothing is due. Prints a JSON summary. `serve` does the same\n"
         "      continuously when its configuration has a \"mail\" section.\n"
         "  liaison user add NAME --role R[,R] [--ess E[,E]] | passwd NAME | disable NAME |\n"
         "               enable NAME | list   [--password-stdin] [--policy FILE] [--db DSN]\n"
         "      People's local accounts (browser login, POST /auth/login). add and passwd read\n"
         "      the password on the terminal without echo (twice), or one line from stdin with\n"
         "      --password-stdin or a pipe: at least 12 characters, not containing the name;\n"
         "      stored as an argon2id hash. Roles are checked against the policy (--policy,\n"
         "      default profiles/policy.json). disable ends the account's sessions at once;\n"
         "      passwd ends them too and lifts a lock-out. list prints one JSON object per\n"
         "      account (name, roles, ess, disabled, locked, failedLogins, needsRehash; never\n"
         "      a hash). Exit 0 done, 1 no such account or name taken, 2 usage, 3 database.\n"
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

namespace {

// The ESS profile named by an ESS configuration (its Questionnaire and mapping are relative to it).
// `canonical_base`: the deployment's (profiles/mssante/intake.json canonicalBase).
std::optional<std::shared_ptr<const pipeline::EssProfile>> loadEss(const fs::path& ess_path,
                                                                   std::string_view canonical_base,
                                                                   std::ostream& err) {
  auto ess_text = readFile(ess_path);
  if (!ess_text) {
    err << "liaison: cannot read ESS configuration " << ess_path.string() << "\n";
    return std::nullopt;
  }
  if (!conformsToSchema(*ess_text, ess_path, "ess.schema.json", "liaison", err))
    return std::nullopt;
  auto files = pipeline::essFiles(*ess_text);
  if (!files) {
    err << "liaison: " << files.error().detail << "\n";
    return std::nullopt;
  }
  fs::path base = ess_path.parent_path();
  auto questionnaire = readFile(base / files->questionnaire);
  auto mapping = readFile(base / files->mapping);
  if (!questionnaire || !mapping) {
    err << "liaison: cannot read " << (questionnaire ? files->mapping : files->questionnaire)
        << " (relative to " << base.string() << ")\n";
    return std::nullopt;
  }
  auto ess = pipeline::EssProfile::load(*ess_text, *questionnaire, *mapping, canonical_base);
  if (!ess) {
    err << "liaison: " << info(ess.error().code).code << ": " << ess.error().detail << "\n";
    return std::nullopt;
  }
  return *ess;
}

std::optional<std::shared_ptr<const pipeline::MssProfile>> loadMss(const fs::path& path,
                                                                   std::ostream& err) {
  auto config = readFile(path);
  if (!config) {
    err << "liaison: cannot read MSSanté intake configuration " << path.string() << "\n";
    return std::nullopt;
  }
  if (!conformsToSchema(*config, path, "mss-intake.schema.json", "liaison", err))
    return std::nullopt;
  const fs::path base = path.parent_path();
  // The incoming-resources file it names is checked against its own schema.
  rapidjson::Document named;
  named.Parse<rapidjson::kParseIterativeFlag>(config->data(), config->size());
  std::string incoming;
  if (named.IsObject() && named.HasMember("incoming") && named["incoming"].IsString())
    incoming = named["incoming"].GetString();
  auto mss =
      pipeline::MssProfile::load(*config, [&](const std::string& name) -> Result<std::string> {
        auto text = readFile(base / name);
        if (!text)
          return makeError(Errc::ConfigInvalid,
                           "cannot read " + name + " (relative to " + base.string() + ")");
        if (name == incoming &&
            !conformsToSchema(*text, base / name, "incoming.schema.json", "liaison", err))
          return makeError(Errc::ConfigInvalid, name + ": see the errors above");
        return std::move(*text);
      });
  if (!mss) {
    err << "liaison: " << info(mss.error().code).code << ": " << mss.error().detail << "\n";
    return std::nullopt;
  }
  return *mss;
}

std::optional<map::SearchParameters> loadSearchParameters(std::ostream& err) {
  const fs::path path = dataDir() / "profiles/fhir/search-parameters.json";
  auto text = readFile(path);
  if (!text) {
    err << "liaison: cannot read " << path.string() << "\n";
    return std::nullopt;
  }
  auto search = map::SearchParameters::load(*text);
  if (!search) {
    err << "liaison: " << search.error().detail << "\n";
    return std::nullopt;
  }
  return std::move(*search);
}

// Files under the inputs, sorted per directory so that runs are reproducible. In a Maildir,
// tmp/ holds mails still being delivered and the server's own files are not mails: both skipped.
std::vector<fs::path> inputFiles(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> files;
  for (const fs::path& p : inputs) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      files.push_back(p);
      continue;
    }
    std::vector<fs::path> found;
    auto it =
        fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& path = it->path();
      const std::string name = path.filename().string();
      if (it->is_directory(ec)) {
        if (name == "tmp" && fs::is_directory(path.parent_path() / "cur", ec))
          it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec) || name.empty() || name.front() == '.' ||
          name.rfind("dovecot", 0) == 0 || name == "maildirfolder" || name == "subscriptions") {
        continue;
      }
      found.push_back(path);
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// Bulk runs report on stderr every two seconds: count, rate, totals per outcome.
class Progress {
 public:
  Progress(std::size_t total, std::ostream& err)
      : total_(total), err_(err), start_(std::chrono::steady_clock::now()) {}
  void count(pipeline::IngestStatus s) {
    ++counts_[static_cast<std::size_t>(s)];
    ++done_;
    auto now = std::chrono::steady_clock::now();
    if (total_ > 1 && now - last_ >= std::chrono::seconds(2)) {
      last_ = now;
      print("progress");
    }
  }
  void finish() {
    if (total_ > 1) print("done");
  }

 private:
  void print(const char* what) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    err_ << "liaison ingest: " << what << " " << done_ << "/" << total_ << " inputs, "
         << static_cast<long long>(seconds > 0 ? static_cast<double>(done_) / seconds : 0)
         << "/s; accepted " << counts_[0] << ", incomplete " << counts_[1] << ", quarantined "
         << counts_[2] << "\n";
  }
  std::size_t total_;
  std::ostream& err_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_ = start_;
  std::size_t done_ = 0;
  std::array<std::size_t, 3> counts_{};
};

}  // namespace

int runIngest(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::optional<fs::path> ess_path;
  std::optional<fs::path> mss_path;
  std::optional<std::string> dsn = databaseFromEnvironment();
  std::vector<fs::path> inputs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--ess" || args[i] == "--mss") {
      if (i + 1 >= args.size()) {
        err << "liaison ingest: " << args[i] << " takes a configuration file\n";
        return kExitUsage;
      }
      (args[i] == "--ess" ? ess_path : mss_path) = fs::path(args[i + 1]);
      ++i;
    } else if (args[i] == "--db") {
      if (i + 1 >= args.size()) {
        err << "liaison ingest: --db takes a PostgreSQL connection string\n";
        return kExitUsage;
      }
      dsn = std::string(args[++i]);
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
  if (!mss_path) mss_path = dataDir() / "profiles/mssante/intake.json";
  // Configuration errors are the operator's: report and stop before reading any input.
  auto mss = loadMss(*mss_path, err);
  if (!mss) return kExitUsage;
  auto ess = loadEss(*ess_path, (*mss)->canonicalBase(), err);
  if (!ess) return kExitUsage;
  const std::string issue_system = pipeline::issueCodeSystem((*mss)->canonicalBase());
  SystemClock clock;
  pipeline::FormIntake forms(*ess, clock);
  pipeline::MessageIntake messages(*mss, *ess, clock);
  std::unique_ptr<pg::PgStore> store;
  if (dsn) {
    // The database must be reachable and migrated before any input is read.
    auto version = pg::requireCurrentSchema(*dsn);
    auto opened = version ? pg::PgStore::open(*dsn) : version.error();
    if (!opened) {
      err << "liaison ingest: " << info(opened.error().code).code << ": " << opened.error().detail
          << "\n";
      return kExitStore;
    }
    store = std::move(*opened);
  }
  std::optional<pipeline::StoredIntake> stored;
  std::optional<map::SearchParameters> search;
  if (store) {
    search = loadSearchParameters(err);
    if (!search) return kExitUsage;
    stored.emplace(*store, messages, forms, *search, clock);
  }

  const std::vector<fs::path> files = inputFiles(inputs);
  Progress progress(files.size(), err);
  bool any_quarantined = false;
  bool store_failed = false;
  for (const fs::path& p : files) {
    pipeline::IngestResult result;
    if (auto bytes = readFile(p)) {
      const bool mail = p.extension() == ".eml" || pipeline::looksLikeMail(*bytes);
      if (stored) {
        auto s = stored->ingest(*bytes, "file:" + fs::absolute(p).string(), mail);
        if (!s) {
          // Not stored: the file stays where it is, to be ingested again.
          err << "liaison ingest: " << p.string() << ": " << info(s.error().code).code << ": "
              << s.error().detail << "\n";
          store_failed = true;
          continue;
        }
        any_quarantined =
            any_quarantined || s->result.status == pipeline::IngestStatus::Quarantined;
        out << storedLine(p.string(), *s, issue_system) << "\n";
        progress.count(s->result.status);
        continue;
      }
      result = mail ? messages.ingest(*bytes) : forms.ingest(*bytes);
    } else {
      result.status = pipeline::IngestStatus::Quarantined;
      result.quarantine = makeError(Errc::InputUnreadable, "Fichier illisible.");
      result.issues.add(Errc::InputUnreadable, "Fichier illisible.", {}, p.string());
    }
    any_quarantined = any_quarantined || result.status == pipeline::IngestStatus::Quarantined;
    out << pipeline::reportLine(p.string(), result, issue_system) << "\n";
    progress.count(result.status);
  }
  progress.finish();
  if (store_failed) return kExitStore;
  return any_quarantined ? kExitFailure : kExitOk;
}

int runDb(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::optional<std::string> dsn = databaseFromEnvironment();
  std::optional<std::string_view> action;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) {
      dsn = std::string(args[++i]);
    } else if (!action && (args[i] == "migrate" || args[i] == "status" || args[i] == "reindex")) {
      action = args[i];
    } else {
      err << "liaison db: unexpected argument " << args[i] << "\n";
      return kExitUsage;
    }
  }
  if (!action || !dsn) {
    err << "liaison db: usage: liaison db migrate|status|reindex [--db DSN] (or $LIAISON_DB)\n";
    return kExitUsage;
  }
  if (*action == "status") {
    auto v = pg::schemaVersion(*dsn);
    if (!v) {
      err << "liaison db: " << info(v.error().code).code << ": " << v.error().detail << "\n";
      return kExitStore;
    }
    out << "{\"schemaVersion\":" << *v << ",\"latest\":" << pg::latestSchemaVersion()
        << ",\"current\":" << (*v == pg::latestSchemaVersion() ? "true" : "false") << "}\n";
    return *v == pg::latestSchemaVersion() ? kExitOk : kExitFailure;
  }
  if (*action == "reindex") {
    auto search = loadSearchParameters(err);
    if (!search) return kExitUsage;
    auto schema = pg::requireCurrentSchema(*dsn);
    auto store = schema ? pg::PgStore::open(*dsn) : schema.error();
    auto count = store ? (*store)->reindex([&search](std::string_view type, std::string_view json) {
      return search->extract(type, json);
    })
                       : store.error();
    if (!count) {
      err << "liaison db: " << info(count.error().code).code << ": " << count.error().detail
          << "\n";
      return kExitStore;
    }
    out << "{\"reindexed\":" << *count << "}\n";
    return kExitOk;
  }
  auto report = pg::migrate(*dsn);
  if (!report) {
    err << "liaison db: " << info(report.error().code).code << ": " << report.error().detail
        << "\n";
    return kExitStore;
  }
  std::string line;
  json::JsonOut w(line);
  w.StartObject();
  w.Key("from");
  w.Int64(report->from);
  w.Key("to");
  w.Int64(report->to);
  w.Key("applied");
  w.StartArray();
  for (const std::string& f : report->applied)
    w.String(f);
  w.EndArray();
  w.EndObject();
  out << line << "\n";
  return kExitOk;
}

int runErrors(std::ostream& out) {
  for (const ErrcInfo& row : catalogue()) {
    out << row.code << "\t" << row.http_status << "\t" << row.issue_type << "\t"
        << toString(row.severity) << "\n";
  }
  return kExitOk;
}

}  // namespace liaison::app

namespace liaison::app {
namespace {

// The server's configuration file, checked against schemas/serve.schema.json (every error printed
// with its path), then what a schema cannot say: files readable, settings that go together, and
// the safe defaults of `serve`.
struct ServeConfig {
  http::ServerConfig server;
  std::string database;
  std::string database_as_given;  // before boundDatabase() added the time bounds
  // Every connection's time bounds (limits.*): a statement that runs away is cancelled, a
  // transaction left open is ended, a database that does not answer fails the connection.
  pg::SessionLimits db_limits{5, 30000, 60000};
  int max_includes = 1000;  // _include references resolved per search page
  std::string base_url;
  fs::path ess;
  fs::path mss;
  std::optional<MailConfig> mail;              // the MSSanté transport, when configured
  std::optional<rest::AccessSettings> access;  // who may use the REST API
  auth::SessionSettings sessions;              // people's browser sessions, login limits
  bool insecure_for_tests = false;
  // Authentication off (bench/run-api-bench's comparison): everyone is one principal with these.
  std::vector<std::string> anonymous_roles_for_tests;
};

std::optional<ServeConfig> readServeConfig(const std::optional<fs::path>& file, std::ostream& err,
                                           bool serving = true) {
  const std::string_view command = serving ? "liaison serve" : "liaison pull";
  ServeConfig c;
  c.ess = dataDir() / "profiles/cardio-plus/ess.json";
  c.mss = dataDir() / "profiles/mssante/intake.json";
  c.server.tls = true;
  // Each worker holds one PostgreSQL connection and runs its handler to the end: twice the cores
  // keeps them busy while others wait on the database. Far more only queue on the CPU — with 16
  // on 2 cores the reads' p99 was 36–51 ms against 9–13 ms with 4, for the same req/s
  // (WORKERS=16 bench/run-api-bench against the default).
  c.server.worker_threads = std::max(4u, 2 * std::thread::hardware_concurrency());
  // A handler past a minute is answered 503 (its statements are bounded by statementTimeoutMs,
  // 30 s); 64 MiB of bodies at once: four of the largest, the rest wait their turn.
  c.server.handler_timeout = std::chrono::milliseconds(60000);
  c.server.max_bytes_in_flight = std::size_t{64} << 20;
  bool ok = true;
  // Bearer tokens, or clients named by their certificate, in "access": the authorize step then
  // answers 401 on every route but /healthz to a request that is neither.
  bool access_authenticates = false;
  bool people_log_in = false;  // the configuration has a "sessions" object
  auto bad = [&](std::string_view why) {
    err << command << ": " << why << "\n";
    ok = false;
  };
  if (file) {
    auto doc = readCheckedConfig(*file, "serve.schema.json", command, err);
    if (!doc) return std::nullopt;
    const ConfigObject d(*doc);
    const fs::path base = file->parent_path();
    auto path = [&](const std::string& name) {
      const fs::path p(name);
      return p.is_absolute() ? p : base / p;
    };
    const ConfigObject listen = d.object("listen");
    if (auto v = listen.string("address")) c.server.address = *v;
    if (auto v = listen.integer("port")) c.server.port = static_cast<unsigned short>(*v);
    const ConfigObject tls = d.object("tls");
    if (auto v = tls.boolean("enabled")) c.server.tls = *v;
    if (auto v = tls.string("cert")) c.server.cert_file = path(*v).string();
    if (auto v = tls.string("key")) c.server.key_file = path(*v).string();
    if (auto v = tls.string("clientCa")) c.server.client_ca_file = path(*v).string();
    if (auto v = tls.boolean("requireClientCert")) c.server.require_client_cert = *v;
    if (auto v = tls.string("crl")) c.server.crl_file = path(*v).string();
    if (auto v = d.string("database")) c.database = *v;
    if (auto v = d.string("baseUrl")) c.base_url = *v;
    if (auto v = d.string("ess")) c.ess = path(*v);
    if (auto v = d.string("mss")) c.mss = path(*v);
    if (auto v = d.boolean("log")) c.server.log = *v;
    if (auto v = d.boolean("insecureForTests")) c.insecure_for_tests = *v;
    if (const rapidjson::Value* roles = d.member("anonymousRolesForTests");
        roles && roles->IsArray())
      for (const auto& role : roles->GetArray())
        c.anonymous_roles_for_tests.emplace_back(role.GetString(), role.GetStringLength());
    auto listed = [](const rapidjson::Value* v) { return v && v->IsArray() && !v->Empty(); };
    const ConfigObject access_settings = d.object("access");
    access_authenticates = listed(access_settings.member("tokens")) ||
                           (listed(access_settings.member("clients")) && tls.string("clientCa"));
    const ConfigObject threads = d.object("threads");
    if (auto v = threads.integer("io")) c.server.io_threads = static_cast<unsigned>(*v);
    if (auto v = threads.integer("workers")) c.server.worker_threads = static_cast<unsigned>(*v);
    const ConfigObject limits = d.object("limits");
    if (auto v = limits.integer("bodyBytes")) c.server.body_limit = static_cast<std::size_t>(*v);
    if (auto v = limits.integer("headerBytes"))
      c.server.header_limit = static_cast<std::size_t>(*v);
    if (auto v = limits.integer("readTimeoutMs"))
      c.server.read_timeout = std::chrono::milliseconds(*v);
    if (auto v = limits.integer("idleTimeoutMs"))
      c.server.idle_timeout = std::chrono::milliseconds(*v);
    if (auto v = limits.integer("handshakeTimeoutMs"))
      c.server.handshake_timeout = std::chrono::milliseconds(*v);
    if (auto v = limits.integer("headerTimeoutMs"))
      c.server.header_timeout = std::chrono::milliseconds(*v);
    if (auto v = limits.integer("maxConnections"))
      c.server.max_connections = static_cast<std::size_t>(*v);
    if (auto v = limits.integer("maxConnectionsPerClient"))
      c.server.max_connections_per_client = static_cast<std::size_t>(*v);
    if (auto v = limits.integer("reservedConnections"))
      c.server.reserved_connections = static_cast<std::size_t>(*v);
    if (auto v = limits.integer("maxIncludes")) c.max_includes = static_cast<int>(*v);
    if (auto v = limits.integer("handlerTimeoutMs"))
      c.server.handler_timeout = std::chrono::milliseconds(*v);
    if (auto v = limits.integer("maxBytesInFlight"))
      c.server.max_bytes_in_flight = static_cast<std::size_t>(*v);
    if (auto v = limits.integer("statementTimeoutMs"))
      c.db_limits.statement_timeout_ms = static_cast<int>(*v);
    if (auto v = limits.integer("idleInTransactionTimeoutMs"))
      c.db_limits.idle_in_transaction_timeout_ms = static_cast<int>(*v);
    if (auto v = limits.integer("databaseConnectTimeoutSeconds"))
      c.db_limits.connect_timeout_seconds = static_cast<int>(*v);
    if (const rapidjson::Value* mail = d.member("mail")) {
      c.mail = readMailConfig(*mail, base, err);
      if (!c.mail) ok = false;
    }
    people_log_in = d.member("sessions") != nullptr;
    const ConfigObject sessions = d.object("sessions");
    if (auto v = sessions.integer("idleMinutes")) c.sessions.idle = std::chrono::minutes(*v);
    if (auto v = sessions.integer("absoluteHours")) c.sessions.absolute = std::chrono::hours(*v);
    if (auto v = sessions.integer("maxFailures")) c.sessions.max_failures = static_cast<int>(*v);
    if (auto v = sessions.integer("lockoutMinutes")) c.sessions.lockout = std::chrono::minutes(*v);
    if (auto v = sessions.integer("loginAttemptsPerMinute"))
      c.sessions.attempts_per_minute = static_cast<int>(*v);
    if (const rapidjson::Value* access = d.member("access")) {
      c.access = readAccessConfig(*access, base, std::string(command) + ": " + file->string(), err);
      if (!c.access) ok = false;
    }
  }
  if (!serving) return ok ? std::optional(std::move(c)) : std::nullopt;  // `pull` opens no socket
  // The schema requires it in a file; without one there is none (never the Host header).
  if (c.base_url.empty())
    bad("baseUrl is required in the configuration (the API's public URL, e.g. "
        "https://gw.example/fhir): links are never built from a request's Host header");
  if (c.server.tls && (c.server.cert_file.empty() || c.server.key_file.empty()))
    bad("tls.cert and tls.key are required (a server without TLS: tls.enabled false and "
        "\"insecureForTests\": true, for local tests only)");
  if (c.server.max_bytes_in_flight > 0 && c.server.max_bytes_in_flight < c.server.body_limit)
    bad("limits.maxBytesInFlight is below limits.bodyBytes: a body of the largest size allowed "
        "would always be refused");
  if (c.server.require_client_cert && c.server.client_ca_file.empty())
    bad("tls.requireClientCert needs tls.clientCa");
  if (!c.server.crl_file.empty() && c.server.client_ca_file.empty())
    bad("tls.crl needs tls.clientCa (the CRL is checked against the client certificates)");
  for (const std::string& f :
       {c.server.cert_file, c.server.key_file, c.server.client_ca_file, c.server.crl_file}) {
    if (!f.empty() && !readFile(f)) bad("cannot read " + f);
  }
  // Safe defaults: every route authenticated, over TLS, unless a test says otherwise.
  // A "sessions" object says people log in with local accounts: every route then needs a session
  // (or a certificate, a token), which is an authentication method for every route too.
  const bool authenticated =
      c.server.tls && ((c.server.require_client_cert && !c.server.client_ca_file.empty()) ||
                       access_authenticates || people_log_in);
  if (!c.insecure_for_tests) {
    if (!c.server.tls)
      bad("refusing to serve without TLS (tls.enabled is false): patient data would travel in "
          "clear; \"insecureForTests\": true allows it for local tests only");
    else if (!authenticated)
      bad("refusing to serve without authenticating every client: set tls.clientCa and "
          "tls.requireClientCert: true, access.clients or access.tokens, or sessions (people "
          "log in with `liaison user` accounts) "
          "(\"insecureForTests\": true allows it for local tests only)");
  } else if (!c.server.tls || (!authenticated && c.anonymous_roles_for_tests.empty())) {
    // Say what this configuration really exposes: without TLS, what travels (data, tokens) is
    // readable on the wire; without an authentication method, every route but /healthz is 401.
    err << command << ": warning: insecureForTests: "
        << (c.server.tls ? "no authentication method: every route but /healthz answers 401"
                         : "no TLS: patient data and credentials travel in clear")
        << " (local tests only)\n";
  }
  if (!c.anonymous_roles_for_tests.empty()) {
    if (!c.insecure_for_tests || c.access)
      bad("anonymousRolesForTests (authentication off) needs \"insecureForTests\": true and no "
          "access object");
    else
      err << command << ": warning: anonymousRolesForTests: authentication is off, every request "
          << "is anonymous-test (measurements only)\n";
  }
  if (!ok) return std::nullopt;
  return c;
}

// The database's connection string with the configured time bounds (limits.*), once the
// overrides ($LIAISON_DB, --db) applied: every connection of the command then has them.
bool boundDatabase(ServeConfig& config, std::string_view command, std::ostream& err) {
  auto bounded = pg::boundedConninfo(config.database, config.db_limits);
  if (!bounded) {
    err << command << ": " << bounded.error().detail << "\n";
    return false;
  }
  config.database_as_given = std::move(config.database);
  config.database = std::move(*bounded);
  return true;
}

// /healthz's view of the database (rest::DatabaseHealth): a thread of its own checks it every
// `every` on a connection of its own with short bounds (2 s to connect, 2 s per statement), so
// that the check never waits for the requests' pool and a check never outlasts its bounds.
class DatabaseProbe {
 public:
  DatabaseProbe(const std::string& conninfo_as_given, rest::DatabaseHealth& health,
                std::chrono::milliseconds every)
      : health_(health), every_(every) {
    auto bounded = pg::boundedConninfo(conninfo_as_given, {2, 2000, 2000});
    if (bounded) conninfo_ = std::move(*bounded);
  }
  DatabaseProbe(const DatabaseProbe&) = delete;
  DatabaseProbe& operator=(const DatabaseProbe&) = delete;
  ~DatabaseProbe() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_ptr<pg::PgStore> store;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      if (!store && !conninfo_.empty()) {
        if (auto s = pg::PgStore::open(conninfo_)) store = std::move(*s);
      }
      bool ok = false;
      if (store) {
        ok = static_cast<bool>(store->read("Patient", "healthz"));
        if (!ok) store.reset();  // a fresh connection next time
      }
      health_.record(ok, std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
      lock.lock();
      changed_.wait_for(lock, every_, [this] { return stopping_; });
    }
  }

  rest::DatabaseHealth& health_;
  const std::chrono::milliseconds every_;
  std::string conninfo_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::thread thread_;
};

// Authentication off (anonymousRolesForTests): every request is the same principal, whatever it
// carries, of the server's ESS (its "ess" profile); the policy still decides per route.
class AnonymousForTests final : public auth::Authenticator {
 public:
  AnonymousForTests(std::vector<std::string> roles, std::string ess) {
    authentication_.status = auth::Authentication::Status::Ok;
    authentication_.principal = auth::Principal{
        "anonymous-test", auth::PrincipalKind::Client, std::move(roles), {std::move(ess)}, "-"};
  }
  auth::Authentication authenticate(const auth::Credentials&) const override {
    return authentication_;
  }

 private:
  auth::Authentication authentication_;
};

// The REST API's access control, checked before a socket opens: the policy file and the roles
// the clients name. Without an `access` object nobody is let in (every route but /healthz: 401).
struct ApiAccess {
  auth::Policy policy;
  std::unique_ptr<rest::ClientAccess> clients;
};

std::optional<ApiAccess> loadAccess(const ServeConfig& config, std::ostream& err) {
  const rest::AccessSettings settings = config.access.value_or(rest::AccessSettings{});
  const fs::path file =
      settings.policy.empty() ? dataDir() / "profiles/policy.json" : fs::path(settings.policy);
  // Checked against schemas/policy.schema.json (every error with its path), then read.
  if (!readCheckedConfig(file, "policy.schema.json", "liaison serve", err)) return std::nullopt;
  auto text = readFile(file);
  if (!text) {
    err << "liaison serve: cannot read the policy " << file.string() << "\n";
    return std::nullopt;
  }
  auto policy = rest::parsePolicy(*text);
  if (!policy) {
    err << "liaison serve: " << file.string() << ": " << policy.error().detail << "\n";
    return std::nullopt;
  }
  if (auto roles = rest::checkRoles(settings, *policy); !roles) {
    err << "liaison serve: " << roles.error().detail << "\n";
    return std::nullopt;
  }
  for (const std::string& role : config.anonymous_roles_for_tests) {
    if (!policy->hasRole(role)) {
      err << "liaison serve: anonymousRolesForTests: no such role in the policy: " << role << "\n";
      return std::nullopt;
    }
  }
  if (!config.access && config.anonymous_roles_for_tests.empty())
    err << "liaison serve: warning: no \"access\" in the configuration: every route but "
           "/healthz answers 401\n";
  ApiAccess out{std::move(*policy), std::make_unique<rest::ClientAccess>(settings)};
  return out;
}

// Each mailbox's intake: its own ESS when it names one (null: the server's).
struct MailboxIntakes {
  std::vector<std::unique_ptr<pipeline::FormIntake>> forms;
  std::vector<std::unique_ptr<pipeline::MessageIntake>> messages;
};

std::optional<MailboxIntakes> mailboxIntakes(const MailConfig& mail,
                                             const std::shared_ptr<const pipeline::MssProfile>& mss,
                                             const Clock& clock, std::ostream& err) {
  MailboxIntakes out;
  for (const MailboxSettings& m : mail.mailboxes) {
    if (m.ess.empty()) {
      out.forms.emplace_back();
      out.messages.emplace_back();
      continue;
    }
    auto ess = loadEss(m.ess, mss->canonicalBase(), err);
    if (!ess) return std::nullopt;
    out.forms.push_back(std::make_unique<pipeline::FormIntake>(*ess, clock));
    out.messages.push_back(std::make_unique<pipeline::MessageIntake>(mss, *ess, clock));
  }
  return out;
}

// What `serve` and `pull` run on, loaded and checked before anything opens: the profiles and
// mappings, the database's schema, the intakes (the server's ESS and each mailbox's own) and the
// acknowledgements when the mail transport is configured. Not movable: lambdas point into it.
class Gateway {
 public:
  // nullptr after printing why; `exit` is then the exit code.
  static std::unique_ptr<Gateway> load(const ServeConfig& config, std::string_view command,
                                       std::ostream& err, int& exit) {
    exit = kExitUsage;
    auto mss = loadMss(config.mss, err);
    if (!mss) return nullptr;
    auto ess = loadEss(config.ess, (*mss)->canonicalBase(), err);
    auto search = loadSearchParameters(err);
    if (!ess || !search) return nullptr;
    if (auto schema = pg::requireCurrentSchema(config.database); !schema) {
      err << "liaison " << command << ": " << info(schema.error().code).code << ": "
          << schema.error().detail << "\n";
      exit = kExitStore;
      return nullptr;
    }
    std::unique_ptr<Gateway> g(new Gateway(*ess, *mss, std::move(*search)));
    if (config.mail) {
      pipeline::AcknowledgementPolicy policy = config.mail->acknowledgements;
      // A message posted to POST / is answered at the address of the access client that posted
      // it (journal source "api:<client name>"), when the configuration gives one.
      std::map<std::string, std::string, std::less<>> addresses;
      if (config.access) {
        for (const rest::ClientSettings& c : config.access->clients)
          if (!c.address.empty()) addresses.emplace(c.name, c.address);
      }
      policy.client_address = [addresses](std::string_view client) {
        const auto it = addresses.find(client);
        return it == addresses.end() ? std::string() : it->second;
      };
      g->acks_.emplace(policy, g->clock);
      auto own = mailboxIntakes(*config.mail, *mss, g->clock, err);
      if (!own) return nullptr;
      g->own_ = std::move(*own);
    }
    return g;
  }
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // The acknowledgements of an ingested mail (empty when the mail transport is not configured).
  pipeline::StoredIntake::Answer answer() const {
    if (!acks_) return {};
    return [this](std::string_view bytes, const pipeline::IngestResult& result,
                  std::int64_t journal_id, std::string_view source) {
      return acks_->answer(bytes, result, journal_id, source);
    };
  }

  // The intake of a mailbox (its own ESS when it names one) or of the server, over a store.
  MailService::IntakeFactory intakes() const {
    return [this](Store& store, std::optional<std::size_t> i) {
      const bool has_own = i && *i < own_.forms.size() && own_.forms[*i];
      pipeline::StoredIntake intake(store, has_own ? *own_.messages[*i] : messages,
                                    has_own ? *own_.forms[*i] : forms, search, clock);
      intake.answerWith(answer());
      return intake;
    };
  }

  SystemClock clock;
  const map::SearchParameters search;
  const pipeline::FormIntake forms;
  const pipeline::MessageIntake messages;

 private:
  Gateway(const std::shared_ptr<const pipeline::EssProfile>& ess,
          const std::shared_ptr<const pipeline::MssProfile>& mss, map::SearchParameters search_)
      : search(std::move(search_)), forms(ess, clock), messages(mss, ess, clock) {}
  std::optional<pipeline::Acknowledgements> acks_;
  MailboxIntakes own_;
};

}  // namespace

int runServe(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::optional<fs::path> config_file;
  if (const char* c = std::getenv("LIAISON_CONFIG"); c != nullptr && *c != '\0') config_file = c;
  std::optional<std::string> dsn;
  std::optional<int> port;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_file = fs::path(args[++i]);
    } else if (args[i] == "--db" && i + 1 < args.size()) {
      dsn = std::string(args[++i]);
    } else if (args[i] == "--port" && i + 1 < args.size()) {
      port = std::atoi(std::string(args[++i]).c_str());
      if (*port < 0 || *port > 65535) {
        err << "liaison serve: --port takes 0 to 65535\n";
        return kExitUsage;
      }
    } else {
      err << "liaison serve: unexpected argument " << args[i] << "\n";
      return kExitUsage;
    }
  }
  auto config = readServeConfig(config_file, err);
  if (!config) return kExitUsage;
  if (port) config->server.port = static_cast<unsigned short>(*port);
  if (auto env = databaseFromEnvironment()) config->database = *env;
  if (dsn) config->database = *dsn;
  if (config->database.empty()) {
    err << "liaison serve: no database (\"database\" in the configuration, $LIAISON_DB or --db)\n";
    return kExitUsage;
  }
  if (!boundDatabase(*config, "liaison serve", err)) return kExitUsage;
  // Everything is checked before a socket opens: who may do what, profiles, mappings, the
  // database and its schema.
  auto access = loadAccess(*config, err);
  if (!access) return kExitUsage;
  int exit = kExitOk;
  auto gateway = Gateway::load(*config, "serve", err, exit);
  if (!gateway) return exit;
  const std::string database = config->database;
  auto audit = pg::PgAuditLog::open(database);  // flushed when runServe returns
  if (!audit) {
    err << "liaison serve: " << info(audit.error().code).code << ": " << audit.error().detail
        << "\n";
    return kExitStore;
  }
  pipeline::MailMetrics mail_metrics;
  rest::ApiOptions options{
      config->base_url, 20, 1000, audit->get(), gateway->answer(), [&mail_metrics] {
        return mail_metrics.text();
      }};
  options.max_includes = config->max_includes;
  // People's sessions after the machine clients: a certificate or a token decides first.
  auto secrets = crypto::SodiumSecrets::create();
  if (!secrets) {
    err << "liaison serve: " << info(secrets.error().code).code << ": " << secrets.error().detail
        << "\n";
    return kExitUsage;
  }
  rest::Sessions sessions(
      [database]() -> Result<std::unique_ptr<auth::AccountStore>> {
        auto a = pg::PgAccounts::open(database);
        if (!a) return a.error();
        return std::unique_ptr<auth::AccountStore>(std::move(*a));
      },
      **secrets, config->sessions, config->base_url);
  auth::Authenticators chain;
  chain.add(*access->clients);
  chain.add(sessions);
  options.authenticator = &chain;
  options.sessions = &sessions;
  std::optional<AnonymousForTests> anonymous;
  if (!config->anonymous_roles_for_tests.empty()) {
    anonymous.emplace(config->anonymous_roles_for_tests, gateway->messages.essId());
    options.authenticator = &*anonymous;
  }
  options.policy = &access->policy;
  rest::DatabaseHealth database_health;
  DatabaseProbe probe(config->database_as_given, database_health, std::chrono::seconds(5));
  probe.start();
  options.database_health = &database_health;
  rest::FhirApi api(
      [database]() -> Result<std::unique_ptr<Store>> {
        auto s = pg::PgStore::open(database);
        if (!s) return s.error();
        return std::unique_ptr<Store>(std::move(*s));
      },
      gateway->search, gateway->messages, gateway->forms, gateway->clock, options);
  config->server.timeout_response = api.errorResponse(
      Errc::RestHandlerTimeout,
      "Requête trop longue, abandonnée (limits.handlerTimeoutMs) ; une écriture a pu aboutir : "
      "la relire avant de la refaire.");
  config->server.busy_response =
      api.errorResponse(Errc::RestBusy, "Serveur occupé ; réessayer dans quelques secondes.");
  http::Server server(config->server, [&api](const http::Request& r) { return api.handle(r); });
  auto bound = server.start();
  if (!bound) {
    err << "liaison serve: " << info(bound.error().code).code << ": " << bound.error().detail
        << "\n";
    return kExitUsage;
  }
  server.stopOnSignals();
  std::optional<MailService> mail;
  if (config->mail) {
    mail.emplace(*config->mail, database, gateway->intakes(), mail_metrics, err);
    mail->start();
  }
  out << "liaison serve: listening on " << (config->server.tls ? "https://" : "http://")
      << config->server.address << ":" << *bound << std::endl;
  server.wait();
  if (mail) mail->stop();
  err << "liaison serve: stopped\n";
  return kExitOk;
}

}  // namespace liaison::app

namespace liaison::app {

int runPull(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  std::optional<fs::path> config_file;
  if (const char* c = std::getenv("LIAISON_CONFIG"); c != nullptr && *c != '\0') config_file = c;
  std::optional<std::string> dsn;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_file = fs::path(args[++i]);
    } else if (args[i] == "--db" && i + 1 < args.size()) {
      dsn = std::string(args[++i]);
    } else {
      err << "liaison pull: unexpected argument " << args[i] << "\n";
      return kExitUsage;
    }
  }
  if (!config_file) {
    err << "liaison pull: --config FILE (or $LIAISON_CONFIG) is required\n";
    return kExitUsage;
  }
  auto config = readServeConfig(config_file, err, false);
  if (!config) return kExitUsage;
  if (!config->mail) {
    err << "liaison pull: the configuration has no \"mail\" section\n";
    return kExitUsage;
  }
  if (auto env = databaseFromEnvironment()) config->database = *env;
  if (dsn) config->database = *dsn;
  if (config->database.empty()) {
    err << "liaison pull: no database (\"database\" in the configuration, $LIAISON_DB or --db)\n";
    return kExitUsage;
  }
  if (!boundDatabase(*config, "liaison pull", err)) return kExitUsage;
  int exit = kExitOk;
  auto gateway = Gateway::load(*config, "pull", err, exit);
  if (!gateway) return exit;
  pipeline::MailMetrics metrics;
  MailService mail(*config->mail, config->database, gateway->intakes(), metrics, err);
  const auto began = std::chrono::steady_clock::now();
  const bool ok = mail.runOnce();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::string line;
  json::JsonOut w(line);
  w.StartObject();
  w.Key("fetched");
  w.Int64(static_cast<std::int64_t>(metrics.fetched.load()));
  w.Key("processed");
  w.Int64(static_cast<std::int64_t>(metrics.stored.load()));
  w.Key("duplicates");
  w.Int64(static_cast<std::int64_t>(metrics.duplicates.load()));
  w.Key("reports");
  w.Int64(static_cast<std::int64_t>(metrics.reports.load()));
  w.Key("recovered");
  w.Int64(static_cast<std::int64_t>(metrics.recovered.load()));
  w.Key("sent");
  w.Int64(static_cast<std::int64_t>(metrics.sent.load()));
  w.Key("retried");
  w.Int64(static_cast<std::int64_t>(metrics.retried.load()));
  w.Key("failed");
  w.Int64(static_cast<std::int64_t>(metrics.failed.load()));
  w.Key("seconds");
  w.Double(secs);
  w.EndObject();
  out << line << std::endl;
  return ok ? kExitOk : kExitStore;
}

}  // namespace liaison::app

namespace liaison::app {
namespace {

// A password from stdin: prompted twice without echo on a terminal, else one line (scripts:
// `--password-stdin`, or a pipe).
std::optional<std::string> readPassword(std::istream& in, std::ostream& err, bool from_stdin) {
  const bool tty = !from_stdin && &in == &std::cin && isatty(STDIN_FILENO) == 1;
  if (!tty) {
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  termios saved{};
  tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  std::string first, second;
  err << "Mot de passe : " << std::flush;
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  const bool got_first = static_cast<bool>(std::getline(in, first));
  err << "\nConfirmation : " << std::flush;
  const bool got_second = got_first && static_cast<bool>(std::getline(in, second));
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  err << "\n";
  if (!got_second) return std::nullopt;
  if (first != second) {
    err << "liaison user: les deux saisies diffèrent\n";
    return std::nullopt;
  }
  return first;
}

std::vector<std::string> commaList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    if (std::string_view item = text.substr(0, comma); !item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// An ESS name as mailboxes and principals give it ("*": every ESS).
bool validEssName(std::string_view name) {
  return name == "*" || auth::validUserName(name);
}

}  // namespace

int runUser(std::span<const std::string_view> args, std::istream& in, std::ostream& out,
            std::ostream& err) {
  constexpr std::string_view kUsage =
      "liaison user: usage: liaison user add NAME --role R[,R] [--ess E[,E]] | passwd NAME |\n"
      "  disable NAME | enable NAME | list   [--password-stdin] [--policy FILE] [--db DSN]\n";
  std::optional<std::string> dsn = databaseFromEnvironment();
  std::optional<std::string_view> action, name;
  std::vector<std::string> roles, ess;
  std::optional<fs::path> policy_file;
  bool password_stdin = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--db" && has_value) {
      dsn = std::string(args[++i]);
    } else if (a == "--role" && has_value) {
      for (std::string& r : commaList(args[++i]))
        roles.push_back(std::move(r));
    } else if (a == "--ess" && has_value) {
      for (std::string& e : commaList(args[++i]))
        ess.push_back(std::move(e));
    } else if (a == "--policy" && has_value) {
      policy_file = fs::path(args[++i]);
    } else if (a == "--password-stdin") {
      password_stdin = true;
    } else if (!action &&
               (a == "add" || a == "passwd" || a == "disable" || a == "enable" || a == "list")) {
      action = a;
    } else if (action && *action != "list" && !name && !a.starts_with("--")) {
      name = a;
    } else {
      err << "liaison user: unexpected argument " << a << "\n" << kUsage;
      return kExitUsage;
    }
  }
  if (!action || (*action != "list" && !name) || !dsn) {
    err << kUsage << "  (the database: --db DSN or $LIAISON_DB)\n";
    return kExitUsage;
  }
  if (name && !auth::validUserName(*name)) {
    err << "liaison user: nom invalide (1 à 64 caractères parmi A-Z a-z 0-9 . _ @ -)\n";
    return kExitUsage;
  }
  if (*action == "add") {
    if (roles.empty()) {
      err << "liaison user add: --role R[,R] is required\n";
      return kExitUsage;
    }
    // The roles exist in the policy the server applies (an unknown one would grant nothing).
    const fs::path file = policy_file.value_or(dataDir() / "profiles/policy.json");
    if (!readCheckedConfig(file, "policy.schema.json", "liaison user", err)) return kExitUsage;
    auto policy = rest::parsePolicy(readFile(file).value_or(""));
    if (!policy) {
      err << "liaison user: " << file.string() << ": " << policy.error().detail << "\n";
      return kExitUsage;
    }
    for (const std::string& r : roles) {
      if (!policy->hasRole(r)) {
        err << "liaison user add: no such role in the policy " << file.string() << ": " << r
            << "\n";
        return kExitUsage;
      }
    }
    for (const std::string& e : ess) {
      if (!validEssName(e)) {
        err << "liaison user add: invalid ESS name: " << e << "\n";
        return kExitUsage;
      }
    }
  }
  if (auto schema = pg::requireCurrentSchema(*dsn); !schema) {
    err << "liaison user: " << info(schema.error().code).code << ": " << schema.error().detail
        << "\n";
    return kExitStore;
  }
  auto secrets = crypto::SodiumSecrets::create();
  auto accounts = pg::PgAccounts::open(*dsn);
  if (!secrets || !accounts) {
    const Error& e = !secrets ? secrets.error() : accounts.error();
    err << "liaison user: " << info(e.code).code << ": " << e.detail << "\n";
    return kExitStore;
  }
  auto failed = [&err](const Error& e) {
    err << "liaison user: " << info(e.code).code << ": "
        << (e.code == Errc::DbConflict ? "ce nom existe déjà" : e.detail) << "\n";
    return e.code == Errc::RestNotFound || e.code == Errc::DbConflict ? kExitFailure : kExitStore;
  };
  if (*action == "list") {
    auto all = (*accounts)->list();
    if (!all) return failed(all.error());
    // Never the hashes: names, rights and state only.
    for (const auth::Account& a : *all) {
      std::string line;
      json::JsonOut w(line);
      w.StartObject();
      w.Key("name");
      w.String(a.name);
      for (const auto& [key, values] : {std::pair{"roles", &a.roles}, std::pair{"ess", &a.ess}}) {
        w.Key(key);
        w.StartArray();
        for (const std::string& v : *values)
          w.String(v);
        w.EndArray();
      }
      w.Key("disabled");
      w.Bool(a.disabled);
      w.Key("locked");
      w.Bool(a.locked);
      w.Key("failedLogins");
      w.Int64(a.failed_logins);
      w.Key("needsRehash");  // hashed with weaker parameters: ask for a new password
      w.Bool((*secrets)->needsRehash(a.password_hash));
      w.EndObject();
      out << line << "\n";
    }
    return kExitOk;
  }
  if (*action == "disable" || *action == "enable") {
    if (auto r = (*accounts)->setDisabled(*name, *action == "disable"); !r)
      return failed(r.error());
    out << "{\"name\":\"" << *name
        << "\",\"disabled\":" << (*action == "disable" ? "true" : "false") << "}\n";
    return kExitOk;
  }
  // add, passwd: a new password, checked against the policy before it is hashed.
  auto password = readPassword(in, err, password_stdin);
  if (!password) {
    err << "liaison user: no password read\n";
    return kExitUsage;
  }
  if (auto ok = auth::checkPasswordPolicy(*name, *password); !ok) {
    err << "liaison user: " << ok.error().detail << "\n";
    return kExitUsage;
  }
  auto hash = (*secrets)->hashPassword(*password);
  if (!hash) return failed(hash.error());
  if (*action == "add") {
    auth::Account account;
    account.name = std::string(*name);
    account.password_hash = *hash;
    account.roles = roles;
    account.ess = ess;
    if (auto r = (*accounts)->add(account); !r) return failed(r.error());
  } else if (auto r = (*accounts)->setPassword(*name, *hash); !r) {
    return failed(r.error());
  }
  out << "{\"name\":\"" << *name << "\",\"" << (*action == "add" ? "added" : "passwordChanged")
      << "\":true}\n";
  return kExitOk;
}

}  // namespace liaison::app
