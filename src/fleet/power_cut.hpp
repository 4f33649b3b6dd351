// --power-loss (the fleet simulator): where a simulated device's power is cut, drawn from its seed,
// and the digest of its stored configuration that a cut must leave as a complete step left it.
// The driver (fleet/simulated_device.cpp) performs the cut; invariants.cpp checks the state after.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "config/schema.hpp"
#include "fleet/fleet.hpp"
#include "store/state_store.hpp"

namespace autoprov {

struct SimulatedDevice;

// --power-loss: where a run's power cut falls, and the configurations it may leave.
struct PowerCut {
  int at = 0;  // when this many of the run's requests have completed (one more: at the run's end)
  int completions = 0;
  bool in_commit = false;      // in the state transaction of that result (else during its transfer)
  std::vector<size_t> states;  // the stored configuration at each step boundary of the run
};
// A device is cut at most this many runs in a row: then a run completes, as power comes back for
// good.
inline constexpr int kMaxCutsInARow = 3;

// Which of the device's draws a cut and the power-up after it use: the run's number times eight
// (room for kMaxCutsInARow cuts of one run and their power-ups), plus the cuts so far.
long long CutDraw(const SimulatedDevice& d);
// Whether this run of `d` is cut, and where, by the device's draws (nothing: not cut;
// never in the verifying round, never more than kMaxCutsInARow in a row).
std::optional<PowerCut> DrawPowerCut(const FleetOptions& o, const SimulatedDevice& d,
                                     bool verifying);
// A digest of a device's stored configuration (power cuts compare them).
size_t ConfigurationDigest(StateStore& store, const Schema& schema, long long device);

}  // namespace autoprov
