#include "fleet/power_cut.hpp"

#include <string_view>

#include "fleet/identity.hpp"
#include "fleet/simulated_device.hpp"

namespace autoprov {

size_t ConfigurationDigest(StateStore& store, const Schema& schema, long long device) {
  auto c = store.LoadConfiguration(device, schema);
  if (!c) return 0;
  size_t h = 0;
  auto mix = [&](std::string_view v) { h = h * 1000003u ^ std::hash<std::string_view>{}(v); };
  for (const auto& [name, value] : c->scalars()) {
    mix(name);
    mix(value);
  }
  for (const auto& [table, rows] : c->tables()) {
    mix(table);
    for (const auto& [key, values] : rows) {
      for (const auto& k : key) mix(k);
      for (const auto& [column, value] : values) {
        mix(column);
        mix(value);
      }
    }
  }
  return h;
}

long long CutDraw(const SimulatedDevice& d) {
  constexpr long long kDrawsPerRun = 8;
  return d.runs_done * kDrawsPerRun + d.cuts;
}

std::optional<PowerCut> DrawPowerCut(const FleetOptions& o, const SimulatedDevice& d,
                                     bool verifying) {
  const long long n = CutDraw(d);
  if (o.power_loss <= 0 || verifying || d.cuts >= kMaxCutsInARow ||
      DeviceDraw(o.seed, DrawFor::kPowerCut, d.id, n) >= o.power_loss)
    return std::nullopt;
  PowerCut cut;
  cut.at = 1 + static_cast<int>(DeviceDraw(o.seed, DrawFor::kCutRequest, d.id, n) *
                                (d.last_requests + 1));
  cut.in_commit = DeviceDraw(o.seed, DrawFor::kCutInCommit, d.id, n) < 0.5;
  return cut;
}

}  // namespace autoprov
