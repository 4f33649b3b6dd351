// One Automatic Update run of one device (SPEC S-2): walks the download sequence, asks for one
// fetch at a time, decides and applies, and collects the report and the restart decision.
//
// It does no I/O on the network itself: a driver takes each request from Next(), performs it with
// the transfer layer, and hands the result to Complete(). The device's blocking driver
// (RunAutomaticUpdate) and the fleet simulator's event loop drive the same object, so the sequence
// exists once.
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
#include "engine/apply.hpp"
#include "engine/plan.hpp"
#include "engine/rejection.hpp"
#include "engine/report.hpp"
#include "engine/request.hpp"
#include "engine/signature_check.hpp"
#include "store/state_store.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

class SignersBundle;  // signing/signature.hpp

// What a run of one device works with.
struct RunEnvironment {
  StateStore* store = nullptr;
  long long device = 0;
  const Schema* schema = nullptr;
  DeviceIdentity identity;  // sw_version: the running version (see RunningVersion)
  DeviceHooks hooks;
  // S-12: the CA certificates signed files are checked against (hooks' SignersBundle, loaded once;
  // the fleet's devices share one). Null: no bundle.
  std::shared_ptr<const SignersBundle> signers;
  std::filesystem::path state_dir;  // files/, downloads/, images/
  // false for simulated devices: images and auxiliary files are hashed, not kept on disk.
  bool keep_files = true;
  // S-10.4 for a device that keeps no files: where its image download keeps its place between
  // runs, asked for only when an image is fetched (empty: images are not resumed).
  std::function<ResumePoint&()> image_resume;
  std::function<long long()> now;  // unix time; the system clock when empty
  const std::atomic<bool>* cancel = nullptr;
  std::function<bool(uint64_t, uint64_t)> progress;
  std::function<void(const StepReport&)> on_step;  // each step as it finishes
};

struct RunOptions {
  std::string trigger = "manual";
  bool force_restart = false;  // SIP NOTIFY check-sync;reboot=true
  bool restart_if_changed =
      false;  // reboot=true under SipNotifyReboot = if-changed: only if a step applied
  // Uniform in [0, 1): the draw that spreads a retry (S-10.1); <0: drawn by the run. The fleet
  // simulator passes its devices' reproducible draws.
  double retry_random = -1;
};

class DownloadSequence final : public StepContext {
 public:
  static Expected<std::unique_ptr<DownloadSequence>> Start(RunEnvironment env, RunOptions options);
  ~DownloadSequence() override;

  // The next fetch to perform, or nothing when every step is done.
  std::optional<FetchRequest> Next();
  // The result of the fetch Next() returned.
  void Complete(Fetched result);
  // Decides the restart and returns the report. Call once, after Next() returned nothing.
  RunReport Finish();

  const Configuration& config() const { return config_; }
  // The request Next() returned is a file's signature (S-12.1), not the file.
  bool AwaitingSignature() const { return awaiting_signature_; }

  // StepContext, for the apply policies (engine/apply.hpp).
  const RunEnvironment& env() const override { return env_; }
  Configuration& config() override { return config_; }
  const PlannedStep& step() const override { return *current_; }
  long long step_generation() const override { return plan_generation_; }
  StepReport& report() override { return step_; }
  RunReport& run_report() override { return report_; }
  RestartDecision& restart() override { return restart_; }
  long long Now() const override;
  std::string Staging() const override;
  void Record(StepOutcome outcome, std::string error = {}) override;
  Expected<void> CommitFor(const PlannedStep& step, long long generation, const FetchResult& r,
                           const std::function<Expected<void>()>& extra, bool clear_url) override;
  Expected<void> InstallFile(const FetchResult& r, const std::filesystem::path& dest,
                             mode_t mode) override;

 private:
  DownloadSequence(RunEnvironment env, RunOptions options, Configuration config);
  ApplyPolicy& PolicyFor(FileKind kind);
  bool SameContentAsLastApplied(const FetchResult& r);
  std::optional<Rejection> LastRejection();  // of the current step's URL (S-7.8)
  void KeepRejection(const FetchResult& r);
  bool TryIniFallback(const TransferError& e);
  void CompleteStep(Fetched result);
  void Refuse(const FetchResult& r, const std::string& reason);
  // S-12: the step's first request: its signature's when the policy asks for one, else the file's.
  std::optional<FetchRequest> Begin(FetchRequest file_request);
  void CompleteSignature(Fetched result);
  // S-12.4: the run's first step, when AupdSignersBundleURL is set and a bundle is installed.
  std::optional<FetchRequest> BeginBundleStep();
  void ApplyBundle(const FetchResult& r);
  bool ClockTrusted() const;
  void ComposeAfterReplace();
  std::optional<std::string> KeptContent(FileKind kind);
  // The restart the run's files and its trigger ask for (S-2.2, S-9.8).
  void DecideRestart();

  enum Family { kConfigFiles, kImages, kLicense, kTls, kAuxFiles, kFamilies };
  RunEnvironment env_;
  RunOptions options_;
  Configuration config_;
  unsigned long long config_stamp_ = 0;  // which stored version config_ is (the fleet's read cache)
  RunReport report_;
  size_t next_index_ = 0;
  std::optional<PlannedStep> current_;
  std::optional<PlannedStep> again_;    // S-10.6: the current step once more (another URL)
  std::vector<std::string> ini_chain_;  // IniFileURL, then DHCP's fallbacks (unexpanded)
  size_t ini_link_ = 0;
  int ini_attempt_ = 1;
  long long plan_generation_ =
      0;  // of the current one-time step's URL parameter when it was planned
  StepReport step_;
  const FetchResult* fetched_ = nullptr;  // while a policy applies it
  RestartDecision restart_;
  std::unique_ptr<ApplyPolicy>
      policies_[kFamilies];  // made when a file of the family first arrives
  RequestBuilder requests_;
  std::optional<SignatureCheck> signature_;   // the current step's, when its policy asks
  std::optional<FetchRequest> file_request_;  // the file's request, while its signature is fetched
  bool awaiting_signature_ = false;
  bool bundle_checked_ = false;  // S-12.4: the signers bundle step was considered this run
  bool bundle_step_ = false;     // the current step is the signers bundle's
};

// "rejected since <UTC time> (S-7.8)"
std::string RejectedSinceText(const Rejection& r);

// What a run would fetch now, without fetching (update --dry-run). Later steps may differ in a real
// run, since a downloaded configuration file can change their URLs (S-2.1).
struct PlanLine {
  std::string kind, url, mode, if_modified_since, note;
  bool from_template = false;
};
std::vector<PlanLine> DescribePlan(StateStore& store, long long device, const Configuration& config,
                                   const DeviceIdentity& identity);

}  // namespace autoprov
