// One Automatic Update run of one device (SPEC S-2): walks the download sequence, asks for one fetch at a
// time, decides and applies, and collects the report and the restart decision.
//
// It does no I/O on the network itself: a driver takes each request from Next(), performs it with the
// transfer layer, and hands the result to Complete(). The device's blocking driver (RunAutomaticUpdate)
// and the fleet simulator's event loop drive the same object, so the sequence exists once.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/configuration.hpp"
#include "device/hooks.hpp"
#include "device/identity.hpp"
#include "engine/plan.hpp"
#include "engine/report.hpp"
#include "store/state_store.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

// What a run of one device works with.
struct RunEnvironment {
  StateStore* store = nullptr;
  long long device = 0;
  const Schema* schema = nullptr;
  DeviceIdentity identity;  // sw_version: the running version (see RunningVersion)
  DeviceHooks hooks;
  std::filesystem::path state_dir;  // files/, downloads/, images/
  // false for simulated devices: images and auxiliary files are hashed, not kept on disk.
  bool keep_files = true;
  std::function<long long()> now;  // unix time; the system clock when empty
  const std::atomic<bool>* cancel = nullptr;
  std::function<bool(uint64_t, uint64_t)> progress;
  std::function<void(const StepReport&)> on_step;  // each step as it finishes
};

struct RunOptions {
  std::string trigger = "manual";
  bool force_restart = false;  // SIP NOTIFY check-sync;reboot=true
  bool restart_if_changed = false;  // reboot=true under SipNotifyReboot = if-changed: only if a step applied
};

class DownloadSequence {
 public:
  static Expected<std::unique_ptr<DownloadSequence>> Start(RunEnvironment env, RunOptions options);
  ~DownloadSequence();

  // The next fetch to perform, or nothing when every step is done.
  std::optional<FetchRequest> Next();
  // The result of the fetch Next() returned.
  void Complete(Expected<FetchResult> result);
  // Decides the restart and stores the report. Call once, after Next() returned nothing.
  RunReport Finish();

  const Configuration& config() const { return config_; }

 private:
  DownloadSequence(RunEnvironment env, RunOptions options, Configuration config);
  void Record(StepOutcome outcome, std::string error = {});
  long long Now() const;
  std::string Staging(FileKind kind) const;

  void HandleConfigFile(const FetchResult& r);
  void HandleImage(const FetchResult& r);
  void HandleLicense(const FetchResult& r);
  void HandleTls(const FetchResult& r);
  void HandleAuxFile(const FetchResult& r);
  // The certificate of this run whose key did not come: kept only if it matches the installed key.
  void ResolveStagedCertificate();
  // Commits `extra` (may be empty) together with the URL state of the current step and, for a one-time
  // file, the clearing of its URL parameter: one transaction.
  Expected<void> CommitStep(const FetchResult& r, const std::function<Expected<void>()>& extra, bool clear_url);
  Expected<void> CommitFor(const PlannedStep& plan, long long generation, const FetchResult& r,
                           const std::function<Expected<void>()>& extra, bool clear_url);
  Expected<void> InstallFile(const FetchResult& r, const std::filesystem::path& dest, mode_t mode);
  // S-9.7: installs a certificate, a key or both as one switch of the TLS file set.
  Expected<void> InstallTlsPair(const std::string* cert_pem, const std::string* key_pem);

  struct StagedCert;
  RunEnvironment env_;
  RunOptions options_;
  Configuration config_;
  unsigned long long config_stamp_ = 0;  // which stored version config_ is (the fleet's read cache)
  RunReport report_;
  size_t next_index_ = 0;
  std::optional<PlannedStep> current_;
  long long plan_generation_ = 0;  // of the current one-time step's URL parameter when it was planned
  StepReport step_;
  bool stop_ = false;  // an immediate restart was requested: the remaining steps are skipped
  bool restart_at_end_ = false;
  bool reload_if_needed_ = false;
  std::vector<std::string> restart_param_changes_;
  std::vector<std::string> restart_causes_;  // "<kind>:<sha256>" of each file that asked for the restart
  std::unique_ptr<StagedCert> staged_cert_;
  // The User-Agent of the last request and what it was expanded from: most runs send one for every step.
  std::string ua_template_, ua_conf_, ua_;
};

// What a run would fetch now, without fetching (update --dry-run). Later steps may differ in a real run,
// since a downloaded configuration file can change their URLs (S-2.1).
struct PlanLine {
  std::string kind, url, mode, if_modified_since, note;
  bool from_template = false;
};
std::vector<PlanLine> DescribePlan(StateStore& store, long long device, const Configuration& config,
                                   const DeviceIdentity& identity);

// The running version: the version of the last activated image, else the identity's.
std::string RunningVersion(StateStore& store, long long device, const std::string& identity_version);

// A (simulated or real) device restart: the pending image becomes the running one.
Expected<void> ActivatePendingImage(StateStore& store, long long device);

}  // namespace autoprov
