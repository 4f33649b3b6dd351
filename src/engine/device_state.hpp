// The device's own values in the state database, one typed accessor per value: which image runs,
// which one waits for a restart, why a restart is pending, the restarts of the last hour (S-9.8)
// and the files that caused the last one. The keys are spelled in device_state.cpp only.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/report.hpp"
#include "store/state_store.hpp"

namespace autoprov {

class DeviceState {
 public:
  DeviceState(StateStore& store, long long device) : store_(store), device_(device) {}

  // The version of the last activated image, else `identity_version`; never empty (S-9.3).
  std::string RunningVersion(const std::string& identity_version);
  // The version installed and waiting for a restart, if any.
  Expected<std::optional<std::string>> PendingImageVersion();
  Expected<void> SetPendingImageVersion(const std::string& version);
  // The restart decided and not yet performed, until the device restarts (ActivatePendingImage).
  Expected<std::optional<PendingRestart>> PendingRestartState();
  // Keeps the time of a restart already pending: it has been pending since then.
  Expected<void> SetRestartPending(PendingRestart pending);
  // What the device keeps, in words, for `status`: one line each, no internal key or raw epoch.
  Expected<std::vector<std::string>> Describe();
  // S-7.7: a replace-mode file applied and the later configuration file (its kind's name) not yet
  // applied again on top of it: the configuration is incomplete until it is.
  Expected<bool> ComposePending(const std::string& kind);
  Expected<void> SetComposePending(const std::string& kind, bool pending);
  // Unix times of the restarts counted so far (S-9.8).
  Expected<std::vector<long long>> RestartTimes();
  Expected<void> SetRestartTimes(const std::vector<long long>& times);
  // "<kind>:<sha256>,..." of the files that caused the last restart.
  Expected<std::optional<std::string>> LastRestartCause();
  Expected<void> SetLastRestartCause(const std::string& causes);
  // Failed runs in a row that were worth retrying (S-10.1); 0 after a run that went well.
  Expected<int> RetryAttempt();
  Expected<void> SetRetryAttempt(int attempt);  // writes only when it changes
  // S-10.6: the value DHCP last gave a parameter (nothing: DHCP never set it).
  Expected<std::optional<std::string>> DhcpValue(const std::string& param);
  Expected<void> SetDhcpValue(const std::string& param, const std::string& value);
  // S-10.6: the configuration files to try after IniFileURL when DHCP option 160 set it and it is
  // not found (<Product><MAC>.ini, then <Product>.ini), placeholders unexpanded.
  Expected<std::vector<std::string>> IniFallbacks();
  Expected<void> SetIniFallbacks(const std::vector<std::string>& urls);
  // The runs since the last stored report that changed nothing (every file 304 or skipped, no
  // restart, no retry): counted in one value instead of a report each, so such a poll writes one
  // database page and does not wait for the disk. `status` shows them after the last report.
  struct QuietPolls {
    long long count = 0, first = 0, last = 0;  // unix times
  };
  Expected<std::optional<QuietPolls>> QuietPollsSinceLastReport();
  Expected<void> NoteQuietPoll(long long at);  // relaxed: a power loss may take it back
  Expected<void> ClearQuietPolls();
  // A simulated device's bootstrap configuration has been stored.
  Expected<bool> Seeded();
  Expected<void> MarkSeeded();
  // A restart: the pending image becomes the running one and nothing is pending any more. One
  // transaction. With `actual_running` (what the appliance's RunningVersionCommand says runs), that
  // is the running version; when an image was pending and another version runs, the install failed
  // (an A/B installer fell back to the old slot, S-11.2): it is recorded with the image's SHA-256.
  Expected<void> ActivatePendingImage(const std::optional<std::string>& actual_running = {});
  // S-11.2: the last image that was installed and did not come up, if any.
  struct InstallFailure {
    std::string version, running, sha256;
    long long at = 0;
    bool reported = false;  // a run's report has said so
  };
  Expected<std::optional<InstallFailure>> LastInstallFailure();
  Expected<void> MarkInstallFailureReported();
  Expected<void> ClearInstallFailure();

 private:
  StateStore& store_;
  long long device_;
};

}  // namespace autoprov
