#include "engine/busy.hpp"

#include <chrono>
#include <thread>

#include "common/log.hpp"
#include "device/hooks.hpp"

namespace autoprov {

BusyDecision DecideBusy(const Configuration& config, bool busy, double waited_s) {
  const long long interval_s = std::max<long long>(1, config.GetInt("AupdBusyCheckInterval"));
  const long long cap_s = config.GetInt("AupdBusyMaxDefer");
  BusyDecision d;
  if (!busy) {
    d.outcome = waited_s > 0 ? "the appliance became idle: restarting" : "";
    return d;
  }
  if (waited_s + 0.05 >= static_cast<double>(cap_s)) {  // (a sleep's rounding is not a wait)
    bool give_up = config.GetInt("AupdBusyPolicy") == 1;
    d.verdict = give_up ? BusyVerdict::kGiveUp : BusyVerdict::kGoAhead;
    d.outcome = give_up ? "still busy after AupdBusyMaxDefer: the restart stays pending until the "
                          "next run (give-up-until-next-run)"
                        : "still busy after AupdBusyMaxDefer: restarting anyway";
    return d;
  }
  d.wait = true;
  d.wait_s = std::min<long long>(interval_s,
                                 std::max<long long>(1, cap_s - static_cast<long long>(waited_s)));
  return d;
}

BusyVerdict DeferWhileBusy(const Configuration& config, const BusyProbe& probe,
                           const std::atomic<bool>* cancel, BusyDeferral& deferral) {
  for (;;) {
    double waited = deferral.deferred ? probe.elapsed_s() : 0;
    bool busy = probe.busy();
    if (!busy && !deferral.deferred) return BusyVerdict::kGoAhead;  // not busy: no deferral
    if (!deferral.deferred) {
      deferral.deferred = true;
      LogWarning("the appliance is busy: the restart waits (checks every " +
                 config.Get("AupdBusyCheckInterval") + " s, at most " +
                 config.Get("AupdBusyMaxDefer") + " s; S-10.2)");
    }
    ++deferral.checks;
    BusyDecision d = DecideBusy(config, busy, waited);
    deferral.seconds = waited;
    if (!d.wait) {
      deferral.outcome = d.outcome;
      if (d.verdict == BusyVerdict::kGoAhead && busy)
        LogWarning(d.outcome);
      else
        LogInfo(d.outcome);
      return d.verdict;
    }
    // Sleep in short slices, so that SIGTERM stops the wait at once.
    for (long long ms = 0; ms < d.wait_s * 1000; ms += 100) {
      if (cancel && cancel->load()) {
        deferral.seconds = probe.elapsed_s();
        deferral.outcome = "stopped while waiting: the restart stays pending";
        return BusyVerdict::kStopped;
      }
      probe.sleep(100);
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
