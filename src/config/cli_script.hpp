// CLI scripts (SPEC S-7.3): the vendor's mode-based command language over the same schema, used for
// provisioning scripts, `config load`, `config show --format cli` and the interactive shell.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/configuration.hpp"

namespace autoprov {

enum class RestartRequest { kNone, kIfNeeded, kNow };

enum class CliScriptKind {
  kIncremental,  // CLI script: only what the script names changes
  kStartup,      // CLI startup script: every parameter returns to its default first
};

// Interprets commands one line at a time; the shell and the file loader share it. Changes go to a
// working copy of the configuration, which the caller takes only if there were no errors.
class CliSession {
 public:
  CliSession(const Configuration& start, std::string origin);

  // Executes one line. Returns the error for that line, if any (also recorded in errors()).
  Expected<void> Execute(std::string_view line, int line_no);

  const Configuration& config() const { return config_; }
  const std::vector<Diagnostic>& errors() const { return errors_; }
  const std::vector<Diagnostic>& warnings() const { return warnings_; }
  RestartRequest restart() const { return restart_; }
  // How many setting commands were executed (parameters, rows, columns, `no` forms).
  int settings() const { return settings_; }
  const std::vector<std::string>& mode_path() const { return path_; }
  bool in_row() const { return row_table_ != nullptr; }
  // Prompt text of the current mode, e.g. "(config-system)" or "(automatic-update)".
  std::string PromptMode() const;
  // Commands valid in the current mode (for help and completion).
  std::vector<std::string> Completions() const;
  // Finishes any open table row (as `end` would).
  void Finish();

 private:
  Expected<void> ExecuteTokens(const std::vector<std::string>& tokens, const std::string& joined);
  void CommitRow();
  bool IsMode(const std::vector<std::string>& path) const;

  Configuration config_;
  std::string origin_;
  std::vector<std::string> path_;
  const TableSpec* row_table_ = nullptr;
  RowKey row_key_;
  RowValues row_values_;
  RestartRequest restart_ = RestartRequest::kNone;
  int settings_ = 0;
  std::vector<Diagnostic> errors_, warnings_;
};

struct CliLoadResult {
  Configuration config;
  std::vector<Diagnostic> errors, warnings;
  RestartRequest restart = RestartRequest::kNone;
  bool empty = false;  // no setting in the script (S-9.2): an incremental one applies nothing
};

CliLoadResult LoadCliScript(std::string_view text, std::string_view origin,
                            const Configuration& current, CliScriptKind kind);

// The configuration as a CLI script that LoadCliScript reads back to the same configuration
// (parameters with a CLI command; secrets are shown as a comment).
std::string WriteCli(const Configuration& config);

// Splits a command line into words; double quotes group words, backslash escapes inside quotes.
std::vector<std::string> TokenizeCli(std::string_view line, std::string* error);

}  // namespace autoprov
