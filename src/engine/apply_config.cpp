// Configuration files: the ini file, the CLI script and the CLI startup script (S-1, S-4, S-7,
// S-9.2).
#include <set>

#include "common/text.hpp"
#include "config/config_file.hpp"
#include "engine/apply.hpp"
#include "engine/config_writer.hpp"
#include "engine/device_state.hpp"
#include "engine/file_checks.hpp"
#include "engine/sequence.hpp"

namespace autoprov {
namespace {

class ConfigFilePolicy final : public ApplyPolicy {
 public:
  void Apply(StepContext& ctx, const FetchResult& r) override;
};

// S-7.7, inside the step's transaction: the CLI script's content is kept (once per distinct
// content) so that it can be applied again after a later replace; applied now, it composes the
// configuration. A replace-mode ini file marks the CLI script that follows it as to be applied
// again, in the same transaction, so that a kill before it leaves the mark for the next run.
Expected<void> KeepForComposition(StepContext& ctx, FileKind kind, const FetchResult& r,
                                  const std::string& before_sha, bool replaced,
                                  const Configuration& after) {
  const RunEnvironment& env = ctx.env();
  DeviceState device(*env.store, env.device);
  std::string cli(InfoOf(FileKind::kCliScript).name);
  if (kind == FileKind::kCliScript) {
    // The device's record now refers to this content: one more reference, one less for the last.
    bool changed = before_sha != r.sha256;
    if (auto e = env.store->PutContent(r.sha256, r.body, changed); !e) return e;
    if (changed && !before_sha.empty())
      if (auto e = env.store->ReleaseContent(before_sha); !e) return e;
    return device.SetComposePending(cli, false);
  }
  if (kind == FileKind::kIni && replaced && PlanStep(FileKind::kCliScript, after, env.identity))
    return device.SetComposePending(cli, true);
  return {};
}

// S-7.7: what a replace returned to its default, for the report (secrets never shown).
void ReportReplaced(const Configuration& before, const Configuration& after, StepReport& step) {
  constexpr size_t kMaxLines = 100;
  size_t lines = 0, more = 0;
  auto add = [&](std::string line) {
    if (lines++ < kMaxLines)
      step.details.push_back("returned to its default by the replace (S-7.7): " + line);
    else
      ++more;
  };
  const Schema& schema = before.schema();
  for (const auto& [name, value] : before.scalars()) {
    if (after.scalars().count(name)) continue;
    const ParamSpec* spec = schema.FindParam(name);
    if (!spec || value == spec->value.default_value) continue;
    bool secret = spec->value.secret;
    add(name + ": " + (secret ? "(secret)" : "'" + value + "'") + " -> " +
        (secret ? "(secret)" : "'" + spec->value.default_value + "'"));
  }
  for (const auto& [name, rows] : before.tables())
    if (!rows.empty() && !after.tables().count(name))
      add("table " + name + ": " + std::to_string(rows.size()) + " row(s) removed");
  if (more) step.details.push_back(std::to_string(more) + " more returned to their defaults");
}

void ConfigFilePolicy::Apply(StepContext& ctx, const FetchResult& r) {
  const RunEnvironment& env = ctx.env();
  FileKind kind = ctx.step().kind;
  std::string kind_name(InfoOf(kind).name);
  std::string crc = ConfigCrc(r.body, ctx.config().GetInt("AUPDCheckIfIniChanged"));
  auto last = env.store->GetKindState(env.device, kind_name);
  std::string before_sha;  // of the content this kind had applied (S-7.7: kept while in use)
  if (last && last->has_value()) before_sha = (*last)->sha256;
  if (!crc.empty()) {
    if (last && last->has_value() && (*last)->crc == crc) {
      // S-4: same content as the last applied file: discarded, no restart.
      if (auto c = ctx.Commit(r, nullptr, false); !c)
        return ctx.Record(StepOutcome::kFailed, c.error().message);
      return ctx.Record(StepOutcome::kUnchangedCrc);
    }
  }
  std::string origin = ctx.report().url;
  ConfigFileLoad loaded{ctx.config(), {}, {}, false, RestartRequest::kNone, false, false};
  ConfigWrite write;
  ConfigFormat format = kind == FileKind::kIni ? ConfigFormat::kIni : ConfigFormat::kCli;
  ConfigLoadMode mode = LoadModeFor(format, {.startup = kind == FileKind::kStartupScript});
  // S-9.1: the file is applied to the configuration as stored now, in the step's one transaction.
  auto apply = [&](Configuration& c, std::set<std::string>&) -> Expected<void> {
    loaded = LoadConfigurationFile(r.body, origin, format, c, mode);
    if (loaded.errors.empty())
      // S-7.8: the checks every writer's change gets, as a downloaded file (no file: URL, S-9.10).
      for (auto& problem : CheckConfiguration(c, loaded.config, ConfigOrigin::kDownloaded))
        loaded.errors.push_back({origin, 0, std::move(problem)});
    if (!loaded.errors.empty()) return Fail(ErrorCode::kParse, "rejected");
    c = std::move(loaded.config);
    return {};
  };
  auto committed = ctx.Commit(
      r,
      [&]() -> Expected<void> {
        auto w = WriteConfiguration(*env.store, env.device, *env.schema, apply,
                                    WriteOptions{.origin = ConfigOrigin::kDownloaded});
        if (!w) return Unexpected(w.error());
        write = std::move(*w);
        // Kept in the mode the next run compares with: the file itself may have changed it.
        std::string stored_crc = ConfigCrc(r.body, write.after->GetInt("AUPDCheckIfIniChanged"));
        if (auto e = env.store->PutKindState(env.device, kind_name,
                                             KindState{stored_crc, r.sha256, "", "", ctx.Now()});
            !e)
          return e;
        return KeepForComposition(ctx, kind, r, before_sha, loaded.replaced, *write.after);
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
  if (loaded.replaced) ReportReplaced(*write.before, *write.after, step);
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
