// S-10.1: the back-off list, the retry delay, Retry-After, the interval's random part and the
// start-up delay: pure rules, no server.
#include "engine/retry.hpp"

#include <gtest/gtest.h>

#include "config/schema.hpp"
#include "engine/busy.hpp"
#include "engine/clock.hpp"
#include "engine/schedule.hpp"
#include "transfer/http_time.hpp"

namespace autoprov {
namespace {

TEST(RetryTest, BackoffListsParseOrSayWhatIsWrong) {
  auto list = ParseBackoffList(" 60+30, 300+120 ,1800 ");
  ASSERT_TRUE(list) << list.error().message;
  EXPECT_EQ(*list, (std::vector<BackoffEntry>{{60, 30}, {300, 120}, {1800, 0}}));
  EXPECT_TRUE(ParseBackoffList("")->empty());
  for (const char* bad : {"60+", "abc", "60,,300", "0", "-5", "60+-1", "60+30+1", "999999999"}) {
    auto r = ParseBackoffList(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("retry entry"), std::string::npos) << r.error().message;
  }
  // The parameter refuses a bad list when it is set, with the entry named.
  Configuration c(Schema::BuiltIn());
  auto set = c.Set("AupdRetrySchedule", "60+30,5m");
  ASSERT_FALSE(set);
  EXPECT_NE(set.error().message.find("entry 2 '5m'"), std::string::npos) << set.error().message;
  EXPECT_EQ(c.Get("AupdRetrySchedule"), "");
}

TEST(RetryTest, DelayIsBasePlusDrawTimesSpreadWithRetryAfterAsAFloor) {
  std::vector<BackoffEntry> s{{60, 30}, {300, 120}};
  EXPECT_EQ(RetryDelay(s, 1, 0.0, 0), 60);
  EXPECT_EQ(RetryDelay(s, 1, 0.999, 0), 89);
  EXPECT_EQ(RetryDelay(s, 2, 0.5, 0), 360);
  EXPECT_EQ(RetryDelay(s, 9, 0.0, 0), 300) << "the last entry repeats";
  EXPECT_EQ(RetryDelay(s, 1, 0.0, 600), 600);
  EXPECT_EQ(RetryDelay({}, 1, 0.0, 600), -1) << "no schedule, no retry";
}

TEST(RetryTest, RetryAfterInSecondsOrAsADate) {
  const std::time_t now = 1'800'000'000;  // 2027-01-15 08:00:00 UTC
  EXPECT_EQ(RetryAfterSeconds("120", now), 120);
  EXPECT_EQ(RetryAfterSeconds(" 7 ", now), 7);
  EXPECT_EQ(RetryAfterSeconds("Fri, 15 Jan 2027 08:02:00 GMT", now), 120);
  EXPECT_EQ(RetryAfterSeconds("Fri, 15 Jan 2027 07:00:00 GMT", now), 0) << "already past";
  EXPECT_EQ(RetryAfterSeconds("99999999999999999999", now), 86400) << "capped at a day";
  EXPECT_EQ(RetryAfterSeconds("soon", now), 0);
  EXPECT_EQ(RetryAfterSeconds("12abc", now), 0);
  EXPECT_EQ(RetryAfterSeconds("", now), 0);
}

// S-10.1, S-10.7: the interval's random part and the start-up delay are drawn per device.
TEST(RetryTest, IntervalRandomAndStartupDelaySpreadAFleet) {
  Configuration c(Schema::BuiltIn());
  ASSERT_TRUE(c.Set("AutoUpdateFreqencySeconds", "3600"));
  ASSERT_TRUE(c.Set("AupdIntervalRandom", "600"));
  ASSERT_TRUE(c.Set("AupdStartupRandomDelay", "120"));
  const std::time_t last = 1'800'000'000;
  EXPECT_EQ(*NextRun(c, last, last + 5, 0.0).at, last + 3600);
  EXPECT_EQ(*NextRun(c, last, last + 5, 0.5).at, last + 3900);
  EXPECT_EQ(StartupDelay(c, 0.0), 0);
  EXPECT_EQ(StartupDelay(c, 0.5), 60);
  ASSERT_TRUE(c.Set("AupdStartupRandomDelay", "0"));
  EXPECT_EQ(StartupDelay(c, 0.9), 0);
}

// S-10.8: a clock before the build date (a device without a real-time clock, booted in 1970) is
// waited for, up to AupdClockSyncWait, until it passes the build date or timesyncd says it is
// synchronised; otherwise the run goes on with a warning that says so.
TEST(ClockTest, AClockBeforeTheBuildDateIsWaitedFor) {
  const long long build = 1'790'000'000;
  Configuration c(Schema::BuiltIn());
  ASSERT_TRUE(c.Set("AupdClockSyncWait", "5"));
  long long now = 86400;  // 2 January 1970
  int slept_ms = 0;
  bool synced = false;
  ClockSource clock{[&] { return now; }, [&] { return synced; }, [&](int ms) { slept_ms += ms; }};
  // Never synchronised: the whole wait, then the warning.
  std::string warning = WaitForClock(c, clock, build, nullptr);
  EXPECT_EQ(slept_ms, 5000);
  EXPECT_NE(warning.find("1970-01-02"), std::string::npos) << warning;
  EXPECT_NE(warning.find("AupdClockSyncWait"), std::string::npos);
  // The clock is set after a second: the run goes on, no warning.
  slept_ms = 0;
  clock.sleep = [&](int ms) {
    slept_ms += ms;
    if (slept_ms >= 1000) now = build + 10;
  };
  EXPECT_EQ(WaitForClock(c, clock, build, nullptr), "");
  EXPECT_EQ(slept_ms, 1000);
  // timesyncd's flag counts too; a plausible clock is not waited for at all.
  now = 86400;
  synced = true;
  slept_ms = 0;
  EXPECT_EQ(WaitForClock(c, clock, build, nullptr), "");
  EXPECT_EQ(slept_ms, 0);
  // Stopping (SIGTERM) ends the wait.
  synced = false;
  std::atomic<bool> cancel{true};
  clock.sleep = [&](int ms) { slept_ms += ms; };
  EXPECT_NE(WaitForClock(c, clock, build, &cancel), "");
  EXPECT_EQ(slept_ms, 0);
  EXPECT_LE(BuildEpoch(), static_cast<long long>(std::time(nullptr)));
  EXPECT_GT(BuildEpoch(), 1'700'000'000LL);
}

}  // namespace
}  // namespace autoprov
