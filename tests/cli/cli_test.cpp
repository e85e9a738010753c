// The `liaison` command line as users run it: exit codes, one JSON object per line.

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json/json_out.hpp"
#include "support/test_support.hpp"

namespace liaison {
namespace {

struct CliRun {
  int exit_code;
  std::string out;
  std::string err;
  std::vector<rapidjson::Document> lines;
};

std::string readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

CliRun liaison(const std::string& args, const std::string& env = "", bool json_lines = true) {
  const std::filesystem::path err_file = std::filesystem::temp_directory_path() /
                                         ("liaison-cli-" + std::to_string(::getpid()) + ".stderr");
  std::string command = env + " " + LIAISON_BINARY + " " + args + " 2>'" + err_file.string() + "'";
  CliRun r{-1, {}, {}, {}};
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[65536];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    r.out.append(buf, n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = readAll(err_file);
  std::filesystem::remove(err_file);
  std::size_t pos = 0;
  while (json_lines && pos < r.out.size()) {
    std::size_t end = r.out.find('\n', pos);
    if (end == std::string::npos) end = r.out.size();
    r.lines.emplace_back();
    r.lines.back().Parse(r.out.data() + pos, end - pos);
    EXPECT_FALSE(r.lines.back().HasParseError()) << r.out.substr(pos, end - pos);
    pos = end + 1;
  }
  return r;
}

std::string repo(const char* path) {
  return "'" + test::repoPath(path) + "'";
}

void dumpBundles(const CliRun& r, const std::string& name) {
  int i = 0;
  for (const auto& line : r.lines) {
    if (!line.IsObject() || !line.HasMember("bundle")) continue;
    std::string bundle;
    json::JsonOut w(bundle);
    json::JsonOutSax sax{w};
    line["bundle"].Accept(sax);
    test::dumpBundle(name + "-" + std::to_string(i++), bundle);
  }
}

TEST(CliNir, ValidNirWithConsistentTraits) {
  CliRun r =
      liaison("nir '2 79 03 51 215 189 89' --sex F --birth-date 1979-03-02 --birth-place 51215");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_TRUE(r.lines[0]["valid"].GetBool());
  EXPECT_STREQ(r.lines[0]["normalized"].GetString(), "279035121518989");
  EXPECT_EQ(r.lines[0]["issues"].Size(), 0u);
}

TEST(CliNir, InvalidKeyAndTraitMismatchExitOne) {
  CliRun key = liaison("nir 279035121518988");
  EXPECT_EQ(key.exit_code, 1);
  EXPECT_FALSE(key.lines[0]["valid"].GetBool());
  EXPECT_STREQ(key.lines[0]["issues"][0]["code"].GetString(), "nir-key-mismatch");
  EXPECT_STREQ(key.lines[0]["issues"][0]["severity"].GetString(), "error");

  CliRun traits = liaison("nir 279035121518989 --sex M --birth-place 2A004");
  EXPECT_EQ(traits.exit_code, 1);
  std::vector<std::string> codes;
  for (const auto& i : traits.lines[0]["issues"].GetArray())
    codes.emplace_back(i["code"].GetString());
  EXPECT_EQ(codes, (std::vector<std::string>{"nir-traits-sex-mismatch",
                                             "nir-traits-birth-place-mismatch"}));
}

TEST(CliNir, IdentifierSystemTellsNirNiaAndTestIns) {
  CliRun nir = liaison("nir 279035121518989 --system urn:oid:1.2.250.1.213.1.4.8");
  EXPECT_EQ(nir.exit_code, 0);
  EXPECT_STREQ(nir.lines[0]["type"].GetString(), "INS-NIR");
  CliRun nia = liaison("nir 279035121518989 --system 1.2.250.1.213.1.4.9");
  EXPECT_EQ(nia.exit_code, 0);
  EXPECT_STREQ(nia.lines[0]["type"].GetString(), "INS-NIA");
  CliRun test_ins = liaison("nir 279035121518989 --system 1.2.250.1.213.1.4.10");
  EXPECT_EQ(test_ins.exit_code, 0) << "a warning, not an error";
  EXPECT_STREQ(test_ins.lines[0]["type"].GetString(), "INS-NIR-TEST");
  EXPECT_STREQ(test_ins.lines[0]["issues"][0]["code"].GetString(), "ins-test-system");
  EXPECT_STREQ(test_ins.lines[0]["issues"][0]["severity"].GetString(), "warning");
  CliRun other = liaison("nir 279035121518989 --system 1.2.250.1.71.4.2.1");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_FALSE(other.lines[0].HasMember("type"));
  EXPECT_STREQ(other.lines[0]["issues"][0]["code"].GetString(), "ins-system-unknown");
}

TEST(CliNir, UsageErrorsExitTwo) {
  for (const char* args :
       {"nir", "nir 1 2", "nir 279035121518989 --sex X", "nir 279035121518989 --birth-date 1979",
        "nir 279035121518989 --bogus", "", "frobnicate"}) {
    SCOPED_TRACE(args);
    EXPECT_EQ(liaison(args, "", false).exit_code, 2);
  }
  CliRun help = liaison("--help", "", false);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("liaison ingest PATH"), std::string::npos);
}

TEST(CliIngest, SamplesOneLinePerInput) {
  CliRun r = liaison("ingest " + repo("samples/fiches"));
  dumpBundles(r, "cli-samples");
  EXPECT_EQ(r.exit_code, 1) << "not-a-form.txt is quarantined";
  ASSERT_EQ(r.lines.size(), 5u);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& l : r.lines) {
    std::string input = l["input"].GetString();
    got.emplace_back(input.substr(input.rfind('/') + 1), l["status"].GetString());
    EXPECT_TRUE(l.HasMember("outcome"));
    EXPECT_STREQ(l["outcome"]["resourceType"].GetString(), "OperationOutcome");
  }
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"fiche-complete.txt", "accepted"},
                     {"fiche-incomplete.txt", "incomplete"},
                     {"fiche-papier.txt", "accepted"},  // the paper form's wording (issue 13)
                     {"not-a-form.txt", "quarantined"},
                     {"questionnaire-response.json", "accepted"}}));
  EXPECT_STREQ(r.lines[0]["eligibility"]["status"].GetString(), "eligible");
  EXPECT_STREQ(r.lines[2]["eligibility"]["status"].GetString(), "eligible");
  EXPECT_STREQ(r.lines[3]["quarantine"]["code"].GetString(), "input-unrecognised");
  EXPECT_FALSE(r.lines[3].HasMember("bundle"));
}

