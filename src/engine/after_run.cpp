#include "engine/after_run.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "engine/busy.hpp"
#include "engine/device_state.hpp"
#include "engine/report_upload.hpp"
#include "engine/restart.hpp"

namespace autoprov {

AfterRun::AfterRun(RunReport report, const Configuration& config, const RunEnvironment& env,
                   AfterRunSetup setup)
    : report_(std::move(report)), config_(config), env_(env), setup_(setup) {}

void AfterRun::Pend(const std::string& why) {
  report_.restart_performed = false;
  report_.restart_reasons.push_back(why);
  reasons_ += (reasons_.empty() ? "" : "; ") + why;
}

// Records the run's restart as pending: its reasons and the image that waits for it.
void AfterRun::LeavePending(const std::string& cause) {
  DeviceState device(*env_.store, env_.device);
  PendingRestart pending{report_.finished_at, cause, ""};
  if (auto version = device.PendingImageVersion(); version && version->has_value()) {
    pending.image = **version;
    if (auto k = env_.store->GetKindState(env_.device, "image"); k && k->has_value())
      pending.image += " (" +
                       (!(*k)->path.empty() ? (*k)->path
                        : env_.keep_files   ? std::string("installed by InstallCommand")
                                            : std::string("simulated: no file kept")) +
                       ")";
  }
  if (auto r = device.SetRestartPending(pending); !r)
    LogError("cannot record the pending restart: " + r.error().message);
  // A restart decided by this run or an earlier one and not performed yet: every report says so
  // until the device restarts.
  if (auto p = device.PendingRestartState(); p) report_.pending = *p;
}

namespace {
// A poll that changed nothing: every file unchanged on the server (304) or skipped, nothing to
// retry, restart, compose or warn about.
bool Quiet(const RunReport& r) {
  if (!r.Completed() || r.restart != RestartWhen::kNone || r.pending || r.next_retry_at != 0 ||
      r.retry_attempt != 0 || !r.warnings.empty() || !r.reapplied.empty() || r.busy.deferred)
    return false;
  return std::all_of(r.steps.begin(), r.steps.end(), [](const StepReport& s) {
    return s.outcome == StepOutcome::kNotModified || s.outcome == StepOutcome::kSkipped;
  });
}
}  // namespace

void AfterRun::StoreReport() {
  DeviceState device(*env_.store, env_.device);
  Expected<void> stored;
  if (!setup_.store_every_report) {
    if (!report_.Completed())
      stored = env_.store->AddRun(env_.device, report_.started_at, ToJson(report_).dump());
  } else if (Quiet(report_)) {
    stored = device.NoteQuietPoll(report_.started_at);  // one page, no fsync (issue 27)
  } else {
    stored = env_.store->AddRun(env_.device, report_.started_at, ToJson(report_).dump());
    if (stored) stored = device.ClearQuietPolls();
  }
  if (!stored) LogError("cannot store the run report: " + stored.error().message);
}

AfterRun::Step AfterRun::Next(long long now) {
  for (;;) {
    switch (phase_) {
      case Phase::kDecide:
        if (report_.restart == RestartWhen::kNone) {
          phase_ = Phase::kRecord;
          break;
        }
        for (const auto& r : report_.restart_reasons)
          reasons_ += (reasons_.empty() ? "" : "; ") + r;
        report_.restart_performed = setup_.can_restart;
        ask_at_ = now;
        phase_ = !setup_.can_restart ? Phase::kRecord
                 : setup_.busy_probe ? Phase::kAskBusy
                                     : Phase::kCount;
        break;
      case Phase::kAskBusy:
        return {Action::kAskBusy, ask_at_};
      case Phase::kCount: {
        // S-9.8: counted when the restart happens; beyond the limit it stays pending.
        auto allowed = CountRestart(*env_.store, env_.device, now);
        if (!allowed || !*allowed) {
          std::string why = allowed
                                ? "more than " + std::to_string(kMaxRestartsPerHour) +
                                      " restarts within an hour: the restart stays pending (S-9.8)"
                                : "cannot count restarts: " + allowed.error().message;
          LogError(why);
          Pend(why);
        }
        phase_ = Phase::kRecord;
        break;
      }
      case Phase::kRecord: {
        if (report_.restart != RestartWhen::kNone && !report_.restart_performed)
          LeavePending(reasons_);
        else if (auto p = DeviceState(*env_.store, env_.device).PendingRestartState(); p)
          report_.pending = *p;
        StoreReport();
        // S-10.3: report back now, or (a restart follows) after the start-up run.
        uploads_ = PrepareReportUploads(report_, config_, env_, report_.restart_performed);
        phase_ = !uploads_.empty()           ? Phase::kUpload
                 : report_.restart_performed ? Phase::kRestart
                                             : Phase::kDone;
        break;
      }
      case Phase::kUpload:
        return {Action::kUpload, now};
      case Phase::kRestart:
        return {Action::kRestart, now};
      case Phase::kDone:
        return {Action::kDone, now};
    }
  }
}

void AfterRun::Busy(bool busy, long long now) {
  BusyDeferral& deferral = report_.busy;
  if (!busy && !deferral.deferred) {  // not busy: no deferral
    phase_ = Phase::kCount;
    return;
  }
  if (!deferral.deferred) {
    deferral.deferred = true;
    busy_since_ = now;
    LogWarning("the appliance is busy: the restart waits (checks every " +
               config_.Get("AupdBusyCheckInterval") + " s, at most " +
               config_.Get("AupdBusyMaxDefer") + " s; S-10.2)");
  }
  ++deferral.checks;
  double waited = static_cast<double>(now - busy_since_);
  BusyDecision d = DecideBusy(config_, busy, waited);
  deferral.seconds = waited;
  if (d.wait) {
    ask_at_ = now + d.wait_s;
    return;
  }
  deferral.outcome = d.outcome;
  if (d.verdict == BusyVerdict::kGoAhead) {
    if (busy)
      LogWarning(d.outcome);
    else
      LogInfo(d.outcome);
    phase_ = Phase::kCount;
  } else {
    LogInfo(d.outcome);
    Pend(d.outcome + " (S-10.2)");
    phase_ = Phase::kRecord;
  }
}

void AfterRun::Stopped(long long now) {
  if (phase_ != Phase::kAskBusy) return;
  report_.busy.seconds = static_cast<double>(now - busy_since_);
  report_.busy.outcome = "stopped while waiting: the restart stays pending";
  Pend(report_.busy.outcome + " (S-10.2)");
  phase_ = Phase::kRecord;
}

void AfterRun::Uploaded(const std::vector<Fetched>& results, long long now) {
  report_.upload = FinishReportUploads(*env_.store, env_.device, uploads_, results, now);
  uploads_.clear();
  phase_ = report_.restart_performed ? Phase::kRestart : Phase::kDone;
}

void AfterRun::Restarted(const Expected<void>& done) {
  phase_ = Phase::kDone;
  if (done) return;
  std::string why = done.error().message + "; the restart is pending";
  LogError(why);
  report_.restart_performed = false;
  report_.restart_reasons.push_back(why);
  LeavePending(why);
}

}  // namespace autoprov
