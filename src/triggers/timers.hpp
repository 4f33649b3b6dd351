// The daemon's timers (SPEC S-6.2, S-6.3, S-10.1, S-10.7): the periodic trigger (an interval
// counted from the last run, or a time of day, from engine/schedule's NextRun), a start-up run
// waiting its random delay, a planned retry, and the systemd watchdog's ping. Which are due, and
// how long the daemon may sleep until the next one: it wakes for nothing else (a configuration
// change and the sockets wake it by themselves). Time is injected, so this is tested without
// sleeping.
#pragma once

#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <string>

#include "config/configuration.hpp"
#include "engine/schedule.hpp"

namespace autoprov {

struct TimerClock {
  std::function<long long()> wall_ms;  // unix time in milliseconds (the time of day)
  std::function<long long()> mono_ms;  // a monotonic clock in milliseconds (delays)
};
TimerClock SystemTimerClock();

class DaemonTimers {
 public:
  explicit DaemonTimers(TimerClock clock = SystemTimerClock()) : clock_(std::move(clock)) {}

  // The periodic trigger from the configuration as stored now, after the last run at `last_run`
  // (unix time), with the spread drawn from `draw`. Returns what NextRun said (its error, if any).
  const ScheduledRun& Plan(const Configuration& config, std::time_t last_run, double draw);
  // The schedule the plan came from (a configuration change that keeps it keeps the plan).
  const PeriodicSchedule& schedule() const { return schedule_; }
  const ScheduledRun& periodic() const { return periodic_; }
  // A start-up run in `delay_s` seconds (S-10.1).
  void StartupIn(long long delay_s);
  std::optional<std::time_t> startup_at() const { return startup_wall_; }
  // A retry in `delay_s` seconds (S-10.1); any run clears it.
  void RetryIn(long long delay_s, int attempt);
  void ClearRetry() { retry_due_.reset(), retry_wall_.reset(); }
  std::optional<std::time_t> retry_at() const { return retry_wall_; }
  int retry_attempt() const { return retry_attempt_; }
  // The watchdog asks for a ping at least every `interval` (systemd's WATCHDOG_USEC); pings are
  // sent every half of it. Zero: none.
  void Watchdog(std::chrono::microseconds interval);

  struct Due {
    std::string periodic;  // the periodic trigger's kind when it is due ("" otherwise)
    bool startup = false, retry = false, watchdog = false;
  };
  // What is due now; each due timer is taken (the periodic one planned again from now, as the run
  // it starts counts from now, S-10.7).
  Due Take(double draw);
  // Milliseconds until the next timer (at most `cap_ms`; 0: one is due).
  long long SleepMs(long long cap_ms) const;

 private:
  TimerClock clock_;
  PeriodicSchedule schedule_;
  ScheduledRun periodic_;
  std::optional<long long> startup_due_, retry_due_, ping_due_;  // mono ms
  std::optional<std::time_t> startup_wall_, retry_wall_;         // for status
  int retry_attempt_ = 0;
  long long ping_every_ms_ = 0;
};

}  // namespace autoprov
