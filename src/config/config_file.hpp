// Loading a configuration file (an ini file or a CLI script) onto a configuration: the one dispatch
// used by `config load`, a run's configuration steps and the fleet simulator's bootstrap file (SPEC
// S-7).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/cli_script.hpp"
#include "config/configuration.hpp"
#include "config/ini.hpp"

namespace autoprov {

enum class ConfigFormat { kIni, kCli };

// How the file applies: an ini file per SetDefaultOnINIFileProcess (kFromFile), replacing or
// incremental; a CLI script incremental or as a startup script (kStartup: everything to defaults
// first).
enum class ConfigLoadMode { kFromFile, kReplace, kIncremental, kStartup };

// What an operator may ask of a load besides the file's own rule (`config load`'s flags).
struct LoadModeRequest {
  bool incremental = false;  // ini: keep what the file does not name
  bool replace = false;      // ini: what the file does not name returns to its default
  bool startup = false;      // CLI: a startup script (everything to defaults first)
};

// The one rule for how a file applies (S-7.7, S-7.8): as a device applies a downloaded one — an ini
// file per its SetDefaultOnINIFileProcess, a CLI script incrementally, a startup script from
// defaults — unless the operator asks otherwise.
ConfigLoadMode LoadModeFor(ConfigFormat format, LoadModeRequest asked = {});

struct ConfigFileLoad {
  Configuration config;  // valid only when `errors` is empty
  std::vector<Diagnostic> errors, warnings;
  bool reset_now = false;                          // ini: ResetNow = 1
  RestartRequest restart = RestartRequest::kNone;  // CLI: reload now / if-needed
  bool empty = false;                              // no setting (S-9.2)
  bool replaced = false;  // parameters the file does not name went back to their defaults
};

ConfigFileLoad LoadConfigurationFile(std::string_view text, std::string_view origin,
                                     ConfigFormat format, const Configuration& current,
                                     ConfigLoadMode mode);

// The format of a file from its name's extension (.ini; .cli, .txt), else from its first meaningful
// line.
ConfigFormat DetectConfigFormat(std::string_view path, std::string_view text);

}  // namespace autoprov
