#include "device/identity.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/text.hpp"

namespace autoprov {

Expected<std::map<std::string, std::string>> ReadKeyValueFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kIo, "cannot read " + path.string());
  std::map<std::string, std::string> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto t = Trim(line);
    if (t.empty() || t[0] == ';' || t[0] == '#' || t[0] == '[') continue;
    auto eq = t.find('=');
    if (eq == std::string_view::npos)
      return Fail(ErrorCode::kParse,
                  path.string() + ":" + std::to_string(n) + ": expected 'Key = Value'");
    std::string key(Trim(t.substr(0, eq)));
    std::string value(Trim(t.substr(eq + 1)));
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    out[key] = value;
  }
  return out;
}

Expected<std::string> NormalizeMac(std::string_view mac) {
  std::string hex;
  for (char c : mac) {
    if (c == ':' || c == '-' || c == '.') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return Fail(ErrorCode::kInvalidArgument, "'" + std::string(mac) + "' is not a MAC address");
    hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (hex.size() != 12)
    return Fail(ErrorCode::kInvalidArgument, "'" + std::string(mac) + "' is not a MAC address");
  return hex;
}

std::string DetectMac() {
  std::error_code ec;
  std::vector<std::filesystem::path> ifaces;
  for (const auto& e : std::filesystem::directory_iterator("/sys/class/net", ec))
    ifaces.push_back(e.path());
  std::sort(ifaces.begin(), ifaces.end());
  for (const auto& p : ifaces) {
    if (p.filename() == "lo") continue;
    std::ifstream in(p / "address");
    std::string addr;
    if (!(in >> addr)) continue;
    auto mac = NormalizeMac(addr);
    if (mac && *mac != "000000000000") return *mac;
  }
  return "000000000000";
}

std::filesystem::path LocateDeviceFile(const std::filesystem::path& state_dir,
                                       const std::string& name) {
  std::error_code ec;
  if (std::filesystem::exists(state_dir / name, ec)) return state_dir / name;
  if (state_dir.lexically_normal() == std::filesystem::path(kDefaultStateDir)) {
    auto packaged = std::filesystem::path(kPackageConfigDir) / name;
    if (std::filesystem::exists(packaged, ec)) return packaged;
  }
  return {};
}

Expected<DeviceIdentity> LoadIdentity(const std::filesystem::path& state_dir,
                                      const IdentityOverrides& o) {
  DeviceIdentity id;
  auto file = LocateDeviceFile(state_dir, "identity.ini");
  if (!file.empty()) {
    auto kv = ReadKeyValueFile(file);
    if (!kv) return Unexpected(kv.error());
    for (const auto& [k, v] : *kv) {
      if (IEquals(k, "ProductName"))
        id.product = v;
      else if (IEquals(k, "MacAddress"))
        id.mac = v;
      else if (IEquals(k, "SerialNumber"))
        id.serial = v;
      else if (IEquals(k, "SoftwareVersion"))
        id.sw_version = v;
      else
        return Fail(ErrorCode::kParse, file.string() + ": unknown key '" + k + "'");
    }
  }
  if (!o.product.empty()) id.product = o.product;
  if (!o.mac.empty()) id.mac = o.mac;
  if (!o.serial.empty()) id.serial = o.serial;
  if (!o.sw_version.empty()) id.sw_version = o.sw_version;
  if (id.mac.empty()) {
    id.mac = DetectMac();
  } else {
    auto mac = NormalizeMac(id.mac);
    if (!mac) return Unexpected(mac.error());
    id.mac = *mac;
  }
  return id;
}

std::vector<std::string> IdentityArguments(const IdentityOverrides& o) {
  std::vector<std::string> args;
  for (const auto& [flag, value] :
       {std::pair{"--product", &o.product}, std::pair{"--mac", &o.mac},
        std::pair{"--serial", &o.serial}, std::pair{"--sw-version", &o.sw_version}})
    if (!value->empty()) args.insert(args.end(), {flag, *value});
  return args;
}

}  // namespace autoprov
