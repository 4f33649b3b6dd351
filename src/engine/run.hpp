// One Automatic Update run of the local device, start to end: the state-directory lock (one run at a
// time, S-2.4), the blocking driver of the DownloadSequence, and the restart (S-2.2).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "device/hooks.hpp"
#include "device/identity.hpp"
#include "device/state_dir.hpp"
#include "engine/sequence.hpp"

namespace autoprov {

// Holds <state-dir>/run.lock for the lifetime of the object.
class RunLock {
 public:
  // Fails with kBusy (naming the holder's PID) when another process holds the lock.
  static Expected<RunLock> Acquire(const std::filesystem::path& state_dir);
  RunLock(RunLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  RunLock(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

struct LocalRunOptions {
  RunOptions run;
  const std::atomic<bool>* cancel = nullptr;
  std::function<bool(uint64_t, uint64_t)> progress;
  // Called with each finished step's report as the run goes (logs, a progress display).
  std::function<void(const StepReport&)> on_step;
  // The daemon without a reset command: a restart re-initialises the agent as a freshly started device
  // (the pending image becomes the running one); the caller then performs the start-up trigger.
  bool simulate_restart = false;
};

// S-9.8: at most this many restarts within an hour, counted in the state database (a reboot does not reset
// the count); beyond it the restart stays pending.
inline constexpr int kMaxRestartsPerHour = 3;
// Records a restart at `now` if the limit allows it; false when it does not.
Expected<bool> CountRestart(StateStore& store, long long now);

// Runs the sequence with one Fetcher (connection reuse across steps), stores the report, then restarts
// when the run decided so: the reset command if the appliance configured one (the report says the
// restart was performed), else the restart stays pending in the state.
Expected<RunReport> RunAutomaticUpdate(StateDirectory& state, const DeviceIdentity& identity,
                                       const DeviceHooks& hooks, const LocalRunOptions& options);

}  // namespace autoprov
