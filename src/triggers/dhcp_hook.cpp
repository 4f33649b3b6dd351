#include "triggers/dhcp_hook.hpp"

#include <set>

#include "engine/config_writer.hpp"
#include "engine/device_state.hpp"

namespace autoprov {
Expected<DhcpOutcome> ApplyDhcpLease(StateStore& store, long long device, const Schema& schema,
                                     const DhcpLease& lease, const DeviceIdentity& identity) {
  DhcpOutcome out;
  auto w = WriteConfiguration(
      store, device, schema,
      [&](Configuration& c, std::set<std::string>& touched) -> Expected<void> {
        out = DhcpOutcome{};
        bool tftp = c.GetInt("DHCPRequestTFTPParams") == 1;
        out.tftp_options_ignored = !tftp && lease.option160.empty() && !lease.tftp_server.empty();
        for (const auto& [name, value] : ProvisioningFromLease(lease, identity, tftp)) {
          const std::string& now = c.Get(name);
          auto last = DeviceState(store, device).DhcpValue(name);
          if (!last) return Unexpected(last.error());
          bool dhcps = last->has_value() && **last == now;
          if (!now.empty() && !dhcps) {
            out.kept.push_back(name + " was set by another source since DHCP last set it: kept");
            continue;
          }
          if (auto s = c.Set(name, value); !s)
            return Unexpected(s.error().WithContext("DHCP gave an unusable " + name));
          if (auto p = DeviceState(store, device).SetDhcpValue(name, c.Get(name)); !p) return p;
          if (name == "IniFileURL")
            if (auto f = DeviceState(store, device).SetIniFallbacks(IniFallbacks(lease, identity));
                !f)
              return f;
          touched.insert(name);
          out.set.push_back({name, c.Get(name)});
        }
        return {};
      },
      // What a DHCP server hands out comes from the network, as a downloaded file does (S-9.10).
      WriteOptions{.origin = ConfigOrigin::kDownloaded});
  if (!w) return Unexpected(w.error());
  return out;
}

}  // namespace autoprov
