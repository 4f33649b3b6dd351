#include "config/config_file.hpp"

#include <filesystem>

#include "common/text.hpp"

namespace autoprov {

namespace {

// S-7.5: at most kMaxListedErrors bad lines are listed, then how many more; a binary file (NUL
// bytes) is named as not text after its first bad line instead of a line per garbage line.
constexpr size_t kMaxListedErrors = 100;

void LimitErrors(std::string_view text, std::string_view origin, std::vector<Diagnostic>& errors) {
  if (errors.empty()) return;
  if (text.find('\0') != std::string_view::npos) {
    errors.resize(1);
    errors.push_back({std::string(origin), 0,
                      "not a text file (it holds NUL bytes): not an ini file or CLI script"});
    return;
  }
  if (errors.size() <= kMaxListedErrors) return;
  size_t more = errors.size() - kMaxListedErrors;
  errors.resize(kMaxListedErrors);
  errors.push_back({std::string(origin), 0, "and " + std::to_string(more) + " more error(s)"});
}

}  // namespace

ConfigFileLoad LoadConfigurationFile(std::string_view text, std::string_view origin,
                                     ConfigFormat format, const Configuration& current,
                                     ConfigLoadMode mode) {
  ConfigFileLoad out{current, {}, {}, false, RestartRequest::kNone, false, false};
  if (format == ConfigFormat::kIni) {
    IniApplyMode ini_mode = mode == ConfigLoadMode::kReplace       ? IniApplyMode::kReplace
                            : mode == ConfigLoadMode::kIncremental ? IniApplyMode::kIncremental
                                                                   : IniApplyMode::kFromFile;
    auto r = LoadIni(text, origin, current, ini_mode);
    out.config = std::move(r.config);
    out.errors = std::move(r.errors);
    out.warnings = std::move(r.warnings);
    out.reset_now = r.reset_now;
    out.empty = r.empty;
    out.replaced = r.replaced;
  } else {
    auto r = LoadCliScript(
        text, origin, current,
        mode == ConfigLoadMode::kStartup ? CliScriptKind::kStartup : CliScriptKind::kIncremental);
    out.config = std::move(r.config);
    out.errors = std::move(r.errors);
    out.warnings = std::move(r.warnings);
    out.restart = r.restart;
    out.empty = r.empty;
    out.replaced = mode == ConfigLoadMode::kStartup;
  }
  LimitErrors(text, origin, out.errors);
  return out;
}

ConfigFormat DetectConfigFormat(std::string_view path, std::string_view text) {
  std::string ext = ToLower(std::filesystem::path(path).extension().string());
  if (ext == ".ini") return ConfigFormat::kIni;
  if (ext == ".cli" || ext == ".txt") return ConfigFormat::kCli;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    auto line =
        Trim(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.empty() || line[0] == ';' || line[0] == '#' || line[0] == '!') continue;
    if (line[0] == '[' || line.find('=') != std::string_view::npos) return ConfigFormat::kIni;
    return ConfigFormat::kCli;
  }
  return ConfigFormat::kIni;
}

ConfigLoadMode LoadModeFor(ConfigFormat format, LoadModeRequest asked) {
  if (format == ConfigFormat::kCli)
    return asked.startup ? ConfigLoadMode::kStartup : ConfigLoadMode::kIncremental;
  if (asked.incremental) return ConfigLoadMode::kIncremental;
  if (asked.replace) return ConfigLoadMode::kReplace;
  return ConfigLoadMode::kFromFile;
}

}  // namespace autoprov
