// One Automatic Update run of the local device, start to end: the state-directory lock (one run at
// a time, S-2.4), the blocking driver of the DownloadSequence, and the restart (S-2.2).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "device/hooks.hpp"
#include "device/identity.hpp"
#include "engine/clock.hpp"
#include "engine/restart.hpp"
#include "engine/sequence.hpp"
#include "store/state_dir.hpp"

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
  // The daemon without a reset command: the restart is the daemon's to perform (it re-initialises
  // as a freshly started device, RestartDevice); the report says it was performed.
  bool simulate_restart = false;
  // Put into the report before it is stored (RunLocalDevice's clock check, S-10.8).
  std::vector<std::string> warnings;
  // The clock the run and what follows it read and sleep on (tests: simulated time); none: the
  // system's.
  std::optional<ClockSource> clock;
  // Whether the appliance is busy (S-10.2); empty: hooks.ini's BusyCommand, if any.
  std::function<bool()> busy;
};

// Runs the sequence, fetching with `fetch` (one connection-reusing Fetcher for a device), stores
// the report, then restarts when the run decided so: the reset command if the appliance configured
// one (the report says the restart was performed), else the restart stays pending in the state.
Expected<RunReport> RunAutomaticUpdate(StateDirectory& state, const DeviceIdentity& identity,
                                       const DeviceHooks& hooks, const LocalRunOptions& options,
                                       const FetchFunction& fetch);

// The run-now wrapper every starter of a local run uses (update, restart, the daemon's runs): the
// identity (identity.ini and overrides) and hooks.ini are read, then the run. Identity and hook
// errors come back as kInvalidArgument, a run in progress as kBusy.
Expected<RunReport> RunLocalDevice(StateDirectory& state, const IdentityOverrides& overrides,
                                   const LocalRunOptions& options, const FetchFunction& fetch);

}  // namespace autoprov