TEST(CliIngest, ExitZeroWhenNothingIsQuarantined) {
  CliRun r = liaison("ingest " + repo("samples/fiches/fiche-complete.txt") + " " +
                     repo("samples/fiches/fiche-incomplete.txt"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.lines.size(), 2u);
}

TEST(CliIngest, UnreadableFileIsQuarantinedNotFatal) {
  CliRun r = liaison("ingest /nonexistent/fiche.txt " + repo("samples/fiches/fiche-complete.txt"));
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_STREQ(r.lines[0]["status"].GetString(), "quarantined");
  EXPECT_STREQ(r.lines[0]["quarantine"]["code"].GetString(), "input-unreadable");
  EXPECT_STREQ(r.lines[1]["status"].GetString(), "accepted");
}

TEST(CliIngest, ConfigurationProblemsAreUsageErrors) {
  EXPECT_EQ(liaison("ingest").exit_code, 2);
  EXPECT_EQ(liaison("ingest --ess /nonexistent.json " + repo("samples/fiches")).exit_code, 2);
  EXPECT_EQ(liaison("ingest --ess " + repo("samples/fiches/fiche-complete.txt") + " x").exit_code,
            2);
  EXPECT_EQ(liaison("ingest --frobnicate x").exit_code, 2);
}

// A new ESS is a Questionnaire, a mapping file and a configuration: no C++ change.
TEST(CliIngest, AnotherEssFromDataAlone) {
  CliRun r = liaison("ingest --ess " + repo("tests/data/ess-dermato/ess.json") + " " +
                     repo("tests/data/ess-dermato/fiche.txt"));
  dumpBundles(r, "cli-dermato");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_STREQ(r.lines[0]["status"].GetString(), "accepted");
  EXPECT_STREQ(r.lines[0]["eligibility"]["status"].GetString(), "eligible");
  const auto& entries = r.lines[0]["bundle"]["entry"];
  ASSERT_EQ(entries.Size(), 4u);
  EXPECT_STREQ(entries[2]["resource"]["reasonCode"][0]["coding"][0]["code"].GetString(),
               "95324001");
  // The same form against Cardio+ is not a Cardio+ form.
  CliRun cardio = liaison("ingest " + repo("tests/data/ess-dermato/fiche.txt"));
  EXPECT_STREQ(cardio.lines[0]["status"].GetString(), "incomplete");
  // $LIAISON_ESS selects the ESS when --ess is absent.
  CliRun env = liaison(repo("tests/data/ess-dermato/fiche.txt").insert(0, "ingest "),
                       "LIAISON_ESS=" + repo("tests/data/ess-dermato/ess.json"));
  EXPECT_STREQ(env.lines[0]["status"].GetString(), "accepted");
}

// MSSanté mails: .eml files and a Maildir (new/ and cur/ read, tmp/ skipped), progress on stderr.
std::string messagesDir() {
  const char* dir = std::getenv("LIAISON_MESSAGES_DIR");
  EXPECT_NE(dir, nullptr) << "LIAISON_MESSAGES_DIR is not set (run through ctest)";
  return dir == nullptr ? "" : dir;
}

TEST(CliIngest, MailsFromAMaildirWithProgress) {
  namespace fs = std::filesystem;
  const fs::path from = messagesDir();
  const fs::path maildir =
      fs::temp_directory_path() / ("liaison-maildir-" + std::to_string(::getpid()));
  fs::remove_all(maildir);
  for (const char* sub : {"new", "cur", "tmp"})
    fs::create_directories(maildir / sub);
  fs::copy_file(from / "ldl_ses.eml", maildir / "new" / "1700000001.M1P1.host");
  fs::copy_file(from / "pdf_only.eml", maildir / "cur" / "1700000002.M2P1.host:2,S");
  fs::copy_file(from / "xdm_bomb.eml", maildir / "new" / "1700000003.M3P1.host");
  fs::copy_file(from / "tlm_da.eml", maildir / "tmp" / "1700000004.M4P1.host");  // in delivery
  std::ofstream(maildir / "dovecot-uidlist") << "3 V1 N4\n";

  CliRun r = liaison("ingest '" + maildir.string() + "'");
  dumpBundles(r, "cli-maildir");
  fs::remove_all(maildir);
  EXPECT_EQ(r.exit_code, 1) << "the zip bomb is quarantined";
  ASSERT_EQ(r.lines.size(), 3u) << r.out;
  std::vector<std::string> statuses;
  for (const auto& l : r.lines)
    statuses.emplace_back(l["status"].GetString());
  // Sorted: cur/ before new/.
  EXPECT_EQ(statuses, (std::vector<std::string>{"incomplete", "accepted", "quarantined"}));
  EXPECT_STREQ(r.lines[1]["messageId"].GetString(), "ldl_ses@ch-fictif.mssante.fr");
  EXPECT_TRUE(r.lines[1].HasMember("report"));
  EXPECT_STREQ(r.lines[2]["quarantine"]["code"].GetString(), "xdm-compression-ratio");
  EXPECT_NE(r.err.find("done 3/3 inputs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("accepted 1, incomplete 1, quarantined 1"), std::string::npos) << r.err;
}

TEST(CliIngest, EmlFilesAndFormsTogether) {
  CliRun r = liaison("ingest '" + messagesDir() + "/tlm_da.eml' " +
                     repo("samples/fiches/fiche-complete.txt"));
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_STREQ(r.lines[0]["status"].GetString(), "accepted");
  EXPECT_STREQ(r.lines[1]["status"].GetString(), "accepted");
  EXPECT_TRUE(r.lines[1].HasMember("eligibility"));
}

// Configuration files are checked against schemas/ before anything runs: every error named by its
// JSON path, exit 2.
std::string writeTemp(const std::string& name, const std::string& text) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("liaison-cli-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

std::string withReplaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(CliConfig, MisspeltSettingAtAnyDepthExitsTwoNamingItsPath) {
  const std::string config = writeTemp("misspelt.json", R"({
    "tls": {"cert": "server.crt", "key": "server.key", "requireClientCerts": true},
    "database": "host=/nonexistent dbname=liaison",
    "mail": {"gateway": {"address": "ess@example.test"},
             "mailboxes": [{"name": "a", "url": "imaps://imap.example.test", "ca": "ca.pem",
                            "pollSecond": 5}],
             "outbox": {"retries": 3}}})");
  for (const char* command : {"serve", "pull"}) {
    CliRun r = liaison(std::string(command) + " --config '" + config + "'", "", false);
    EXPECT_EQ(r.exit_code, 2) << command;
    for (const char* path : {"tls.requireClientCerts: unknown setting",
                             "mail.mailboxes[0].pollSecond: unknown setting",
                             "mail.outbox.retries: unknown setting"}) {
      EXPECT_NE(r.err.find(config + ": " + path), std::string::npos) << command << "\n" << r.err;
    }
  }
}

TEST(CliConfig, WrongTypesAndRangesExitTwo) {
  const std::string config = writeTemp("types.json", R"({"listen": {"port": 70000},
    "limits": {"bodyBytes": "16M"}, "threads": {"workers": 0}, "log": "yes"})");
  CliRun r = liaison("serve --config '" + config + "'", "", false);
  EXPECT_EQ(r.exit_code, 2);
  for (const char* error :
       {"listen.port: integer from 0 to 65535 expected",
        "limits.bodyBytes: integer from 1024 to 1073741824 expected",
        "threads.workers: integer from 1 to 256 expected", "log: true or false expected"}) {
    EXPECT_NE(r.err.find(error), std::string::npos) << error << "\n" << r.err;
  }
  CliRun not_json =
      liaison("serve --config '" + writeTemp("broken.json", "{\"tls\": ") + "'", "", false);
  EXPECT_EQ(not_json.exit_code, 2);
  EXPECT_NE(not_json.err.find("(top level): not JSON"), std::string::npos) << not_json.err;
}

// An access object with a token (of the reader role), for configurations that need one.
constexpr const char* kAccessTokens =
    "\"insecureForTests\": true, \"access\": {\"tokens\": [{\"name\": \"script\", "
    "\"sha256\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
    "\"roles\": [\"reader\"]}]}, ";

// Safe defaults: no TLS, or TLS without authenticating every client, only for tests that say so.
TEST(CliConfig, ServeRefusesWithoutTlsOrClientAuthentication) {
  const std::string readable = test::repoPath("README.md");  // stands for a certificate file
  const std::string db =
      "\"baseUrl\": \"https://gw.test/fhir\", "
      "\"database\": \"host=/nonexistent dbname=liaison connect_timeout=2\"";
  CliRun plain =
      liaison("serve --config '" +
                  writeTemp("plain.json", "{\"tls\": {\"enabled\": false}, " + db + "}") + "'",
              "", false);
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_NE(plain.err.find("refusing to serve without TLS"), std::string::npos) << plain.err;

  const std::string tls = "\"tls\": {\"cert\": \"" + readable + "\", \"key\": \"" + readable + "\"";
  CliRun anonymous =
      liaison("serve --config '" + writeTemp("anonymous.json", "{" + tls + "}, " + db + "}") + "'",
              "", false);
  EXPECT_EQ(anonymous.exit_code, 2);
  EXPECT_NE(anonymous.err.find("refusing to serve without authenticating every client"),
            std::string::npos)
      << anonymous.err;
  // A client CA that does not require certificates leaves the routes open too.
  CliRun optional = liaison("serve --config '" +
                                writeTemp("optional.json", "{" + tls + ", \"clientCa\": \"" +
                                                               readable + "\"}, " + db + "}") +
                                "'",
                            "", false);
  EXPECT_EQ(optional.exit_code, 2);
  EXPECT_NE(optional.err.find("refusing to serve without authenticating"), std::string::npos);

  // Said explicitly: the configuration passes (with a warning) and the database is next.
  CliRun insecure = liaison("serve --config '" +
                                writeTemp("insecure.json",
                                          "{\"tls\": {\"enabled\": false}, "
                                          "\"insecureForTests\": true, " +
                                              db + "}") +
                                "'",
                            "", false);
  EXPECT_EQ(insecure.exit_code, 3) << insecure.err;
  EXPECT_NE(insecure.err.find("warning: insecureForTests"), std::string::npos) << insecure.err;
  // Required with a client CA: the configuration passes too.
  CliRun mutual =
      liaison("serve --config '" +
                  writeTemp("mutual.json", "{" + tls + ", \"clientCa\": \"" + readable +
                                               "\", \"requireClientCert\": true}, " + db + "}") +
                  "'",
              "", false);
  EXPECT_EQ(mutual.exit_code, 3) << mutual.err;
  EXPECT_EQ(mutual.err.find("insecureForTests"), std::string::npos) << mutual.err;
  // Bearer tokens of "access" authenticate too (the authorize step answers 401 to anyone else);
  // an empty list does not.
  const std::string token = "{\"name\": \"script\", \"sha256\": \"" + std::string(64, 'a') +
                            "\", \"roles\": [\"reader\"]}";
  CliRun tokens = liaison("serve --config '" +
                              writeTemp("tokens.json", "{" + tls + "}, \"access\": {\"tokens\": [" +
                                                           token + "]}, " + db + "}") +
                              "'",
                          "", false);
  EXPECT_EQ(tokens.exit_code, 3) << tokens.err;
  CliRun no_tokens = liaison(
      "serve --config '" +
          writeTemp("no-tokens.json", "{" + tls + "}, \"access\": {\"tokens\": []}, " + db + "}") +
          "'",
      "", false);
  EXPECT_EQ(no_tokens.exit_code, 2);
  EXPECT_NE(no_tokens.err.find("refusing to serve without authenticating"), std::string::npos);
  // A "sessions" object: people log in (local accounts), every route needs their session.
  CliRun people =
      liaison("serve --config '" +
                  writeTemp("people.json",
                            "{" + tls + "}, \"sessions\": {\"idleMinutes\": 20}, " + db + "}") +
                  "'",
              "", false);
  EXPECT_EQ(people.exit_code, 3) << people.err;
  EXPECT_EQ(people.err.find("insecureForTests"), std::string::npos) << people.err;

  // The public base URL is the configuration's, never a request's Host header (issue 14).
  CliRun no_base = liaison("serve --config '" +
                               writeTemp("no-base.json",
                                         "{\"tls\": {\"enabled\": false}, \"insecureForTests\": "
                                         "true, \"database\": \"host=/nonexistent\"}") +
                               "'",
                           "", false);
  EXPECT_EQ(no_base.exit_code, 2);
  EXPECT_NE(no_base.err.find("baseUrl: required setting missing"), std::string::npos)
      << no_base.err;
  // Authentication off (bench/run-api-bench's comparison) only where a test says so, without
  // an access object.
  const std::string anonymous_roles = "\"anonymousRolesForTests\": [\"reader\"], ";
  for (const std::string& extra : {std::string(""), std::string(kAccessTokens)}) {
    CliRun refused =
        liaison("serve --config '" +
                    writeTemp("anonymous-roles.json", "{\"tls\": {\"enabled\": false}, " +
                                                          anonymous_roles + extra + db + "}") +
                    "'",
                "", false);
    EXPECT_EQ(refused.exit_code, 2) << extra;
    EXPECT_NE(refused.err.find("anonymousRolesForTests (authentication off) needs"),
              std::string::npos)
        << refused.err;
  }
  CliRun open =
      liaison("serve --config '" +
                  writeTemp("anonymous-roles.json",
                            "{\"tls\": {\"enabled\": false}, \"insecureForTests\": true, " +
                                anonymous_roles + db + "}") +
                  "'",
              "", false);
  EXPECT_EQ(open.exit_code, 3) << open.err;  // the configuration passes: the database is next
  EXPECT_NE(open.err.find("warning: anonymousRolesForTests: authentication is off"),
            std::string::npos)
      << open.err;
}

// The time and memory bounds that go together (issue 14), checked before the database: a byte
// budget below the largest body, a database string libpq cannot read (not quoted back: it may
// hold a password).
TEST(CliConfig, ServeChecksItsBounds) {
  const std::string base =
      "{\"tls\": {\"enabled\": false}, \"insecureForTests\": true, "
      "\"baseUrl\": \"https://gw.test/fhir\", ";
  CliRun budget = liaison(
      "serve --config '" +
          writeTemp("budget.json", base + "\"database\": \"host=/nonexistent connect_timeout=2\", "
                                          "\"limits\": {\"bodyBytes\": 2097152, "
                                          "\"maxBytesInFlight\": 1048576}}") +
          "'",
      "", false);
  EXPECT_EQ(budget.exit_code, 2) << budget.err;
  EXPECT_NE(budget.err.find("limits.maxBytesInFlight is below limits.bodyBytes"), std::string::npos)
      << budget.err;
  CliRun conninfo = liaison(
      "serve --config '" +
          writeTemp("conninfo.json", base + "\"database\": \"password=s3cret host\"}") + "'",
      "", false);
  EXPECT_EQ(conninfo.exit_code, 2) << conninfo.err;
  EXPECT_NE(conninfo.err.find("not a libpq connection string"), std::string::npos) << conninfo.err;
  EXPECT_EQ(conninfo.err.find("s3cret"), std::string::npos) << conninfo.err;
}

TEST(CliConfig, ProfilesAreCheckedAgainstTheirSchemas) {
  const std::string ess = test::readRepoFile("profiles/cardio-plus/ess.json");
  const std::string bad_ess =
      writeTemp("ess.json", withReplaced(ess, "\"ageAtLeast\": 65", "\"ageAtleast\": 65"));
  CliRun r = liaison("ingest --ess '" + bad_ess + "' " + repo("samples/fiches/fiche-complete.txt"),
                     "", false);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(bad_ess + ": eligibility.inclusion[0].rule.ageAtleast: unknown setting"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty());

  const std::string intake = test::readRepoFile("profiles/mssante/intake.json");
  const std::string bad_mss =
      writeTemp("intake2.json", withReplaced(intake, "\"toQualify\"", "\"toQualifiy\""));
  CliRun m = liaison("ingest --mss '" + bad_mss + "' " + repo("samples/fiches/fiche-complete.txt"),
                     "", false);
  EXPECT_EQ(m.exit_code, 2);
  EXPECT_NE(m.err.find(bad_mss + ": toQualifiy: unknown setting"), std::string::npos) << m.err;
  EXPECT_NE(m.err.find(bad_mss + ": toQualify: required setting missing"), std::string::npos);

  // The incoming-resources file intake.json names (which identifier merges which type).
  const std::string bad_incoming =
      writeTemp("incoming.json", withReplaced(test::readRepoFile("profiles/fhir/incoming.json"),
                                              "\"check\": \"ins\"", "\"chek\": \"ins\""));
  std::string named = withReplaced(intake, "\"../fhir/incoming.json\"", "\"" + bad_incoming + "\"");
  for (std::size_t at = 0; (at = named.find("\"../../mappings/", at)) != std::string::npos;)
    named.replace(at + 1, 14, test::repoPath("mappings"));
  const std::string mss_naming = writeTemp("intake3.json", named);
  CliRun i = liaison(
      "ingest --mss '" + mss_naming + "' " + repo("samples/fiches/fiche-complete.txt"), "", false);
  EXPECT_EQ(i.exit_code, 2);
  EXPECT_NE(i.err.find(bad_incoming + ": identifiers[0].chek: unknown setting"), std::string::npos)
      << i.err;
}

TEST(CliErrors, PrintsTheCatalogue) {
  std::string out;
  std::string command = std::string(LIAISON_BINARY) + " errors";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    out.append(buf, n);
  EXPECT_EQ(WEXITSTATUS(pclose(pipe)), 0);
  EXPECT_NE(out.find("nir-key-mismatch\t422\tvalue\terror"), std::string::npos);
  EXPECT_NE(out.find("input-unrecognised\t415"), std::string::npos);
}

}  // namespace
}  // namespace liaison
