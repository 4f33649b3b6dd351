#include "engine/busy.hpp"

#include <chrono>
#include <thread>

#include "common/log.hpp"
#include "device/hooks.hpp"

namespace autoprov {

BusyVerdict DeferWhileBusy(const Configuration& config, const BusyProbe& probe,
                           const std::atomic<bool>* cancel, BusyDeferral& deferral) {
  if (!probe.busy()) return BusyVerdict::kGoAhead;
  const long long interval_s = std::max<long long>(1, config.GetInt("AupdBusyCheckInterval"));
  const long long cap_s = config.GetInt("AupdBusyMaxDefer");
  const bool give_up = config.GetInt("AupdBusyPolicy") == 1;
  deferral.deferred = true;
  deferral.checks = 1;
  LogWarning("the appliance is busy: the restart waits (checks every " +
             std::to_string(interval_s) + " s, at most " + std::to_string(cap_s) + " s; S-10.2)");
  for (;;) {
    // Sleep one interval in short slices, so that SIGTERM stops the wait at once.
    for (long long ms = 0; ms < interval_s * 1000; ms += 100) {
      if (cancel && cancel->load()) {
        deferral.seconds = probe.elapsed_s();
        deferral.outcome = "stopped while waiting: the restart stays pending";
        return BusyVerdict::kStopped;
      }
      if (probe.elapsed_s() >= static_cast<double>(cap_s)) break;
      probe.sleep(100);
    }
    deferral.seconds = probe.elapsed_s();
    if (deferral.seconds >= static_cast<double>(cap_s)) {
      deferral.outcome = give_up ? "still busy after AupdBusyMaxDefer: the restart stays pending "
                                   "until the next run (give-up-until-next-run)"
                                 : "still busy after AupdBusyMaxDefer: restarting anyway";
      LogWarning(deferral.outcome);
      return give_up ? BusyVerdict::kGiveUp : BusyVerdict::kGoAhead;
    }
    ++deferral.checks;
    if (!probe.busy()) {
      deferral.outcome = "the appliance became idle: restarting";
      LogInfo(deferral.outcome);
      return BusyVerdict::kGoAhead;
    }
  }
}

BusyProbe CommandBusyProbe(const std::string& busy_command) {
  auto start =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return BusyProbe{
      [busy_command] {
        auto r = RunCommand(busy_command, {}, 30);
        if (!r) LogError("BusyCommand: " + r.error().message + " (taken as not busy)");
        return r && r->exit_code == 0;
      },
      [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); },
      [start] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - *start).count();
      }};
}

}  // namespace autoprov
