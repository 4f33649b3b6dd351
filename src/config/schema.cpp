#include "config/schema.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/redact.hpp"
#include "common/text.hpp"
#include "config/backoff.hpp"
#include "config/builtin_schema.hpp"

namespace autoprov {
namespace {

using nlohmann::json;

// A value's fields as a schema writes them, from a JSON file or the built-in tables.
struct RawValue {
  std::string type = "string";
  long long min = 0;
  long long max = 0;
  size_t max_length = 0;
  bool secret = false;
  std::vector<EnumChoice> choices;
  std::vector<std::string> allowed;
  std::string default_value;
  std::string format;
};

Expected<ValueSpec> MakeValueSpec(RawValue raw, std::string_view where) {
  ValueSpec v;
  const std::string& type = raw.type;
  if (type == "integer")
    v.type = ValueType::kInteger;
  else if (type == "enum")
    v.type = ValueType::kEnum;
  else if (type == "string")
    v.type = ValueType::kString;
  else if (type == "url")
    v.type = ValueType::kUrl;
  else if (type == "time")
    v.type = ValueType::kTime;
  else if (type == "list")
    v.type = ValueType::kList;
  else
    return Fail(ErrorCode::kParse, std::string(where) + ": unknown type '" + type + "'");
  v.min = raw.min;
  v.max = raw.max;
  v.max_length = raw.max_length;
  v.secret = raw.secret;
  v.choices = std::move(raw.choices);
  v.allowed = std::move(raw.allowed);
  v.format = std::move(raw.format);
  if (!v.format.empty() && (v.type != ValueType::kString || v.format != "backoff"))
    return Fail(ErrorCode::kParse, std::string(where) + ": unknown format '" + v.format + "'");
  if (v.type == ValueType::kEnum && v.choices.empty())
    return Fail(ErrorCode::kParse, std::string(where) + ": enum without values");
  if (v.type == ValueType::kInteger && v.min > v.max)
    return Fail(ErrorCode::kParse, std::string(where) + ": min above max");
  std::string def = std::move(raw.default_value);
  if (def.empty() && (v.type == ValueType::kInteger)) def = std::to_string(v.min);
  if (def.empty() && v.type == ValueType::kEnum) def = std::to_string(v.choices.front().value);
  auto norm = NormalizeValue(v, def, false);
  if (!norm) return Unexpected(norm.error().WithContext(std::string(where) + ": default"));
  v.default_value = *norm;
  return v;
}

Expected<ValueSpec> ParseValueSpec(const json& j, std::string_view where) {
  RawValue raw;
  raw.type = j.value("type", "string");
  raw.min = j.value("min", 0LL);
  raw.max = j.value("max", 0LL);
  raw.max_length = j.value("max_length", size_t{0});
  raw.secret = j.value("secret", false);
  if (j.contains("values")) {
    for (auto& [k, val] : j["values"].items()) raw.choices.push_back({k, val.get<long long>()});
  }
  if (j.contains("allowed")) raw.allowed = j["allowed"].get<std::vector<std::string>>();
  raw.default_value = j.value("default", std::string());
  raw.format = j.value("format", std::string());
  return MakeValueSpec(std::move(raw), where);
}

void SplitCli(std::vector<std::string> parts, std::vector<std::string>& modes,
              std::string& command) {
  if (parts.empty()) return;
  command = parts.back();
  parts.pop_back();
  modes = std::move(parts);
}

bool IsTime(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (int i : {0, 1, 3, 4})
    if (s[i] < '0' || s[i] > '9') return false;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  return h < 24 && m < 60;
}

}  // namespace

const ColumnSpec* TableSpec::FindColumn(std::string_view col) const {
  if (IStartsWith(col, name) && col.size() > name.size() + 1 && col[name.size()] == '_')
    col.remove_prefix(name.size() + 1);
  for (const auto& c : columns)
    if (IEquals(c.name, col)) return &c;
  return nullptr;
}

Expected<void> Schema::MergeParam(ParamSpec spec) {
  generation_ = Generation{};
  if (param_index_.contains(spec.name))  // hashed and compared case-insensitively
    return Fail(ErrorCode::kParse, "parameter " + spec.name + " is defined twice");
  param_index_[spec.name] = params_.size();
  params_.push_back(std::move(spec));
  return {};
}

Expected<void> Schema::MergeTable(TableSpec spec) {
  generation_ = Generation{};
  if (table_index_.contains(spec.name) || param_index_.contains(spec.name))
    return Fail(ErrorCode::kParse, "table " + spec.name + " is defined twice");
  table_index_[spec.name] = tables_.size();
  tables_.push_back(std::move(spec));
  return {};
}

Expected<Schema> Schema::FromJson(std::string_view json_text, std::string_view origin) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kParse, std::string(origin) + ": not valid JSON: " + e.what());
  }
  Schema s;
  try {
    for (const auto& p : doc.value("parameters", json::array())) {
      ParamSpec spec;
      spec.name = p.at("name").get<std::string>();
      std::string where = std::string(origin) + ": parameter " + spec.name;
      auto v = ParseValueSpec(p, where);
      if (!v) return Unexpected(v.error());
      spec.value = std::move(*v);
      if (p.contains("cli") && p["cli"].is_array())
        SplitCli(p["cli"].get<std::vector<std::string>>(), spec.cli_modes, spec.cli_command);
      spec.restart = p.value("restart", false);
      spec.transient = p.value("transient", false);
      spec.lifeline = p.value("lifeline", false);
      spec.description = p.value("description", "");
      if (auto m = s.MergeParam(std::move(spec)); !m)
        return Unexpected(m.error().WithContext(origin));
    }
    for (const auto& t : doc.value("tables", json::array())) {
      TableSpec spec;
      spec.name = t.at("name").get<std::string>();
      std::string where = std::string(origin) + ": table " + spec.name;
      spec.index_columns = t.value("index", std::vector<std::string>{"Index"});
      if (spec.index_columns.empty()) return Fail(ErrorCode::kParse, where + ": no index column");
      for (const auto& c : t.value("columns", json::array())) {
        ColumnSpec col;
        col.name = c.at("name").get<std::string>();
        auto v = ParseValueSpec(c, where + "." + col.name);
        if (!v) return Unexpected(v.error());
        col.value = std::move(*v);
        col.cli_command = c.value("cli", "");
        spec.columns.push_back(std::move(col));
      }
      if (t.contains("cli") && t["cli"].is_array())
        SplitCli(t["cli"].get<std::vector<std::string>>(), spec.cli_modes, spec.cli_command);
      spec.restart = t.value("restart", false);
      spec.description = t.value("description", "");
      if (auto m = s.MergeTable(std::move(spec)); !m)
        return Unexpected(m.error().WithContext(origin));
    }
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kParse, std::string(origin) + ": " + e.what());
  }
  return s;
}

