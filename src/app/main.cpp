#include <iostream>
#include <string_view>
#include <vector>

#include "app/commands.hpp"

int main(int argc, char** argv) {
  using namespace liaison::app;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    printUsage(std::cerr);
    return kExitUsage;
  }
  std::string_view command = args.front();
  std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
  if (command == "nir") return runNir(rest, std::cout, std::cerr);
  if (command == "ingest") return runIngest(rest, std::cout, std::cerr);
  if (command == "db") return runDb(rest, std::cout, std::cerr);
  if (command == "serve") return runServe(rest, std::cout, std::cerr);
  if (command == "pull") return runPull(rest, std::cout, std::cerr);
  if (command == "errors") return runErrors(std::cout);
  if (command == "user") return runUser(rest, std::cin, std::cout, std::cerr);
  if (command == "--version" || command == "version") {
    std::cout << "liaison " << LIAISON_VERSION << "\n";
    return kExitOk;
  }
  if (command == "--help" || command == "-h" || command == "help") {
    printUsage(std::cout);
    return kExitOk;
  }
  std::cerr << "liaison: unknown command '" << command << "'\n";
  printUsage(std::cerr);
  return kExitUsage;
}
