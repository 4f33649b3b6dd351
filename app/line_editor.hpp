// Line editing for the interactive shell: libedit's native API (history, Tab completion, and `?`
// answered at once, as on the device), loaded when a person types at a terminal and not before:
// every other command, a daemon's run above all, starts without it (loading libedit and what it
// needs costs about a millisecond per process). Without libedit the shell still works, without
// editing.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace autoprov::app {

class LineEditor {
 public:
  // Completions of the last word of the line up to the cursor.
  using Completer = std::function<std::vector<std::string>(const std::string& line)>;
  // What `?` shows for the line up to the cursor (what can follow the words typed so far).
  using Helper = std::function<std::string(const std::string& line)>;
  LineEditor();
  ~LineEditor();
  // A line, or nothing at the end of input (Ctrl-D on an empty line). Ctrl-C discards the line
  // being typed and prompts again.
  std::optional<std::string> ReadLine(const std::string& prompt);
  void SetCompleter(Completer completer);
  void SetHelper(Helper helper);
  bool editing() const;  // libedit was loaded

  struct Lib;  // libedit's functions, resolved at run time

 private:
  std::string Entered(std::string line);  // the line without its newline, kept in the history
  std::unique_ptr<Lib> lib_;
};

}  // namespace autoprov::app