Expected<void> Schema::Merge(const Schema& other) {
  for (const auto& p : other.params_)
    if (auto r = MergeParam(p); !r) return r;
  for (const auto& t : other.tables_)
    if (auto r = MergeTable(t); !r) return r;
  return {};
}

Expected<void> Schema::MergeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, "cannot read schema file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto other = FromJson(ss.str(), path);
  if (!other) return Unexpected(other.error());
  if (auto r = Merge(*other); !r) return Unexpected(r.error().WithContext(path));
  return {};
}

Expected<Schema> Schema::FromBuiltinTables() {
  Schema s;
  auto list = [](const char* const* items) {
    std::vector<std::string> out;
    for (; *items != nullptr; ++items) out.emplace_back(*items);
    return out;
  };
  for (const BuiltinParam* b = kBuiltinParams; b->name != nullptr; ++b) {
    ParamSpec spec;
    spec.name = b->name;
    RawValue raw;
    raw.type = b->type;
    raw.min = b->min;
    raw.max = b->max;
    raw.max_length = b->max_length;
    raw.secret = b->secret;
    for (const BuiltinChoice* c = b->values; c->cli_name != nullptr; ++c)
      raw.choices.push_back({c->cli_name, c->value});
    raw.allowed = list(b->allowed);
    raw.default_value = b->default_value;
    raw.format = b->format;
    auto v = MakeValueSpec(std::move(raw), std::string("built-in schema: parameter ") + b->name);
    if (!v) return Unexpected(v.error());
    spec.value = std::move(*v);
    SplitCli(list(b->cli), spec.cli_modes, spec.cli_command);
    spec.restart = b->restart;
    spec.transient = b->transient;
    spec.lifeline = b->lifeline;
    spec.description = b->description;
    if (auto m = s.MergeParam(std::move(spec)); !m) return Unexpected(m.error());
  }
  return s;
}

const Schema& Schema::BuiltIn() {
  // Built from tables generated at build time (src/config/gen/schema_to_cpp.py): no JSON to parse
  // at every start. A test checks they equal the file read through FromJson.
  static const Schema schema = [] {
    auto s = FromBuiltinTables();
    if (!s) std::abort();  // the build embeds a schema the tests check; failing here is a build bug
    return *s;
  }();
  return schema;
}

namespace {
// ASCII names: no locale call.
inline unsigned char FoldCase(char c) {
  auto x = static_cast<unsigned char>(c);
  return (x >= 'A' && x <= 'Z') ? static_cast<unsigned char>(x | 0x20) : x;
}
}  // namespace

