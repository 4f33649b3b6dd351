#include "config/ini.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "common/text.hpp"

namespace autoprov {
namespace {

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Strips one pair of matching quotes; reports an unterminated one.
bool Unquote(std::string_view v, std::string& out) {
  if (!v.empty() && (v.front() == '\'' || v.front() == '"')) {
    if (v.size() < 2 || v.back() != v.front()) return false;
    out.assign(v.substr(1, v.size() - 2));
    return true;
  }
  out.assign(v);
  return true;
}

// Splits "v1, "a,b;c", $$ ;" into fields; stops at the first ';' outside quotes.
bool SplitRowValues(std::string_view s, std::vector<std::string>& out, std::string& error) {
  out.clear();
  std::string cur;
  bool quoted_field = false;
  size_t i = 0;
  bool ended = false;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      if (!Trim(cur).empty()) {
        error = "a quote in the middle of a value";
        return false;
      }
      size_t close = s.find('"', i + 1);
      if (close == std::string_view::npos) {
        error = "unterminated double-quoted value";
        return false;
      }
      cur.assign(s.substr(i + 1, close - i - 1));
      quoted_field = true;
      i = close + 1;
      continue;
    }
    if (c == ',' || c == ';') {
      out.push_back(quoted_field ? cur : std::string(Trim(cur)));
      cur.clear();
      quoted_field = false;
      ++i;
      if (c == ';') {
        ended = true;
        break;
      }
      continue;
    }
    if (quoted_field) {
      if (c != ' ' && c != '\t') {
        error = "text after a closing quote";
        return false;
      }
    } else {
      cur.push_back(c);
    }
    ++i;
  }
  if (!ended) {
    // A missing final ';' is tolerated.
    if (quoted_field || !Trim(cur).empty() || !out.empty())
      out.push_back(quoted_field ? cur : std::string(Trim(cur)));
  } else if (!Trim(s.substr(i)).empty() && Trim(s.substr(i))[0] != ';') {
    error = "text after the closing ';'";
    return false;
  }
  return true;
}

