// Configuration files: the ini file, the CLI script and the CLI startup script (S-1, S-4, S-7,
// S-9.2).
#include <set>

#include "common/text.hpp"
#include "config/config_file.hpp"
#include "engine/apply.hpp"
#include "engine/config_writer.hpp"
#include "engine/file_checks.hpp"
#include "engine/sequence.hpp"

namespace autoprov {
namespace {

class ConfigFilePolicy final : public ApplyPolicy {
 public:
  void Apply(StepContext& ctx, const FetchResult& r) override;
};

void ConfigFilePolicy::Apply(StepContext& ctx, const FetchResult& r) {
  const RunEnvironment& env = ctx.env();
  FileKind kind = ctx.step().kind;
  std::string kind_name(InfoOf(kind).name);
  std::string crc = ConfigCrc(r.body, ctx.config().GetInt("AUPDCheckIfIniChanged"));
  if (!crc.empty()) {
    auto last = env.store->GetKindState(env.device, kind_name);
    if (last && last->has_value() && (*last)->crc == crc) {
      // S-4: same content as the last applied file: discarded, no restart.
      if (auto c = ctx.Commit(r, nullptr, false); !c)
        return ctx.Record(StepOutcome::kFailed, c.error().message);
      return ctx.Record(StepOutcome::kUnchangedCrc);
    }
  }
  std::string origin = ctx.report().url;
  ConfigFileLoad loaded{ctx.config(), {}, {}, false, RestartRequest::kNone, false};
  ConfigWrite write;
  ConfigFormat format = kind == FileKind::kIni ? ConfigFormat::kIni : ConfigFormat::kCli;
  ConfigLoadMode mode = kind == FileKind::kStartupScript ? ConfigLoadMode::kStartup
                        : kind == FileKind::kIni         ? ConfigLoadMode::kFromFile
                                                         : ConfigLoadMode::kIncremental;
  // S-9.1: the file is applied to the configuration as stored now, in the step's one transaction.
  auto apply = [&](Configuration& c, std::set<std::string>&) -> Expected<void> {
    loaded = LoadConfigurationFile(r.body, origin, format, c, mode);
    if (loaded.errors.empty()) {
      // S-9.10: a downloaded file may not point the device at a local file; only local commands
      // may.
      for (const auto& p : env.schema->params()) {
        if (p.value.type != ValueType::kUrl || c.Get(p.name) == loaded.config.Get(p.name)) continue;
        if (IStartsWith(loaded.config.Get(p.name), "file:"))
          loaded.errors.push_back({origin, 0,
                                   p.name + ": a downloaded file may not set a file: URL (S-9.10); "
                                            "only local commands may"});
      }
    }
    if (!loaded.errors.empty()) return Fail(ErrorCode::kParse, "rejected");
    c = std::move(loaded.config);
    return {};
  };
  auto committed = ctx.Commit(
      r,
      [&]() -> Expected<void> {
        auto w = WriteConfiguration(*env.store, env.device, *env.schema, apply);
        if (!w) return Unexpected(w.error());
        write = std::move(*w);
        // Kept in the mode the next run compares with: the file itself may have changed it.
        std::string stored_crc = ConfigCrc(r.body, write.after->GetInt("AUPDCheckIfIniChanged"));
        return env.store->PutKindState(env.device, kind_name,
                                       KindState{stored_crc, r.sha256, "", "", ctx.Now()});
      },
      false);
  StepReport& step = ctx.report();
  for (const auto& w : loaded.warnings) step.details.push_back("warning: " + w.ToString());
  const auto& errors = loaded.errors;
  if (!errors.empty()) {
    // S-7.5: not applied at all; the sequence keeps the rejected file apart (S-7.8).
    for (const auto& e : errors) step.details.push_back("error: " + e.ToString());
    return ctx.Record(
        StepOutcome::kRejected,
        errors.size() == 1 && errors[0].line == 0
            ? errors[0].message
            : std::to_string(errors.size()) + " error(s); the configuration is unchanged");
  }
  if (!committed) return ctx.Record(StepOutcome::kFailed, committed.error().message);
  ctx.config() = std::move(*write.after);
  RestartRequest reload = loaded.restart;
  if (loaded.empty && reload == RestartRequest::kNone && !loaded.reset_now) {
    // S-9.2: an incremental file with no setting applies nothing; not a failure.
    return ctx.Record(StepOutcome::kEmpty, "the file holds no setting; nothing applied");
  }
  RestartDecision& restart = ctx.restart();
  RunReport& run = ctx.run_report();
  auto changes = ctx.config().RestartChangesFrom(*write.before);
  restart.param_changes.insert(restart.param_changes.end(), changes.begin(), changes.end());
  if (loaded.reset_now || reload != RestartRequest::kNone || kind == FileKind::kStartupScript ||
      !changes.empty())
    restart.causes.push_back(kind_name + ":" + r.sha256);
  if (loaded.reset_now) {
    restart.stop = true;
    run.restart = RestartWhen::kImmediate;
    run.restart_reasons.push_back("ResetNow = 1 in the ini file");
  }
  if (reload == RestartRequest::kNow) {
    restart.stop = true;
    run.restart = RestartWhen::kImmediate;
    run.restart_reasons.push_back("'reload now' in the CLI script");
  } else if (reload == RestartRequest::kIfNeeded) {
    restart.reload_if_needed = true;
  }
  if (kind == FileKind::kStartupScript) {
    restart.at_end = true;
    run.restart_reasons.push_back("CLI startup script applied");
  }
  ctx.Record(StepOutcome::kApplied);
}

}  // namespace

std::unique_ptr<ApplyPolicy> MakeConfigFilePolicy() { return std::make_unique<ConfigFilePolicy>(); }

}  // namespace autoprov
