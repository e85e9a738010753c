#pragma once
// What the integration tests share: the environment ctest sets (tests/CMakeLists.txt), the
// private PostgreSQL cluster of the fixture pg.start, a fresh database per test, and commands.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/pg/pg_connection.hpp"

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

}  // namespace liaison::itest
