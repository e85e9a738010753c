// People's local accounts and browser sessions (issue 14) end to end: `liaison user add`, then
// the real `liaison serve` over HTTPS on a real PostgreSQL, curl as the browser.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_connection.hpp"
#include "integration_env.hpp"

namespace liaison {
namespace {

namespace fs = std::filesystem;
using itest::env;
using itest::Served;
using itest::shell;

constexpr const char* kPassword = "FICTIF-cheval-agrafe-42";
constexpr const char* kBaseUrl = "https://liaison.test/fhir";

struct Reply {
  int status = 0;
  std::string headers, body;
  std::string header(const std::string& name) const {
    std::smatch m;
    const std::regex re("(^|\\n)" + name + ": ([^\\r\\n]*)", std::regex::icase);
    return std::regex_search(headers, m, re) ? m[2].str() : "";
  }
};

class Accounts : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = itest::migratedTestDatabase("t_acc_");
    ASSERT_TRUE(db_.db);
    pki_ = env("LIAISON_TEST_PKI_DIR");
    dir_ = fs::temp_directory_path() / ("liaison-accounts-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    itest::dropDatabase(db_.name);
  }

  // TLS without client certificates required (a browser has none); a token for a script.
  std::string config(const std::string& sessions = "{\"maxFailures\": 3}") {
    const std::string path = (dir_ / "liaison.json").string();
    std::ofstream(path)
        << "{\"listen\": {\"address\": \"127.0.0.1\", \"port\": 0}, \"tls\": {\"cert\": \"" << pki_
        << "/server.crt\", \"key\": \"" << pki_ << "/server.key\"}, \"database\": \"" << db_.dsn
        << "\", \"baseUrl\": \"" << kBaseUrl << "\", \"sessions\": " << sessions
        << ", \"access\": {\"tokens\": [{\"name\": \"script\", \"sha256\": "
           "\"14d194c482ff944e3877b91eddec924b1f815f41fbb35a42070097c23be37c85\", "
           "\"roles\": [\"coordinator\"], \"ess\": [\"cardio-plus\"]}]}}";
    return path;
  }

  int user(const std::string& args, const std::string& password = kPassword) {
    return shell("printf '%s\\n' '" + password + "' | " + LIAISON_BINARY + " user " + args +
                 " --password-stdin --db '" + db_.dsn + "'")
        .first;
  }

  Reply request(const std::string& method, const std::string& path, const std::string& extra = "") {
    auto [rc, out] = shell("curl -sS --max-time 20 --cacert '" + pki_ + "/ca.crt' -X " + method +
                           " -D - -w '\\n%{http_code}' " + extra + " '" + server_.url + path + "'");
    Reply r;
    const std::size_t split = out.find("\r\n\r\n");
    const std::size_t nl = out.rfind('\n');
    r.status = std::atoi(out.c_str() + (nl == std::string::npos ? 0 : nl + 1));
    r.headers = out.substr(0, split);
    if (split != std::string::npos && nl != std::string::npos && nl > split)
      r.body = out.substr(split + 4, nl - split - 4);
    return r;
  }

  Reply login(const std::string& name, const std::string& password) {
    return request("POST", "/auth/login",
                   "-H 'Content-Type: application/json' --data '{\"username\": \"" + name +
                       "\", \"password\": \"" + password + "\"}'");
  }

  static std::string tokenOf(const Reply& r) {
    std::smatch m;
    const std::string c = r.header("Set-Cookie");
    return std::regex_search(c, m, std::regex("liaison_session=([A-Za-z0-9_-]+)")) ? m[1].str()
                                                                                   : "";
  }
  static std::string csrfOf(const Reply& r) {
    std::smatch m;
    return std::regex_search(r.body, m, std::regex("\"csrfToken\":\"([^\"]+)\"")) ? m[1].str() : "";
  }
  static std::string cookie(const std::string& token) {
    return "-H 'Cookie: liaison_session=" + token + "'";
  }
  std::int64_t count(const std::string& sql) { return itest::count(*db_.db, sql); }

