#include "engine/restart.hpp"

#include "engine/device_state.hpp"

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

Expected<bool> RestartDevice(StateStore& store, long long device, const Schema& schema) {
  if (auto a = DeviceState(store, device).ActivatePendingImage(); !a) return Unexpected(a.error());
  auto config = store.LoadConfiguration(device, schema);
  if (!config) return Unexpected(config.error());
  return StartupRunFollows(*config);
}

}  // namespace autoprov
