// One validation for every writer (S-7.8): what `config set`, `config load`, the shell, a DHCP
// hook, a downloaded file and `config validate` may put into a configuration, checked by the same
// rules a run depends on, with the writer's origin as an input (a local command may set a file:
// URL, a downloaded file may not: S-9.10).
#pragma once

#include <string>
#include <vector>

#include "config/configuration.hpp"

namespace autoprov {

enum class ConfigOrigin { kLocal, kDownloaded };

// The problems of `after` in the parameters that differ from `before` ("IniFileURL: ..."), and of
// the rules that tie parameters together when one of theirs changed: URLs parse (scheme, host, port
// range, brackets), placeholders only where they are expanded and as spelled (<MAC> in URLs; the
// User-Agent's <NAME> <MAC> <VER> <CONF>), an interval with another interval or with a time of day
// (S-6.3). Empty: acceptable.
std::vector<std::string> CheckConfiguration(const Configuration& before, const Configuration& after,
                                            ConfigOrigin origin);

}  // namespace autoprov
