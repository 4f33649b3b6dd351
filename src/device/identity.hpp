// Who the device is: product name, MAC address, serial number, running software version. They feed
// the placeholders <NAME> <MAC> <VER>, the License Key check and the image version check.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace autoprov {

struct DeviceIdentity {
  std::string product = "autoprov";
  std::string mac;  // 12 upper-case hex digits
  std::string serial;
  std::string sw_version;
};

// Reads `Key = Value` lines (';' and '#' comments, optional quotes). Used for identity.ini and
// hooks.ini.
Expected<std::map<std::string, std::string>> ReadKeyValueFile(const std::filesystem::path& path);

// 00:90:8f:1d:d0:d3, 00-90-8F-1D-D0-D3 or 00908f1dd0d3 -> 00908F1DD0D3; an error for anything else.
Expected<std::string> NormalizeMac(std::string_view mac);

// The MAC of the first non-loopback interface with a non-zero address, if any.
std::string DetectMac();

// The packaged defaults: the state directory, and where the package keeps identity.ini and
// hooks.ini for it.
inline constexpr const char* kDefaultStateDir = "/var/lib/autoprov";
inline constexpr const char* kPackageConfigDir = "/etc/autoprov";
// <state_dir>/<name>; for the default state directory only, /etc/autoprov/<name> when the state
// directory has none (the packaged device's files). Empty when neither exists.
std::filesystem::path LocateDeviceFile(const std::filesystem::path& state_dir,
                                       const std::string& name);

struct IdentityOverrides {
  std::string product, mac, serial, sw_version;
};

// identity.ini in the state directory (optional), then the overrides, then MAC detection.
Expected<DeviceIdentity> LoadIdentity(const std::filesystem::path& state_dir,
                                      const IdentityOverrides& overrides);

// The overrides as the command-line options that give them ("--mac", "00908F..."), for a process
// that starts another with the same identity (the daemon its runs, `autoprov daemon` the daemon).
std::vector<std::string> IdentityArguments(const IdentityOverrides& overrides);

}  // namespace autoprov
