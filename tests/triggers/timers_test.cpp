// The daemon's timers on an injected clock (triggers/timers.hpp; S-6.2, S-10.1, S-10.7): what is
// due when, and how long the daemon may sleep, without sleeping.
#include "triggers/timers.hpp"

#include <gtest/gtest.h>

namespace autoprov {
namespace {

struct FakeClock {
  long long wall_ms = 1'800'000'000'000;  // unix time, ms
  long long mono_ms = 5'000;
  TimerClock Clock() {
    return {[this] { return wall_ms; }, [this] { return mono_ms; }};
  }
  void Advance(long long ms) {
    wall_ms += ms;
    mono_ms += ms;
  }
};

Configuration Interval(long long minutes) {
  Configuration c(Schema::BuiltIn());
  EXPECT_TRUE(c.Set("AutoUpdateFrequency", std::to_string(minutes)));
  return c;
}

TEST(DaemonTimersTest, NothingScheduledSleepsTheWholeCap) {
  FakeClock clock;
  DaemonTimers t(clock.Clock());
  t.Plan(Configuration(Schema::BuiltIn()), 0, 0.5);
  EXPECT_FALSE(t.periodic().at);
  EXPECT_EQ(t.SleepMs(60'000), 60'000);
  auto due = t.Take(0.5);
  EXPECT_TRUE(due.periodic.empty());
  EXPECT_FALSE(due.startup || due.retry || due.watchdog);
}

// S-6.2, S-10.7: the interval counts from the last run; the daemon sleeps until it, wakes once,
// and the next one counts from that run.
TEST(DaemonTimersTest, TheIntervalIsDueOnceAndCountsFromTheRun) {
  FakeClock clock;
  DaemonTimers t(clock.Clock());
  const std::time_t last = static_cast<std::time_t>(clock.wall_ms / 1000);
  const auto& planned = t.Plan(Interval(10), last, 0.0);
  ASSERT_TRUE(planned.at);
  EXPECT_EQ(*planned.at, last + 600);
  EXPECT_EQ(planned.kind, "interval");
  EXPECT_EQ(t.SleepMs(3'600'000), 600'000) << "asleep until the trigger, no sooner";
  EXPECT_EQ(t.SleepMs(60'000), 60'000) << "at most the cap";
  clock.Advance(599'999);
  EXPECT_TRUE(t.Take(0.0).periodic.empty()) << "a millisecond early";
  EXPECT_EQ(t.SleepMs(60'000), 1);
  clock.Advance(1);
  EXPECT_EQ(t.Take(0.0).periodic, "interval");
  EXPECT_TRUE(t.Take(0.0).periodic.empty()) << "taken once";
  ASSERT_TRUE(t.periodic().at);
  EXPECT_EQ(*t.periodic().at, last + 1200);
}

// S-10.1: a start-up run after its random delay and a planned retry are due on the monotonic clock
// (a wall-clock step does not move them); any run clears the retry.
TEST(DaemonTimersTest, StartUpDelayAndRetryFollowTheMonotonicClock) {
  FakeClock clock;
  DaemonTimers t(clock.Clock());
  t.StartupIn(30);
  t.RetryIn(90, 2);
  ASSERT_TRUE(t.startup_at());
  EXPECT_EQ(*t.startup_at(), clock.wall_ms / 1000 + 30);
  EXPECT_EQ(t.SleepMs(60'000), 30'000);
  clock.wall_ms += 3'600'000;  // the time of day is set forward an hour: no effect
  EXPECT_FALSE(t.Take(0).startup);
  clock.mono_ms += 30'000;
  auto due = t.Take(0);
  EXPECT_TRUE(due.startup);
  EXPECT_FALSE(due.retry);
  EXPECT_FALSE(t.startup_at());
  EXPECT_EQ(t.SleepMs(60'000), 60'000);
  EXPECT_EQ(t.retry_attempt(), 2);
  t.ClearRetry();
  clock.mono_ms += 60'000;
  EXPECT_FALSE(t.Take(0).retry) << "a run in between cleared it";
  t.RetryIn(5, 3);
  clock.mono_ms += 5'000;
  EXPECT_TRUE(t.Take(0).retry);
}

// The watchdog is pinged every half of its interval, and is the only wake-up of an idle daemon
// that has one.
TEST(DaemonTimersTest, TheWatchdogIsPingedAtHalfItsInterval) {
  FakeClock clock;
  DaemonTimers t(clock.Clock());
  t.Watchdog(std::chrono::seconds(20));
  EXPECT_EQ(t.SleepMs(60'000), 10'000);
  int pings = 0;
  for (int i = 0; i < 60; ++i) {  // 30 s in steps of 500 ms
    clock.Advance(500);
    pings += t.Take(0).watchdog;
  }
  EXPECT_EQ(pings, 3);
  t.Watchdog(std::chrono::microseconds(0));
  EXPECT_EQ(t.SleepMs(60'000), 60'000);
}

}  // namespace
}  // namespace autoprov