size_t Schema::NameHash::operator()(std::string_view s) const {
  // FNV-1a over the bytes with the ASCII case bit set: "IniFileURL" and "INIFILEURL" hash alike,
  // branch-free.
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ (static_cast<unsigned char>(c) | 0x20u)) * 1099511628211ull;
  return static_cast<size_t>(h);
}

bool Schema::NameEqual::operator()(std::string_view a, std::string_view b) const {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // the common case: code and files spell names as the schema does
  for (size_t i = 0; i < a.size(); ++i)
    if (FoldCase(a[i]) != FoldCase(b[i])) return false;
  return true;
}

uint64_t Schema::Generation::Next() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

const ParamSpec* Schema::FindParam(std::string_view ini_name) const {
  // Code asks for the same few names from the same literals again and again: a small per-thread
  // memo keyed by where the name is, checked against the name found, saves the hashing.
  struct Memo {
    uint64_t generation = 0;
    const char* data = nullptr;
    size_t size = 0;
    const ParamSpec* spec = nullptr;
  };
  thread_local std::array<Memo, 64> memo;
  Memo& m = memo[((reinterpret_cast<uintptr_t>(ini_name.data()) >> 3) ^ ini_name.size()) & 63];
  if (m.generation == generation_.value && m.data == ini_name.data() && m.size == ini_name.size() &&
      m.spec->name == ini_name)
    return m.spec;
  auto it = param_index_.find(ini_name);
  if (it == param_index_.end()) return nullptr;
  const ParamSpec* spec = &params_[it->second];
  m = Memo{generation_.value, ini_name.data(), ini_name.size(), spec};
  return spec;
}

const ParamSpec* Schema::FindParamOrCommand(std::string_view name) const {
  if (const ParamSpec* p = FindParam(name)) return p;
  const ParamSpec* found = nullptr;
  for (const auto& p : params_) {
    if (!p.cli_command.empty() && IEquals(p.cli_command, name)) {
      if (found) return nullptr;
      found = &p;
    }
  }
  return found;
}

const TableSpec* Schema::FindTable(std::string_view name) const {
  auto it = table_index_.find(name);
  return it == table_index_.end() ? nullptr : &tables_[it->second];
}

Expected<std::string> NormalizeValue(const ValueSpec& spec, std::string_view raw, bool from_cli) {
  raw = Trim(raw);
  switch (spec.type) {
    case ValueType::kInteger: {
      long long v = 0;
      auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
      if (raw.empty() || ec != std::errc() || p != raw.data() + raw.size())
        return Fail(ErrorCode::kValidation, "'" + std::string(raw) + "' is not an integer");
      if (v < spec.min || v > spec.max)
        return Fail(ErrorCode::kValidation, std::to_string(v) + " is outside " +
                                                std::to_string(spec.min) + ".." +
                                                std::to_string(spec.max));
      return std::to_string(v);
    }
    case ValueType::kEnum: {
      long long v = 0;
      auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
      bool numeric = !raw.empty() && ec == std::errc() && p == raw.data() + raw.size();
      for (const auto& c : spec.choices) {
        if ((numeric && c.value == v) || (!numeric && IEquals(c.cli_name, raw)))
          return std::to_string(c.value);
      }
      std::string names;
      for (const auto& c : spec.choices)
        names += (names.empty() ? "" : "|") + (from_cli ? c.cli_name : std::to_string(c.value));
      return Fail(ErrorCode::kValidation, "'" + std::string(raw) + "' is not one of " + names);
    }
    case ValueType::kString:
    case ValueType::kUrl: {
      if (spec.max_length && raw.size() > spec.max_length)
        return Fail(ErrorCode::kValidation, "value is " + std::to_string(raw.size()) +
                                                " characters long, the limit is " +
                                                std::to_string(spec.max_length));
      for (char c : raw)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          return Fail(ErrorCode::kValidation, "value contains a control character");
      if (spec.type == ValueType::kUrl && !raw.empty() && raw != "0") {
        auto pos = raw.find("://");
        if (pos == std::string_view::npos || pos == 0)
          return Fail(ErrorCode::kValidation,
                      "'" + RedactUrl(raw) + "' is not a URL (scheme://host/path)");
        for (char c : raw.substr(0, pos))
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.')
            return Fail(ErrorCode::kValidation, "'" + RedactUrl(raw) + "' has an invalid scheme");
        // What the transfer layer speaks (S-3.1): another scheme would only fail at the run.
        std::string scheme = ToLower(raw.substr(0, pos));
        if (scheme != "http" && scheme != "https" && scheme != "ftp" && scheme != "ftps" &&
            scheme != "tftp" && scheme != "file")
          return Fail(ErrorCode::kValidation, "'" + RedactUrl(raw) + "': unsupported scheme '" +
                                                  scheme +
                                                  "' (http, https, ftp, ftps, tftp or file)");
        if (raw.find_first_of(" \t") != std::string_view::npos)
          return Fail(ErrorCode::kValidation, "a URL cannot contain spaces");
        // S-9.5: a URL parser would split such a userinfo elsewhere than its writer meant.
        if (auto problem = UserinfoProblem(raw); !problem.empty())
          return Fail(ErrorCode::kValidation,
                      "'" + RedactUrl(raw) + "': " + problem +
                          "; percent-encode reserved characters in credentials "
                          "(e.g. '#' as %23, '@' as %40, '/' as %2F, '?' as %3F)");
      }
      // The vendor writes 0 to clear a URL parameter; it means "no URL".
      if (spec.type == ValueType::kUrl && raw == "0") return std::string();
      if (spec.format == "backoff") {
        auto list = ParseBackoffList(raw);
        if (!list) return Unexpected(list.error());
        std::string canonical;
        for (const auto& e : *list)
          canonical += (canonical.empty() ? "" : ",") + std::to_string(e.base_s) +
                       (e.random_s ? "+" + std::to_string(e.random_s) : "");
        return canonical;
      }
      return std::string(raw);
    }
    case ValueType::kTime:
      if (raw.empty()) return std::string();
      if (!IsTime(raw))
        return Fail(ErrorCode::kValidation, "'" + std::string(raw) + "' is not a time hh:mm");
      return std::string(raw);
    case ValueType::kList: {
      // ini: 'ini', 'fk', 'cpt'  CLI: ini,fk,cpt  canonical: ini,fk,cpt
      std::string out;
      size_t start = 0;
      while (start <= raw.size()) {
        size_t end = raw.find(',', start);
        if (end == std::string_view::npos) end = raw.size();
        std::string_view item = Trim(raw.substr(start, end - start));
        if (item.size() >= 2 && item.front() == '\'' && item.back() == '\'')
          item = Trim(item.substr(1, item.size() - 2));
        if (!item.empty()) {
          std::string lower = ToLower(item);
          if (!spec.allowed.empty() &&
              std::find(spec.allowed.begin(), spec.allowed.end(), lower) == spec.allowed.end())
            return Fail(ErrorCode::kValidation,
                        "'" + std::string(item) + "' is not a known keyword");
          out += (out.empty() ? "" : ",") + lower;
        }
        start = end + 1;
      }
      return out;
    }
  }
  return Fail(ErrorCode::kInternal, "unhandled type");
}

