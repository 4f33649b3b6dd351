// autoprov: the command-line face of the agent. Parses options and hands each subcommand to the
// library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "commands.hpp"

int main(int argc, char** argv) {
  autoprov::app::GlobalOptions global;
  CLI::App app{"autoprov: automatic provisioning agent (AudioCodes-style Automatic Update)"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::function<std::string()>(autoprov::app::VersionText));
  autoprov::app::AddGlobalOptions(app, global);
  autoprov::app::RegisterCommands(app, global);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::string why =
        e.get_exit_code() != 0 ? autoprov::app::ExplainUsageError(app, argc, argv) : std::string();
    if (why.empty()) {
      int rc = app.exit(e);  // CLI11's own words (and --help, --version)
      return rc == 0 ? autoprov::app::kExitOk : autoprov::app::kExitUsage;
    }
    global.error = autoprov::MakeError(autoprov::ErrorCode::kInvalidArgument,
                                       why + "\nRun with --help for more information.");
  }
  // The one place a command's error is printed and mapped to the exit status.
  if (global.error) {
    std::cerr << "autoprov: " << global.error->message << "\n";
    global.exit_code = autoprov::app::ExitStatusFor(global.error->code);
  }
  // Every command has closed what it opened (the state database, files) when its callback returns:
  // the process ends here without the libraries' exit handlers (OpenSSL's clean-up alone costs a
  // run more than its own work when nothing changed). Sanitizer builds exit normally, so leaks are
  // still reported.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
#if !defined(__SANITIZE_ADDRESS__)
  std::_Exit(global.exit_code);
#endif
  return global.exit_code;
}
