// libFuzzer target: the DHCP lease as `autoprov dhcp-hook` reads it (S-6.6): option 160 (text or
// udhcpc's hex) and options 66/67 from any bytes. Invariants: no crash, and every value produced is
// one the configuration accepts or refuses with an error (never a crash in validation).
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/configuration.hpp"
#include "triggers/dhcp_options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autoprov;
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t cut = text.find('\n');
  std::string first = text.substr(0, cut);
  std::string rest = cut == std::string::npos ? "" : text.substr(cut + 1);
  DeviceIdentity id{"Mediant", "00908F000001", "1", "7.20A.250.001"};
  Configuration config(Schema::BuiltIn());
  for (const DhcpLease& lease : {DhcpLease{"", "", text}, DhcpLease{first, rest, ""}}) {
    for (const auto& [name, value] : ProvisioningFromLease(lease, id, true))
      (void)config.Set(name, value);
  }
  (void)DecodeOption160(text);
  return 0;
}
