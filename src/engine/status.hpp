// What `autoprov status` shows (SPEC S-8): the last run's report and what the device keeps per URL,
// per kind of file and as device values, as text or JSON; credentials redacted (S-9.5). Next to the
// report it renders.
#pragma once

#include <string>

#include "common/error.hpp"
#include "store/state_store.hpp"

namespace autoprov {

// One JSON object: last_run, urls, kinds, device.
Expected<std::string> StatusJson(StateStore& store, long long device);
// The same for a terminal.
Expected<std::string> FormatStatus(StateStore& store, long long device);
// The last run's report for a terminal ("last run: none" before the first).
Expected<std::string> FormatLastRun(StateStore& store, long long device);
// The daemon's answer to "status" (control socket) for a terminal; "" (no answer): not running.
std::string FormatDaemonStatus(const std::string& daemon_json);

}  // namespace autoprov
