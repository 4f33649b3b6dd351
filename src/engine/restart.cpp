#include "engine/restart.hpp"

#include "common/log.hpp"
#include "common/text.hpp"
#include "device/hooks.hpp"
#include "engine/device_state.hpp"
#include "engine/schedule.hpp"

namespace autoprov {

Expected<bool> CountRestart(StateStore& store, long long device, long long now) {
  DeviceState state(store, device);
  auto all = state.RestartTimes();
  if (!all) return Unexpected(all.error());
  std::vector<long long> times;
  for (long long t : *all)
    if (t > now - 3600 && t <= now) times.push_back(t);
  if (times.size() >= static_cast<size_t>(kMaxRestartsPerHour)) return false;
  times.push_back(now);
  if (auto r = state.SetRestartTimes(times); !r) return Unexpected(r.error());
  return true;
}

bool StartupRunFollows(const Configuration& config) {
  return config.Get("AutoUpdateOnStartup") != "0";
}

Expected<bool> RestartDevice(StateStore& store, long long device, const Schema& schema,
                             const std::string& running_version_command) {
  std::optional<std::string> actual;
  if (!running_version_command.empty()) {
    auto out = RunCommand(running_version_command, {}, 60);
    std::string printed =
        out ? std::string(Trim(out->output.substr(0, out->output.find('\n')))) : "";
    if (out && out->exit_code == 0 && !printed.empty())
      actual = printed;
    else
      LogWarning("RunningVersionCommand " +
                 (!out                  ? out.error().message
                  : out->exit_code != 0 ? "exited with " + std::to_string(out->exit_code)
                                        : std::string("printed no version")) +
                 ": the pending image, if any, is taken as running");
  }
  DeviceState state(store, device);
  auto pending = state.PendingImageVersion();
  if (!pending) return Unexpected(pending.error());
  if (auto a = state.ActivatePendingImage(actual); !a) return Unexpected(a.error());
  if (pending->has_value() && actual && **pending != *actual)
    Log(LogLevel::kError,
        "the image " + **pending + " was installed but the device runs " + *actual +
            ": the install failed (S-11.2); it is not installed again until its file "
            "changes",
        LogContext{"restart", "", "image", "", "install-failed"});
  auto config = store.LoadConfiguration(device, schema);
  if (!config) return Unexpected(config.error());
  return StartupRunFollows(*config);
}

Expected<std::optional<long long>> PowerUp(StateStore& store, long long device,
                                           const Schema& schema, double draw,
                                           const std::string& running_version_command) {
  auto startup = RestartDevice(store, device, schema, running_version_command);
  if (!startup) return Unexpected(startup.error());
  if (!*startup) return std::optional<long long>();
  auto config = store.LoadConfiguration(device, schema);
  if (!config) return Unexpected(config.error());
  return std::optional<long long>(StartupDelay(*config, draw));
}

}  // namespace autoprov
