// autoprov daemon | trigger | dhcp-hook (SPEC S-6).
#include <signal.h>
#include <syslog.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "engine/config_writer.hpp"
#include "common/log.hpp"
#include "config/configuration.hpp"
#include "device/identity.hpp"
#include "device/state_dir.hpp"
#include "engine/report.hpp"
#include "triggers/daemon.hpp"

namespace autoprov::app {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// DHCP option 160: <protocol>://<server>[/<software file>][;<configuration file>].
struct Option160 {
  std::string ini_url, image_url;
};
Option160 ParseOption160(const std::string& value, const DeviceIdentity& id) {
  Option160 o;
  std::string v = value;
  std::string config_file;
  auto semi = v.find(';');
  if (semi != std::string::npos) {
    config_file = v.substr(semi + 1);
    v = v.substr(0, semi);
  }
  auto scheme_end = v.find("://");
  auto slash = scheme_end == std::string::npos ? std::string::npos : v.find('/', scheme_end + 3);
  std::string server = slash == std::string::npos ? v : v.substr(0, slash);
  std::string software = slash == std::string::npos ? "" : v.substr(slash + 1);
  // Without a configuration file name the vendor asks for <Product><MAC>.ini.
  o.ini_url = server + "/" + (config_file.empty() ? id.product + "<MAC>.ini" : config_file);
  if (!software.empty()) o.image_url = server + "/" + software;
  return o;
}

}  // namespace

void RunViaDaemonOrReport(GlobalOptions& g, bool json);

void RegisterDaemonCommands(CLI::App& app, GlobalOptions& g) {
  auto sip = std::make_shared<std::string>();
  auto* daemon = app.add_subcommand("daemon", "run as the device's resident agent: triggers, SIP NOTIFY, control socket");
  daemon->add_option("--sip-listen", *sip, "listen for SIP NOTIFY check-sync on IPv4:PORT (needs EnableSIPRemoteReset = 1)");
  daemon->fallthrough();
  daemon->callback([&g, sip] {
    // One line per event to stderr and to syslog (journald under systemd).
    openlog("autoprov", LOG_PID, LOG_DAEMON);
    SetLogLevel(LogLevel::kInfo);
    SetLogSink([](LogLevel level, std::string_view m) {
      int prio = level == LogLevel::kError ? LOG_ERR : level == LogLevel::kWarning ? LOG_WARNING : LOG_INFO;
      syslog(prio, "%.*s", static_cast<int>(m.size()), m.data());
      std::fprintf(stderr, "autoprov: %.*s\n", static_cast<int>(m.size()), m.data());
    });
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    DaemonOptions o;
    o.state_dir = g.state_dir;
    o.schema_files = g.schema_files;
    o.identity = IdentityOverrides{g.product, g.mac, g.serial, g.sw_version};
    o.sip_listen = *sip;
    if (auto id = LoadIdentity(g.state_dir, o.identity); !id) {
      std::cerr << "autoprov: " << id.error().message << "\n";
      g.exit_code = kExitUsage;
      return;
    }
    g.exit_code = RunDaemon(o, g_stop);
  });

  auto json = std::make_shared<bool>(false);
  auto* trigger = app.add_subcommand("trigger", "ask the running daemon for a run now and print its report");
  trigger->add_flag("--json", *json, "print the report as one JSON object");
  trigger->fallthrough();
  trigger->callback([&g, json] { RunViaDaemonOrReport(g, *json); });

  struct DhcpOpts {
    std::string tftp_server, boot_file, option160;
  };
  auto d = std::make_shared<DhcpOpts>();
  auto* dhcp = app.add_subcommand(
      "dhcp-hook", "set the ini URL from DHCP options 66/67 or 160 (from a dhclient or udhcpc hook, or options)");
  dhcp->add_option("--tftp-server", d->tftp_server, "option 66 (default: $new_tftp_server_name or $tftp)");
  dhcp->add_option("--boot-file", d->boot_file, "option 67 (default: $new_bootfile_name or $boot_file)");
  dhcp->add_option("--option160", d->option160, "option 160 URL (default: $new_provisioning_url or $opt160)");
  dhcp->fallthrough();
  dhcp->callback([&g, d] {
    auto env = [](std::initializer_list<const char*> names) {
      for (const char* n : names)
        if (const char* v = std::getenv(n); v && *v) return std::string(v);
      return std::string();
    };
    if (d->tftp_server.empty()) d->tftp_server = env({"new_tftp_server_name", "tftp"});
    if (d->boot_file.empty()) d->boot_file = env({"new_bootfile_name", "boot_file", "bootfile"});
    if (d->option160.empty()) d->option160 = env({"new_provisioning_url", "opt160"});
    // busybox udhcpc passes options it has no name for in hex.
    if (!d->option160.empty() && d->option160.find("://") == std::string::npos && d->option160.size() % 2 == 0 &&
        d->option160.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos) {
      std::string text;
      for (size_t i = 0; i < d->option160.size(); i += 2)
        text.push_back(static_cast<char>(std::stoi(d->option160.substr(i, 2), nullptr, 16)));
      d->option160 = text;
    }
    auto state = StateDirectory::Open(g.state_dir, g.schema_files);
    if (!state) {
      std::cerr << "autoprov: " << state.error().message << "\n";
      g.exit_code = kExitFailed;
      return;
    }
    auto id = LoadIdentity(g.state_dir, IdentityOverrides{g.product, g.mac, g.serial, g.sw_version});
    if (!id) {
      std::cerr << "autoprov: " << id.error().message << "\n";
      g.exit_code = kExitUsage;
      return;
    }
    std::vector<std::pair<std::string, std::string>> sets;
    if (!d->option160.empty()) {
      auto o = ParseOption160(d->option160, *id);
      sets.push_back({"IniFileURL", o.ini_url});
      if (!o.image_url.empty()) sets.push_back({"AutoCmpFileUrl", o.image_url});
    } else if (!d->tftp_server.empty() && !d->boot_file.empty()) {
      std::string file = d->boot_file[0] == '/' ? d->boot_file.substr(1) : d->boot_file;
      sets.push_back({"IniFileURL", "tftp://" + d->tftp_server + "/" + file});
    } else {
      std::cout << "no provisioning options in this lease; nothing changed\n";
      return;
    }
    // S-9.1: one transaction on the configuration as stored now.
    bool unusable = false;
    auto r = WriteConfiguration((*state)->store(), kLocalDevice, (*state)->schema(),
                                [&](Configuration& c, std::set<std::string>& touched) -> Expected<void> {
                                  for (const auto& [name, value] : sets) {
                                    if (auto s = c.Set(name, value); !s) {
                                      unusable = true;
                                      return s;
                                    }
                                    touched.insert(name);
                                  }
                                  return {};
                                });
    if (!r) {
      std::cerr << "autoprov: " << (unusable ? "DHCP gave an unusable value: " : "") << r.error().message << "\n";
      g.exit_code = kExitFailed;
      return;
    }
    for (const auto& [name, value] : sets) std::cout << name << " = '" << value << "'\n";
  });
}

void RunViaDaemonOrReport(GlobalOptions& g, bool json) {
  auto report = AskDaemonForRun(g.state_dir);
  if (!report) {
    std::cerr << "autoprov: " << report.error().message << "\n";
    g.exit_code = kExitFailed;
    return;
  }
  if (json)
    std::cout << ToJson(*report).dump(2) << "\n";
  else
    std::cout << "(run by the daemon)\n" << FormatReport(*report);
  g.exit_code = report->Completed() ? kExitOk : kExitFailed;
}

}  // namespace autoprov::app
