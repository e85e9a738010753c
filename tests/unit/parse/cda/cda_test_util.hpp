#pragma once
// Helpers for the CDA / XDS tests: fixture files from the source tree ($LIAISON_SOURCE_DIR) and
// the generated hostile cases ($LIAISON_HOSTILE_DIR, written by tests/hostile/make_xml_cases.py).

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace liaison::parse::test {

inline std::string envDir(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  if (!in.good()) return {};
  std::string data(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

// tests/data/<relative>, from the source tree.
inline std::string readData(std::string_view relative) {
  std::string root = envDir("LIAISON_SOURCE_DIR");
  if (root.empty()) root = ".";
  return readFile(root + "/tests/data/" + std::string(relative));
}

inline std::string hostilePath(std::string_view name) {
  return envDir("LIAISON_HOSTILE_DIR") + "/" + std::string(name);
}

// Replaces the first occurrence of `from` (which must exist) by `to`.
inline std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not found: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

}  // namespace liaison::parse::test
