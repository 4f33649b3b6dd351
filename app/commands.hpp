// Subcommands of the autoprov binary. Each one is thin: it opens the state directory, calls the
// library, prints, and sets the exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/run.hpp"
#include "exit_status.hpp"
#include "store/state_dir.hpp"

namespace autoprov::app {

struct GlobalOptions {
  std::string state_dir = "/var/lib/autoprov";
  std::vector<std::string> schema_files;
  std::string product, mac, serial, sw_version;
  bool verbose = false;
  std::string log_level;  // --log-level; empty: hooks.ini's LogLevel, else -v
  int exit_code = kExitOk;
  // A command's error: main() prints it once ("autoprov: <message>") and maps it to the exit
  // status (app/exit_status.hpp).
  std::optional<Error> error;
};

// A command's body prints what it produces and returns its error, if any, for main() to print and
// map. A body that has printed a failure itself (a run's report with a failed step) sets
// g.exit_code instead.
using CommandBody = std::function<Expected<void>()>;
void OnRun(CLI::App* command, GlobalOptions& g, CommandBody body);
// An error that is the user's to fix whatever its cause (identity.ini, hooks.ini, a file named on
// the command line): a usage or configuration error.
Error AsUsageError(Error e);

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
void RegisterSigningCommands(CLI::App& app, GlobalOptions& g);
// Asks a running daemon for a run and prints its report (S-6.5).
Expected<void> RunViaDaemonOrReport(GlobalOptions& g, bool json);

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

// The state directory named by --state-dir, with the schema files.
Expected<std::unique_ptr<StateDirectory>> OpenState(
    const GlobalOptions& g, StateDirectory::Access access = StateDirectory::Access::kReadWrite);
// The device's identity: identity.ini with the command line's overrides (a usage error if not).
Expected<DeviceIdentity> LoadIdentity(const GlobalOptions& g);
// The log level and sink for a command that runs (app/update_commands.cpp).
void SetUpLogging(const GlobalOptions& g);

}  // namespace autoprov::app
