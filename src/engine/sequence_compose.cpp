// The download sequence's composition (S-7.7, engine/sequence.hpp): after a replace-mode ini file,
// the CLI script that was not downloaded again is applied again from its kept content.
#include "config/config_file.hpp"
#include "engine/config_writer.hpp"
#include "engine/device_state.hpp"
#include "engine/sequence.hpp"

namespace autoprov {

// S-7.7: after a replace-mode ini file applied, the CLI script that followed it and was not
// downloaded again (304, unchanged, rejected, failed) is applied again from its last applied
// content, in one transaction with the clearing of the mark the ini file's step left: parameters
// and table rows only, no restart or reload, and no one-time URL re-armed (S-1.1).
void DownloadSequence::ComposeAfterReplace() {
  std::string kind(InfoOf(FileKind::kCliScript).name);
  DeviceState device(*env_.store, env_.device);
  auto pending = device.ComposePending(kind);
  if (!pending || !*pending || report_.steps.empty()) return;
  StepReport& step = report_.steps.back();
  auto incomplete = [&](const std::string& why) {
    step.details.push_back("the configuration is incomplete (S-7.7): " + why);
    if (step.outcome != StepOutcome::kFailed && step.outcome != StepOutcome::kRejected) {
      step.outcome = StepOutcome::kFailed;
      step.error = "configuration incomplete: " + why;
    }
  };
  auto content = KeptContent(FileKind::kCliScript);
  if (!content) {
    incomplete(
        "the ini file's replace returned the CLI script's settings to their defaults and its "
        "last applied content is not kept; the next run fetches it in full");
    return;
  }
  ConfigFileLoad loaded{config_, {}, {}, false, RestartRequest::kNone, false, false};
  auto apply = [&](Configuration& c, std::set<std::string>&) -> Expected<void> {
    loaded = LoadConfigurationFile(*content, step.url, ConfigFormat::kCli, c,
                                   ConfigLoadMode::kIncremental);
    if (!loaded.errors.empty()) return Fail(ErrorCode::kParse, loaded.errors.front().ToString());
    for (const auto& info : DownloadOrder())
      if (info.mode == DownloadMode::kOneTime)
        if (const ParamSpec* spec = env_.schema->FindParam(std::string(info.url_param))) {
          if (c.scalars().count(spec->name))
            loaded.config.SetCanonical(*spec, c.Get(spec->name));
          else
            loaded.config.Reset(*spec);
        }
    c = std::move(loaded.config);
    return {};
  };
  std::optional<ConfigWrite> write;
  auto done = env_.store->Transaction([&]() -> Expected<void> {
    auto w = WriteConfiguration(*env_.store, env_.device, *env_.schema, apply,
                                WriteOptions{.origin = ConfigOrigin::kDownloaded});
    if (!w) return Unexpected(w.error());
    write = std::move(*w);
    return device.SetComposePending(kind, false);
  });
  if (!done) return incomplete("applying the CLI script again failed: " + done.error().message);
  config_ = std::move(*write->after);
  step.details.push_back(
      "applied again from its last applied content to compose the "
      "configuration after the ini file's replace (S-7.7)");
  report_.reapplied.push_back(kind);
}

// S-7.7: the last applied content of a configuration file, when it is kept.
std::optional<std::string> DownloadSequence::KeptContent(FileKind kind) {
  auto k = env_.store->GetKindState(env_.device, std::string(InfoOf(kind).name));
  if (!k || !k->has_value() || (*k)->sha256.empty()) return std::nullopt;
  auto body = env_.store->GetContent((*k)->sha256);
  if (!body || !body->has_value()) return std::nullopt;
  return **body;
}

}  // namespace autoprov
