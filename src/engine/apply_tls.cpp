// TLS files (S-1.5, S-9.7): the root certificate joins the trust bundle; the device certificate and
// its private key are installed as one pair: a certificate whose key follows in the same run waits
// for it, and the two switch together in one rename.
#include "common/atomic_file.hpp"
#include "common/text.hpp"
#include "engine/apply.hpp"
#include "engine/file_checks.hpp"
#include "engine/sequence.hpp"

namespace autoprov {
namespace {

class TlsPolicy final : public ApplyPolicy {
 public:
  void Apply(StepContext& ctx, const FetchResult& r) override;
  void BeforeStep(StepContext& ctx, FileKind next, bool last) override {
    // The key of this run will not be applied (the run stops, or has ended): the certificate is
    // decided alone.
    if (staged_ && (last || (next == FileKind::kTlsKey && ctx.restart().stop)))
      ResolveStagedCertificate(ctx);
  }

 private:
  struct StagedCert {
    std::string pem;
    size_t report_index = 0;
    FetchResult result;
    PlannedStep step;
    long long generation = 0;  // of TLSCertFileUrl when the certificate was fetched
  };
  void ApplyRoot(StepContext& ctx, const FetchResult& r);
  void ApplyCertificate(StepContext& ctx, const FetchResult& r);
  void ApplyKey(StepContext& ctx, const FetchResult& r);
  // The certificate of this run whose key did not come: kept only if it matches the installed key.
  void ResolveStagedCertificate(StepContext& ctx);
  Expected<void> CommitCertificate(StepContext& ctx, const StagedCert& cert);
  static Expected<void> InstallPair(const RunEnvironment& env, const std::string* cert,
                                    const std::string* key);

