// Subcommands of the autoprov binary. Each one is thin: it opens the state directory, calls the
// library, prints, and sets the exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/run.hpp"
#include "store/state_dir.hpp"

namespace autoprov::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a step failed, or a file was rejected
inline constexpr int kExitUsage = 2;   // usage or configuration error

struct GlobalOptions {
  std::string state_dir = "/var/lib/autoprov";
  std::vector<std::string> schema_files;
  std::string product, mac, serial, sw_version;
  bool verbose = false;
  std::string log_level;  // --log-level; empty: hooks.ini's LogLevel, else -v
  int exit_code = kExitOk;
};

void AddGlobalOptions(CLI::App& app, GlobalOptions& g);
// For a parse error: "unknown subcommand 'updte'; did you mean 'update'?" (or an unknown option),
// found by walking the command line; empty when the error is another one (app/guidance.cpp).
std::string ExplainUsageError(CLI::App& app, int argc, char** argv);
// --version: the version, the git commit it was built from, and the libraries' versions.
std::string VersionText();
void RegisterCommands(CLI::App& app, GlobalOptions& g);
void RegisterConfigCommands(CLI::App& app, GlobalOptions& g);
void RegisterUpdateCommands(CLI::App& app, GlobalOptions& g);
void RegisterFleetCommand(CLI::App& app, GlobalOptions& g);
void RegisterDaemonCommands(CLI::App& app, GlobalOptions& g);
void RegisterShellCommand(CLI::App& app, GlobalOptions& g);
// Asks a running daemon for a run and prints its report (S-6.5).
void RunViaDaemonOrReport(GlobalOptions& g, bool json);

// Running now (app/run_now.cpp).
struct RunOutcome {
  RunReport report;
  bool by_daemon = false;
};
// A daemon holding the state directory runs it when `ask_daemon`; otherwise it runs here. Identity
// and hook errors come back as kInvalidArgument.
Expected<RunOutcome> RunNow(const GlobalOptions& g, StateDirectory& state,
                            const std::string& trigger,
                            std::function<bool(uint64_t, uint64_t)> progress, bool ask_daemon);
Expected<RunReport> AskDaemonForRun(const std::filesystem::path& state_dir);
// A one-line progress bar on stderr for downloads above 1 MiB, when stderr is a terminal.
std::function<bool(uint64_t, uint64_t)> ProgressBar();

// The state directory, or nullptr after printing why it cannot be opened (and setting the exit
// code).
std::unique_ptr<StateDirectory> OpenStateOrReport(
    GlobalOptions& g, StateDirectory::Access access = StateDirectory::Access::kReadWrite);

}  // namespace autoprov::app
