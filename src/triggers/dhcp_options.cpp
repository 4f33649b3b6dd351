#include "triggers/dhcp_options.hpp"

namespace autoprov {

std::string DecodeOption160(const std::string& value) {
  if (value.empty() || value.find("://") != std::string::npos || value.size() % 2 != 0 ||
      value.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    return value;
  std::string text;
  for (size_t i = 0; i < value.size(); i += 2)
    text.push_back(static_cast<char>(std::stoi(value.substr(i, 2), nullptr, 16)));
  return text;
}

std::vector<std::pair<std::string, std::string>> ProvisioningFromLease(const DhcpLease& lease,
                                                                       const DeviceIdentity& id,
                                                                       bool tftp_options) {
  std::vector<std::pair<std::string, std::string>> sets;
  if (!lease.option160.empty()) {
    std::string v = DecodeOption160(lease.option160);
    std::string config_file;
    auto semi = v.find(';');
    if (semi != std::string::npos) {
      config_file = v.substr(semi + 1);
      v = v.substr(0, semi);
    }
    auto scheme_end = v.find("://");
    auto slash = scheme_end == std::string::npos ? std::string::npos : v.find('/', scheme_end + 3);
    std::string server = slash == std::string::npos ? v : v.substr(0, slash);
    std::string software = slash == std::string::npos ? "" : v.substr(slash + 1);
    // Without a configuration file name the vendor asks for <Product><MAC>.ini.
    sets.push_back({"IniFileURL",
                    server + "/" + (config_file.empty() ? id.product + "<MAC>.ini" : config_file)});
    if (!software.empty()) sets.push_back({"AutoCmpFileUrl", server + "/" + software});
  } else if (tftp_options && !lease.tftp_server.empty() && !lease.boot_file.empty()) {
    std::string file = lease.boot_file[0] == '/' ? lease.boot_file.substr(1) : lease.boot_file;
    sets.push_back({"IniFileURL", "tftp://" + lease.tftp_server + "/" + file});
  }
  return sets;
}

std::vector<std::string> IniFallbacks(const DhcpLease& lease, const DeviceIdentity& id) {
  if (lease.option160.empty()) return {};
  std::string v = DecodeOption160(lease.option160);
  bool named = v.find(';') != std::string::npos && v.find(';') + 1 < v.size();
  v = v.substr(0, v.find(';'));
  auto scheme_end = v.find("://");
  auto slash = scheme_end == std::string::npos ? std::string::npos : v.find('/', scheme_end + 3);
  std::string server = slash == std::string::npos ? v : v.substr(0, slash);
  std::vector<std::string> out;
  if (named) out.push_back(server + "/" + id.product + "<MAC>.ini");
  out.push_back(server + "/" + id.product + ".ini");
  return out;
}

}  // namespace autoprov
