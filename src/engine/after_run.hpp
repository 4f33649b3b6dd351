// What follows a run (SPEC S-2.2, S-9.8, S-10.2, S-10.3), decided in one place for the agent, the
// daemon and the fleet simulator: whether the device restarts now, waits while the appliance is
// busy (asking again at a given time), or leaves the restart pending (and why: no way to restart,
// busy past the cap, the per-hour limit, a reset command that failed); which reports are uploaded,
// and whether before or after the restart; what the stored run report says.
//
// A driver asks Next() with the time and does what it says, as it does for DownloadSequence: the
// agent blocks (sleeping, running BusyCommand and the reset command), the fleet schedules each step
// on its own clock. Every call takes `now` (unix time), so the busy wait and the per-hour restart
// count run on simulated time in the fleet and in tests. What a restart itself does (the pending
// image becomes the running one, then the start-up run) is PowerUp (engine/restart.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/configuration.hpp"
#include "engine/report.hpp"
#include "engine/sequence.hpp"
#include "store/state_store.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

struct AfterRunSetup {
  // The device can restart: the appliance's reset command, or a restart its driver performs (the
  // daemon, the fleet). Neither: a decided restart stays pending.
  bool can_restart = false;
  // The device can say it is busy (BusyCommand; a simulated device's busy window): a restart then
  // asks first (S-10.2).
  bool busy_probe = false;
  // Every run's report is stored; false: only a failed run's (the fleet keeps no report of the runs
  // that went well: they would be the bulk of its database).
  bool store_every_report = true;
};

class AfterRun {
 public:
  enum class Action {
    kAskBusy,  // at `at` (now or later): ask whether the appliance is busy, then Busy()
    kUpload,   // send uploads() in order, stopping at the first failure, then Uploaded()
    kRestart,  // restart the device now, then Restarted()
    kDone,     // nothing more: report() is final
  };
  struct Step {
    Action action = Action::kDone;
    long long at = 0;  // kAskBusy: when
  };

  // `report` is DownloadSequence::Finish()'s; `config` and `env` the run's.
  AfterRun(RunReport report, const Configuration& config, const RunEnvironment& env,
           AfterRunSetup setup);

  // What to do next, at `now`. Records in the state what the step before decided (a restart left
  // pending, the stored report, the uploads' outcome).
  Step Next(long long now);
  // The appliance's answer to kAskBusy, asked at `now`.
  void Busy(bool busy, long long now);
  // The results of the uploads, in order, up to the first failure, finished at `now`.
  void Uploaded(const std::vector<Fetched>& results, long long now);
  // The restart was performed (the reset command ran, or the driver restarted the device), or
  // not: why.
  void Restarted(const Expected<void>& done);
  // The device is stopping (SIGTERM) while the restart waits: it stays pending.
  void Stopped(long long now);

  const std::vector<FetchRequest>& uploads() const { return uploads_; }
  const RunReport& report() const { return report_; }
  RunReport TakeReport() { return std::move(report_); }

 private:
  enum class Phase { kDecide, kAskBusy, kCount, kRecord, kUpload, kRestart, kDone };
  void LeavePending(const std::string& why);
  // Stores the run's report (the fleet: a failed run's only); a poll that changed nothing is
  // counted instead (DeviceState::NoteQuietPoll).
  void StoreReport();
  void Pend(const std::string& why);

  RunReport report_;
  const Configuration& config_;
  const RunEnvironment& env_;
  AfterRunSetup setup_;
  Phase phase_ = Phase::kDecide;
  long long busy_since_ = 0;  // the first busy answer
  long long ask_at_ = 0;
  std::string reasons_;  // the restart's reasons, joined: the pending restart's cause
  std::vector<FetchRequest> uploads_;
};

}  // namespace autoprov
