// Subcommands of the autoprov binary. Each one is thin: it opens the state directory, calls the library,
// prints, and sets the exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace autoprov::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a step failed, or a file was rejected
inline constexpr int kExitUsage = 2;   // usage or configuration error

struct GlobalOptions {
  std::string state_dir = "/var/lib/autoprov";
  std::vector<std::string> schema_files;
  std::string product, mac, serial, sw_version;
  bool verbose = false;
  int exit_code = kExitOk;
};

void AddGlobalOptions(CLI::App& app, GlobalOptions& g);
void RegisterCommands(CLI::App& app, GlobalOptions& g);
void RegisterConfigCommands(CLI::App& app, GlobalOptions& g);
void RegisterUpdateCommands(CLI::App& app, GlobalOptions& g);
void RegisterFleetCommand(CLI::App& app, GlobalOptions& g);
void RegisterDaemonCommands(CLI::App& app, GlobalOptions& g);
void RegisterShellCommand(CLI::App& app, GlobalOptions& g);
// Asks a running daemon for a run and prints its report (S-6.5).
void RunViaDaemonOrReport(GlobalOptions& g, bool json);

}  // namespace autoprov::app
