// When the periodic triggers fire (SPEC S-6.2, S-6.3): the interval counted from the last trigger, or the
// daily time of day with its random spread. Pure functions of the configuration and a clock value.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>

#include "config/configuration.hpp"

namespace autoprov {

struct PeriodicSchedule {
  long long interval_s = 0;         // 0: no interval trigger
  int day_minute = -1;              // hh*60+mm of the daily trigger, -1: none
  long long random_spread_s = 0;    // AutoUpdatePredefinedRandomTime
  std::string error;                // both configured: a configuration error, no periodic trigger
  bool operator==(const PeriodicSchedule&) const = default;
};

PeriodicSchedule ScheduleFrom(const Configuration& config);

// The next periodic trigger after a trigger at `last` (unix time), with the spread drawn from `random`
// (uniform in [0, 1)). Nothing when no periodic trigger is configured (or the configuration is in error).
std::optional<std::time_t> NextPeriodicTrigger(const PeriodicSchedule& s, std::time_t last, std::time_t now,
                                               double random);

}  // namespace autoprov
