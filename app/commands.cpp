#include "commands.hpp"

#include "device/identity.hpp"

namespace autoprov::app {

void AddGlobalOptions(CLI::App& app, GlobalOptions& g) {
  // Global options are accepted before and after the subcommand (fallthrough).
  app.add_option("--state-dir", g.state_dir, "state directory (default /var/lib/autoprov)")
      ->envname("AUTOPROV_STATE_DIR");
  app.add_option("--schema", g.schema_files,
                 "extra schema file (JSON), besides <state-dir>/schema.d/*.json");
  app.add_option("--product", g.product, "product name (<NAME>), overrides identity.ini");
  app.add_option("--mac", g.mac, "MAC address (<MAC>), overrides identity.ini");
  app.add_option("--serial", g.serial, "serial number (License Key check), overrides identity.ini");
  app.add_option("--sw-version", g.sw_version,
                 "running software version (<VER>), overrides identity.ini");
  app.add_flag("-v,--verbose", g.verbose, "log each step to stderr");
  app.add_option("--log-level", g.log_level,
                 "debug, info, warning or error (default: hooks.ini's LogLevel, else warning; "
                 "info with -v)")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}, CLI::ignore_case));
}

void OnRun(CLI::App* command, GlobalOptions& g, CommandBody body) {
  command->callback([&g, body = std::move(body)] {
    if (auto r = body(); !r) g.error = r.error();
  });
}

Error AsUsageError(Error e) {
  e.code = ErrorCode::kInvalidArgument;
  return e;
}

Expected<std::unique_ptr<StateDirectory>> OpenState(const GlobalOptions& g,
                                                    StateDirectory::Access access) {
  return StateDirectory::Open(g.state_dir, g.schema_files, access);
}

Expected<DeviceIdentity> LoadIdentity(const GlobalOptions& g) {
  auto id = autoprov::LoadIdentity(g.state_dir,
                                   IdentityOverrides{g.product, g.mac, g.serial, g.sw_version});
  if (!id) return Unexpected(AsUsageError(id.error()));
  return *id;
}

void RegisterCommands(CLI::App& app, GlobalOptions& g) {
  RegisterConfigCommands(app, g);
  RegisterUpdateCommands(app, g);
  RegisterFleetCommand(app, g);
  RegisterDaemonCommands(app, g);
  RegisterShellCommand(app, g);
  RegisterSigningCommands(app, g);
}

}  // namespace autoprov::app
