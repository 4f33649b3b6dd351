#include "fleet/identity.hpp"

#include <cstdio>

namespace autoprov {

Expected<std::string> MacForIndex(std::string_view base, long long index) {
  auto mac = NormalizeMac(base);
  if (!mac) return Unexpected(mac.error());
  unsigned long long v = std::stoull(*mac, nullptr, 16) + static_cast<unsigned long long>(index);
  if (v > 0xFFFFFFFFFFFFull)
    return Fail(ErrorCode::kInvalidArgument, "the MAC range overflows from " + std::string(base));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llX", v);
  return std::string(buf);
}

double StartOffset(uint64_t seed, long long index, int round, double spread_s) {
  if (spread_s <= 0) return 0;
  // SplitMix64 of (seed, index, round): a reproducible draw per device and round, cheap enough to
  // make on every decision (a seeded Mersenne Twister costs 312 words of set-up per draw).
  uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(index) << 20) ^
               static_cast<uint64_t>(round);
  for (int i = 0; i < 2; ++i) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
  }
  return static_cast<double>(z >> 11) * 0x1.0p-53 * spread_s;  // uniform in [0, spread_s)
}

double DeviceDraw(uint64_t seed, DrawFor what, long long device, long long n) {
  return StartOffset(seed ^ static_cast<uint64_t>(what), device, static_cast<int>(n), 1.0);
}

DeviceIdentity FleetIdentity(std::string_view mac_base, const std::string& product,
                             const std::string& sw_version, long long device) {
  std::string mac = *MacForIndex(mac_base, device);
  std::string serial = std::to_string(std::stoul(mac.substr(6), nullptr, 16));
  return DeviceIdentity{product, std::move(mac), std::move(serial), sw_version};
}

}  // namespace autoprov
