// What must hold for every simulated device whatever cut its power (issue: the fleet at internet
// scale, --power-loss), checked from the state database alone (`fleet check`, and at the end of a
// --power-loss run):
//   configuration  every stored parameter is one the schema knows, with a value it accepts (a run's
//                  writes are whole or absent, never half a value);
//   one-time       a one-time URL that was set and is now cleared has its file recorded (the clear
//                  and the file's record are one transaction, S-1.1).
// The fleet checks two more as it runs: after a cut the configuration is one a complete step left
// ("cut"), and the run after the last cut completes ("next run").
#pragma once

#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/schema.hpp"
#include "store/state_store.hpp"

namespace autoprov {

struct InvariantViolation {
  long long device = 0;
  std::string mac;
  std::string invariant;  // configuration, one-time, cut, next run
  std::string detail;
};

// Checks devices [first, last) (`mac_base` names them).
Expected<std::vector<InvariantViolation>> CheckDeviceInvariants(StateStore& store,
                                                                const Schema& schema,
                                                                long long first, long long last,
                                                                const std::string& mac_base);
// The devices a fleet database holds, [first, last).
Expected<std::pair<long long, long long>> FleetDeviceRange(StateStore& store);

}  // namespace autoprov
