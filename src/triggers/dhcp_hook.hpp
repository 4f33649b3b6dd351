// What `autoprov dhcp-hook` does with a lease (SPEC S-10.6): the URL parameters it gives are set
// only where DHCP may set them, in one transaction of the configuration writer.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/schema.hpp"
#include "store/state_store.hpp"
#include "triggers/dhcp_options.hpp"

namespace autoprov {

struct DhcpOutcome {
  std::vector<std::pair<std::string, std::string>> set;  // parameter, value
  std::vector<std::string> kept;                         // why a parameter was left as it is
  bool tftp_options_ignored = false;                     // 66/67 offered, DHCPRequestTFTPParams = 0
};

// A parameter is set from DHCP only if it is empty or still holds the value DHCP last gave it: a
// renew, or a rogue DHCP server, never undoes a URL the provisioning server or an operator set
// since. What DHCP last gave each parameter is kept in the state database with the change. Options
// 66/67 are used only with DHCPRequestTFTPParams = 1 (on PXE networks option 67 is a boot loader).
Expected<DhcpOutcome> ApplyDhcpLease(StateStore& store, long long device, const Schema& schema,
                                     const DhcpLease& lease, const DeviceIdentity& identity);

}  // namespace autoprov
