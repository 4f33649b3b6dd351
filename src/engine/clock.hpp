// Wait for the clock (SPEC S-10.8): a device without a real-time clock boots in 1970, where every
// certificate looks not yet valid and If-Modified-Since means nothing. Before a run, a clock
// earlier than the agent's build date is waited for, up to AupdClockSyncWait seconds, until it
// passes the build date or systemd-timesyncd says it is synchronised; then the run goes on with a
// warning.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "config/configuration.hpp"

namespace autoprov {

// The build date (unix time) the clock is compared with: the configure time, or SOURCE_DATE_EPOCH
// for reproducible builds.
long long BuildEpoch();

struct ClockSource {
  std::function<long long()> now;      // unix time
  std::function<bool()> synchronized;  // e.g. /run/systemd/timesync/synchronized
  std::function<void(int milliseconds)> sleep;
};
ClockSource SystemClock();

// Empty when the clock is (or becomes) plausible; else the warning for the report. Returns early
// when `cancel` is set.
std::string WaitForClock(const Configuration& config, const ClockSource& clock,
                         long long build_epoch, const std::atomic<bool>* cancel);

}  // namespace autoprov