  itest::TestDatabase db_;
  std::string pki_;
  fs::path dir_;
  Served server_;
};

constexpr const char* kPatient =
    "-H 'Content-Type: application/fhir+json' --data '{\"resourceType\": \"Patient\", "
    "\"name\": [{\"family\": \"FICTIF-SESSION\"}]}'";

TEST_F(Accounts, LoginCookieRolesCsrfLogout) {
  ASSERT_EQ(user("add alice.fictif --role secretariat --ess cardio-plus"), 0);
  ASSERT_EQ(user("add ops.fictif --role ops"), 0);
  ASSERT_TRUE(server_.start({LIAISON_BINARY, "serve", "--config", config()}));

  const Reply ok = login("alice.fictif", kPassword);
  ASSERT_EQ(ok.status, 200) << ok.headers << ok.body;
  const std::string set_cookie = ok.header("Set-Cookie");
  EXPECT_NE(set_cookie.find("; Path=/; Secure; HttpOnly; SameSite=Strict"), std::string::npos)
      << set_cookie;
  const std::string token = tokenOf(ok), csrf = csrfOf(ok);
  ASSERT_EQ(token.size(), 43u);
  ASSERT_FALSE(csrf.empty());
  EXPECT_NE(ok.body.find("\"roles\":[\"secretariat\"]"), std::string::npos) << ok.body;
  EXPECT_NE(ok.body.find("\"ess\":[\"cardio-plus\"]"), std::string::npos) << ok.body;

  // Stored hashed: neither the token nor its CSRF token is anywhere in the table.
  EXPECT_EQ(count("SELECT count(*) FROM user_session"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM user_session s WHERE s::text LIKE '%" + token + "%'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM user_session WHERE token_sha256 = sha256('" + token +
                  "'::bytea)"),
            1);

  // The session's roles decide: the secretariat reads patients, the operator does not.
  EXPECT_EQ(request("GET", "/Patient", cookie(token)).status, 200);
  EXPECT_EQ(request("GET", "/auth/session", cookie(token)).status, 200);
  const Reply ops = login("ops.fictif", kPassword);
  ASSERT_EQ(ops.status, 200);
  EXPECT_EQ(request("GET", "/Patient", cookie(tokenOf(ops))).status, 403);
  EXPECT_EQ(request("GET", "/metrics", cookie(tokenOf(ops))).status, 200);

  // A cookie write without the CSRF token, with a wrong one or a foreign Origin: 403.
  const Reply no_csrf = request("POST", "/Patient", cookie(token) + " " + kPatient);
  EXPECT_EQ(no_csrf.status, 403);
  EXPECT_NE(no_csrf.body.find("csrf-refused"), std::string::npos) << no_csrf.body;
  EXPECT_EQ(
      request("POST", "/Patient", cookie(token) + " -H 'X-CSRF-Token: x" + csrf + "' " + kPatient)
          .status,
      403);
  EXPECT_EQ(request("POST", "/Patient",
                    cookie(token) + " -H 'X-CSRF-Token: " + csrf +
                        "' -H 'Origin: https://evil.test' " + kPatient)
                .status,
            403);
  EXPECT_EQ(request("POST", "/Patient",
                    cookie(token) + " -H 'X-CSRF-Token: " + csrf +
                        "' -H 'Origin: https://liaison.test' " + kPatient)
                .status,
            201);
  // A script's bearer token needs no CSRF token.
  EXPECT_EQ(request("POST", "/Patient",
                    "-H 'Authorization: Bearer jeton-supervision-test' " + std::string(kPatient))
                .status,
            201);

  // Audit: the logins, by name, never a password.
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE subtype = 'login' AND what = "
                  "'user:alice.fictif' AND outcome = '0'"),
            1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE agent || what LIKE '%cheval%'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE principal = 'user:alice.fictif' AND "
                  "subtype = 'create'"),
            1);

  // Logout needs the CSRF token too, then the cookie is worth nothing.
  EXPECT_EQ(request("POST", "/auth/logout", cookie(token)).status, 403);
  const Reply out =
      request("POST", "/auth/logout", cookie(token) + " -H 'X-CSRF-Token: " + csrf + "'");
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  const Reply after = request("GET", "/Patient", cookie(token));
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(after.body.find("session-expired"), std::string::npos) << after.body;
}

