// Auxiliary files (S-1.4): tone tables, dial plan, voice prompts, user information; through the
// appliance's apply hook when it has one for the kind.
#include "common/atomic_file.hpp"
#include "common/text.hpp"
#include "device/hooks.hpp"
#include "engine/apply.hpp"
#include "engine/sequence.hpp"

namespace autoprov {
namespace {

// The last path segment of a URL, made safe as a file name.
std::string FileNameOf(const std::string& url, const std::string& fallback) {
  std::string path = url;
  auto q = path.find_first_of("?#");
  if (q != std::string::npos) path.resize(q);
  auto slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string out;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')
      out.push_back(c);
  if (out.empty() || out[0] == '.') return fallback;
  return out;
}

class AuxFilePolicy final : public ApplyPolicy {
 public:
  void Apply(StepContext& ctx, const FetchResult& r) override { InstallAuxiliaryFile(ctx, r); }
};

}  // namespace

bool ArrivesInMemory(FileKind kind) {
  return IsConfigFile(kind) || kind == FileKind::kLicenseKey || kind == FileKind::kTlsRoot ||
         kind == FileKind::kTlsCert || kind == FileKind::kTlsKey;
}

void InstallAuxiliaryFile(StepContext& ctx, const FetchResult& r) {
  const RunEnvironment& env = ctx.env();
  FileKind kind = ctx.step().kind;
  std::string kind_name(InfoOf(kind).name);
  std::string keyword(InfoOf(kind).keyword);
  auto dest = env.state_dir / "files" / kind_name /
              FileNameOf(r.final_url.empty() ? ctx.step().url : r.final_url, kind_name);
  if (kind == FileKind::kLicenseKey) dest = env.state_dir / "files" / kind_name / "license.key";
  auto hook = env.hooks.apply_commands.find(keyword);
  if (hook == env.hooks.apply_commands.end()) hook = env.hooks.apply_commands.find(kind_name);
  if (hook != env.hooks.apply_commands.end() && env.keep_files) {
    // The hook sees the new file before it is installed; a failing hook installs nothing.
    std::filesystem::path input = ctx.Staging();
    if (ArrivesInMemory(kind))
      if (auto w = WriteFileAtomically(input, r.body); !w)
        return ctx.Record(StepOutcome::kFailed, w.error().message);
    auto out = RunCommand(hook->second, {input.string()}, 300);
    if (!out) return ctx.Record(StepOutcome::kFailed, "apply hook: " + out.error().message);
    if (out->exit_code != 0)
      return ctx.Record(StepOutcome::kFailed, "apply hook exited with " +
                                                  std::to_string(out->exit_code) + ": " +
                                                  std::string(Trim(out->output)).substr(0, 300));
  }
  if (auto i = ctx.InstallFile(r, dest, 0644); !i)
    return ctx.Record(StepOutcome::kFailed, i.error().message);
  auto c = ctx.Commit(
      r,
      [&] {
        return env.store->PutKindState(env.device, kind_name,
                                       KindState{"", r.sha256, "", dest.string(), ctx.Now()});
      },
      ctx.step().mode == DownloadMode::kOneTime);
  if (!c) return ctx.Record(StepOutcome::kFailed, c.error().message);
  ctx.Record(StepOutcome::kApplied);
}

std::unique_ptr<ApplyPolicy> MakeAuxFilePolicy() { return std::make_unique<AuxFilePolicy>(); }

}  // namespace autoprov
