#include "engine/run.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/log.hpp"
#include "common/text.hpp"
#include "engine/busy.hpp"
#include "engine/clock.hpp"
#include "engine/device_state.hpp"
#include "engine/report_upload.hpp"

namespace autoprov {

Expected<RunLock> RunLock::Acquire(const std::filesystem::path& state_dir) {
  auto path = state_dir / "run.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return Fail(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Fail(ErrorCode::kBusy, "another autoprov run (pid " + pid + ") holds " +
                                      state_dir.string() +
                                      "; one run at a time: try again when it has finished");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return RunLock(fd);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Expected<RunReport> RunLocalDevice(StateDirectory& state, const IdentityOverrides& overrides,
                                   const LocalRunOptions& options, const FetchFunction& fetch) {
  auto identity = LoadIdentity(state.path(), overrides);
  if (!identity) return Fail(ErrorCode::kInvalidArgument, identity.error().message);
  auto hooks = LoadHooks(state.path());
  if (!hooks) return Fail(ErrorCode::kInvalidArgument, hooks.error().message);
  // S-10.8: a clock before the build date is waited for (no lock held meanwhile).
  LocalRunOptions with_clock = options;
  if (auto config = state.LoadConfiguration()) {
    std::string warning = WaitForClock(*config, SystemClock(), BuildEpoch(), options.cancel);
    if (!warning.empty()) with_clock.warnings.push_back(warning);
  }
  // S-11.2: the first run after an install that did not come up says so.
  DeviceState device(state.store(), kLocalDevice);
  if (auto f = device.LastInstallFailure(); f && f->has_value() && !(*f)->reported) {
    if (device.MarkInstallFailureReported())
      with_clock.warnings.push_back("the image " + (*f)->version +
                                    " was installed but the device came back on " + (*f)->running +
                                    " (RunningVersionCommand): the install failed (S-11.2); the "
                                    "same image is not installed again until its file changes");
  }
  return RunAutomaticUpdate(state, *identity, *hooks, with_clock, fetch);
}

namespace {
// Records the run's restart as pending: its reasons and the image that waits for it.
void KeepRestartPending(StateStore& store, const RunReport& report, const std::string& reasons) {
  DeviceState device(store, kLocalDevice);
  PendingRestart pending{report.finished_at, reasons, ""};
  if (auto version = device.PendingImageVersion(); version && version->has_value()) {
    pending.image = **version;
    if (auto k = store.GetKindState(kLocalDevice, "image"); k && k->has_value())
      pending.image +=
          " (" + ((*k)->path.empty() ? "installed by InstallCommand" : (*k)->path) + ")";
  }
  if (auto r = device.SetRestartPending(pending); !r)
    LogError("cannot record the pending restart: " + r.error().message);
}
}  // namespace

Expected<RunReport> RunAutomaticUpdate(StateDirectory& state, const DeviceIdentity& identity,
                                       const DeviceHooks& hooks, const LocalRunOptions& options,
                                       const FetchFunction& fetch) {
  auto acquired = RunLock::Acquire(state.path());
  if (!acquired) return Unexpected(acquired.error());
  std::optional<RunLock> lock(std::move(*acquired));
  RunEnvironment env;
  env.store = &state.store();
  env.device = kLocalDevice;
  env.schema = &state.schema();
  env.identity = identity;
  env.hooks = hooks;
  env.state_dir = state.path();
  env.cancel = options.cancel;
  env.progress = options.progress;
  env.on_step = options.on_step;
  auto seq = DownloadSequence::Start(std::move(env), options.run);
  if (!seq) return Unexpected(seq.error());
  while (auto request = (*seq)->Next()) {
    (*seq)->Complete(fetch(*request));
    if (options.cancel && options.cancel->load())
      break;  // stopping: the remaining steps are not attempted
  }
  RunReport report = (*seq)->Finish();
  report.warnings.insert(report.warnings.end(), options.warnings.begin(), options.warnings.end());
  if (report.restart != RestartWhen::kNone) {
    std::string reasons;
    for (const auto& r : report.restart_reasons) reasons += (reasons.empty() ? "" : "; ") + r;
    report.restart_performed = !hooks.reset_command.empty() || options.simulate_restart;
    if (report.restart_performed && !hooks.busy_command.empty()) {
      // S-10.2: while the appliance is busy the restart waits, holding no lock (config set, status
      // and triggers keep working); the run's files that need no restart are already applied.
      lock.reset();
      auto verdict = DeferWhileBusy((*seq)->config(), CommandBusyProbe(hooks.busy_command),
                                    options.cancel, report.busy);
      if (verdict != BusyVerdict::kGoAhead) {
        report.restart_performed = false;
        report.restart_reasons.push_back(report.busy.outcome + " (S-10.2)");
        reasons += "; " + report.restart_reasons.back();
      }
    }
    if (report.restart_performed) {
      auto allowed = CountRestart(state.store(), kLocalDevice, report.finished_at);
      if (!allowed || !*allowed) {
        report.restart_performed = false;
        std::string why = allowed
                              ? "more than " + std::to_string(kMaxRestartsPerHour) +
                                    " restarts within an hour: the restart stays pending (S-9.8)"
                              : "cannot count restarts: " + allowed.error().message;
        report.restart_reasons.push_back(why);
        reasons += "; " + why;
        LogError(why);
      }
    }
    if (!report.restart_performed) KeepRestartPending(state.store(), report, reasons);
  }
  // A restart decided by an earlier run and not performed yet is still pending: every report says
  // so until the device restarts.
  if (auto pending = DeviceState(state.store(), kLocalDevice).PendingRestartState(); pending)
    report.pending = *pending;
  if (auto r = state.store().AddRun(kLocalDevice, report.started_at, ToJson(report).dump()); !r)
    LogError("cannot store the run report: " + r.error().message);
  // S-10.3: report back, now or (a restart follows) after the start-up run.
  auto uploads =
      PrepareReportUploads(report, (*seq)->config(), (*seq)->env(), report.restart_performed);
  std::vector<Expected<FetchResult>> results;
  for (const auto& u : uploads) {
    results.push_back(fetch(u));
    if (!results.back()) break;  // the rest waits for the next run, in order
  }
  report.upload = FinishReportUploads(state.store(), kLocalDevice, uploads, results);
  if (report.restart_performed && !hooks.reset_command.empty()) {
    LogInfo("restarting the device: " + hooks.reset_command);
    auto out = RunCommand(hooks.reset_command, {}, 120);
    if (!out || out->exit_code != 0) {
      report.restart_performed = false;
      std::string why = "the reset command " +
                        (out ? "exited with " + std::to_string(out->exit_code)
                             : "could not run: " + out.error().message) +
                        "; the restart is pending";
      LogError(why);
      report.restart_reasons.push_back(why);
      KeepRestartPending(state.store(), report, why);
      if (auto pending = DeviceState(state.store(), kLocalDevice).PendingRestartState(); pending)
        report.pending = *pending;
    }
  }
  return report;
}

}  // namespace autoprov
