// autoprov-daemon: the resident agent (SPEC S-6). It waits for triggers (start-up, interval, time
// of day, SIP NOTIFY, the control socket) and runs each Automatic Update as a child process of the
// agent binary, so it links neither libcurl nor OpenSSL and holds little memory while it waits.
// `autoprov daemon` executes it.
#include <signal.h>
#include <syslog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <iostream>

#include "common/log.hpp"
#include "device/identity.hpp"
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  o.state_dir = state_dir;
  if (o.agent.empty()) o.agent = DefaultAgentPath();
  // One line per event to stderr and to syslog (journald under systemd).
  openlog("autoprov", LOG_PID, LOG_DAEMON);
  SetLogLevel(LogLevel::kInfo);
  SetLogSink([](LogLevel level, std::string_view m) {
    int prio = level == LogLevel::kError     ? LOG_ERR
               : level == LogLevel::kWarning ? LOG_WARNING
                                             : LOG_INFO;
    syslog(prio, "%.*s", static_cast<int>(m.size()), m.data());
    std::fprintf(stderr, "autoprov: %.*s\n", static_cast<int>(m.size()), m.data());
  });
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (auto id = LoadIdentity(o.state_dir, o.identity); !id) {
    std::cerr << "autoprov: " << id.error().message << "\n";
    return 2;
  }
  return RunDaemon(o, g_stop);
}
