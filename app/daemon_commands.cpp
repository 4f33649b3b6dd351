// autoprov daemon | trigger | dhcp-hook (SPEC S-6).
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common/log.hpp"
#include "config/configuration.hpp"
#include "device/identity.hpp"
#include "engine/config_writer.hpp"
#include "engine/report.hpp"
#include "store/state_dir.hpp"
#include "triggers/daemon.hpp"
#include "triggers/dhcp_hook.hpp"
#include "triggers/dhcp_options.hpp"

namespace autoprov::app {

void RegisterDaemonCommands(CLI::App& app, GlobalOptions& g) {
  auto sip = std::make_shared<std::string>();
  auto* daemon = app.add_subcommand(
      "daemon", "run as the device's resident agent: triggers, SIP NOTIFY, control socket");
  daemon->add_option(
      "--sip-listen", *sip,
      "listen for SIP NOTIFY check-sync on IPv4:PORT (needs EnableSIPRemoteReset = 1)");
  daemon->fallthrough();
  OnRun(daemon, g, [&g, sip]() -> Expected<void> {
    // The resident daemon is its own small executable (no libcurl, no OpenSSL): this process
    // becomes it.
    std::string path = std::getenv("AUTOPROV_DAEMON") ? std::getenv("AUTOPROV_DAEMON") : "";
    if (path.empty()) {
      std::error_code ec;
      auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
      path = (self.parent_path() / "autoprov-daemon").string();
    }
    std::vector<std::string> args = {path, "--state-dir", g.state_dir};
    for (const auto& f : g.schema_files) args.insert(args.end(), {"--schema", f});
    for (auto& a : IdentityArguments({g.product, g.mac, g.serial, g.sw_version}))
      args.push_back(std::move(a));
    if (!sip->empty()) args.insert(args.end(), {"--sip-listen", *sip});
    if (g.verbose) args.push_back("--verbose");
    if (!g.log_level.empty()) args.insert(args.end(), {"--log-level", g.log_level});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    return Fail(ErrorCode::kIo, "cannot execute the daemon " + path + ": " + std::strerror(errno));
  });

  auto json = std::make_shared<bool>(false);
  auto* trigger =
      app.add_subcommand("trigger", "ask the running daemon for a run now and print its report");
  trigger->add_flag("--json", *json, "print the report as one JSON object");
  trigger->fallthrough();
  OnRun(trigger, g, [&g, json] { return RunViaDaemonOrReport(g, *json); });

  struct DhcpOpts {
    std::string tftp_server, boot_file, option160;
  };
  auto d = std::make_shared<DhcpOpts>();
  auto* dhcp = app.add_subcommand("dhcp-hook",
                                  "set the ini URL from DHCP options 66/67 or 160 (from a dhclient "
                                  "or udhcpc hook, or options)");
  dhcp->add_option("--tftp-server", d->tftp_server,
                   "option 66 (default: $new_tftp_server_name or $tftp)");
  dhcp->add_option("--boot-file", d->boot_file,
                   "option 67 (default: $new_bootfile_name or $boot_file)");
  dhcp->add_option("--option160", d->option160,
                   "option 160 URL (default: $new_provisioning_url or $opt160)");
  dhcp->fallthrough();
  OnRun(dhcp, g, [&g, d]() -> Expected<void> {
    auto env = [](std::initializer_list<const char*> names) {
      for (const char* n : names)
        if (const char* v = std::getenv(n); v && *v) return std::string(v);
      return std::string();
    };
    if (d->tftp_server.empty()) d->tftp_server = env({"new_tftp_server_name", "tftp"});
    if (d->boot_file.empty()) d->boot_file = env({"new_bootfile_name", "boot_file", "bootfile"});
    if (d->option160.empty()) d->option160 = env({"new_provisioning_url", "opt160"});
    auto state = OpenState(g);
    if (!state) return Unexpected(state.error());
    auto id = LoadIdentity(g);
    if (!id) return Unexpected(id.error());
    auto applied = ApplyDhcpLease((*state)->store(), kLocalDevice, (*state)->schema(),
                                  DhcpLease{d->tftp_server, d->boot_file, d->option160}, *id);
    if (!applied) {
      // What a DHCP server sent is not the user's to fix: a lease it refuses is rejected (1).
      Error e = applied.error();
      if (e.code == ErrorCode::kValidation || e.code == ErrorCode::kInvalidArgument)
        e.code = ErrorCode::kRejected;
      return Unexpected(e);
    }
    if (applied->tftp_options_ignored)
      std::cout << "options 66/67 ignored: DHCPRequestTFTPParams = 0 (S-10.6)\n";
    for (const auto& why : applied->kept) std::cout << why << "\n";
    if (applied->set.empty()) {
      std::cout << "no provisioning option to use in this lease; nothing changed\n";
      return {};
    }
    for (const auto& [name, value] : applied->set) std::cout << name << " = '" << value << "'\n";
    // Zero touch at boot: a running daemon is asked for a run, without waiting for it (a DHCP
    // client waits for its hook).
    if (NudgeDaemon((*state)->path(), "dhcp")) std::cout << "the daemon was asked for a run\n";
    return {};
  });
}

Expected<void> RunViaDaemonOrReport(GlobalOptions& g, bool json) {
  auto report = AskDaemonForRun(g.state_dir);
  if (!report) return Unexpected(report.error());
  if (json)
    std::cout << ToJson(*report).dump(2) << "\n";
  else
    std::cout << "(run by the daemon)\n" << FormatReport(*report);
  g.exit_code = report->Completed() ? kExitOk : kExitFailed;
  return {};
}

}  // namespace autoprov::app