  std::unique_ptr<StagedCert> staged_;
};

Expected<void> TlsPolicy::InstallPair(const RunEnvironment& env, const std::string* cert_pem,
                                      const std::string* key_pem) {
  if (!env.keep_files) return {};
  std::vector<SetFile> files;
  if (cert_pem) files.push_back({"cert.pem", "device-cert.pem", *cert_pem, 0644});
  if (key_pem) files.push_back({"key.pem", "device-key.pem", *key_pem, 0600});
  return SwitchFileSet(TlsDirectory(env.state_dir), "pair", files);
}

Expected<void> TlsPolicy::CommitCertificate(StepContext& ctx, const StagedCert& cert) {
  const RunEnvironment& env = ctx.env();
  return ctx.CommitFor(
      cert.step, cert.generation, cert.result,
      [&] {
        KindState k{"", cert.result.sha256, "", DeviceCertPath(env.state_dir).string(), ctx.Now()};
        return env.store->PutKindState(env.device, "tls-cert", k);
      },
      cert.step.mode == DownloadMode::kOneTime);
}

void TlsPolicy::Apply(StepContext& ctx, const FetchResult& r) {
  FileKind kind = ctx.step().kind;
  if (kind == FileKind::kTlsRoot || kind == FileKind::kTlsCert) {
    auto n = CountPemCertificates(r.body);
    if (!n) return ctx.Record(StepOutcome::kRejected, n.error().message);
  }
  if (kind == FileKind::kTlsRoot) return ApplyRoot(ctx, r);
  if (kind == FileKind::kTlsCert) return ApplyCertificate(ctx, r);
  ApplyKey(ctx, r);
}

void TlsPolicy::ApplyRoot(StepContext& ctx, const FetchResult& r) {
  // S-1.5 (ours): the new root is a trust anchor for later HTTPS downloads, besides the system
  // store.
  const RunEnvironment& env = ctx.env();
  auto root = TlsDirectory(env.state_dir) / "root.pem";
  if (env.keep_files) {
    std::string bundle;
    if (auto s = ReadFile("/etc/ssl/certs/ca-certificates.crt")) bundle += *s + "\n";
    bundle += r.body;
    if (auto w = WriteFileAtomically(root, r.body); !w)
      return ctx.Record(StepOutcome::kFailed, w.error().message);
    if (auto w = WriteFileAtomically(TrustBundlePath(env.state_dir), bundle); !w)
      return ctx.Record(StepOutcome::kFailed, w.error().message);
  }
  auto c = ctx.Commit(
      r,
      [&] {
        return env.store->PutKindState(env.device, "tls-root-cert",
                                       KindState{"", r.sha256, "", root.string(), ctx.Now()});
      },
      ctx.step().mode == DownloadMode::kOneTime);
  if (!c) return ctx.Record(StepOutcome::kFailed, c.error().message);
  ctx.Record(StepOutcome::kApplied);
}

void TlsPolicy::ApplyCertificate(StepContext& ctx, const FetchResult& r) {
  const RunEnvironment& env = ctx.env();
  // When a private key follows in this run, the pair is checked and installed together at the key
  // step.
  if (PlanStep(FileKind::kTlsKey, ctx.config(), env.identity)) {
    staged_ = std::make_unique<StagedCert>(
        StagedCert{r.body, ctx.run_report().steps.size(), r, ctx.step(), ctx.step_generation()});
    ctx.report().details.push_back("checked against the private key of this run");
    return ctx.Record(
        StepOutcome::kApplied);  // finalised at the key step or by ResolveStagedCertificate
  }
  if (auto key = ReadFile(DeviceKeyPath(env.state_dir))) {
    auto match = KeyMatchesCertificate(r.body, *key);
    if (!match || !*match)
      return ctx.Record(StepOutcome::kRejected,
                        "the certificate does not match the installed private key");
  }
  if (auto i = InstallPair(env, &r.body, nullptr); !i)
    return ctx.Record(StepOutcome::kFailed, i.error().message);
  StagedCert cert{r.body, 0, r, ctx.step(), ctx.step_generation()};
  if (auto c = CommitCertificate(ctx, cert); !c)
    return ctx.Record(StepOutcome::kFailed, c.error().message);
  ctx.Record(StepOutcome::kApplied);
}

void TlsPolicy::ApplyKey(StepContext& ctx, const FetchResult& r) {
  const RunEnvironment& env = ctx.env();
  if (auto k = CheckPemPrivateKey(r.body); !k) {
    ctx.Record(StepOutcome::kRejected, k.error().message);
    return ResolveStagedCertificate(ctx);
  }
  std::string cert_pem;
  if (staged_) {
    cert_pem = staged_->pem;
  } else if (auto c = ReadFile(DeviceCertPath(env.state_dir))) {
    cert_pem = *c;
  } else {
    // A key alone is installed only against a certificate known to match it: if one is installed
    // but cannot be read now, nothing is installed (S-9.7).
    std::error_code ec;
    if (std::filesystem::is_symlink(DeviceCertPath(env.state_dir), ec) ||
        std::filesystem::exists(DeviceCertPath(env.state_dir), ec))
      return ctx.Record(StepOutcome::kFailed,
                        "cannot read the installed certificate to check the key against it: " +
                            c.error().message);
  }
  if (!cert_pem.empty()) {
    auto match = KeyMatchesCertificate(cert_pem, r.body);
    if (!match || !*match) {
      ctx.Record(StepOutcome::kRejected,
                 std::string("the private key does not match the ") +
                     (staged_ ? "certificate of this run" : "installed certificate"));
      return ResolveStagedCertificate(ctx);
    }
  }
  std::unique_ptr<StagedCert> cert = std::move(staged_);
  // S-9.7: certificate and key switch together, in one rename.
  if (auto i = InstallPair(env, cert ? &cert->pem : nullptr, &r.body); !i)
    return ctx.Record(StepOutcome::kFailed, i.error().message);
  auto c = ctx.Commit(
      r,
      [&]() -> Expected<void> {
        if (cert)
          if (auto e = CommitCertificate(ctx, *cert); !e)
            return e;  // the certificate's URL is cleared with the pair
        KindState k{"", r.sha256, "", DeviceKeyPath(env.state_dir).string(), ctx.Now()};
        return env.store->PutKindState(env.device, "tls-private-key", k);
      },
      ctx.step().mode == DownloadMode::kOneTime);
  if (!c) return ctx.Record(StepOutcome::kFailed, c.error().message);
  ctx.Record(StepOutcome::kApplied);
}

void TlsPolicy::ResolveStagedCertificate(StepContext& ctx) {
  if (!staged_) return;
  const RunEnvironment& env = ctx.env();
  std::unique_ptr<StagedCert> cert = std::move(staged_);
  StepReport& rep = ctx.run_report().steps[cert->report_index];
  auto key = ReadFile(DeviceKeyPath(env.state_dir));
  bool ok = !key;  // no key installed: nothing to mismatch
  if (key) {
    auto match = KeyMatchesCertificate(cert->pem, *key);
    ok = match && *match;
  }
  if (!ok) {
    rep.outcome = StepOutcome::kRejected;
    rep.error =
        "the certificate does not match the installed private key and no new key was installed";
    return;
  }
  if (!InstallPair(env, &cert->pem, nullptr) || !CommitCertificate(ctx, *cert)) {
    rep.outcome = StepOutcome::kFailed;
    rep.error = "could not install the certificate";
  }
}

}  // namespace

std::unique_ptr<ApplyPolicy> MakeTlsPolicy() { return std::make_unique<TlsPolicy>(); }

}  // namespace autoprov
