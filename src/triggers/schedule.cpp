#include "triggers/schedule.hpp"

namespace autoprov {

PeriodicSchedule ScheduleFrom(const Configuration& config) {
  PeriodicSchedule s;
  s.interval_s = config.GetInt("AutoUpdateFreqencySeconds");
  if (s.interval_s <= 0) s.interval_s = config.GetInt("AutoUpdateFrequency") * 60;
  const std::string& t = config.Get("AutoUpdatePredefinedTime");
  if (t.size() == 5) s.day_minute = std::stoi(t.substr(0, 2)) * 60 + std::stoi(t.substr(3, 2));
  s.random_spread_s = config.GetInt("AutoUpdatePredefinedRandomTime");
  if (s.interval_s > 0 && s.day_minute >= 0) {
    s.error = "configuration error: both an update interval (AutoUpdateFreqencySeconds/AutoUpdateFrequency) and a "
              "daily time (AutoUpdatePredefinedTime) are set; they exclude each other (S-6.3): no periodic update "
              "runs until one of them is cleared";
  }
  return s;
}

std::optional<std::time_t> NextPeriodicTrigger(const PeriodicSchedule& s, std::time_t last, std::time_t now,
                                               double random) {
  if (!s.error.empty()) return std::nullopt;
  if (s.interval_s > 0) {
    std::time_t next = last + static_cast<std::time_t>(s.interval_s);
    return next;
  }
  if (s.day_minute >= 0) {
    std::tm tm{};
    localtime_r(&now, &tm);
    tm.tm_hour = s.day_minute / 60;
    tm.tm_min = s.day_minute % 60;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    std::time_t at = std::mktime(&tm);
    // Today's time if it is still ahead (and after the last trigger), else tomorrow's.
    if (at <= now || at <= last) {
      tm.tm_mday += 1;
      tm.tm_isdst = -1;
      at = std::mktime(&tm);
    }
    return at + static_cast<std::time_t>(random * static_cast<double>(s.random_spread_s));
  }
  return std::nullopt;
}

}  // namespace autoprov
