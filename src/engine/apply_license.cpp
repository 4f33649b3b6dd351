// The License Key (S-1.4): installed only on the device whose serial number it names.
#include <algorithm>

#include "engine/apply.hpp"
#include "engine/file_checks.hpp"
#include "engine/sequence.hpp"

namespace autoprov {
namespace {

class LicensePolicy final : public ApplyPolicy {
 public:
  void Apply(StepContext& ctx, const FetchResult& r) override {
    const RunEnvironment& env = ctx.env();
    auto serials = LicenseSerials(r.body);
    if (serials.empty())
      return ctx.Record(StepOutcome::kRejected, "no 'S/N<serial>' in the License Key file");
    const std::string& serial = env.identity.serial;
    if (serial.empty())
      return ctx.Record(
          StepOutcome::kRejected,
          "the device's serial number is unknown (SerialNumber in identity.ini or --serial)");
    if (std::find(serials.begin(), serials.end(), serial) == serials.end())
      return ctx.Record(StepOutcome::kRejected, "License Key is for S/N " + serials.front() +
                                                    ", this device is S/N " + serial +
                                                    "; not installed");
    auto installed = env.store->GetKindState(env.device, "feature-key");
    if (installed && installed->has_value() && (*installed)->sha256 == r.sha256) {
      if (auto c = ctx.Commit(r, nullptr, ctx.step().mode == DownloadMode::kOneTime); !c)
        return ctx.Record(StepOutcome::kFailed, c.error().message);
      return ctx.Record(StepOutcome::kUnchanged);
    }
    InstallAuxiliaryFile(ctx, r);
  }
};

}  // namespace

std::unique_ptr<ApplyPolicy> MakeLicensePolicy() { return std::make_unique<LicensePolicy>(); }

}  // namespace autoprov