std::vector<std::string> SplitNames(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find_first_of(",", start);
    if (end == std::string_view::npos) end = s.size();
    auto item = Trim(s.substr(start, end - start));
    if (!item.empty()) {
      // Multi-index FORMAT lines may separate index names with spaces too.
      for (auto w : SplitWhitespace(item)) out.emplace_back(w);
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

void ParseIni(std::string_view text, std::string_view origin, IniVisitor& visitor) {
  auto err = [&](int line, std::string msg) {
    visitor.OnError({std::string(origin), line, std::move(msg)});
  };
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);

  std::string pending_section;  // last [X] line; becomes a table name when FORMAT follows
  int pending_line = 0;
  std::optional<IniDocument::Table> open_table;  // header of the table being read
  IniDocument::Table* open = nullptr;
  bool format_seen = false;
  LineReader lines(text);
  std::string_view raw;
  while (lines.Next(raw)) {
    int line_no = lines.line_no();
    std::string_view line = Trim(raw);
    if (line.empty() || line[0] == ';' || line[0] == '#') continue;
    if (line.find('\0') != std::string_view::npos) {
      err(line_no, "binary data (NUL byte) in a text file");
      continue;
    }

    if (line[0] == '[') {
      // A trailing comment after the header ("[SYSTEM Params] ; general") is tolerated.
      if (auto close = line.find(']'); close != std::string_view::npos && close + 1 < line.size()) {
        auto rest = Trim(line.substr(close + 1));
        if (!rest.empty() && (rest[0] == ';' || rest[0] == '#')) line = line.substr(0, close + 1);
      }
      if (line.back() != ']') {
        err(line_no, "section line without closing ']'");
        continue;
      }
      std::string_view inner = Trim(line.substr(1, line.size() - 2));
      if (!inner.empty() && (inner[0] == '\\' || inner[0] == '/')) {
        std::string_view name = Trim(inner.substr(1));
        if (!open) {
          err(line_no, "end of table '" + std::string(name) + "' without its start");
        } else if (!IEquals(name, open->name)) {
          err(line_no,
              "end of table '" + std::string(name) + "' but table '" + open->name + "' is open");
          open = nullptr;
        } else {
          open = nullptr;
        }
        pending_section.clear();
        continue;
      }
      if (open) {
        err(line_no,
            "table '" + open->name + "' is not closed (expected [ \\" + open->name + " ])");
        open = nullptr;
      }
      if (inner.empty()) {
        err(line_no, "empty section name");
        continue;
      }
      pending_section.assign(inner);
      pending_line = line_no;
      format_seen = false;
      continue;
    }

    if (IStartsWith(line, "FORMAT") && line.size() > 6 && (line[6] == ' ' || line[6] == '\t')) {
      if (open || pending_section.empty() || format_seen) {
        err(line_no, "FORMAT line outside a table header");
        continue;
      }
      std::string_view body = Trim(line.substr(6));
      size_t eq = body.find('=');
      if (eq == std::string_view::npos) {
        err(line_no, "FORMAT line without '='");
        continue;
      }
      std::string_view cols = Trim(body.substr(eq + 1));
      if (!cols.empty() && cols.back() == ';') cols.remove_suffix(1);
      IniDocument::Table t;
      t.name = pending_section;
      t.line = pending_line;
      t.index_columns = SplitNames(body.substr(0, eq));
      t.columns = SplitNames(cols);
      if (t.index_columns.empty()) {
        err(line_no, "FORMAT line names no index column");
        continue;
      }
      open_table = std::move(t);
      open = &*open_table;
      visitor.OnTable(*open);
      format_seen = true;
      continue;
    }

    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      err(line_no, "expected 'Name = Value', found '" + std::string(line.substr(0, 60)) + "'");
      continue;
    }
    std::string_view lhs = Trim(line.substr(0, eq));
    std::string_view rhs = Trim(line.substr(eq + 1));

    if (open) {
      auto words = SplitWhitespace(lhs);
      if (words.empty() || !IEquals(words[0], open->name)) {
        err(line_no, "row does not belong to table '" + open->name + "'");
        continue;
      }
      IniDocument::Row row;
      row.line = line_no;
      std::string rest(lhs.substr(words[0].size()));
      for (auto& idx : SplitNames(rest)) row.index.push_back(idx);
      std::string e;
      if (!SplitRowValues(rhs, row.values, e)) {
        err(line_no, e);
        continue;
      }
      if (row.index.size() != open->index_columns.size()) {
        err(line_no, "row has " + std::to_string(row.index.size()) +
                         " index value(s), FORMAT names " +
                         std::to_string(open->index_columns.size()));
        continue;
      }
      if (row.values.size() != open->columns.size()) {
        err(line_no, "row has " + std::to_string(row.values.size()) + " value(s), FORMAT names " +
                         std::to_string(open->columns.size()) + " column(s)");
        continue;
      }
      visitor.OnRow(*open, std::move(row));
      continue;
    }

    if (lhs.empty()) {
      err(line_no, "missing parameter name before '='");
      continue;
    }
    bool name_ok = true;
    for (char c : lhs) name_ok = name_ok && IsNameChar(c);
    if (!name_ok) {
      err(line_no, "invalid parameter name '" + std::string(lhs.substr(0, 60)) + "'");
      continue;
    }
    IniDocument::Assignment a;
    a.name.assign(lhs);
    a.line = line_no;
    a.raw.assign(rhs);
    if (!Unquote(rhs, a.value)) {
      err(line_no, "unterminated quoted value for " + a.name);
      continue;
    }
    visitor.OnAssignment(std::move(a));
    pending_section.clear();  // a FORMAT line must follow its table header directly
  }
  if (open) err(lines.line_no(), "table '" + open->name + "' is not closed at the end of the file");
}

IniParseResult ParseIni(std::string_view text, std::string_view origin) {
  struct Collector : IniVisitor {
    IniParseResult r;
    void OnAssignment(IniDocument::Assignment&& a) override {
      r.document.assignments.push_back(std::move(a));
    }
    void OnTable(const IniDocument::Table& header) override { r.document.tables.push_back(header); }
    void OnRow(const IniDocument::Table&, IniDocument::Row&& row) override {
      r.document.tables.back().rows.push_back(std::move(row));
    }
    void OnError(Diagnostic e) override { r.errors.push_back(std::move(e)); }
  } collector;
  ParseIni(text, origin, collector);
  return std::move(collector.r);
}

