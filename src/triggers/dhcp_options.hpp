// Zero touch (SPEC S-6.6): the URL parameters a DHCP lease gives, from option 160 or options 66/67,
// as dhclient and busybox udhcpc hand them to a hook. Pure functions: `autoprov dhcp-hook` stores
// the result through the configuration writer.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "device/identity.hpp"

namespace autoprov {

struct DhcpLease {
  std::string tftp_server;  // option 66
  std::string boot_file;    // option 67
  std::string option160;    // the provisioning URL, as text or (udhcpc) in hex
};

// Option 160 as text: udhcpc passes options it has no name for in hex; anything else is returned as
// is.
std::string DecodeOption160(const std::string& value);

// The parameters to set, in order: from option 160
// (<protocol>://<server>[/<software file>][;<configuration file>]) when present, else, when
// `tftp_options` (DHCPRequestTFTPParams = 1), the TFTP URL of options 66 + 67. Empty: the lease
// holds no provisioning option to use.
std::vector<std::pair<std::string, std::string>> ProvisioningFromLease(
    const DhcpLease& lease, const DeviceIdentity& identity, bool tftp_options);

// S-10.6: the configuration files tried after the one option 160 names when it is not found (the
// vendor's chain: <file>, then <Product><MAC>.ini, then <Product>.ini); empty without option 160.
std::vector<std::string> IniFallbacks(const DhcpLease& lease, const DeviceIdentity& identity);

}  // namespace autoprov
