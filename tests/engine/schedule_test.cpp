// S-6.2, S-6.3: the one schedule rule (NextRun) with a fixed clock, across DST changes, and the
// fleet simulator scheduling by it exactly as the daemon does.
#include "engine/schedule.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "config/configuration.hpp"
#include "fleet/fleet.hpp"

namespace autoprov {
namespace {

// Local wall-clock time as the daemon's user configured it.
class ScheduleTest : public ::testing::Test {
 protected:
  void UseZone(const char* tz) {
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  void TearDown() override { UseZone("UTC"); }
  static std::time_t Local(int y, int mon, int d, int h, int min) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = min;
    tm.tm_isdst = -1;
    return std::mktime(&tm);
  }
  static std::string Text(std::time_t t) {
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M %Z", &tm);
    return buf;
  }
};

TEST_F(ScheduleTest, IntervalCountsFromTheLastTrigger) {
  Configuration c(Schema::BuiltIn());
  ASSERT_TRUE(c.Set("AutoUpdateFreqencySeconds", "600"));
  auto s = ScheduleFrom(c);
  EXPECT_EQ(NextPeriodicTrigger(s, 1000, 1200, 0.5), 1600);
  ASSERT_TRUE(c.Set("AutoUpdateFreqencySeconds", "0"));
  ASSERT_TRUE(c.Set("AutoUpdateFrequency", "2"));
  EXPECT_EQ(NextPeriodicTrigger(ScheduleFrom(c), 1000, 1000, 0), 1120);
  EXPECT_FALSE(NextPeriodicTrigger(ScheduleFrom(Configuration(Schema::BuiltIn())), 1000, 1000, 0));
}

TEST_F(ScheduleTest, TimeOfDayWithSpread) {
  UseZone("UTC");
  Configuration c(Schema::BuiltIn());
  ASSERT_TRUE(c.Set("AutoUpdatePredefinedTime", "18:00"));
  ASSERT_TRUE(c.Set("AutoUpdatePredefinedRandomTime", "300"));
  auto s = ScheduleFrom(c);
  std::time_t day = 1795737600;  // 2026-11-27 00:00 UTC
  std::time_t noon = day + 12 * 3600;
  EXPECT_EQ(NextPeriodicTrigger(s, noon, noon, 0.0), day + 18 * 3600);
  EXPECT_EQ(NextPeriodicTrigger(s, noon, noon, 0.5), day + 18 * 3600 + 150);
  // After today's time: tomorrow.
  std::time_t evening = day + 19 * 3600;
  EXPECT_EQ(NextPeriodicTrigger(s, evening, evening, 0.0), day + 86400 + 18 * 3600);
  // Right after today's trigger fired, the next one is tomorrow's.
  EXPECT_EQ(NextPeriodicTrigger(s, day + 18 * 3600 + 10, day + 18 * 3600 + 10, 0.0),
            day + 86400 + 18 * 3600);
}

TEST_F(ScheduleTest, IntervalAndTimeOfDayIsAConfigurationError) {
  Configuration c(Schema::BuiltIn());
  ASSERT_TRUE(c.Set("AutoUpdatePredefinedTime", "03:00"));
  ASSERT_TRUE(c.Set("AutoUpdateFreqencySeconds", "60"));
  auto s = ScheduleFrom(c);
  EXPECT_NE(s.error.find("exclude each other"), std::string::npos);
  EXPECT_FALSE(NextPeriodicTrigger(s, 0, 0, 0));
}

// Central European rules without tzdata: DST from the last Sunday of March 02:00 to the last Sunday
// of October 03:00. In 2026 that is March 29 and October 25.
constexpr const char* kCentralEurope = "CET-1CEST,M3.5.0,M10.5.0/3";

struct Row {
  const char* what;
  const char* interval_s;  // AutoUpdateFreqencySeconds
  const char* daily;       // AutoUpdatePredefinedTime
  int now[5];              // local y, m, d, h, min (also the last run)
  const char* expected;    // local time of the next run, "" for none
};

const Row kTable[] = {
    {"daily, later today", "0", "18:00", {2026, 11, 27, 12, 0}, "2026-11-27 18:00 CET"},
    {"daily, tomorrow", "0", "03:30", {2026, 11, 27, 12, 0}, "2026-11-28 03:30 CET"},
    {"daily across the spring change", "0", "03:30", {2026, 3, 28, 12, 0}, "2026-03-29 03:30 CEST"},
    {"daily across the autumn change", "0", "03:30", {2026, 10, 24, 12, 0}, "2026-10-25 03:30 CET"},
    {"daily in the hour the spring change skips",
     "0",
     "02:30",
     {2026, 3, 28, 12, 0},
     "2026-03-29 03:30 CEST"},
    {"daily the day after the spring change",
     "0",
     "01:00",
     {2026, 3, 29, 12, 0},
     "2026-03-30 01:00 CEST"},
    {"interval", "3600", "", {2026, 3, 29, 1, 30}, "2026-03-29 03:30 CEST"},
    {"interval and daily time: a configuration error", "60", "03:00", {2026, 11, 27, 12, 0}, ""},
    {"nothing configured", "0", "", {2026, 11, 27, 12, 0}, ""},
};

TEST_F(ScheduleTest, TableAcrossDaylightSavingChanges) {
  UseZone(kCentralEurope);
  for (const Row& row : kTable) {
    Configuration c(Schema::BuiltIn());
    ASSERT_TRUE(c.Set("AutoUpdateFreqencySeconds", row.interval_s));
    ASSERT_TRUE(c.Set("AutoUpdatePredefinedTime", row.daily));
    std::time_t now = Local(row.now[0], row.now[1], row.now[2], row.now[3], row.now[4]);
    ScheduledRun next = NextRun(c, now, now, 0.0);
    EXPECT_EQ(next.at ? Text(*next.at) : "", row.expected) << row.what;
    if (std::string(row.expected).empty() && std::string(row.interval_s) != "0" && *row.daily) {
      EXPECT_NE(next.error.find("S-6.3"), std::string::npos) << row.what;
    }
  }
}

// The fleet simulator's devices run when the daemon would: the same rule, the same spread.
TEST_F(ScheduleTest, TheFleetAndTheDaemonAgree) {
  UseZone(kCentralEurope);
  for (const Row& row : kTable) {
    Configuration c(Schema::BuiltIn());
    ASSERT_TRUE(c.Set("AutoUpdateFreqencySeconds", row.interval_s));
    ASSERT_TRUE(c.Set("AutoUpdatePredefinedTime", row.daily));
    ASSERT_TRUE(c.Set("AutoUpdatePredefinedRandomTime", "600"));
    std::time_t now = Local(row.now[0], row.now[1], row.now[2], row.now[3], row.now[4]);
    for (long long device : {0LL, 7LL, 12345LL}) {
      double spread = StartOffset(42, device, 3, 1.0);  // the device's own draw in [0, 1)
      ScheduledRun daemon = NextRun(c, now, now, spread);
      double fleet = NextTriggerIn(c, 42, device, 3, now, now);
      if (!daemon.at) {
        EXPECT_LT(fleet, 0) << row.what;
        continue;
      }
      EXPECT_DOUBLE_EQ(fleet, static_cast<double>(*daemon.at - now))
          << row.what << " device " << device;
    }
  }
}

}  // namespace
}  // namespace autoprov
