// The device CLI shell (`autoprov cli`): the vendor's mode-based commands over the schema, applied
// to the running configuration line by line, plus show commands and `automatic-update run`. The
// interactive front end (line editing, history) lives in the binary; everything a line does is
// here.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/cli_script.hpp"
#include "store/state_dir.hpp"

namespace autoprov {

class Shell {
 public:
  // `run_update` performs `automatic-update run` (via the daemon or in-process) and returns the
  // text to show and whether the run completed.
  using RunUpdate = std::function<std::pair<std::string, bool>()>;
  // `status` returns the text of `show automatic-update status`.
  using StatusText = std::function<std::string()>;
  Shell(StateDirectory& state, RunUpdate run_update, StatusText status);

  struct Result {
    std::string output;
    bool ok = true;
    bool quit = false;
  };
  Result Execute(const std::string& line, int line_no = 0);
  std::string Prompt() const;  // "autoprov(config-system)# "
  // Candidates for the last word of `line` (what Tab offers).
  std::vector<std::string> Complete(const std::string& line) const;

 private:
  std::string Help() const;
  Result Show(const std::vector<std::string>& words);
  // S-9.1: starts again from the configuration as stored now, in the same mode.
  void Refresh();

  StateDirectory& state_;
  RunUpdate run_update_;
  StatusText status_;
  std::unique_ptr<CliSession> session_;
};

}  // namespace autoprov
