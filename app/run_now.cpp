// One run now, for every command that starts one (update, restart, the shell's automatic-update
// run): a daemon holding the state directory runs it (S-6.5), otherwise it runs in this process.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "device/hooks.hpp"
#include "transfer/fetcher.hpp"
#include "triggers/daemon.hpp"

namespace autoprov::app {

std::function<bool(uint64_t, uint64_t)> ProgressBar() {
  if (!::isatty(2)) return nullptr;
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [last](uint64_t now, uint64_t total) {
    if (total < (1u << 20)) return true;
    auto t = std::chrono::steady_clock::now();
    if (now < total && t - *last < std::chrono::milliseconds(200)) return true;
    *last = t;
    int width = 40;
    int filled = static_cast<int>(width * now / total);
    std::fprintf(stderr, "\r  [%.*s%*s] %3d%% %llu/%llu MiB", filled,
                 "########################################", width - filled, "",
                 static_cast<int>(100 * now / total), static_cast<unsigned long long>(now >> 20),
                 static_cast<unsigned long long>(total >> 20));
    if (now >= total) std::fprintf(stderr, "\n");
    return true;
  };
}

Expected<RunReport> AskDaemonForRun(const std::filesystem::path& state_dir) {
  auto reply = AskDaemon(state_dir, "run", 24 * 3600);
  if (!reply) return Unexpected(reply.error());
  auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (j.is_discarded() || j.contains("error"))
    return Fail(ErrorCode::kInternal, "unexpected answer from the daemon: " + *reply);
  return RunReportFromJson(j);
}

Expected<RunOutcome> RunNow(const GlobalOptions& g, StateDirectory& state,
                            const std::string& trigger,
                            std::function<bool(uint64_t, uint64_t)> progress, bool ask_daemon) {
  IdentityOverrides overrides{g.product, g.mac, g.serial, g.sw_version};
  if (ask_daemon && std::filesystem::exists(ControlSocketPath(state.path())) &&
      AskDaemon(state.path(), "status", 5)) {
    // Identity and hooks are checked here too: their errors are usage errors, daemon or not.
    if (auto identity = LoadIdentity(g.state_dir, overrides); !identity)
      return Fail(ErrorCode::kInvalidArgument, identity.error().message);
    if (auto hooks = LoadHooks(state.path()); !hooks)
      return Fail(ErrorCode::kInvalidArgument, hooks.error().message);
    auto report = AskDaemonForRun(state.path());
    if (!report) return Unexpected(report.error());
    return RunOutcome{std::move(*report), true};
  }
  LocalRunOptions options;
  options.run.trigger = trigger;
  options.progress = std::move(progress);
  Fetcher fetcher;  // one for the run: consecutive fetches from a host reuse the connection
  auto report = RunLocalDevice(state, overrides, options,
                               [&](const FetchRequest& r) { return fetcher.Fetch(r); });
  if (!report) return Unexpected(report.error());
  return RunOutcome{std::move(*report), false};
}

}  // namespace autoprov::app