namespace {

const ValueSpec kIndexSpec{ValueType::kInteger, 0, 1'000'000'000, 0, {}, {}, "0", false, ""};

// Validates what the parser reports against the schema and keeps the file's content in canonical
// form; the running configuration is only combined with it at the end, once the mode is known.
class IniLoader : public IniVisitor {
 public:
  IniLoader(const Schema& schema, std::string origin)
      : schema_(schema), origin_(std::move(origin)) {}

  void OnAssignment(IniDocument::Assignment&& a) override {
    if (IEquals(a.name, "SetDefaultOnINIFileProcess")) set_default_ = std::string(Trim(a.value));
    const ParamSpec* spec = schema_.FindParam(a.name);
    if (!spec) {
      if (schema_.FindTable(a.name))
        errors.push_back({origin_, a.line, "'" + a.name + "' is a table, not a parameter"});
      else
        warnings.push_back(
            {origin_, a.line,
             "unknown parameter '" + a.name + "' ignored" + schema_.DidYouMean(a.name)});
      return;
    }
    if (!seen_.insert(spec->name).second)
      warnings.push_back(
          {origin_, a.line, spec->name + " is set more than once; the last value wins"});
    auto value =
        NormalizeValue(spec->value, spec->value.type == ValueType::kList ? a.raw : a.value, false);
    if (!value) {
      errors.push_back({origin_, a.line, spec->name + ": " + value.error().message});
      return;
    }
    if (spec->name == "ResetNow") reset_now = *value == "1";
    scalars.emplace_back(spec, std::move(*value));
  }

  void OnTable(const IniDocument::Table& t) override {
    table_ = nullptr;
    cols_.clear();
    const TableSpec* spec = schema_.FindTable(t.name);
    if (!spec) {
      warnings.push_back({origin_, t.line, "unknown table '" + t.name + "' ignored"});
      return;
    }
    if (tables.contains(spec->name)) {
      errors.push_back({origin_, t.line, "table " + spec->name + " appears twice"});
      return;
    }
    if (t.index_columns.size() != spec->index_columns.size()) {
      errors.push_back(
          {origin_, t.line,
           "table " + spec->name + " has " + std::to_string(spec->index_columns.size()) +
               " index column(s), FORMAT names " + std::to_string(t.index_columns.size())});
      return;
    }
    std::set<std::string> col_seen;
    bool ok = true;
    for (const auto& c : t.columns) {
      const ColumnSpec* cs = spec->FindColumn(c);
      if (!cs) {
        errors.push_back({origin_, t.line, "table " + spec->name + " has no column '" + c + "'"});
        ok = false;
      } else if (!col_seen.insert(cs->name).second) {
        errors.push_back({origin_, t.line, "column " + cs->name + " listed twice in FORMAT"});
        ok = false;
      }
      cols_.push_back(cs);
    }
    tables[spec->name];  // present, even when empty: an empty table in a file empties it
    if (ok) table_ = spec;
  }

  void OnRow(const IniDocument::Table&, IniDocument::Row&& row) override {
    if (!table_) return;
    RowKey key;
    for (const auto& idx : row.index) {
      auto v = NormalizeValue(kIndexSpec, idx, false);
      if (!v) {
        errors.push_back({origin_, row.line, table_->name + " index: " + v.error().message});
        return;
      }
      key.push_back(std::move(*v));
    }
    TableRows& rows = tables[table_->name];
    if (rows.contains(key)) {
      errors.push_back({origin_, row.line, table_->name + " row appears twice in the file"});
      return;
    }
    RowValues values;
    bool ok = true;
    for (size_t i = 0; i < cols_.size(); ++i) {
      std::string& raw = row.values[i];
      if (raw.empty() || raw == "$$") continue;
      auto v = NormalizeValue(cols_[i]->value, raw, false);
      if (!v) {
        errors.push_back(
            {origin_, row.line, table_->name + "." + cols_[i]->name + ": " + v.error().message});
        ok = false;
        continue;
      }
      if (*v != cols_[i]->value.default_value) values.emplace(cols_[i]->name, std::move(*v));
    }
    if (ok) rows.emplace(std::move(key), std::move(values));
  }

  void OnError(Diagnostic e) override { errors.push_back(std::move(e)); }

  std::optional<std::string> set_default() const { return set_default_; }

  std::vector<std::pair<const ParamSpec*, std::string>> scalars;
  std::map<std::string, TableRows> tables;
  std::vector<Diagnostic> errors, warnings;
  bool reset_now = false;

 private:
  const Schema& schema_;
  std::string origin_;
  std::set<std::string> seen_;
  std::optional<std::string> set_default_;
  const TableSpec* table_ = nullptr;
  std::vector<const ColumnSpec*> cols_;
};

}  // namespace

IniLoadResult LoadIni(std::string_view text, std::string_view origin, const Configuration& current,
                      IniApplyMode mode) {
  const Schema& schema = current.schema();
  IniLoader loader(schema, std::string(origin));
  ParseIni(text, origin, loader);

  if (mode == IniApplyMode::kFromFile) {
    std::string set_default =
        loader.set_default().value_or(current.Get("SetDefaultOnINIFileProcess"));
    mode = set_default == "0" ? IniApplyMode::kIncremental : IniApplyMode::kReplace;
  }
  IniLoadResult out{Configuration(schema), std::move(loader.errors), std::move(loader.warnings),
                    loader.reset_now, mode == IniApplyMode::kReplace};
  out.empty = loader.scalars.empty() && loader.tables.empty();
  if (out.empty && mode == IniApplyMode::kReplace && out.errors.empty())
    out.errors.push_back(
        {std::string(origin), 0,
         "empty configuration file: it sets no parameter" +
             (out.warnings.empty()
                  ? std::string()
                  : " this device knows (" + std::to_string(out.warnings.size()) + " ignored)") +
             ", and in replace mode (SetDefaultOnINIFileProcess = 1) it would return every "
             "parameter to its default; rejected"});
  if (!out.errors.empty()) {
    out.config = current;  // callers must not use it, but keep it meaningful
  } else {
    out.config = current;
    // S-9.2: replace mode starts from the defaults, but a parameter that keeps the device reachable
    // keeps its value unless the file sets it.
    if (mode == IniApplyMode::kReplace) out.config.ResetAllButLifeline();
    // A hidden line (";Name is hidden but has non-default value", as `config show` and device
    // exports write a secret) keeps the current value.
    LineReader lines(text);
    for (std::string_view line; lines.Next(line);)
      if (std::string name = HiddenLineName(line); !name.empty())
        if (const ParamSpec* spec = schema.FindParam(name))
          out.config.SetCanonical(*spec, current.Get(spec->name));
    for (auto& [spec, value] : loader.scalars) out.config.SetCanonical(*spec, std::move(value));
    for (auto& [name, rows] : loader.tables) {
      TableRows& target = out.config.MutableTable(*schema.FindTable(name));
      if (mode == IniApplyMode::kReplace) {
        target = std::move(rows);
      } else {
        for (auto& [key, values] : rows) target[key] = std::move(values);
      }
    }
    out.config.DropEmptyTables();
  }
  auto by_line = [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; };
  std::stable_sort(out.errors.begin(), out.errors.end(), by_line);
  std::stable_sort(out.warnings.begin(), out.warnings.end(), by_line);
  return out;
}

namespace {

bool NeedsIniQuotes(ValueType t) {
  return t == ValueType::kString || t == ValueType::kUrl || t == ValueType::kTime;
}

}  // namespace

std::string WriteIni(const Configuration& config, bool with_secrets) {
  const Schema& schema = config.schema();
  std::string out = ";autoprov running configuration\n\n[SYSTEM Params]\n";
  for (const auto& p : schema.params()) {
    auto it = config.scalars().find(p.name);
    if (it == config.scalars().end()) continue;
    if (!with_secrets && IsHiddenValue(p, it->second)) {
      out += HiddenLine(p.name) + "\n";
      continue;
    }
    out += p.name + " = ";
    if (p.value.type == ValueType::kList) {
      std::string items;
      size_t start = 0;
      const std::string& v = it->second;
      while (start < v.size()) {
        size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        items += (items.empty() ? "'" : ", '") + v.substr(start, end - start) + "'";
        start = end + 1;
      }
      out += items;
    } else if (NeedsIniQuotes(p.value.type)) {
      out += "'" + it->second + "'";
    } else {
      out += it->second;
    }
    out += "\n";
  }
  for (const auto& t : schema.tables()) {
    auto it = config.tables().find(t.name);
    if (it == config.tables().end()) continue;
    out += "\n[ " + t.name + " ]\nFORMAT ";
    for (size_t i = 0; i < t.index_columns.size(); ++i)
      out += (i ? ", " : "") + t.name + "_" + t.index_columns[i];
    out += " = ";
    for (size_t i = 0; i < t.columns.size(); ++i)
      out += (i ? ", " : "") + t.name + "_" + t.columns[i].name;
    out += ";\n";
    for (const auto& [key, values] : it->second) {
      out += t.name;
      for (size_t i = 0; i < key.size(); ++i) out += (i ? ", " : " ") + key[i];
      out += " = ";
      for (size_t i = 0; i < t.columns.size(); ++i) {
        const ColumnSpec& c = t.columns[i];
        auto v = values.find(c.name);
        std::string val = v == values.end() ? c.value.default_value : v->second;
        out += i ? ", " : "";
        if (c.value.type == ValueType::kInteger || c.value.type == ValueType::kEnum)
          out += val;
        else
          out += "\"" + val + "\"";
      }
      out += ";\n";
    }
    out += "[ \\" + t.name + " ]\n";
  }
  return out;
}

}  // namespace autoprov
