#include "engine/schedule.hpp"

#include <cmath>

namespace autoprov {

std::string PeriodicSchedule::kind() const {
  if (!error.empty()) return "";
  return interval_s > 0 ? "interval" : day_minute >= 0 ? "time-of-day" : "";
}

PeriodicSchedule ScheduleFrom(const Configuration& config) {
  PeriodicSchedule s;
  s.interval_s = config.GetInt("AutoUpdateFreqencySeconds");
  if (s.interval_s <= 0) s.interval_s = config.GetInt("AutoUpdateFrequency") * 60;
  const std::string& t = config.Get("AutoUpdatePredefinedTime");
  if (t.size() == 5) s.day_minute = std::stoi(t.substr(0, 2)) * 60 + std::stoi(t.substr(3, 2));
  s.random_spread_s = config.GetInt("AutoUpdatePredefinedRandomTime");
  s.interval_random_s = config.GetInt("AupdIntervalRandom");
  if (s.interval_s > 0 && s.day_minute >= 0) {
    s.error =
        "configuration error: both an update interval "
        "(AutoUpdateFreqencySeconds/AutoUpdateFrequency) "
        "and a daily time (AutoUpdatePredefinedTime) are set; they exclude each other (S-6.3): no "
        "periodic update runs until one of them is cleared";
  }
  return s;
}

std::optional<std::time_t> NextPeriodicTrigger(const PeriodicSchedule& s, std::time_t last,
                                               std::time_t now, double random) {
  if (!s.error.empty()) return std::nullopt;
  if (s.interval_s > 0)
    return last + static_cast<std::time_t>(s.interval_s) +
           static_cast<std::time_t>(random * static_cast<double>(s.interval_random_s));
  if (s.day_minute < 0) return std::nullopt;
  std::tm tm{};
  localtime_r(&now, &tm);
  // Today's time if it is still ahead (and after the last trigger), else the next day's: the date
  // is advanced, never the seconds, so the time of day holds across a DST change.
  for (int day = 0; day < 3; ++day) {
    std::tm at_tm = tm;
    at_tm.tm_mday += day;
    at_tm.tm_hour = s.day_minute / 60;
    at_tm.tm_min = s.day_minute % 60;
    at_tm.tm_sec = 0;
    at_tm.tm_isdst = -1;
    std::time_t at = std::mktime(&at_tm);
    if (at > now && at > last)
      return at + static_cast<std::time_t>(random * static_cast<double>(s.random_spread_s));
  }
  return std::nullopt;
}

ScheduledRun NextRun(const Configuration& config, std::time_t last_run, std::time_t now,
                     double random) {
  PeriodicSchedule s = ScheduleFrom(config);
  return ScheduledRun{NextPeriodicTrigger(s, last_run, now, random), s.kind(), s.error};
}

long long StartupDelay(const Configuration& config, double random) {
  // Rounded up: any draw above 0 waits at least a second.
  return static_cast<long long>(
      std::ceil(random * static_cast<double>(config.GetInt("AupdStartupRandomDelay"))));
}

}  // namespace autoprov