TEST_F(Accounts, WrongPasswordLockOutDisabledAndExpiry) {
  ASSERT_EQ(user("add bob.fictif --role reader"), 0);
  ASSERT_TRUE(server_.start({LIAISON_BINARY, "serve", "--config", config()}));

  // Unknown user and wrong password: the same answer.
  const Reply unknown = login("nobody.fictif", kPassword);
  const Reply wrong = login("bob.fictif", "FICTIF-pas-le-bon-mdp");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("login-failed"), std::string::npos) << wrong.body;
  EXPECT_EQ(unknown.body, wrong.body);
  EXPECT_TRUE(tokenOf(wrong).empty());

  // maxFailures 3: two more failures lock, and then even the right password is refused.
  EXPECT_EQ(login("bob.fictif", "FICTIF-pas-le-bon-mdp").status, 401);
  EXPECT_EQ(login("bob.fictif", "FICTIF-pas-le-bon-mdp").status, 401);
  const Reply locked = login("bob.fictif", kPassword);
  EXPECT_EQ(locked.status, 429);
  EXPECT_NE(locked.body.find("account-locked"), std::string::npos) << locked.body;
  EXPECT_FALSE(locked.header("Retry-After").empty());
  EXPECT_EQ(count("SELECT count(*) FROM audit_event WHERE subtype = 'login' AND "
                  "what = 'user:bob.fictif locked'"),
            1);
  // The lock's end (its time moved back, as 15 minutes would): the right password works.
  ASSERT_TRUE(db_.db->exec("UPDATE user_account SET locked_until = now() - interval '1 second'"));
  const Reply back = login("bob.fictif", kPassword);
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(count("SELECT failed_logins FROM user_account WHERE name = 'bob.fictif'"), 0);
  const std::string token = tokenOf(back);
  EXPECT_EQ(request("GET", "/Patient", cookie(token)).status, 200);

  // Idle expiry, then absolute expiry (the session's times moved back: no sleeping).
  ASSERT_TRUE(db_.db->exec("UPDATE user_session SET idle_expires_at = now() - interval '1 s'"));
  EXPECT_EQ(request("GET", "/Patient", cookie(token)).status, 401);
  const std::string second = tokenOf(login("bob.fictif", kPassword));
  EXPECT_EQ(request("GET", "/Patient", cookie(second)).status, 200);
  ASSERT_TRUE(
      db_.db->exec("UPDATE user_session SET absolute_expires_at = now() - interval '1 s' WHERE "
                   "idle_expires_at > now()"));
  EXPECT_EQ(request("GET", "/Patient", cookie(second)).status, 401);

  // A disabled account: its open session stops at once, and it cannot log in.
  const std::string third = tokenOf(login("bob.fictif", kPassword));
  EXPECT_EQ(request("GET", "/Patient", cookie(third)).status, 200);
  ASSERT_EQ(user("disable bob.fictif"), 0);
  EXPECT_EQ(request("GET", "/Patient", cookie(third)).status, 401);
  const Reply disabled = login("bob.fictif", kPassword);
  EXPECT_EQ(disabled.status, 401);
  EXPECT_EQ(disabled.body, wrong.body);
}

TEST_F(Accounts, LoginAttemptsPerAddressAreLimited) {
  ASSERT_TRUE(server_.start(
      {LIAISON_BINARY, "serve", "--config", config("{\"loginAttemptsPerMinute\": 3}")}));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(login("nobody.fictif", kPassword).status, 401);
  const Reply limited = login("nobody.fictif", kPassword);
  EXPECT_EQ(limited.status, 429);
  EXPECT_NE(limited.body.find("login-rate-limited"), std::string::npos) << limited.body;
}

TEST_F(Accounts, GatewayRoleCannotManageAccounts) {
  ASSERT_EQ(user("add carol.fictif --role reader"), 0);
  auto& db = *db_.db;
  ASSERT_TRUE(db.script("SET ROLE liaison_gateway"));
  EXPECT_FALSE(db.exec("UPDATE user_account SET roles = '{admin}'"));
  EXPECT_FALSE(
      db.exec("INSERT INTO user_account (name, password_hash) VALUES ('x', '$argon2id$')"));
  EXPECT_FALSE(db.exec("UPDATE user_account SET password_hash = '$argon2id$x'"));
  EXPECT_TRUE(db.exec("UPDATE user_account SET failed_logins = 1"));
  EXPECT_TRUE(db.exec("SELECT count(*) FROM user_session"));
}

}  // namespace
}  // namespace liaison
