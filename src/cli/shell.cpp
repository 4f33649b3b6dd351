#include "cli/shell.hpp"

#include <algorithm>
#include <set>

#include "common/text.hpp"
#include "engine/config_writer.hpp"

namespace autoprov {

Shell::Shell(StateDirectory& state, RunUpdate run_update, StatusText status)
    : state_(state), run_update_(std::move(run_update)), status_(std::move(status)) {
  auto config = state_.LoadConfiguration();
  session_ = std::make_unique<CliSession>(config ? *config : Configuration(state_.schema()), "cli");
}

void Shell::Refresh() {
  auto config = state_.LoadConfiguration();
  if (!config) return;
  auto path = session_->mode_path();
  session_ = std::make_unique<CliSession>(*config, "cli");
  for (const auto& m : path) (void)session_->Execute(m, 0);
}

std::string Shell::Prompt() const { return "autoprov" + session_->PromptMode() + "# "; }

std::string Shell::Help() const {
  std::string out;
  const Schema& schema = state_.schema();
  auto path = session_->mode_path();
  for (const auto& c : session_->Completions()) {
    std::string desc;
    for (const auto& p : schema.params()) {
      if (p.cli_command != c || p.cli_modes.size() != path.size()) continue;
      desc = p.description;
      if (p.value.type == ValueType::kEnum) {
        std::string names;
        for (const auto& ch : p.value.choices) names += (names.empty() ? "" : "|") + ch.cli_name;
        desc += " {" + names + "}";
      }
    }
    if (desc.empty()) {
      if (c == "exit")
        desc = "leave this mode";
      else if (c == "end")
        desc = "back to the top level";
      else if (c == "no")
        desc = "return a setting to its default";
      else if (c == "activate")
        desc = "accepted; settings apply as they are typed";
      else if (c == "reload")
        desc = "restart request (provisioning scripts)";
      else
        desc = "enter mode";
    }
    char line[256];
    std::snprintf(line, sizeof line, "  %-26s %s\n", c.c_str(), desc.c_str());
    out += line;
  }
  out +=
      "  show running-config [automatic-update]\n  show automatic-update status\n  "
      "automatic-update run\n";
  return out;
}

Shell::Result Shell::Show(const std::vector<std::string>& words) {
  std::string what = words.size() > 1 ? ToLower(words[1]) : "";
  if (what == "running-config") {
    auto config = state_.LoadConfiguration();
    if (!config) return {config.error().message + "\n", false, false};
    std::string text = WriteCli(*config);
    if (words.size() > 2 && IEquals(words[2], "automatic-update")) {
      // Only the automatic-update block of configure system.
      std::string out;
      bool in = false;
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line == " automatic-update") in = true;
        if (in) out += line + "\n";
        if (in && line == " exit") break;
      }
      return {out, true, false};
    }
    return {text, true, false};
  }
  if (what == "automatic-update" && words.size() > 2 && IEquals(words[2], "status"))
    return {status_(), true, false};
  return {
      "% unknown show command; try: show running-config [automatic-update] | show automatic-update "
      "status\n",
      false, false};
}

Shell::Result Shell::Execute(const std::string& raw, int line_no) {
  std::string line(Trim(raw));
  if (line.empty() || line[0] == '#' || line[0] == '!') return {};
  if (line.back() == '?') return {Help(), true, false};
  auto words_sv = SplitWhitespace(line);
  std::vector<std::string> words(words_sv.begin(), words_sv.end());
  std::string first = ToLower(words[0]);
  if (first == "do" && words.size() > 1) words.erase(words.begin()), first = ToLower(words[0]);
  if (first == "show") return Show(words);
  if (first == "quit" || first == "logout" ||
      (first == "exit" && session_->mode_path().empty() && !session_->in_row()))
    return {"", true, true};
  std::string lower = ToLower(line);
  bool in_au =
      !session_->mode_path().empty() && IEquals(session_->mode_path().back(), "automatic-update");
  if (lower == "automatic-update run" || (in_au && lower == "run")) {
    auto [text, ok] = run_update_();
    Refresh();  // the run may have changed the configuration
    return {text, ok, false};
  }
  if (first == "reload")
    return {"% reload: restart requests apply to provisioning scripts, not to the shell\n", false,
            false};
  // S-9.1: every command starts from what is stored now (a run or `config set` may have changed
  // it), and stores only what it changed, as one transaction on what is stored then.
  if (!session_->in_row()) Refresh();
  Configuration before = session_->config();
  auto r = session_->Execute(line, line_no);
  if (!r) return {"% " + r.error().message + "\n", false, false};
  // A row being edited is stored when its mode is left; everything else at once.
  if (!session_->in_row() && !(session_->config() == before)) {
    Configuration after = session_->config();
    auto w = WriteConfiguration(state_.store(), kLocalDevice, state_.schema(),
                                [&](Configuration& c, std::set<std::string>&) -> Expected<void> {
                                  ApplyChanges(before, after, c);
                                  return {};
                                });
    if (!w) return {"% " + w.error().message + "\n", false, false};
  }
  return {};
}

std::vector<std::string> Shell::Complete(const std::string& line) const {
  auto words_sv = SplitWhitespace(line);
  std::vector<std::string> words(words_sv.begin(), words_sv.end());
  bool new_word = line.empty() || line.back() == ' ';
  std::string prefix = new_word || words.empty() ? "" : words.back();
  size_t index = new_word ? words.size() : words.size() - 1;
  std::set<std::string> candidates;
  if (index == 0) {
    for (const auto& c : session_->Completions()) candidates.insert(c);
    candidates.insert("show");
    candidates.insert("automatic-update");
    candidates.insert("do");
  } else if (IEquals(words[0], "show")) {
    if (index == 1) candidates = {"running-config", "automatic-update"};
    if (index == 2 && words.size() > 1 && IEquals(words[1], "running-config"))
      candidates = {"automatic-update"};
    if (index == 2 && words.size() > 1 && IEquals(words[1], "automatic-update"))
      candidates = {"status"};
  } else if (IEquals(words[0], "no") && index == 1) {
    for (const auto& c : session_->Completions())
      if (c != "no" && c != "exit" && c != "end") candidates.insert(c);
  } else if (index == 1) {
    // Enum values of a parameter command.
    for (const auto& p : state_.schema().params()) {
      if (!IEquals(p.cli_command, words[0]) || p.cli_modes.size() != session_->mode_path().size())
        continue;
      for (const auto& c : p.value.choices) candidates.insert(c.cli_name);
      for (const auto& a : p.value.allowed) candidates.insert(a);
    }
    if (IEquals(words[0], "automatic-update")) candidates.insert("run");
  }
  std::vector<std::string> out;
  for (const auto& c : candidates)
    if (IStartsWith(c, prefix)) out.push_back(c);
  return out;
}

}  // namespace autoprov
