#include "engine/run.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/text.hpp"

namespace autoprov {

Expected<RunLock> RunLock::Acquire(const std::filesystem::path& state_dir) {
  auto path = state_dir / "run.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Fail(ErrorCode::kBusy, "another autoprov run (pid " + pid + ") holds " + state_dir.string() +
                                      "; one run at a time: try again when it has finished");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return RunLock(fd);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Expected<bool> CountRestart(StateStore& store, long long now) {
  auto value = store.GetValue(kLocalDevice, "restart_times");
  if (!value) return Unexpected(value.error());
  std::vector<long long> times;
  if (value->has_value())
    for (auto t : SplitWhitespace(**value)) {
      long long v = std::atoll(std::string(t).c_str());
      if (v > now - 3600 && v <= now) times.push_back(v);
    }
  if (times.size() >= static_cast<size_t>(kMaxRestartsPerHour)) return false;
  times.push_back(now);
  std::string out;
  for (auto t : times) out += (out.empty() ? "" : " ") + std::to_string(t);
  if (auto r = store.PutValue(kLocalDevice, "restart_times", out); !r) return Unexpected(r.error());
  return true;
}

Expected<RunReport> RunAutomaticUpdate(StateDirectory& state, const DeviceIdentity& identity,
                                       const DeviceHooks& hooks, const LocalRunOptions& options) {
  auto lock = RunLock::Acquire(state.path());
  if (!lock) return Unexpected(lock.error());
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
  Fetcher fetcher;  // one for the run: consecutive fetches from a host reuse the connection
  while (auto request = (*seq)->Next()) {
    (*seq)->Complete(fetcher.Fetch(*request));
    if (options.cancel && options.cancel->load()) break;  // stopping: the remaining steps are not attempted
  }
  RunReport report = (*seq)->Finish();
  if (report.restart != RestartWhen::kNone) {
    std::string reasons;
    for (const auto& r : report.restart_reasons) reasons += (reasons.empty() ? "" : "; ") + r;
    report.restart_performed = !hooks.reset_command.empty() || options.simulate_restart;
    if (report.restart_performed) {
      auto allowed = CountRestart(state.store(), report.finished_at);
      if (!allowed || !*allowed) {
        report.restart_performed = false;
        std::string why = allowed ? "more than " + std::to_string(kMaxRestartsPerHour) +
                                        " restarts within an hour: the restart stays pending (S-9.8)"
                                  : "cannot count restarts: " + allowed.error().message;
        report.restart_reasons.push_back(why);
        reasons += "; " + why;
        LogError(why);
      }
    }
    (void)state.store().PutValue(kLocalDevice, "restart_pending", reasons);
  }
  if (auto r = state.store().AddRun(kLocalDevice, report.started_at, ToJson(report).dump()); !r)
    LogError("cannot store the run report: " + r.error().message);
  if (report.restart_performed && !hooks.reset_command.empty()) {
    LogInfo("restarting the device: " + hooks.reset_command);
    auto out = RunCommand(hooks.reset_command, {}, 120);
    if (!out || out->exit_code != 0) {
      report.restart_performed = false;
      LogError("the reset command failed; the restart is pending");
    }
  } else if (report.restart_performed) {
    LogInfo("restart (simulated): the agent re-initialises as a freshly started device");
    if (auto a = ActivatePendingImage(state.store(), kLocalDevice); !a) LogError(a.error().message);
  }
  return report;
}

}  // namespace autoprov
