#include "config/configuration.hpp"

#include <cstdlib>

#include "common/text.hpp"

namespace autoprov {

const std::string& RowValues::at(std::string_view key) const {
  auto it = find(key);
  if (it == items_.end()) throw std::out_of_range("no column " + std::string(key));
  return it->second;
}

std::string Diagnostic::ToString() const {
  return origin + ":" + std::to_string(line) + ": " + message;
}

const std::string& Configuration::Get(std::string_view name) const {
  const ParamSpec* spec = schema_->FindParam(name);
  if (!spec) {
    static const std::string kEmpty;
    return kEmpty;
  }
  auto it = scalars_.find(spec->name);
  return it == scalars_.end() ? spec->value.default_value : it->second;
}

long long Configuration::GetInt(std::string_view name) const {
  return std::strtoll(Get(name).c_str(), nullptr, 10);
}

Expected<void> Configuration::Set(std::string_view name, std::string_view raw, bool from_cli) {
  const ParamSpec* spec = schema_->FindParam(name);
  if (!spec) return Fail(ErrorCode::kValidation, "unknown parameter '" + std::string(name) + "'");
  auto value = NormalizeValue(spec->value, raw, from_cli);
  if (!value) return Unexpected(value.error().WithContext(spec->name));
  SetCanonical(*spec, std::move(*value));
  return {};
}

void Configuration::SetCanonical(const ParamSpec& spec, std::string value) {
  if (spec.transient) return;
  if (value == spec.value.default_value)
    scalars_.erase(spec.name);
  else
    scalars_[spec.name] = std::move(value);
}

void Configuration::ResetAllButLifeline() {
  std::erase_if(scalars_, [&](const auto& kv) {
    const ParamSpec* spec = schema_->FindParam(kv.first);
    return !spec || !spec->lifeline;
  });
  tables_.clear();
}

void Configuration::DropEmptyTables() {
  std::erase_if(tables_, [](const auto& kv) { return kv.second.empty(); });
}

std::vector<std::string> Configuration::RestartChangesFrom(const Configuration& before) const {
  std::vector<std::string> out;
  for (const auto& p : schema_->params())
    if (p.restart && Get(p.name) != before.Get(p.name)) out.push_back(p.name);
  for (const auto& t : schema_->tables()) {
    if (!t.restart) continue;
    auto a = tables_.find(t.name);
    auto b = before.tables_.find(t.name);
    const TableRows empty;
    if ((a == tables_.end() ? empty : a->second) != (b == before.tables_.end() ? empty : b->second))
      out.push_back(t.name);
  }
  return out;
}

namespace {
// Where the password of a URL's userinfo is: [begin, end), or nothing.
std::pair<size_t, size_t> UrlPassword(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return {0, 0};
  size_t start = sep + 3;
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return {0, 0};
  size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) return {0, 0};
  return {colon + 1, at};
}
constexpr std::string_view kHiddenSuffix = " is hidden but has non-default value";
}  // namespace

bool IsHiddenValue(const ParamSpec& spec, std::string_view value) {
  if (value.empty() || value == spec.value.default_value) return false;
  if (spec.value.secret) return true;
  return spec.value.type == ValueType::kUrl && UrlPassword(value).second > 0;
}

std::string ShownValue(const ParamSpec& spec, const std::string& value) {
  if (!IsHiddenValue(spec, value)) return value;
  if (spec.value.secret) return "***";
  auto [begin, end] = UrlPassword(value);
  return value.substr(0, begin) + "***" + value.substr(end);
}

std::string HiddenLine(const std::string& name) { return ";" + name + std::string(kHiddenSuffix); }

std::string HiddenLineName(std::string_view line) {
  line = Trim(line);
  if (line.empty() || (line[0] != ';' && line[0] != '#')) return "";
  line.remove_prefix(1);
  line = Trim(line);
  if (!line.ends_with(kHiddenSuffix)) return "";
  line.remove_suffix(kHiddenSuffix.size());
  if (line.empty() || line.find_first_of(" \t") != std::string_view::npos) return "";
  return std::string(line);
}

}  // namespace autoprov
