// autoprov update | status | restart (SPEC S-8).

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common/log.hpp"
#include "common/systemd.hpp"
#include "device/hooks.hpp"
#include "engine/device_state.hpp"
#include "engine/restart.hpp"
#include "engine/run.hpp"
#include "engine/status.hpp"
#include "transfer/fetcher.hpp"
#include "triggers/daemon.hpp"

namespace autoprov::app {
void SetUpLogging(const GlobalOptions& g) {
  // --log-level, else hooks.ini's LogLevel, else -v (info), else warnings and errors.
  SetLogLevel(
      ChooseLogLevel(g.log_level, g.state_dir, g.verbose ? LogLevel::kInfo : LogLevel::kWarning));
  LogSink sink = SystemLogSink();
  if (std::getenv("NOTIFY_SOCKET")) {
    // A run of the daemon under systemd (NotifyAccess=all): STATUS says which step it is at.
    sink = [sink](LogLevel l, std::string_view m, const LogContext& c) {
      sink(l, m, c);
      if (c.event == "step")
        SdNotify("STATUS=running step " + std::string(c.step) + " (" + std::string(c.kind) +
                 "): " + std::string(c.outcome));
    };
  }
  SetLogSink(std::move(sink));
}

void RegisterUpdateCommands(CLI::App& app, GlobalOptions& g) {
  struct UpdateOpts {
    bool json = false, dry_run = false;
  };
  auto uo = std::make_shared<UpdateOpts>();
  auto* update = app.add_subcommand("update", "run the Automatic Update sequence once, now");
  update->add_flag("--json", uo->json, "print the report as one JSON object");
  update->add_flag("--dry-run", uo->dry_run, "print what would be fetched, fetch nothing");
  update->fallthrough();
  OnRun(update, g, [&g, uo]() -> Expected<void> {
    SetUpLogging(g);
    auto opened = OpenState(g);
    if (!opened) return Unexpected(opened.error());
    StateDirectory* state = opened->get();
    if (uo->dry_run) {
      auto identity = LoadIdentity(g);
      if (!identity) return Unexpected(identity.error());
      auto config = state->LoadConfiguration();
      if (!config) return Unexpected(config.error());
      DeviceIdentity id = *identity;
      id.sw_version = DeviceState(state->store(), kLocalDevice).RunningVersion(id.sw_version);
      auto plan = DescribePlan(state->store(), kLocalDevice, *config, id);
      if (uo->json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& l : plan)
          j.push_back({{"kind", l.kind},
                       {"url", l.url},
                       {"mode", l.mode},
                       {"from_template", l.from_template},
                       {"if_modified_since", l.if_modified_since},
                       {"note", l.note}});
        std::cout << nlohmann::json{{"plan", j}}.dump(2) << "\n";
        return {};
      }
      if (plan.empty()) std::cout << "nothing to fetch: no URL parameter is set\n";
      int n = 0;
      for (const auto& l : plan) {
        std::cout << ++n << ". " << l.kind << " (" << l.mode
                  << (l.from_template ? ", template" : "") << ") " << l.url << "\n";
        if (!l.if_modified_since.empty())
          std::cout << "   If-Modified-Since: " << l.if_modified_since << "\n";
        if (!l.note.empty()) std::cout << "   " << l.note << "\n";
      }
      return {};
    }
    auto run = RunNow(g, *state, "manual", uo->json ? nullptr : ProgressBar(), /*ask_daemon=*/true);
    if (!run) return Unexpected(run.error());
    if (uo->json)
      std::cout << RedactText(ToJson(run->report).dump(2)) << "\n";
    else
      std::cout << (run->by_daemon ? "(run by the daemon)\n" : "") << FormatReport(run->report);
    g.exit_code = run->report.Completed() ? kExitOk : kExitFailed;
    return {};
  });

