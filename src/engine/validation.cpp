#include "engine/validation.hpp"

#include <algorithm>

#include "common/text.hpp"
#include "engine/schedule.hpp"
#include "transfer/url.hpp"

namespace autoprov {
namespace {

// The placeholders a parameter's value may hold, as they are expanded (S-3.2, S-3.3, S-5, S-10.3).
std::vector<std::string> PlaceholdersOf(const ParamSpec& spec) {
  if (spec.name == "AupdHttpUserAgent") return {"<NAME>", "<MAC>", "<VER>", "<CONF>"};
  if (spec.name == "AupdReportUrl") return {"<MAC>", "<NAME>", "<VER>", "<CONF>"};
  if (spec.name == "TemplateUrl") return {"<MAC>", "<FILE>"};
  if (spec.value.type == ValueType::kUrl) return {"<MAC>"};
  return {};
}

std::string List(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// Each <...> in `value` must be one of `allowed`, spelled as it is (placeholders are
// case-sensitive), and closed.
std::string CheckPlaceholders(const std::string& value, const std::vector<std::string>& allowed,
                              const std::string& where) {
  for (size_t at = value.find('<'); at != std::string::npos; at = value.find('<', at + 1)) {
    size_t end = value.find('>', at);
    if (end == std::string::npos)
      return "unclosed placeholder '" + value.substr(at, 8) + "' (" + where + " expands " +
             List(allowed) + ")";
    std::string token = value.substr(at, end - at + 1);
    if (std::find(allowed.begin(), allowed.end(), token) != allowed.end()) continue;
    for (const auto& a : allowed)
      if (IEquals(a, token))
        return "'" + token + "' is not expanded: placeholders are case-sensitive, write " + a;
    return "'" + token + "' is not expanded in " + where + " (only " + List(allowed) + ")";
  }
  return {};
}

std::string CheckUrl(const ParamSpec& spec, const std::string& value, ConfigOrigin origin) {
  std::string scheme = SchemeOf(value);
  if (spec.name == "AupdReportUrl" && scheme != "http" && scheme != "https")
    return "'" + RedactUrl(value) + "': reports are uploaded over http or https only (S-9.10)";
  if (!IsSupportedScheme(value)) return UnsupportedSchemeError(value).message;
  if (scheme == "file") {
    if (origin == ConfigOrigin::kDownloaded)
      return "a downloaded file may not set a file: URL (S-9.10); only local commands may";
    return {};
  }
  if (auto p = CheckPlaceholders(value, PlaceholdersOf(spec), "a URL"); !p.empty()) return p;
  // Parsed as it is fetched: with its placeholders expanded.
  PlaceholderValues sample{"Product", "00908F000000", "7.20A.000.000", "conf"};
  std::string expanded = spec.name == "AupdReportUrl" ? ExpandReportUrl(value, sample)
                                                      : ExpandUrl(value, sample, "file.ini");
  if (auto syntax = CheckUrlSyntax(expanded); !syntax) return syntax.error().message;
  return {};
}

}  // namespace

std::vector<std::string> CheckConfiguration(const Configuration& before, const Configuration& after,
                                            ConfigOrigin origin) {
  std::vector<std::string> problems;
  const Schema& schema = after.schema();
  std::vector<std::string> changed;
  for (const auto& p : schema.params())
    if (after.Get(p.name) != before.Get(p.name)) changed.push_back(p.name);
  for (const auto& name : changed) {
    const ParamSpec* spec = schema.FindParam(name);
    const std::string& value = after.Get(name);
    if (!spec || value.empty()) continue;
    std::string why;
    if (spec->value.type == ValueType::kUrl)
      why = CheckUrl(*spec, value, origin);
    else if (auto allowed = PlaceholdersOf(*spec); !allowed.empty())
      why = CheckPlaceholders(value, allowed, name);
    if (!why.empty()) problems.push_back(name + ": " + why);
  }
  // S-6.3: one periodic trigger.
  const std::vector<std::string> schedule = {"AutoUpdateFrequency", "AutoUpdateFreqencySeconds",
                                             "AutoUpdatePredefinedTime"};
  bool schedule_changed = std::any_of(changed.begin(), changed.end(), [&](const std::string& n) {
    return std::find(schedule.begin(), schedule.end(), n) != schedule.end();
  });
  if (schedule_changed) {
    bool minutes = after.GetInt("AutoUpdateFrequency") > 0;
    bool seconds = after.GetInt("AutoUpdateFreqencySeconds") > 0;
    if (minutes && seconds)
      problems.push_back(
          "AutoUpdateFrequency and AutoUpdateFreqencySeconds are both set: two update intervals "
          "(S-6.3); set one and clear the other");
    else if (auto s = ScheduleFrom(after); !s.error.empty())
      problems.push_back(s.error);
  }
  return problems;
}

}  // namespace autoprov
