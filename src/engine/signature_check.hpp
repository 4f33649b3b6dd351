// S-12 for one step of the download sequence: the file's detached signature is fetched first, at
// the configured URL plus AupdSignatureSuffix (before any query string), conditionally on the last
// signature judged; then the downloaded file is judged by its SHA-256 against it (no second pass),
// by the signing time kept for its URL (no rollback), by the maximum age (no freeze). What it keeps
// (the signing time, the signature's validators and bytes) is written in the step's own commit.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/configuration.hpp"
#include "device/hooks.hpp"
#include "engine/plan.hpp"
#include "store/state_store.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

class SignersBundle;  // signing/signature.hpp

// The signers bundle hooks.ini names (SignersBundle; a relative path is under the state
// directory): null when it names none; an error when it names one that cannot be read or holds no
// certificate (the run does not start: nothing could be verified).
Expected<std::shared_ptr<const SignersBundle>> LoadSigners(const std::filesystem::path& state_dir,
                                                           const DeviceHooks& hooks);

// S-12.4: the bundle a rotation installed replaces hooks.ini's: <state>/signers.pem, a link into a
// generation directory switched atomically (S-9.7).
inline constexpr const char* kRotatedSignersSet = "signers";
inline constexpr const char* kRotatedSignersLink = "signers.pem";

// "http://h/dev.ini?x=1" + ".p7s" -> "http://h/dev.ini.p7s?x=1" (a fragment is dropped).
std::string SignatureUrl(const std::string& file_url, const std::string& suffix);

class SignatureCheck {
 public:
  // For a planned step: nothing when the kind's policy is off.
  static std::optional<SignatureCheck> For(const PlannedStep& step, const DeviceHooks& hooks,
                                           std::shared_ptr<const SignersBundle> bundle,
                                           const Configuration& config);

  // S-12.4: a new signers bundle's check: its signature is required whatever the policy, and
  // judged under the current bundle.
  static SignatureCheck ForBundle(const std::string& bundle_url,
                                  std::shared_ptr<const SignersBundle> bundle,
                                  const Configuration& config);

  // The signature's request, from the file's: the same credentials, TLS files and limits, into
  // memory, conditional when a signature from this URL was judged before.
  FetchRequest Request(const FetchRequest& file_request, StateStore& store, long long device);
  // The signature's fetch. An error text when the step fails here (the signature could not be
  // fetched for another reason than its absence: the file is not fetched either).
  std::optional<TransferError> Took(Fetched result, StateStore& store, long long device);
  // A refusal that needs no file: no signature where one is required (the file is not fetched).
  std::optional<std::string> RefusalBeforeFile() const;
  // A new signature arrived: the file is fetched without a condition, to be judged with it.
  bool changed() const { return changed_; }

  struct Verdict {
    bool accepted = false;             // the file may be applied
    std::string refusal;               // why not (the step's error), with the signer when known
    std::vector<std::string> details;  // what the report says of the signature
  };
  // A downloaded file (its SHA-256). `now` and `clock_trusted` (S-10.8) for the signing time.
  Verdict Judge(const FetchResult& file, StateStore& store, long long device,
                const Configuration& config, long long now, bool clock_trusted);
  // A file the server still serves unchanged (304): only the maximum age can refuse it.
  Verdict JudgeUnchanged(StateStore& store, long long device, const Configuration& config,
                         long long now, bool clock_trusted);
  // After an accepted file, in the step's commit: its signing time (kept per file URL, across
  // `config reset`), the signature's validators and bytes.
  Expected<void> KeepAccepted(StateStore& store, long long device, long long now);
  // After a refused file: the signature's validators and bytes only (the next poll asks for it
  // conditionally; the file's rejection is kept by S-7.8).
  void KeepRefused(StateStore& store, long long device, long long now);

  const std::string& url() const { return url_; }

 private:
  std::string file_url_, url_, kind_;
  SignaturePolicy policy_ = SignaturePolicy::kOff;
  std::shared_ptr<const SignersBundle> bundle_;
  std::optional<std::string> bytes_;  // the signature judged with: new (200) or kept (304)
  std::string sha256_;                // of a new signature's bytes, where they are kept
  Validators validators_;             // of a new signature
  bool changed_ = false, missing_ = false;
  long long accepted_at_ = 0;  // the signing time of an accepted file
};

}  // namespace autoprov
