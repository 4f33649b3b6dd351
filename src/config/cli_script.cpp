#include "config/cli_script.hpp"

#include <algorithm>
#include <set>

#include "common/text.hpp"

namespace autoprov {
namespace {

// Action commands that have no place in a provisioning script (SPEC S-7.3).
const std::set<std::string> kForbidden = {"show",       "debug", "copy",   "erase", "ping",
                                          "traceroute", "clear", "telnet", "ssh",   "clock",
                                          "admin",      "srd",   "dir",    "delete"};

std::string Join(const std::vector<std::string>& words, size_t from) {
  std::string out;
  for (size_t i = from; i < words.size(); ++i) out += (i > from ? " " : "") + words[i];
  return out;
}

bool NeedsCliQuotes(const std::string& v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ' ' || c == '\t' || c == '"' || c == '\\' || c == '!' || c == '#') return true;
  return false;
}

std::string CliQuote(const std::string& v) {
  if (!NeedsCliQuotes(v)) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::vector<std::string> TokenizeCli(std::string_view line, std::string* error) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::string tok;
    if (line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '\\' && i < line.size()) {
          tok.push_back(line[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          tok.push_back(c);
        }
      }
      if (!closed && error) *error = "unterminated double quote";
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') tok.push_back(line[i++]);
    }
    out.push_back(std::move(tok));
  }
  return out;
}

CliSession::CliSession(const Configuration& start, std::string origin)
    : config_(start), origin_(std::move(origin)) {}

bool CliSession::IsMode(const std::vector<std::string>& path) const {
  auto prefix_of = [&](const std::vector<std::string>& modes) {
    if (modes.size() < path.size()) return false;
    for (size_t i = 0; i < path.size(); ++i)
      if (!IEquals(modes[i], path[i])) return false;
    return true;
  };
  for (const auto& p : config_.schema().params())
    if (!p.cli_command.empty() && prefix_of(p.cli_modes)) return true;
  for (const auto& t : config_.schema().tables())
    if (!t.cli_command.empty() && prefix_of(t.cli_modes)) return true;
  return false;
}

std::string CliSession::PromptMode() const {
  if (row_table_) {
    std::string key;
    for (const auto& k : row_key_) key += "-" + k;
    return "(" + row_table_->cli_command + key + ")";
  }
  if (path_.empty()) return "";
  std::string m = ToLower(path_.back());
  if (m.starts_with("configure ")) m = "config-" + m.substr(10);
  std::replace(m.begin(), m.end(), ' ', '-');
  return "(" + m + ")";
}

std::vector<std::string> CliSession::Completions() const {
  std::set<std::string> out = {"exit", "end", "no", "activate"};
  if (path_.empty()) out.insert("reload");
  const Schema& schema = config_.schema();
  if (row_table_) {
    for (const auto& c : row_table_->columns)
      if (!c.cli_command.empty()) out.insert(c.cli_command);
    return {out.begin(), out.end()};
  }
  auto child = [&](const std::vector<std::string>& modes, const std::string& command) {
    bool match = modes.size() >= path_.size();
    for (size_t i = 0; match && i < path_.size(); ++i) match = IEquals(modes[i], path_[i]);
    if (!match || command.empty()) return;
    out.insert(modes.size() == path_.size() ? command : ToLower(modes[path_.size()]));
  };
  for (const auto& p : schema.params()) child(p.cli_modes, p.cli_command);
  for (const auto& t : schema.tables()) child(t.cli_modes, t.cli_command);
  return {out.begin(), out.end()};
}

void CliSession::CommitRow() {
  if (!row_table_) return;
  config_.MutableTable(*row_table_)[row_key_] = row_values_;
  row_table_ = nullptr;
  row_key_.clear();
  row_values_.clear();
}

void CliSession::Finish() { CommitRow(); }

Expected<void> CliSession::Execute(std::string_view raw_line, int line_no) {
  std::string_view line = Trim(raw_line);
  if (line.empty() || line[0] == '#' || line[0] == '!' || line[0] == ';') return {};
  std::string tok_error;
  auto tokens = TokenizeCli(line, &tok_error);
  Expected<void> result;
  if (!tok_error.empty())
    result = Fail(ErrorCode::kParse, tok_error);
  else
    result = ExecuteTokens(tokens, std::string(line));
  if (!result) errors_.push_back({origin_, line_no, result.error().message});
  return result;
}

