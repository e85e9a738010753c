#pragma once
// The `liaison` command line. Each command returns the process exit code.

#include <istream>
#include <ostream>
#include <span>
#include <string_view>

namespace liaison::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // invalid NIR, quarantined input
inline constexpr int kExitUsage = 2;
inline constexpr int kExitStore = 3;  // the database failed: inputs not stored are left in place

int runNir(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int runIngest(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int runServe(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int runPull(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int runDb(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int runErrors(std::ostream& out);
// `liaison user …`: people's local accounts; passwords read from `in`.
int runUser(std::span<const std::string_view> args, std::istream& in, std::ostream& out,
            std::ostream& err);
void printUsage(std::ostream& out);

}  // namespace liaison::app