std::string CliValue(const ValueSpec& spec, const std::string& canonical) {
  if (spec.type == ValueType::kEnum) {
    for (const auto& c : spec.choices)
      if (std::to_string(c.value) == canonical) return c.cli_name;
  }
  return canonical;
}

std::string Schema::DidYouMean(std::string_view name, bool commands) const {
  std::vector<std::string> names;
  for (const auto& p : params()) {
    names.push_back(p.name);
    if (commands && !p.cli_command.empty()) names.push_back(p.cli_command);
  }
  std::string match = ClosestMatch(name, names);
  return match.empty() ? "" : "; did you mean '" + match + "'?";
}

namespace {

const char* TypeName(ValueType t) {
  switch (t) {
    case ValueType::kInteger:
      return "integer";
    case ValueType::kEnum:
      return "enum";
    case ValueType::kString:
      return "string";
    case ValueType::kUrl:
      return "url";
    case ValueType::kTime:
      return "time";
    case ValueType::kList:
      return "list";
  }
  return "string";
}

}  // namespace

nlohmann::json SchemaJson(const Schema& schema) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : schema.params()) {
    nlohmann::json j = {{"name", p.name},
                        {"type", TypeName(p.value.type)},
                        {"default", p.value.secret ? "" : p.value.default_value},
                        {"restart", p.restart},
                        {"lifeline", p.lifeline},
                        {"secret", p.value.secret},
                        {"transient", p.transient},
                        {"description", p.description}};
    if (p.value.type == ValueType::kInteger) {
      j["min"] = p.value.min;
      j["max"] = p.value.max;
    }
    if (p.value.max_length > 0) j["max_length"] = p.value.max_length;
    if (!p.value.format.empty()) j["format"] = p.value.format;
    if (!p.value.choices.empty()) {
      nlohmann::json c = nlohmann::json::array();
      for (const auto& ch : p.value.choices)
        c.push_back({{"name", ch.cli_name}, {"value", ch.value}});
      j["choices"] = c;
    }
    if (!p.value.allowed.empty()) j["allowed"] = p.value.allowed;
    if (!p.cli_command.empty()) {
      std::string path;
      for (const auto& m : p.cli_modes) path += m + " / ";
      j["cli"] = path + p.cli_command;
    }
    list.push_back(j);
  }
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& t : schema.tables()) tables.push_back(t.name);
  return {{"parameters", list}, {"tables", tables}};
}

}  // namespace autoprov
