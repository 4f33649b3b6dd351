#include "fleet/simulated_device.hpp"

#include <algorithm>

#include "engine/restart.hpp"
#include "engine/schedule.hpp"
#include "fleet/identity.hpp"

namespace autoprov {

struct SimulatedDevice::Following {
  AfterRun rule;
  std::vector<Fetched> results;      // of the report uploads so far
  std::optional<double> startup_in;  // restarted: the start-up run follows in this many s
};

SimulatedDevice::SimulatedDevice() = default;
SimulatedDevice::SimulatedDevice(SimulatedDevice&&) noexcept = default;
SimulatedDevice::~SimulatedDevice() = default;

DeviceIdentity DeviceDriver::Identity(long long id) const {
  const FleetOptions& o = host_.options();
  return FleetIdentity(o.mac_base, o.product, o.sw_version, id);
}

void DeviceDriver::Due(SimulatedDevice& d) {
  host_.Activate(d);
  if (d.after) return Follow(d);  // a busy device is asked again
  if (!d.restart_run && !d.power_up) host_.counters().Add(Counter::kRunsStarted);
  Start(d);
}

void DeviceDriver::Start(SimulatedDevice& d) {
  const FleetOptions& o = host_.options();
  RunEnvironment env;
  env.store = &host_.store();
  env.device = d.id;
  env.schema = &host_.schema();
  env.identity = Identity(d.id);
  env.state_dir = o.state_dir;
  env.keep_files = false;
  env.hooks.signers_bundle = o.signers_file;  // S-12: every simulated device requires signatures
  env.signers = o.signers;
  env.now = [host = &host_] { return host->UnixNow(); };
  env.image_resume = [dp = &d]() -> ResumePoint& {
    if (!dp->resume) dp->resume = std::make_unique<ResumePoint>();
    return *dp->resume;
  };
  env.on_step = [host = &host_](const StepReport& s) { host->StepDone(s); };
  RunOptions opts;
  opts.trigger = d.restart_run || d.power_up || d.runs_done == 0 ? "start-up"
                 : d.retry_run                                   ? "retry"
                 : o.duration_s > 0                              ? "interval"
                                                                 : "round";
  opts.retry_random = DeviceDraw(o.seed, DrawFor::kRetrySpread, d.id, d.runs_done);
  d.retry_run = false;
  d.power_up = false;
  d.requests = 0;
  auto seq = DownloadSequence::Start(std::move(env), opts);
  if (!seq) {
    d.failed = true;
    host_.Failure({Identity(d.id).mac, d.runs_done + 1, "start", "", seq.error().message});
    if (!d.restart_run) ++d.runs_done;
    d.restart_run = false;
    host_.counters().Add(Counter::kRuns);
    host_.counters().Add(Counter::kRunsFailed);
    return host_.Deactivate(d, true);
  }
  d.seq = std::move(*seq);
  if (auto cut = host_.CutFor(d)) {
    d.cut = std::make_unique<PowerCut>(std::move(*cut));
    d.cut->states.push_back(host_.ConfigHash(d.id));
  }
  Advance(d);
}

void DeviceDriver::Advance(SimulatedDevice& d) {
  auto req = d.seq->Next();
  if (!req) return d.cut ? CutPower(d, nullptr) : Finish(d);
  host_.counters().Add(Counter::kRequests);
  if (d.seq->AwaitingSignature()) host_.counters().Add(Counter::kSignatureRequests);
  if (d.requests < UINT8_MAX) ++d.requests;
  host_.Submit(d, std::move(*req), [this, dp = &d](Fetched r) {
    if (dp->cut && ++dp->cut->completions >= dp->cut->at) return CutPower(*dp, &r);
    dp->seq->Complete(std::move(r));
    if (dp->cut) dp->cut->states.push_back(host_.ConfigHash(dp->id));
    Advance(*dp);
  });
}

void DeviceDriver::Finish(SimulatedDevice& d) {
  RunReport report = d.seq->Finish();
  if (d.resume && d.resume->kept == 0) d.resume.reset();  // nothing kept: no memory held
  d.cuts = 0;
  d.last_requests = std::max<uint8_t>(d.requests, 1);
  bool run_failed = !report.Completed();
  for (const auto& s : report.steps) {
    if (s.outcome != StepOutcome::kFailed && s.outcome != StepOutcome::kRejected) continue;
    if (host_.verifying())
      host_.Violation(
          {d.id, Identity(d.id).mac, "next run",
           "the run after the power cuts failed: " + s.kind + " " + s.url + ": " + s.error});
    host_.Failure({Identity(d.id).mac, d.runs_done + 1, s.kind, s.url, s.error});
  }
  d.failed |= run_failed;
  d.last_failed = run_failed;
  if (!d.restart_run) ++d.runs_done;
  d.restart_run = false;
  host_.counters().Add(Counter::kRuns);
  if (run_failed) host_.counters().Add(Counter::kRunsFailed);
  // What follows, by the device's rule: the fleet restarts its devices itself, asks the busy ones
  // (S-10.2), and keeps the reports of failed runs only.
  AfterRunSetup setup{true, host_.options().busy_fraction > 0, false};
  d.after = std::make_unique<SimulatedDevice::Following>(SimulatedDevice::Following{
      AfterRun(std::move(report), d.seq->config(), d.seq->env(), setup), {}, {}});
  Follow(d);
}

void DeviceDriver::Follow(SimulatedDevice& d) {
  AfterRun& rule = d.after->rule;
  for (;;) {
    long long now = host_.UnixNow();
    AfterRun::Step step = rule.Next(now);
    switch (step.action) {
      case AfterRun::Action::kAskBusy:
        if (step.at > now) {  // asked again later: the device holds no place meanwhile
          host_.Deactivate(d, false);
          return host_.Schedule(d, static_cast<double>(step.at - now));
        }
        rule.Busy(host_.Busy(d), now);
        break;
      case AfterRun::Action::kUpload:
        return SendNextReport(d);
      case AfterRun::Action::kRestart:
        Restart(d);
        break;
      case AfterRun::Action::kDone:
        return RunOver(d);
    }
  }
}

void DeviceDriver::SendNextReport(SimulatedDevice& d) {
  SimulatedDevice::Following& f = *d.after;
  bool failed = !f.results.empty() && !f.results.back();
  if (failed || f.results.size() == f.rule.uploads().size()) {
    f.rule.Uploaded(f.results, host_.UnixNow());
    host_.counters().Add(Counter::kReportsSent, f.rule.report().upload.sent);
    f.results.clear();
    return Follow(d);
  }
  host_.counters().Add(Counter::kRequests);
  host_.Submit(d, f.rule.uploads()[f.results.size()], [this, dp = &d](Fetched r) {
    dp->after->results.push_back(std::move(r));
    SendNextReport(*dp);
  });
}

// A simulated restart: the device powers up (the pending image becomes the running one), then its
// start-up run.
void DeviceDriver::Restart(SimulatedDevice& d) {
  const FleetOptions& o = host_.options();
  host_.counters().Add(Counter::kRestarts);
  auto up = PowerUp(host_.store(), d.id, host_.schema(),
                    DeviceDraw(o.seed, DrawFor::kStartupDelay, d.id, d.runs_done));
  if (!up) {
    host_.Failure({Identity(d.id).mac, d.runs_done, "restart", "", up.error().message});
    return d.after->rule.Restarted(Unexpected(up.error()));
  }
  d.after->rule.Restarted({});
  if (up->has_value()) d.after->startup_in = o.duration_s > 0 ? static_cast<double>(**up) : 0;
}

void DeviceDriver::RunOver(SimulatedDevice& d) {
  const FleetOptions& o = host_.options();
  std::unique_ptr<SimulatedDevice::Following> f = std::move(d.after);
  std::unique_ptr<DownloadSequence> seq = std::move(d.seq);
  const RunReport& report = f->rule.report();
  if (report.busy.deferred) {
    host_.counters().Add(Counter::kBusyDeferrals);
    if (!report.restart_performed) host_.counters().Add(Counter::kRestartsGivenUp);
  }
  host_.RunReported(d, report);
  if (f->startup_in) {  // the start-up run after the restart ends the device's round
    d.restart_run = true;
    host_.Deactivate(d, false);
    return host_.Schedule(d, *f->startup_in);
  }
  if (o.duration_s > 0) {
    // Real time: the next periodic run counts from this run's start (S-10.7); a planned retry
    // comes first when it is earlier (S-10.1).
    double in = NextTriggerIn(seq->config(), o.seed, d.id, d.runs_done,
                              static_cast<std::time_t>(report.started_at),
                              static_cast<std::time_t>(host_.UnixNow()));
    if (report.next_retry_at > 0) {
      double retry = static_cast<double>(report.next_retry_at - report.finished_at);
      if (in < 0 || retry < in) {
        in = retry;
        d.retry_run = true;
        host_.counters().Add(Counter::kRetries);
      }
    }
    if (in >= 0) host_.Schedule(d, in);
  }
  host_.Deactivate(d, true);
}

void DeviceDriver::CutPower(SimulatedDevice& d, Fetched* result) {
  const FleetOptions& o = host_.options();
  host_.counters().Add(Counter::kPowerCuts);
  std::unique_ptr<PowerCut> cut = std::move(d.cut);
  if (cut->in_commit) {
    // The result was being applied: whatever it wrote is lost with the power, as an
    // uncommitted transaction is.
    (void)host_.store().Discard([&] {
      if (result)
        d.seq->Complete(std::move(*result));
      else
        (void)d.seq->Finish();
    });
  }
  d.seq.reset();  // the transfer and the run are gone
  if (d.cuts < UINT8_MAX) ++d.cuts;
  size_t now = host_.ConfigHash(d.id);
  if (std::find(cut->states.begin(), cut->states.end(), now) == cut->states.end())
    host_.Violation({d.id, Identity(d.id).mac, "cut",
                     "after a power cut " + std::string(result ? "at a request" : "at the end") +
                         " of run " + std::to_string(d.runs_done + 1) +
                         " the configuration is none that a complete step left"});
  // The power comes back: the device starts as after a restart (S-2.2), then its start-up run
  // takes the place of the one that was cut.
  auto up = PowerUp(host_.store(), d.id, host_.schema(),
                    DeviceDraw(o.seed, DrawFor::kStartupDelay, d.id, CutDraw(d)));
  if (!up) host_.Failure({Identity(d.id).mac, d.runs_done + 1, "power-up", "", up.error().message});
  if (up && !up->has_value()) {
    // AutoUpdateOnStartup = 0: no run at power-up; the cut run is over, the schedule goes on.
    d.cuts = 0;
    if (o.duration_s > 0)
      if (auto config = host_.store().LoadConfiguration(d.id, host_.schema()))
        if (double in =
                NextTriggerIn(*config, o.seed, d.id, d.runs_done, host_.UnixNow(), host_.UnixNow());
            in >= 0)
          host_.Schedule(d, in);
    if (!d.restart_run) ++d.runs_done;
    d.restart_run = false;
    return host_.Deactivate(d, true);
  }
  if (!d.restart_run) d.power_up = true;
  host_.Deactivate(d, false);
  host_.Schedule(d, up && o.duration_s > 0 ? static_cast<double>(**up) : 0);
}

}  // namespace autoprov
