// How a downloaded file is applied (SPEC S-1, S-4, S-9): one policy per family of files, behind one
// small interface. The sequence (engine/sequence.cpp) decides what to fetch and in which order; a
// policy decides what a fetched file means for the device, installs it and records the step.
//   apply_config.cpp   ini file, CLI script, CLI startup script
//   apply_image.cpp    software images
//   apply_license.cpp  License Key
//   apply_tls.cpp      TLS root, device certificate and private key
//   apply_aux.cpp      auxiliary files (tone tables, dial plan, ...)
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/plan.hpp"
#include "engine/report.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

struct RunEnvironment;
class Configuration;

// What a run's files decided about the restart (S-2.2), collected step by step.
struct RestartDecision {
  bool stop = false;    // an immediate restart was requested: the remaining steps are skipped
  bool at_end = false;  // a restart at the end of the run
  bool reload_if_needed =
      false;  // 'reload if-needed': a restart if a parameter that needs one changed
  std::vector<std::string> param_changes;  // restart-needing parameters that changed
  std::vector<std::string> causes;  // "<kind>:<sha256>" of each file that asked for a restart
};

// What a policy works with: the step being applied and the run around it. DownloadSequence
// implements it.
class StepContext {
 public:
  virtual ~StepContext() = default;
  virtual const RunEnvironment& env() const = 0;
  // The configuration as this run knows it; a policy that writes the stored one updates it.
  virtual Configuration& config() = 0;
  virtual const PlannedStep& step() const = 0;
  virtual long long step_generation()
      const = 0;                     // the one-time URL parameter's write counter at the fetch
  virtual StepReport& report() = 0;  // the report of the current step
  virtual RunReport& run_report() = 0;
  virtual RestartDecision& restart() = 0;
  virtual long long Now() const = 0;
  // Where a file streamed to disk waits: <state>/downloads/<kind>.
  virtual std::string Staging() const = 0;
  // Ends the current step with `outcome`.
  virtual void Record(StepOutcome outcome, std::string error = {}) = 0;
  // Commits `extra` (may be empty) with the URL state of `step` and, with `clear_url`, the clearing
  // of its one-time URL parameter unless it was written again since `generation`: one transaction.
  virtual Expected<void> CommitFor(const PlannedStep& step, long long generation,
                                   const FetchResult& r,
                                   const std::function<Expected<void>()>& extra,
                                   bool clear_url) = 0;
  Expected<void> Commit(const FetchResult& r, const std::function<Expected<void>()>& extra,
                        bool clear_url) {
    return CommitFor(step(), step_generation(), r, extra, clear_url);
  }
  // Installs the downloaded file at `dest` (atomically; renames the staged file when it was
  // streamed).
  virtual Expected<void> InstallFile(const FetchResult& r, const std::filesystem::path& dest,
                                     mode_t mode) = 0;
};

class ApplyPolicy {
 public:
  virtual ~ApplyPolicy() = default;
  // Applies the file of the current step and records the step (exactly one Record call).
  virtual void Apply(StepContext& ctx, const FetchResult& r) = 0;
  // Before the step of `next` is planned, and once after the last step (`last`): a policy that
  // holds a file back for a later step of its family resolves it here.
  virtual void BeforeStep(StepContext&, FileKind /*next*/, bool /*last*/) {}
};

// The policy for a kind of file.
std::unique_ptr<ApplyPolicy> MakeConfigFilePolicy();
std::unique_ptr<ApplyPolicy> MakeImagePolicy();
std::unique_ptr<ApplyPolicy> MakeLicensePolicy();
std::unique_ptr<ApplyPolicy> MakeTlsPolicy();
std::unique_ptr<ApplyPolicy> MakeAuxFilePolicy();

// Shared by the licence and auxiliary policies: runs the kind's apply hook, installs and commits.
void InstallAuxiliaryFile(StepContext& ctx, const FetchResult& r);

// The TLS files of a device (S-1.5, S-9.7): the trust bundle later HTTPS downloads verify with, and
// the certificate and key the device presents (links into the current pair).
inline std::filesystem::path TlsDirectory(const std::filesystem::path& state_dir) {
  return state_dir / "files/tls";
}
inline std::filesystem::path TrustBundlePath(const std::filesystem::path& state_dir) {
  return TlsDirectory(state_dir) / "trust.pem";
}
inline std::filesystem::path DeviceCertPath(const std::filesystem::path& state_dir) {
  return TlsDirectory(state_dir) / "device-cert.pem";
}
inline std::filesystem::path DeviceKeyPath(const std::filesystem::path& state_dir) {
  return TlsDirectory(state_dir) / "device-key.pem";
}

// Small kinds arrive in memory; images and auxiliary files are streamed to their staging file.
bool ArrivesInMemory(FileKind kind);

}  // namespace autoprov
