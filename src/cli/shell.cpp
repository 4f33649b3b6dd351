#include "cli/shell.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
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

size_t Shell::ErrorColumn(const std::string& line, const std::string& message) {
  for (size_t q = message.find('\''); q != std::string::npos;) {
    size_t end = message.find('\'', q + 1);
    if (end == std::string::npos) break;
    std::string quoted = message.substr(q + 1, end - q - 1);
    if (!quoted.empty()) {
      // The quoted text as a whole word of the line (not inside another word).
      for (size_t at = line.find(quoted); at != std::string::npos; at = line.find(quoted, at + 1))
        if ((at == 0 || line[at - 1] == ' ' || line[at - 1] == '\'')) return at;
    }
    q = message.find('\'', end + 1);
  }
  size_t first = line.find_first_not_of(' ');
  return first == std::string::npos ? 0 : first;
}

std::string Shell::Prompt() const { return "autoprov" + session_->PromptMode() + "# "; }

std::string Shell::Describe(const std::string& c) const {
  const Schema& schema = state_.schema();
  auto path = session_->mode_path();
  std::string desc;
  for (const auto& p : schema.params()) {
    if (!IEquals(p.cli_command, c) || p.cli_modes.size() != path.size()) continue;
    desc = p.description;
    if (p.value.type == ValueType::kEnum) {
      std::string names;
      for (const auto& ch : p.value.choices) names += (names.empty() ? "" : "|") + ch.cli_name;
      desc += " {" + names + "}";
    }
  }
  if (!desc.empty()) return desc;
  if (c == "exit") return "leave this mode";
  if (c == "end") return "back to the top level";
  if (c == "no") return "return a setting to its default";
  if (c == "activate") return "accepted; settings apply as they are typed";
  if (c == "reload") return "restart request (provisioning scripts)";
  return "enter mode";
}

std::vector<Shell::Phrase> Shell::Phrases() const {
  auto split = [](std::string_view text) {
    auto sv = SplitWhitespace(text);
    return std::vector<std::string>(sv.begin(), sv.end());
  };
  std::vector<Phrase> out;
  auto path = session_->mode_path();
  for (const auto& c : session_->Completions()) {
    out.push_back({split(c), Describe(c)});
    if (c == "no") continue;
    // A parameter command's values (enum names, list items).
    for (const auto& p : state_.schema().params()) {
      if (!IEquals(p.cli_command, c) || p.cli_modes.size() != path.size()) continue;
      for (const auto& ch : p.value.choices) out.push_back({{c, ch.cli_name}, ""});
      for (const auto& a : p.value.allowed) out.push_back({{c, a}, ""});
    }
  }
  for (const auto& c : session_->Completions())
    if (c != "no" && c != "exit" && c != "end" && c != "activate" && c != "reload")
      out.push_back({{"no", c}, "return " + c + " to its default"});
  out.push_back({{"show", "running-config"}, "the running configuration"});
  out.push_back({{"show", "running-config", "automatic-update"}, "its automatic-update part"});
  out.push_back({{"show", "automatic-update", "status"}, "the daemon, the last run, per URL"});
  out.push_back({{"automatic-update", "run"}, "run the Automatic Update now"});
  if (!path.empty() && IEquals(path.back(), "automatic-update"))
    out.push_back({{"run"}, "run the Automatic Update now"});
  if (!path.empty()) out.push_back({{"do"}, "a top-level command (do show ...)"});
  return out;
}

Shell::Typed Shell::Split(const std::string& line) const {
  auto words_sv = SplitWhitespace(line);
  Typed t{{words_sv.begin(), words_sv.end()}, ""};
  bool new_word = line.empty() || line.back() == ' ';
  if (!new_word && !t.words.empty()) {
    t.prefix = t.words.back();
    t.words.pop_back();
  }
  if (!t.words.empty() && IEquals(t.words[0], "do") && !session_->mode_path().empty())
    t.words.erase(t.words.begin());
  return t;
}

std::string Shell::HelpFor(const std::string& line) const {
  auto [words, prefix] = Split(line);
  std::map<std::string, std::string> next;  // word -> what it does (the shortest phrase's)
  bool complete = false;
  for (const auto& ph : Phrases()) {
    bool match = ph.words.size() >= words.size();
    for (size_t i = 0; match && i < words.size(); ++i) match = IEquals(ph.words[i], words[i]);
    if (!match) continue;
    if (ph.words.size() == words.size()) {
      complete = complete || !words.empty();
      continue;
    }
    const std::string& w = ph.words[words.size()];
    if (!IStartsWith(w, prefix)) continue;
    std::string desc = ph.words.size() == words.size() + 1 ? ph.description : "";
    auto [it, added] = next.emplace(w, desc);
    if (!added && it->second.empty()) it->second = desc;
  }
  // A parameter command takes a value the schema does not enumerate.
  if (words.size() == 1 && next.empty() && prefix.empty()) {
    for (const auto& p : state_.schema().params())
      if (IEquals(p.cli_command, words[0]) && p.cli_modes.size() == session_->mode_path().size())
        next.emplace("<value>", p.description);
  }
  std::string out;
  for (const auto& [w, desc] : next) {
    char buf[320];
    std::snprintf(buf, sizeof buf, "  %-26s %s\n", w.c_str(), desc.c_str());
    out += buf;
  }
  if (complete && prefix.empty()) out += "  <cr>\n";
  if (out.empty()) out = "% nothing can follow '" + line + "' here\n";
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
  if (line.back() == '?')
    return {HelpFor(std::string(Trim(raw)).substr(0, Trim(raw).size() - 1)), true, false};
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
  if (!r) {
    std::string message = r.error().message;
    if (message.starts_with("unknown command")) {
      // "did you mean ...?": the closest command of this mode to the first word.
      std::vector<std::string> names;
      for (const auto& ph : Phrases()) names.push_back(ph.words[0]);
      std::string match = ClosestMatch(words[0], names);
      if (!match.empty()) message += "; did you mean '" + match + "'?";
    }
    return {"% " + message + "\n", false, false};
  }
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
  auto [words, prefix] = Split(line);
  std::set<std::string> candidates;
  for (const auto& ph : Phrases()) {
    bool match = ph.words.size() > words.size();
    for (size_t i = 0; match && i < words.size(); ++i) match = IEquals(ph.words[i], words[i]);
    if (match && IStartsWith(ph.words[words.size()], prefix))
      candidates.insert(ph.words[words.size()]);
  }
  return {candidates.begin(), candidates.end()};
}

}  // namespace autoprov
