// The download sequence's S-12 steps (engine/sequence.hpp): a file's signature fetched before the
// file (engine/signature_check.hpp judges it), and the signers bundle's rotation, the run's first
// step when AupdSignersBundleURL is set.
#include <memory>

#include "common/atomic_file.hpp"
#include "common/redact.hpp"
#include "engine/clock.hpp"
#include "engine/retry.hpp"
#include "engine/sequence.hpp"
#include "signing/signature.hpp"
#include "transfer/url.hpp"

namespace autoprov {

std::optional<FetchRequest> DownloadSequence::Begin(FetchRequest file_request) {
  signature_ = SignatureCheck::For(*current_, env_.hooks, env_.signers, config_);
  if (!signature_) return file_request;
  FetchRequest sig = signature_->Request(file_request, *env_.store, env_.device);
  file_request_ = std::move(file_request);
  awaiting_signature_ = true;
  return sig;
}

std::optional<FetchRequest> DownloadSequence::BeginBundleStep() {
  std::string url = config_.Get("AupdSignersBundleURL");
  if (url.empty() || !env_.signers) return std::nullopt;
  step_ = StepReport{};
  step_.kind = "signers-bundle";
  step_.url = RedactUrl(url);
  step_.mode = "periodic";
  // Fetched as a small file into memory, conditionally on its own URL's validators.
  current_ = PlannedStep{FileKind::kTlsRoot, url, DownloadMode::kPeriodic, false};
  bundle_step_ = true;
  if (!IsSupportedScheme(url)) {
    Record(StepOutcome::kFailed, UnsupportedSchemeError(url).message);
    return std::nullopt;
  }
  FetchRequest request = requests_.Build(*current_, config_, env_, step_.if_modified_since);
  signature_ = SignatureCheck::ForBundle(url, env_.signers, config_);
  FetchRequest sig = signature_->Request(request, *env_.store, env_.device);
  file_request_ = std::move(request);
  awaiting_signature_ = true;
  return sig;
}

// S-12.4: a new signers bundle, its signature verified under the current one: parsed, installed as
// a generation switched with one rename (a kill leaves the old bundle or the new one), recorded
// with its validators and signing time, and used for the rest of the run.
void DownloadSequence::ApplyBundle(const FetchResult& r) {
  auto parsed = SignersBundle::FromPem(r.body, step_.url);
  if (!parsed) {
    fetched_ = &r;
    Record(StepOutcome::kRejected, parsed.error().message + " (S-12.4)");
    fetched_ = nullptr;
    return;
  }
  size_t certificates = parsed->size();
  if (env_.keep_files) {
    auto sw = SwitchFileSet(env_.state_dir, kRotatedSignersSet,
                            {SetFile{"bundle.pem", kRotatedSignersLink, r.body, 0644}});
    if (!sw) return Record(StepOutcome::kFailed, sw.error().message);
  }
  if (auto c = CommitFor(*current_, 0, r, nullptr, false); !c)
    return Record(StepOutcome::kFailed, c.error().message);
  env_.signers = std::make_shared<const SignersBundle>(std::move(*parsed));
  step_.details.push_back("the signers bundle was replaced: " + std::to_string(certificates) +
                          " certificate(s); files are checked against it from now on (S-12.4)");
  Record(StepOutcome::kApplied);
}

bool DownloadSequence::ClockTrusted() const { return Now() >= BuildEpoch(); }

void DownloadSequence::CompleteSignature(Fetched result) {
  awaiting_signature_ = false;
  if (auto failed = signature_->Took(std::move(result), *env_.store, env_.device)) {
    file_request_.reset();
    step_.http_status = failed->stats.http_status;
    step_.seconds = failed->stats.seconds;
    step_.retryable = IsRetryable(*failed);
    step_.retry_after_s = failed->stats.retry_after_s;
    return Record(StepOutcome::kFailed, failed->message);
  }
  if (auto refused = signature_->RefusalBeforeFile()) {
    file_request_.reset();
    return Record(StepOutcome::kRejected, *refused);
  }
  if (signature_->changed()) {
    // A new signature is judged with the file it signs: fetched whole, whatever was applied.
    file_request_->condition.reset();
    step_.if_modified_since.clear();
  }
}

}  // namespace autoprov
