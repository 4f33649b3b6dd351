// Software images (S-1.3, S-9.3): the version decides; a later image is installed (by the
// appliance's installer, else kept as the pending image) and activated by the restart at the end of
// the run.
#include "common/text.hpp"
#include "device/hooks.hpp"
#include "engine/apply.hpp"
#include "engine/device_state.hpp"
#include "engine/file_checks.hpp"
#include "engine/sequence.hpp"

namespace autoprov {
namespace {

class ImagePolicy final : public ApplyPolicy {
 public:
  void Apply(StepContext& ctx, const FetchResult& r) override;
};

// S-9.3: a configured VersionCommand is authoritative; else the configured URL's file name, else
// the final URL's. Empty with `why` set: no version, no install.
std::string ImageVersion(StepContext& ctx, const FetchResult& r, std::string& why) {
  const RunEnvironment& env = ctx.env();
  if (!env.hooks.version_command.empty() && env.keep_files) {
    auto out = RunCommand(env.hooks.version_command, {ctx.Staging()}, 60);
    std::string printed =
        out ? std::string(Trim(out->output.substr(0, out->output.find('\n')))) : "";
    if (out && out->exit_code == 0 && !printed.empty()) return printed;
    why = "image version unknown: the VersionCommand " +
          (!out                  ? out.error().message
           : out->exit_code != 0 ? "exited with " + std::to_string(out->exit_code)
                                 : std::string("printed no version")) +
          "; not installed";
    return "";
  }
  std::string version = VersionFromFileName(ctx.step().url);
  if (version.empty() && !r.final_url.empty()) version = VersionFromFileName(r.final_url);
  if (version.empty())
    why =
        "image version unknown: neither the configured URL nor the final URL names a version "
        "(e.g. Mediant_7.20A.252.011.cmp) and no VersionCommand is configured; not installed";
  return version;
}

void ImagePolicy::Apply(StepContext& ctx, const FetchResult& r) {
  const RunEnvironment& env = ctx.env();
  std::string why;
  std::string version = ImageVersion(ctx, r, why);
  if (version.empty()) {
    return ctx.Record(StepOutcome::kRejected, why);
  }
  ctx.report().version = version;
  // Compared with the pending image if one waits for a restart, else with the running one.
  DeviceState device(*env.store, env.device);
  // S-11.2: an image that was installed and did not come up is not installed again.
  if (auto f = device.LastInstallFailure(); f && f->has_value() && (*f)->sha256 == r.sha256) {
    return ctx.Record(StepOutcome::kRejected, "not installed again: this image (" + version +
                                                  ") was installed and the device came back on " +
                                                  (*f)->running +
                                                  " (S-11.2); a changed file is installed");
  }
  std::string against_version = env.identity.sw_version;
  std::string against_sha;
  if (auto p = device.PendingImageVersion(); p && p->has_value()) against_version = **p;
  if (auto k = env.store->GetKindState(env.device, "image"); k && k->has_value())
    against_sha = (*k)->sha256;
  int cmp = against_version.empty() ? 1 : CompareVersions(version, against_version);
  bool one_time = ctx.step().mode == DownloadMode::kOneTime;
  if (cmp < 0 || (cmp == 0 && (r.sha256 == against_sha || against_sha.empty()))) {
    // S-1.3: not later (or the very same image): discarded without a restart. A one-time URL is
    // done.
    if (auto c = ctx.Commit(r, nullptr, one_time); !c)
      return ctx.Record(StepOutcome::kFailed, c.error().message);
    ctx.report().details.push_back("running " + env.identity.sw_version);
    return ctx.Record(cmp < 0 ? StepOutcome::kOlderImage : StepOutcome::kUnchanged);
  }
  std::filesystem::path installed;
  if (!env.hooks.install_command.empty() && env.keep_files) {
    // S-11.1: the image, its version, and what autoprov verified.
    auto out =
        RunCommand(env.hooks.install_command, {ctx.Staging(), version}, 600,
                   {"AUTOPROV_IMAGE_SHA256=" + r.sha256, "AUTOPROV_IMAGE_URL=" + ctx.report().url});
    if (!out) return ctx.Record(StepOutcome::kFailed, "installer: " + out.error().message);
    if (out->exit_code != 0)
      return ctx.Record(StepOutcome::kFailed, "installer exited with " +
                                                  std::to_string(out->exit_code) + ": " +
                                                  std::string(Trim(out->output)).substr(0, 300));
  } else {
    installed = env.state_dir / "images" / "pending.cmp";
    if (auto i = ctx.InstallFile(r, installed, 0644); !i)
      return ctx.Record(StepOutcome::kFailed, i.error().message);
  }
  auto c = ctx.Commit(
      r,
      [&]() -> Expected<void> {
        // A simulated device keeps no image file: no path is recorded for it.
        KindState k{"", r.sha256, version, env.keep_files ? installed.string() : "", ctx.Now()};
        if (auto e = env.store->PutKindState(env.device, "image", k); !e) return e;
        if (auto e = device.ClearInstallFailure(); !e) return e;
        return device.SetPendingImageVersion(version);
      },
      one_time);
  if (!c) return ctx.Record(StepOutcome::kFailed, c.error().message);
  ctx.restart().at_end = true;
  ctx.restart().causes.push_back("image:" + r.sha256);
  ctx.run_report().restart_reasons.push_back("software image " + version + " installed");
  ctx.Record(StepOutcome::kApplied);
}

}  // namespace

std::unique_ptr<ApplyPolicy> MakeImagePolicy() { return std::make_unique<ImagePolicy>(); }

}  // namespace autoprov
