// autoprov cli: the interactive shell (libedit, loaded then, for line editing, Tab completion and
// history), or commands from -c / standard input with the same checks and line-numbered errors.
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/shell.hpp"
#include "commands.hpp"
#include "common/log.hpp"
#include "device/hooks.hpp"
#include "engine/run.hpp"
#include "engine/status.hpp"
#include "line_editor.hpp"
#include "triggers/daemon.hpp"

namespace autoprov::app {

void RegisterShellCommand(CLI::App& app, GlobalOptions& g) {
  auto commands = std::make_shared<std::vector<std::string>>();
  auto* cli = app.add_subcommand(
      "cli", "the device CLI shell (interactive, -c COMMAND..., or a script on stdin)");
  cli->add_option("-c,--command", *commands, "run this command line (repeatable), then exit");
  cli->fallthrough();
  OnRun(cli, g, [&g, commands]() -> Expected<void> {
    SetUpLogging(g);
    auto state = OpenState(g);
    if (!state) return Unexpected(state.error());
    StateDirectory* st = state->get();
    auto run = [&g, st]() -> std::pair<std::string, bool> {
      auto r = RunNow(g, *st, "manual", ProgressBar(), /*ask_daemon=*/true);
      if (!r) return {"% " + r.error().message + "\n", false};
      return {(r->by_daemon ? "(run by the daemon)\n" : "") + FormatReport(r->report),
              r->report.Completed()};
    };
    auto status = [st]() -> std::string {
      auto daemon = AskDaemon(st->path(), "status", 5);
      auto last = FormatLastRun(st->store(), kLocalDevice);
      return FormatDaemonStatus(daemon ? *daemon : "") +
             (last ? *last : "last run: " + last.error().message + "\n");
    };
    Shell shell(*st, run, status);
    int errors = 0;
    // A failed line: interactively, a caret under the offending word (below the prompt and the
    // line as typed) and the message; from -c or standard input, on stderr, with the line number.
    auto execute = [&](const std::string& line, int n, const std::string& origin) {
      std::string prompt = shell.Prompt();
      auto r = shell.Execute(line, n);
      if (r.ok) {
        std::cout << r.output << std::flush;
        return r.quit;
      }
      ++errors;
      size_t col = Shell::ErrorColumn(line, r.output);
      if (origin.empty()) {
        std::cout << std::string(prompt.size() + col, ' ') << "^\n" << r.output << std::flush;
      } else {
        std::cerr << origin << ":" << n
                  << ": error: " << (r.output.starts_with("% ") ? r.output.substr(2) : r.output)
                  << "  " << line << "\n  " << std::string(col, ' ') << "^\n"
                  << std::flush;
      }
      return r.quit;
    };
    if (!commands->empty()) {
      int n = 0;
      for (const auto& c : *commands)
        if (execute(c, ++n, "-c")) break;
    } else if (!::isatty(0)) {
      std::string line;
      int n = 0;
      while (std::getline(std::cin, line))
        if (execute(line, ++n, "<stdin>")) break;
    } else {
      LineEditor editor;
      editor.SetCompleter([&shell](const std::string& line) { return shell.Complete(line); });
      editor.SetHelper([&shell](const std::string& line) { return shell.HelpFor(line); });
      for (int n = 1;; ++n) {
        auto line = editor.ReadLine(shell.Prompt());
        if (!line) {
          std::cout << "\n";
          break;
        }
        if (execute(*line, n, "")) break;
      }
    }
    // A script fails if a line failed; a person's session does not fail for a typo corrected since.
    bool interactive = commands->empty() && ::isatty(0);
    g.exit_code = errors && !interactive ? kExitFailed : kExitOk;
    return {};
  });
}

}  // namespace autoprov::app
