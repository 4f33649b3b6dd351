#include "triggers/timers.hpp"

#include <algorithm>

namespace autoprov {

TimerClock SystemTimerClock() {
  using namespace std::chrono;
  return TimerClock{
      [] { return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count(); },
      [] { return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count(); }};
}

const ScheduledRun& DaemonTimers::Plan(const Configuration& config, std::time_t last_run,
                                       double draw) {
  schedule_ = ScheduleFrom(config);
  periodic_ = NextRun(config, last_run, static_cast<std::time_t>(clock_.wall_ms() / 1000), draw);
  return periodic_;
}

void DaemonTimers::StartupIn(long long delay_s) {
  startup_due_ = clock_.mono_ms() + delay_s * 1000;
  startup_wall_ = static_cast<std::time_t>(clock_.wall_ms() / 1000 + delay_s);
}

void DaemonTimers::RetryIn(long long delay_s, int attempt) {
  retry_due_ = clock_.mono_ms() + delay_s * 1000;
  retry_wall_ = static_cast<std::time_t>(clock_.wall_ms() / 1000 + delay_s);
  retry_attempt_ = attempt;
}

void DaemonTimers::Watchdog(std::chrono::microseconds interval) {
  ping_every_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(interval).count() / 2;
  if (ping_every_ms_ > 0)
    ping_due_ = clock_.mono_ms() + ping_every_ms_;
  else
    ping_due_.reset();
}

DaemonTimers::Due DaemonTimers::Take(double draw) {
  Due due;
  const long long mono = clock_.mono_ms();
  const std::time_t now = static_cast<std::time_t>(clock_.wall_ms() / 1000);
  if (periodic_.at && now >= *periodic_.at) {
    due.periodic = periodic_.kind;
    periodic_.at = NextPeriodicTrigger(schedule_, now, now, draw);  // counts from this run
  }
  if (startup_due_ && mono >= *startup_due_) {
    due.startup = true;
    startup_due_.reset();
    startup_wall_.reset();
  }
  if (retry_due_ && mono >= *retry_due_) {
    due.retry = true;
    ClearRetry();
  }
  if (ping_due_ && mono >= *ping_due_) {
    due.watchdog = true;
    ping_due_ = mono + ping_every_ms_;
  }
  return due;
}

long long DaemonTimers::SleepMs(long long cap_ms) const {
  long long sleep = cap_ms;
  const long long mono = clock_.mono_ms();
  if (periodic_.at) sleep = std::min(sleep, *periodic_.at * 1000 - clock_.wall_ms());
  for (const auto& due : {startup_due_, retry_due_, ping_due_})
    if (due) sleep = std::min(sleep, *due - mono);
  return std::max(0LL, sleep);
}

}  // namespace autoprov
