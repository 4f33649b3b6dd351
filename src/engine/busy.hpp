// Defer while busy (SPEC S-10.2): a restart waits while the appliance says it is busy (hooks.ini
// BusyCommand exits 0, e.g. calls in progress), asking again every AupdBusyCheckInterval seconds up
// to AupdBusyMaxDefer, then follows AupdBusyPolicy. Files that need no restart were applied at
// once.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "config/configuration.hpp"
#include "engine/report.hpp"

namespace autoprov {

enum class BusyVerdict {
  kGoAhead,  // not busy (at once or after waiting), or busy past the cap under restart-anyway
  kGiveUp,   // busy past the cap under give-up-until-next-run: the restart stays pending
  kStopped,  // SIGTERM while waiting: the restart stays pending
};

// One ask of the rule: the appliance answered `busy` after `waited_s` seconds of deferral. The
// daemon's agent loops on it with real sleeps; the fleet simulator schedules its next ask.
struct BusyDecision {
  BusyVerdict verdict = BusyVerdict::kGoAhead;
  bool wait = false;  // ask again after wait_s
  long long wait_s = 0;
  std::string outcome;  // when it ends: for the report
};
BusyDecision DecideBusy(const Configuration& config, bool busy, double waited_s);

struct BusyProbe {
  std::function<bool()> busy;                   // runs BusyCommand: true when it exits 0
  std::function<void(int milliseconds)> sleep;  // waits (tests: simulated time)
  std::function<double()> elapsed_s;            // since the first probe
};

// Asks, and while busy waits; `deferral` is filled in for the report (nothing when not busy).
BusyVerdict DeferWhileBusy(const Configuration& config, const BusyProbe& probe,
                           const std::atomic<bool>* cancel, BusyDeferral& deferral);

// The probe of a local device: `busy_command` through RunCommand (30 s at most per check).
BusyProbe CommandBusyProbe(const std::string& busy_command);

}  // namespace autoprov
