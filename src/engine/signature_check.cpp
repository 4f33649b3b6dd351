#include "engine/signature_check.hpp"

#include <charconv>
#include <ctime>

#include "common/digest.hpp"
#include "common/redact.hpp"
#include "common/text.hpp"
#include "signing/signature.hpp"

namespace autoprov {
namespace {

// A signature is small: a CMS SignedData with a chain of a few certificates.
constexpr uint64_t kMaxSignatureBytes = 256u << 10;

// The device value that keeps the signing time of the file last accepted from a URL (S-12.2). A
// device value, not a URL state: `config reset` and the URL-validator resets (S-9.4) keep it.
std::string SignedAtKey(const std::string& file_url) { return "signed_at " + RedactUrl(file_url); }

long long ToNumber(const std::string& s) {
  long long v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<long long> KeptSigningTime(StateStore& store, long long device,
                                         const std::string& file_url) {
  auto v = store.GetValue(device, SignedAtKey(file_url));
  if (!v || !v->has_value()) return std::nullopt;
  return ToNumber(**v);
}

bool NotFound(const TransferError& e) {
  return e.code == ErrorCode::kNotFound ||
         (e.code == ErrorCode::kHttpStatus &&
          (e.stats.http_status == 404 || e.stats.http_status == 410));
}

}  // namespace

Expected<std::shared_ptr<const SignersBundle>> LoadSigners(const std::filesystem::path& state_dir,
                                                           const DeviceHooks& hooks) {
  std::filesystem::path path(hooks.signers_bundle);
  std::error_code ec;
  if (auto rotated = state_dir / kRotatedSignersLink; std::filesystem::exists(rotated, ec))
    path = rotated;  // S-12.4: a rotation replaced the appliance maker's bundle
  else if (hooks.signers_bundle.empty())
    return std::shared_ptr<const SignersBundle>();
  if (path.is_relative()) path = state_dir / path;
  auto bundle = SignersBundle::Load(path.string());
  if (!bundle)
    return Fail(ErrorCode::kInvalidArgument,
                "hooks.ini SignersBundle: " + bundle.error().message + " (S-12.1)");
  return std::shared_ptr<const SignersBundle>(std::make_shared<SignersBundle>(std::move(*bundle)));
}

std::string SignatureUrl(const std::string& file_url, const std::string& suffix) {
  std::string url = file_url.substr(0, file_url.find('#'));
  size_t query = url.find('?');
  if (query == std::string::npos) return url + suffix;
  return url.substr(0, query) + suffix + url.substr(query);
}

std::optional<SignatureCheck> SignatureCheck::For(const PlannedStep& step, const DeviceHooks& hooks,
                                                  std::shared_ptr<const SignersBundle> bundle,
                                                  const Configuration& config) {
  std::string kind(InfoOf(step.kind).name);
  SignaturePolicy policy = SignaturePolicyFor(hooks, InfoOf(step.kind).keyword, kind);
  if (policy == SignaturePolicy::kOff) return std::nullopt;
  SignatureCheck c;
  c.file_url_ = step.url;
  std::string suffix = config.Get("AupdSignatureSuffix");
  c.url_ = SignatureUrl(step.url, suffix.empty() ? ".p7s" : suffix);
  c.kind_ = kind;
  c.policy_ = policy;
  c.bundle_ = std::move(bundle);
  return c;
}

SignatureCheck SignatureCheck::ForBundle(const std::string& bundle_url,
                                         std::shared_ptr<const SignersBundle> bundle,
                                         const Configuration& config) {
  SignatureCheck c;
  c.file_url_ = bundle_url;
  std::string suffix = config.Get("AupdSignatureSuffix");
  c.url_ = SignatureUrl(bundle_url, suffix.empty() ? ".p7s" : suffix);
  c.kind_ = "signers-bundle";
  c.policy_ = SignaturePolicy::kRequired;
  c.bundle_ = std::move(bundle);
  return c;
}

FetchRequest SignatureCheck::Request(const FetchRequest& file_request, StateStore& store,
                                     long long device) {
  FetchRequest req = file_request;
  req.url = url_;
  req.sink = BodySink::kMemory;
  req.target.clear();
  req.resumable = false;
  req.resume_point = nullptr;
  req.compute_crc32 = false;
  req.progress = nullptr;
  req.limits.max_bytes = kMaxSignatureBytes;
  req.condition.reset();
  if (auto s = store.GetUrlState(device, url_); s && s->has_value() && !(*s)->sha256.empty())
    if (auto body = store.GetContent((*s)->sha256); body && body->has_value())
      req.condition = Validators{(*s)->last_modified, (*s)->etag};
  return req;
}

std::optional<TransferError> SignatureCheck::Took(Fetched result, StateStore& store,
                                                  long long device) {
  if (!result) {
    if (NotFound(result.error())) {
      missing_ = true;
      return std::nullopt;
    }
    TransferError e = result.error();
    e.message = "the signature could not be fetched, so the file was not: " + e.message;
    return e;
  }
  if (result->outcome == FetchOutcome::kNotModified) {
    auto s = store.GetUrlState(device, url_);
    if (s && s->has_value())
      if (auto body = store.GetContent((*s)->sha256); body && body->has_value()) {
        bytes_ = std::move(**body);
        return std::nullopt;
      }
    return TransferError(
        MakeError(ErrorCode::kInternal, "the signature kept for " + RedactUrl(url_) + " is lost"));
  }
  bytes_ = std::move(result->body);
  sha256_ = Sha256Hex(*bytes_);
  validators_ = result->validators;
  changed_ = true;
  return std::nullopt;
}

std::optional<std::string> SignatureCheck::RefusalBeforeFile() const {
  if (missing_ && policy_ == SignaturePolicy::kRequired)
    return "no signature: " + RedactUrl(url_) + " was not found, and the policy for " + kind_ +
           " files requires one (S-12.1); the file was not fetched";
  return std::nullopt;
}

SignatureCheck::Verdict SignatureCheck::Judge(const FetchResult& file, StateStore& store,
                                              long long device, const Configuration& config,
                                              long long now, bool clock_trusted) {
  Verdict v;
  if (missing_) {
    if (policy_ == SignaturePolicy::kRequired) {
      v.refusal = *RefusalBeforeFile();
      return v;
    }
    v.accepted = true;
    v.details.push_back("warning: no signature at " + RedactUrl(url_) +
                        ": applied unsigned (signature policy if-present, S-12.1)");
    return v;
  }
  if (!bundle_ || !bytes_) {
    v.refusal = "no signers bundle to check the signature against (hooks.ini SignersBundle)";
    return v;
  }
  auto verdict = VerifyDigest(file.sha256, *bytes_, *bundle_, VerifyOptions{now, clock_trusted});
  if (!verdict) {
    v.refusal = verdict.error->Text();
    return v;
  }
  const Signer& signer = *verdict.signer;
  if (auto kept = KeptSigningTime(store, device, file_url_); kept && signer.signed_at < *kept) {
    v.refusal = SignatureError{SignatureFault::kReplayed,
                               "signed " + UtcTimeText(signer.signed_at) +
                                   ", before the file last accepted from this URL (signed " +
                                   UtcTimeText(*kept) + ") (S-12.2)",
                               signer}
                    .Text();
    return v;
  }
  long long days = ToNumber(config.Get("AupdSignatureMaxAgeDays"));
  if (days > 0 && !clock_trusted) {
    v.details.push_back(
        "the signature's age was not checked: the clock is not synchronised (S-10.8)");
  } else if (days > 0 && now - signer.signed_at > days * 86400) {
    v.refusal =
        SignatureError{SignatureFault::kTooOld,
                       "signed " + UtcTimeText(signer.signed_at) + ", more than " +
                           std::to_string(days) + " day(s) ago (AupdSignatureMaxAgeDays, S-12.2)",
                       signer}
            .Text();
    return v;
  }
  v.accepted = true;
  accepted_at_ = signer.signed_at;
  v.details.push_back("signature verified: " + signer.subject + ", serial " + signer.serial +
                      ", signed " + UtcTimeText(signer.signed_at));
  return v;
}

SignatureCheck::Verdict SignatureCheck::JudgeUnchanged(StateStore& store, long long device,
                                                       const Configuration& config, long long now,
                                                       bool clock_trusted) {
  Verdict v;
  if (auto refusal = RefusalBeforeFile()) {
    v.refusal = *refusal;
    return v;
  }
  v.accepted = true;
  long long days = ToNumber(config.Get("AupdSignatureMaxAgeDays"));
  auto kept = KeptSigningTime(store, device, file_url_);
  if (days <= 0 || !kept || missing_) return v;
  if (!clock_trusted) {
    v.details.push_back(
        "the signature's age was not checked: the clock is not synchronised (S-10.8)");
  } else if (now - *kept > days * 86400) {
    v.accepted = false;
    v.refusal = SignatureError{SignatureFault::kTooOld,
                               "the file the server still serves was signed " + UtcTimeText(*kept) +
                                   ", more than " + std::to_string(days) +
                                   " day(s) ago (AupdSignatureMaxAgeDays, S-12.2); it must be "
                                   "signed again",
                               std::nullopt}
                    .Text();
  }
  return v;
}

Expected<void> SignatureCheck::KeepAccepted(StateStore& store, long long device, long long now) {
  if (accepted_at_ > 0)
    if (auto e = store.PutValue(device, SignedAtKey(file_url_), std::to_string(accepted_at_)); !e)
      return e;
  if (!changed_ || !bytes_) return {};
  if (auto e = store.PutContent(sha256_, *bytes_, false); !e) return e;
  return store.PutUrlState(
      device, url_, UrlState{validators_.last_modified, validators_.etag, now, sha256_, kind_, ""});
}

void SignatureCheck::KeepRefused(StateStore& store, long long device, long long now) {
  if (!changed_ || !bytes_) return;
  (void)store.Transaction([&]() -> Expected<void> {
    if (auto e = store.PutContent(sha256_, *bytes_, false); !e) return e;
    return store.PutUrlState(
        device, url_,
        UrlState{validators_.last_modified, validators_.etag, now, sha256_, kind_, ""});
  });
}

}  // namespace autoprov
