// autoprov-daemon: the resident agent (SPEC S-6). It waits for triggers (start-up, interval, time
// of day, SIP NOTIFY, the control socket) and runs each Automatic Update as a child process of the
// agent binary, so it links neither libcurl nor OpenSSL and holds little memory while it waits.
// `autoprov daemon` executes it.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <iostream>

#include "common/log.hpp"
#include "common/systemd.hpp"
#include "device/hooks.hpp"
#include "device/identity.hpp"
#include "exit_status.hpp"
#include "triggers/daemon.hpp"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  using namespace autoprov;
  DaemonOptions o;
  std::string state_dir = "/var/lib/autoprov";
  CLI::App app{"autoprov-daemon: the resident automatic provisioning agent"};
  app.set_version_flag("--version", AUTOPROV_VERSION);
  app.add_option("--state-dir", state_dir, "state directory (default /var/lib/autoprov)")
      ->envname("AUTOPROV_STATE_DIR");
  app.add_option("--schema", o.schema_files,
                 "extra schema file (JSON), besides <state-dir>/schema.d/*.json");
  app.add_option("--product", o.identity.product, "product name (<NAME>), overrides identity.ini");
  app.add_option("--mac", o.identity.mac, "MAC address (<MAC>), overrides identity.ini");
  app.add_option("--serial", o.identity.serial, "serial number, overrides identity.ini");
  app.add_option("--sw-version", o.identity.sw_version,
                 "running software version, overrides identity.ini");
  app.add_option("--sip-listen", o.sip_listen,
                 "listen for SIP NOTIFY check-sync on IPv4:PORT (needs EnableSIPRemoteReset = 1)");
  app.add_option("--agent", o.agent,
                 "the agent binary each run executes (default: autoprov beside this one)");
  app.add_flag("-v,--verbose", o.verbose, "runs log each step");
  std::string log_level;
  app.add_option("--log-level", log_level,
                 "debug, info, warning or error (default: hooks.ini's LogLevel, else info)")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}, CLI::ignore_case));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? autoprov::app::kExitOk : autoprov::app::kExitUsage;
  }
  o.state_dir = state_dir;
  if (o.agent.empty()) o.agent = DefaultAgentPath();
  // One entry per event: natively to the journal (priorities and fields) when started by systemd,
  // else to stderr with a time and a level. The runs (agent processes) log the same way.
  LogLevel level = ChooseLogLevel(log_level, o.state_dir, LogLevel::kInfo);
  // Each run logs at the daemon's level: every step's outcome reaches the journal.
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  o.log_level = kNames[static_cast<int>(level)];
  SetLogLevel(level);
  SetLogSink(SystemLogSink());
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (auto id = LoadIdentity(o.state_dir, o.identity); !id) {
    std::cerr << "autoprov: " << id.error().message << "\n";
    return autoprov::app::kExitUsage;  // the identity is the user's to fix
  }
  return RunDaemon(o, g_stop);
}