Expected<void> CliSession::ExecuteTokens(const std::vector<std::string>& tokens,
                                         const std::string& joined) {
  const Schema& schema = config_.schema();
  std::string first = ToLower(tokens[0]);
  std::string words = ToLower(Join(tokens, 0));

  if (words == "exit") {
    if (row_table_)
      CommitRow();
    else if (!path_.empty())
      path_.pop_back();
    return {};
  }
  if (words == "end") {
    CommitRow();
    path_.clear();
    return {};
  }
  if (words == "activate" || words == "write" || words == "write memory") return {};
  if (first == "do") return {};  // `do show ...` at the vendor CLI: nothing to provision
  if (first == "reload") {
    std::string arg = tokens.size() > 1 ? ToLower(Join(tokens, 1)) : "";
    if (arg == "if-needed") {
      if (restart_ == RestartRequest::kNone) restart_ = RestartRequest::kIfNeeded;
      return {};
    }
    if (arg == "now") {
      restart_ = RestartRequest::kNow;
      return {};
    }
    return Fail(ErrorCode::kParse, "'reload' takes 'if-needed' or 'now'");
  }
  if (kForbidden.contains(first))
    return Fail(ErrorCode::kParse,
                "'" + first + "' is an action command, not allowed in a provisioning script");

  bool negate = first == "no";
  std::vector<std::string> args(tokens.begin() + (negate ? 1 : 0), tokens.end());
  if (args.empty()) return Fail(ErrorCode::kParse, "'no' needs a command");
  std::string cmd = ToLower(args[0]);

  if (row_table_) {
    for (const auto& c : row_table_->columns) {
      if (c.cli_command.empty() || !IEquals(c.cli_command, cmd)) continue;
      ++settings_;
      if (negate) {
        row_values_.erase(c.name);
        return {};
      }
      if (args.size() < 2) return Fail(ErrorCode::kParse, "'" + cmd + "' needs a value");
      auto v = NormalizeValue(c.value, Join(args, 1), true);
      if (!v) return Unexpected(v.error().WithContext(cmd));
      if (*v == c.value.default_value)
        row_values_.erase(c.name);
      else
        row_values_[c.name] = *v;
      return {};
    }
    return Fail(ErrorCode::kParse, "unknown command '" + cmd + "' in " + PromptMode());
  }

  // Entering a sub-mode.
  if (!negate) {
    auto next = path_;
    next.push_back(words);
    if (IsMode(next)) {
      path_ = std::move(next);
      return {};
    }
    // A top-level mode typed from inside another mode switches to it, as the vendor CLI does.
    if (!path_.empty() && IsMode({words})) {
      path_ = {words};
      return {};
    }
  }

  auto in_mode = [&](const std::vector<std::string>& modes) {
    if (modes.size() != path_.size()) return false;
    for (size_t i = 0; i < modes.size(); ++i)
      if (!IEquals(modes[i], path_[i])) return false;
    return true;
  };
  for (const auto& p : schema.params()) {
    if (p.cli_command.empty() || !IEquals(p.cli_command, cmd) || !in_mode(p.cli_modes)) continue;
    if (negate) {
      config_.Reset(p);
      ++settings_;
      return {};
    }
    if (args.size() < 2) return Fail(ErrorCode::kParse, "'" + cmd + "' needs a value");
    std::string raw = Join(args, 1);
    // `credentials USER PASSWORD` is stored as user:password.
    if (p.name == "AUPDUserPassword" && args.size() == 3) raw = args[1] + ":" + args[2];
    auto v = NormalizeValue(p.value, raw, true);
    if (!v) return Unexpected(v.error().WithContext(cmd));
    config_.SetCanonical(p, std::move(*v));
    ++settings_;
    return {};
  }
  for (const auto& t : schema.tables()) {
    if (t.cli_command.empty() || !IEquals(t.cli_command, cmd) || !in_mode(t.cli_modes)) continue;
    if (args.size() != 1 + t.index_columns.size())
      return Fail(
          ErrorCode::kParse,
          "'" + cmd + "' takes " + std::to_string(t.index_columns.size()) + " index value(s)");
    RowKey key;
    for (size_t i = 1; i < args.size(); ++i) {
      auto v = NormalizeValue(
          ValueSpec{ValueType::kInteger, 0, 1'000'000'000, 0, {}, {}, "0", false, ""}, args[i],
          false);
      if (!v) return Unexpected(v.error().WithContext(cmd + " index"));
      key.push_back(*v);
    }
    TableRows& rows = config_.MutableTable(t);
    ++settings_;
    if (negate) {
      rows.erase(key);
      config_.DropEmptyTables();
      return {};
    }
    row_table_ = &t;
    row_key_ = key;
    auto it = rows.find(key);
    row_values_ = it == rows.end() ? RowValues{} : it->second;
    return {};
  }
  std::string where = path_.empty() ? "at the top level" : "in " + PromptMode();
  (void)joined;
  return Fail(ErrorCode::kParse, "unknown command '" + Join(args, 0).substr(0, 60) + "' " + where);
}

CliLoadResult LoadCliScript(std::string_view text, std::string_view origin,
                            const Configuration& current, CliScriptKind kind) {
  Configuration start = current;
  // S-9.2: a startup script starts from the defaults, except for the parameters that keep the
  // device reachable, which it may set itself.
  if (kind == CliScriptKind::kStartup) start.ResetAllButLifeline();
  CliSession session(start, std::string(origin));
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  LineReader lines(text);
  std::string_view line;
  while (lines.Next(line)) {
    int line_no = lines.line_no();
    if (line.find('\0') != std::string_view::npos) {
      (void)session.Execute("\"", line_no);  // records a parse error for this line
      continue;
    }
    (void)session.Execute(line, line_no);
  }
  session.Finish();
  Configuration result = session.config();
  result.DropEmptyTables();
  bool empty = session.settings() == 0;
  std::vector<Diagnostic> errors = session.errors();
  if (empty && kind == CliScriptKind::kStartup && errors.empty())
    errors.push_back(
        {std::string(origin), 0,
         "empty configuration file: a startup script with no setting would return every "
         "parameter to its default; rejected"});
  if (!errors.empty()) result = current;
  return {std::move(result), std::move(errors), session.warnings(), session.restart(), empty};
}

std::string WriteCli(const Configuration& config) {
  const Schema& schema = config.schema();
  // Group commands by mode path, in schema order.
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> groups;
  auto group = [&](const std::vector<std::string>& modes) -> std::vector<std::string>& {
    for (auto& g : groups)
      if (g.first == modes) return g.second;
    groups.push_back({modes, {}});
    return groups.back().second;
  };
  for (const auto& p : schema.params()) {
    if (p.cli_command.empty()) continue;
    auto it = config.scalars().find(p.name);
    if (it == config.scalars().end()) continue;
    if (IsHiddenValue(p, it->second))
      group(p.cli_modes).push_back("! " + p.cli_command + " is set (secret, not shown)");
    else
      group(p.cli_modes).push_back(p.cli_command + " " + CliQuote(CliValue(p.value, it->second)));
  }
  for (const auto& t : schema.tables()) {
    if (t.cli_command.empty()) continue;
    auto it = config.tables().find(t.name);
    if (it == config.tables().end()) continue;
    auto& lines = group(t.cli_modes);
    for (const auto& [key, values] : it->second) {
      std::string head = t.cli_command;
      for (const auto& k : key) head += " " + k;
      lines.push_back(head);
      for (const auto& c : t.columns) {
        auto v = values.find(c.name);
        if (v != values.end() && !c.cli_command.empty())
          lines.push_back(" " + c.cli_command + " " + CliQuote(CliValue(c.value, v->second)));
      }
      lines.push_back(" exit");
    }
  }
  std::string out;
  for (const auto& [modes, lines] : groups) {
    std::string indent;
    for (const auto& m : modes) {
      out += indent + m + "\n";
      indent += " ";
    }
    for (const auto& l : lines) out += indent + l + "\n";
    for (size_t i = modes.size(); i-- > 0;) out += std::string(i, ' ') + "exit\n";
  }
  return out;
}

}  // namespace autoprov
