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
  // Where in `line` the word an error is about starts (for a caret under it): the first word the
  // message quotes ('...') that the line holds, else the first word.
  static size_t ErrorColumn(const std::string& line, const std::string& message);
  // Candidates for the last word of `line` (what Tab offers), at every level: `configure <Tab>`
  // offers the modes, a parameter command its values.
  std::vector<std::string> Complete(const std::string& line) const;
  // What `?` shows after `line`: each word that can follow (or that the last, partial word can
  // become) with what it does; "<cr>" when the line is a complete command.
  std::string HelpFor(const std::string& line) const;

 private:
  // A command of the current mode as words, with what it does.
  struct Phrase {
    std::vector<std::string> words;
    std::string description;
  };
  std::vector<Phrase> Phrases() const;
  // The words typed before the cursor's word (without a leading `do`), and the cursor's word.
  struct Typed {
    std::vector<std::string> words;
    std::string prefix;
  };
  Typed Split(const std::string& line) const;
  std::string Describe(const std::string& command) const;
  Result Show(const std::vector<std::string>& words);
  // S-9.1: starts again from the configuration as stored now, in the same mode.
  void Refresh();

  StateDirectory& state_;
  RunUpdate run_update_;
  StatusText status_;
  std::unique_ptr<CliSession> session_;
};

}  // namespace autoprov
