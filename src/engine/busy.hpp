// Defer while busy (SPEC S-10.2): a restart waits while the appliance says it is busy (hooks.ini
// BusyCommand exits 0, e.g. calls in progress), asking again every AupdBusyCheckInterval seconds up
// to AupdBusyMaxDefer, then follows AupdBusyPolicy. Files that need no restart were applied at
// once.
#pragma once

#include <string>

#include "config/configuration.hpp"

namespace autoprov {

enum class BusyVerdict {
  kGoAhead,  // not busy (at once or after waiting), or busy past the cap under restart-anyway
  kGiveUp,   // busy past the cap under give-up-until-next-run: the restart stays pending
  kStopped,  // SIGTERM while waiting: the restart stays pending
};

// One ask of the rule: the appliance answered `busy` after `waited_s` seconds of deferral. What
// follows a run (engine/after_run.hpp) asks it; the agent sleeps until the next ask, the fleet
// schedules it.
struct BusyDecision {
  BusyVerdict verdict = BusyVerdict::kGoAhead;
  bool wait = false;  // ask again after wait_s
  long long wait_s = 0;
  std::string outcome;  // when it ends: for the report
};
BusyDecision DecideBusy(const Configuration& config, bool busy, double waited_s);

}  // namespace autoprov
