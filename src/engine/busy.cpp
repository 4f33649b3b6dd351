#include "engine/busy.hpp"

#include <algorithm>

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

}  // namespace autoprov