  auto json = std::make_shared<bool>(false);
  auto* status =
      app.add_subcommand("status", "show the last run's report and what the device keeps per URL");
  status->add_flag("--json", *json, "print as one JSON object");
  status->fallthrough();
  OnRun(status, g, [&g, json]() -> Expected<void> {
    auto opened = OpenState(g, StateDirectory::Access::kReadOnly);
    if (!opened) return Unexpected(opened.error());
    StateDirectory* state = opened->get();
    auto text = *json ? StatusJson(state->store(), kLocalDevice)
                      : FormatStatus(state->store(), kLocalDevice);
    if (!text) return Unexpected(text.error());
    // S-10.7: a running daemon adds its state, its next run and its next retry.
    std::optional<std::string> daemon;
    if (std::filesystem::exists(ControlSocketPath(state->path())))
      if (auto d = AskDaemon(state->path(), "status", 2)) daemon = *d;
    if (*json) {
      auto j = nlohmann::json::parse(*text);
      auto d = nlohmann::json::parse(daemon.value_or(""), nullptr, false);
      j["daemon"] = d.is_object() ? d : nlohmann::json(nullptr);
      std::cout << j.dump(2) << "\n";
      return {};
    }
    std::cout << FormatDaemonStatus(daemon.value_or("")) << *text;
    return {};
  });

  auto* restart = app.add_subcommand(
      "restart",
      "act as a device restart: activate the pending image, then run the start-up update");
  auto no_run = std::make_shared<bool>(false);
  restart->add_flag("--no-run", *no_run, "only activate; do not run the start-up update");
  restart->fallthrough();
  OnRun(restart, g, [&g, no_run]() -> Expected<void> {
    SetUpLogging(g);
    auto opened = OpenState(g);
    if (!opened) return Unexpected(opened.error());
    StateDirectory* state = opened->get();
    auto hooks = LoadHooks(state->path());
    if (!hooks) return Unexpected(AsUsageError(hooks.error()));
    auto startup = RestartDevice(state->store(), kLocalDevice, state->schema(),
                                 hooks->running_version_command);
    if (!startup) return Unexpected(startup.error());
    auto identity = LoadIdentity(g);
    if (!identity) return Unexpected(identity.error());
    std::cout << "running version: "
              << DeviceState(state->store(), kLocalDevice).RunningVersion(identity->sw_version)
              << "\n";
    if (*no_run || !*startup) return {};
    auto run = RunNow(g, *state, "start-up", ProgressBar(), /*ask_daemon=*/false);
    if (!run) return Unexpected(run.error());
    std::cout << FormatReport(run->report);
    g.exit_code = run->report.Completed() ? kExitOk : kExitFailed;
    return {};
  });

  // The daemon's runs: one run in this process, the report as JSON on standard output (S-6). Not
  // for people: `update` is; hidden from the help.
  struct OnceOpts {
    std::string trigger = "manual";
    bool reboot = false, reboot_if_changed = false;
  };
  auto oo = std::make_shared<OnceOpts>();
  auto* once = app.add_subcommand("run-once", "one run for the daemon; prints its report as JSON");
  once->group("");
  once->add_option("--trigger", oo->trigger, "the trigger's name in the report");
  once->add_flag("--reboot", oo->reboot, "restart at the end (SIP NOTIFY reboot=true)");
  once->add_flag("--reboot-if-changed", oo->reboot_if_changed,
                 "restart at the end if a step applied a file");
  once->fallthrough();
  once->callback([&g, oo] {
    SetUpLogging(g);
    static std::atomic<bool> cancel{false};
    struct sigaction sa {};
    sa.sa_handler = [](int) { cancel = true; };
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    auto state = OpenState(g);
    RunReport report;
    if (state) {
      LocalRunOptions options;
      options.run.trigger = oo->trigger;
      options.run.force_restart = oo->reboot;
      options.run.restart_if_changed = oo->reboot_if_changed;
      options.cancel = &cancel;
      options.simulate_restart = true;
      Fetcher fetcher;
      auto r = RunLocalDevice(**state, IdentityOverrides{g.product, g.mac, g.serial, g.sw_version},
                              options, [&](const FetchRequest& req) { return fetcher.Fetch(req); });
      if (r) {
        report = std::move(*r);
        g.exit_code = report.Completed() ? kExitOk : kExitFailed;
      } else {
        LogError("run failed to start: " + r.error().message);
        report = StartFailureReport(oo->trigger, r.error().message);
        g.exit_code = ExitStatusFor(r.error().code);
      }
    } else {
      // The daemon reads the report: the error goes in it, and to the log.
      LogError(state.error().message);
      report = StartFailureReport(oo->trigger, state.error().message);
      g.exit_code = ExitStatusFor(state.error().code);
    }
    std::cout << ToJson(report).dump() << "\n";
  });
}

}  // namespace autoprov::app