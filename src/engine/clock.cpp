#include "engine/clock.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "common/log.hpp"

namespace autoprov {

long long BuildEpoch() { return AUTOPROV_BUILD_EPOCH; }

ClockSource SystemClock() {
  return ClockSource{[] { return static_cast<long long>(std::time(nullptr)); },
                     [] {
                       std::error_code ec;
                       return std::filesystem::exists("/run/systemd/timesync/synchronized", ec);
                     },
                     [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }};
}

std::string WaitForClock(const Configuration& config, const ClockSource& clock,
                         long long build_epoch, const std::atomic<bool>* cancel) {
  auto plausible = [&] { return clock.now() >= build_epoch || clock.synchronized(); };
  if (plausible()) return {};
  long long limit_ms = config.GetInt("AupdClockSyncWait") * 1000;
  LogWarning("the clock is before this agent's build date: waiting up to " +
             std::to_string(limit_ms / 1000) + " s for time synchronisation (AupdClockSyncWait)");
  for (long long waited = 0; waited < limit_ms; waited += 200) {
    if (cancel && cancel->load()) break;
    clock.sleep(200);
    if (plausible()) {
      LogInfo("the clock is synchronised; the run goes on");
      return {};
    }
  }
  std::time_t now = static_cast<std::time_t>(clock.now());
  char when[64];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return std::string("the clock reads ") + when +
         ", before this agent's build date, and was not synchronised within " +
         std::to_string(limit_ms / 1000) +
         " s (AupdClockSyncWait): certificate dates and If-Modified-Since may be wrong (S-10.8)";
}

}  // namespace autoprov
