#include "engine/run.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/log.hpp"
#include "common/text.hpp"
#include "engine/after_run.hpp"
#include "engine/clock.hpp"
#include "engine/device_state.hpp"

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
    std::string warning = WaitForClock(*config, options.clock ? *options.clock : SystemClock(),
                                       BuildEpoch(), options.cancel);
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
// The appliance's BusyCommand (S-10.2): busy when it exits 0, 30 s at most per check.
std::function<bool()> BusyCommandProbe(const std::string& busy_command) {
  if (busy_command.empty()) return nullptr;
  return [busy_command] {
    auto r = RunCommand(busy_command, {}, 30);
    if (!r) LogError("BusyCommand: " + r.error().message + " (taken as not busy)");
    return r && r->exit_code == 0;
  };
}
}  // namespace

Expected<RunReport> RunAutomaticUpdate(StateDirectory& state, const DeviceIdentity& identity,
                                       const DeviceHooks& hooks, const LocalRunOptions& options,
                                       const FetchFunction& fetch) {
  auto acquired = RunLock::Acquire(state.path());
  if (!acquired) return Unexpected(acquired.error());
  std::optional<RunLock> lock(std::move(*acquired));
  const ClockSource clock = options.clock ? *options.clock : SystemClock();
  RunEnvironment env;
  env.store = &state.store();
  env.device = kLocalDevice;
  env.schema = &state.schema();
  env.identity = identity;
  env.hooks = hooks;
  env.state_dir = state.path();
  env.now = clock.now;
  env.cancel = options.cancel;
  env.progress = options.progress;
  env.on_step = options.on_step;
  auto signers = LoadSigners(state.path(), hooks);
  if (!signers) return Unexpected(signers.error());
  env.signers = std::move(*signers);
  auto seq = DownloadSequence::Start(std::move(env), options.run);
  if (!seq) return Unexpected(seq.error());
  while (auto request = (*seq)->Next()) {
    (*seq)->Complete(fetch(*request));
    if (options.cancel && options.cancel->load())
      break;  // stopping: the remaining steps are not attempted
  }
  RunReport finished = (*seq)->Finish();
  finished.warnings.insert(finished.warnings.end(), options.warnings.begin(),
                           options.warnings.end());
  // What follows the run, decided by the rule every driver follows (engine/after_run.hpp); this
  // driver blocks.
  std::function<bool()> busy = options.busy ? options.busy : BusyCommandProbe(hooks.busy_command);
  AfterRun after(std::move(finished), (*seq)->config(), (*seq)->env(),
                 AfterRunSetup{!hooks.reset_command.empty() || options.simulate_restart,
                               static_cast<bool>(busy), true});
  for (auto step = after.Next(clock.now()); step.action != AfterRun::Action::kDone;
       step = after.Next(clock.now())) {
    switch (step.action) {
      case AfterRun::Action::kAskBusy: {
        // S-10.2: while the appliance is busy the restart waits, holding no lock (config set,
        // status and triggers keep working); the run's files that need no restart are applied.
        lock.reset();
        bool stopped = false;
        while (!stopped && clock.now() < step.at) {
          stopped = options.cancel && options.cancel->load();
          if (!stopped) clock.sleep(100);  // short slices: SIGTERM stops the wait at once
        }
        if (stopped)
          after.Stopped(clock.now());
        else
          after.Busy(busy(), clock.now());
        break;
      }
      case AfterRun::Action::kUpload: {
        std::vector<Fetched> results;
        for (const auto& u : after.uploads()) {
          results.push_back(fetch(u));
          if (!results.back()) break;  // the rest waits for the next run, in order
        }
        after.Uploaded(results, clock.now());
        break;
      }
      case AfterRun::Action::kRestart: {
        if (hooks.reset_command.empty()) {  // the daemon restarts the device (simulate_restart)
          after.Restarted({});
          break;
        }
        LogInfo("restarting the device: " + hooks.reset_command);
        auto out = RunCommand(hooks.reset_command, {}, 120);
        if (out && out->exit_code == 0)
          after.Restarted({});
        else
          after.Restarted(
              Fail(ErrorCode::kIo,
                   "the reset command " + (out ? "exited with " + std::to_string(out->exit_code)
                                               : "could not run: " + out.error().message)));
        break;
      }
      case AfterRun::Action::kDone:
        break;
    }
  }
  return after.TakeReport();
}

}  // namespace autoprov
