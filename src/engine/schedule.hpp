// When the periodic triggers fire (SPEC S-6.2, S-6.3): the interval counted from the last run, or
// the daily time of day with its random spread. Pure functions of the configuration and a clock
// value; the daemon and the fleet simulator both schedule with NextRun, so a simulated device runs
// when a real one would.
#pragma once

#include <ctime>
#include <optional>
#include <string>

#include "config/configuration.hpp"

namespace autoprov {

struct PeriodicSchedule {
  long long interval_s = 0;         // 0: no interval trigger
  int day_minute = -1;              // hh*60+mm of the daily trigger, -1: none
  long long random_spread_s = 0;    // AutoUpdatePredefinedRandomTime
  long long interval_random_s = 0;  // AupdIntervalRandom: added to each interval (S-10.1)
  std::string error;                // both configured: a configuration error, no periodic trigger
  bool operator==(const PeriodicSchedule&) const = default;
  // "interval", "time-of-day" or "" (none, or in error).
  std::string kind() const;
};

PeriodicSchedule ScheduleFrom(const Configuration& config);

// The next periodic trigger after the last run at `last` (unix time; a run of any trigger: S-10.7),
// with the spread drawn from `random` (uniform in [0, 1)). Nothing when no periodic trigger is
// configured (or the configuration is in error). The daily time is local wall-clock time: calendar
// arithmetic (the next day's date, mktime), so a DST change moves neither the time of day nor skips
// a day.
std::optional<std::time_t> NextPeriodicTrigger(const PeriodicSchedule& s, std::time_t last,
                                               std::time_t now, double random);

struct ScheduledRun {
  std::optional<std::time_t> at;  // nothing: no periodic run
  std::string kind;               // the trigger's name in reports: "interval" or "time-of-day"
  std::string error;              // why nothing is scheduled although a trigger is configured
};

// The one schedule rule: the configuration's next periodic run after the last one.
ScheduledRun NextRun(const Configuration& config, std::time_t last_run, std::time_t now,
                     double random);

// How long a start-up run waits: uniform(0, AupdStartupRandomDelay) seconds, drawn from `random`
// (S-10.1), so a fleet powered up together does not ask at the same second.
long long StartupDelay(const Configuration& config, double random);

}  // namespace autoprov
