// Who a simulated device is and what it draws: its MAC, serial and identity from its index, and its
// reproducible random draws (start offsets, retry spread, start-up delay, busy, power cuts), each
// from (seed, device, n) so that a fleet run can be repeated exactly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "device/identity.hpp"

namespace autoprov {

// MAC of device `index` counting up from `base` (12 hex digits).
Expected<std::string> MacForIndex(std::string_view base, long long index);
// The start offset of a device within a round, in seconds: deterministic for (seed, index).
double StartOffset(uint64_t seed, long long index, int round, double spread_s);

// What a device's draws are for: each a salt of the seed, so they are independent.
enum class DrawFor : uint64_t {
  kPeriodicSpread = 0,  // NextTriggerIn's spread
  kStartupDelay = 0x5707,
  kRetrySpread = 0x2e72,
  kBusy = 0xb5b5,       // whether the device is among the busy ones (--busy-fraction)
  kPowerCut = 0xc07,    // whether this run is cut (--power-loss)
  kCutRequest = 0xa7,   // at which request
  kCutInCommit = 0x1c,  // in the result's state transaction, or during its transfer
};
// A device's draw in [0, 1) for `what`, its n-th.
double DeviceDraw(uint64_t seed, DrawFor what, long long device, long long n);

// A simulated device's identity: made when it runs rather than kept, so a million devices'
// identities cost nothing. The serial as the vendor derives a DHCP host name: the last three MAC
// bytes in decimal. The MAC range is checked before a fleet starts.
DeviceIdentity FleetIdentity(std::string_view mac_base, const std::string& product,
                             const std::string& sw_version, long long device);

}  // namespace autoprov
