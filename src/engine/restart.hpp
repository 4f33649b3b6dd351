// What a device restart means (SPEC S-2.2), in one place for the daemon, the fleet simulator and
// `autoprov restart` (whether a run restarts the device is engine/after_run.hpp's): the pending
// image becomes the running one, then the start-up run follows unless AutoUpdateOnStartup = 0. And
// how many restarts a device allows itself (S-9.8).
#pragma once

#include <optional>

#include "config/configuration.hpp"
#include "store/state_store.hpp"

namespace autoprov {

// S-9.8: at most this many restarts within an hour, counted in the state database (a reboot does
// not reset the count); beyond it the restart stays pending.
inline constexpr int kMaxRestartsPerHour = 3;
// Records a restart at `now` if the limit allows it; false when it does not.
Expected<bool> CountRestart(StateStore& store, long long device, long long now);

// Whether a freshly started device runs the start-up update (AutoUpdateOnStartup).
bool StartupRunFollows(const Configuration& config);

// The device (re)starts: activates the pending image. With the appliance's RunningVersionCommand
// (S-11.2), the version it says runs is the running version, and a pending image that did not come
// up is recorded as a failed install. Returns whether the start-up run follows, from the
// configuration as stored now.
Expected<bool> RestartDevice(StateStore& store, long long device, const Schema& schema,
                             const std::string& running_version_command = "");

// The device comes up, after a restart or a power cut (S-2.2): RestartDevice, then in how many
// seconds the start-up run follows (AupdStartupRandomDelay, drawn with `draw` in [0, 1), S-10.1);
// nothing when AutoUpdateOnStartup = 0. The daemon and the fleet simulator start devices so.
Expected<std::optional<long long>> PowerUp(StateStore& store, long long device,
                                           const Schema& schema, double draw,
                                           const std::string& running_version_command = "");

}  // namespace autoprov
