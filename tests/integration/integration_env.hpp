#pragma once
// What the integration tests share: the environment ctest sets (tests/CMakeLists.txt), the
// private PostgreSQL cluster of the fixture pg.start, a fresh database per test, and commands.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>
#include <vector>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/pg/migrations.hpp"
#include "adapters/pg/pg_connection.hpp"

extern char** environ;

namespace liaison::itest {

inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  EXPECT_NE(v, nullptr) << name << " is not set (run through ctest)";
  return v == nullptr ? "" : v;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The administrator's DSN of the test cluster, written by `scripts/pg start`.
inline std::string adminDsn() {
  std::string dsn = readFile(env("LIAISON_TEST_PG_DSN_FILE"));
  while (!dsn.empty() && (dsn.back() == '\n' || dsn.back() == '\r'))
    dsn.pop_back();
  EXPECT_FALSE(dsn.empty()) << "no DSN";
  return dsn;
}

// A generated MSSanté mail (tests/mssante/make_messages.py).
inline std::string messagePath(std::string_view name) {
  return env("LIAISON_MESSAGES_DIR") + "/" + std::string(name);
}
inline std::string message(std::string_view name) {
  return readFile(messagePath(name));
}

// A database name of the running test's own: `prefix` and the test's name, lower case, within
// PostgreSQL's 63 bytes.
inline std::string testDatabaseName(std::string_view prefix) {
  std::string name =
      std::string(prefix) + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name)
    c = static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
  name.resize(std::min<std::size_t>(name.size(), 60));
  return name;
}

// An empty database of that name (dropped first if it exists); returns its DSN.
inline std::string freshDatabase(const std::string& name) {
  auto admin = pg::PgConnection::open(adminDsn());
  EXPECT_TRUE(admin) << (admin ? "" : admin.error().detail);
  if (!admin) return {};
  EXPECT_TRUE((*admin)->script("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"));
  EXPECT_TRUE((*admin)->script("CREATE DATABASE " + name));
  std::string dsn = adminDsn();
  dsn.replace(dsn.find("dbname=postgres"), 15, "dbname=" + name);
  return dsn;
}

// A fresh database of the running test's own (testDatabaseName), migrated, with a connection to
// it; `db` is null (and the test failed) when any step did not work.
struct TestDatabase {
  std::string name;
  std::string dsn;
  std::unique_ptr<pg::PgConnection> db;
};
inline TestDatabase migratedTestDatabase(std::string_view prefix) {
  TestDatabase t{testDatabaseName(prefix), {}, nullptr};
  t.dsn = freshDatabase(t.name);
  if (t.dsn.empty()) return t;
  auto migrated = pg::migrate(t.dsn);
  EXPECT_TRUE(migrated) << (migrated ? "" : migrated.error().detail);
  if (!migrated) return t;
  auto db = pg::PgConnection::open(t.dsn);
  EXPECT_TRUE(db) << (db ? "" : db.error().detail);
  if (db) t.db = std::move(*db);
  return t;
}

// The integer a one-value query returns (-1, and the test failed, on an error).
inline std::int64_t count(pg::PgConnection& db, const std::string& sql) {
  auto r = db.exec(sql);
  EXPECT_TRUE(r) << (r ? "" : r.error().detail);
  return r ? r->integer(0, 0) : -1;
}

inline void dropDatabase(const std::string& name) {
  if (auto admin = pg::PgConnection::open(adminDsn()))
    (void)(*admin)->script("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

// A shell command's exit status and its output (stdout and stderr).
inline std::pair<int, std::string> shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[65536];
  std::size_t n = 0;
  while (pipe != nullptr && (n = fread(buf, 1, sizeof buf, pipe)) > 0)
    out.append(buf, n);
  const int status = pipe != nullptr ? pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The server as a child process; its first stdout line says where it listens.
struct Served {
  pid_t pid = -1;
  int out = -1;
  std::string url;

  // With `log`, stderr is appended to that file.
  bool start(const std::vector<std::string>& args, const std::string& log = {}) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    if (!log.empty())
      posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                       0644);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> argv;
    std::vector<std::string> copy = args;
    for (std::string& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out = fds[0];
    if (rc != 0) return false;
    std::string line;
    char c = 0;
    while (read(out, &c, 1) == 1 && c != '\n')
      line += c;
    const std::size_t at = line.find("://") == std::string::npos
                               ? std::string::npos
                               : line.rfind(' ', line.find("://")) + 1;
    if (at == std::string::npos) return false;
    url = line.substr(at);
    return true;
  }

  // SIGTERM, then the exit status (-1 if it did not stop within 20 s).
  int stop() {
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        close(out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
    return -1;
  }
  // SIGKILL: no shutdown at all, as in a crash or an OOM kill.
  void crash() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(out);
    pid = -1;
  }
  ~Served() { stop(); }
};

}  // namespace liaison::itest
