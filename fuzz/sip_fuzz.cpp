// libFuzzer target: any datagram through the SIP NOTIFY handler (S-6.4, S-9.6), under an open
// policy and a Digest-protected one, from an allowed and a refused source; and the allow-list
// parser. Invariants: an answer is a SIP response when there is one, a refused source never
// triggers, a protected policy never triggers on the first datagram (the nonce is fresh).
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "triggers/sip_notify.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace autoprov;
  std::string_view datagram(reinterpret_cast<const char*>(data), size);
  unsigned char loopback[16] = {127, 0, 0, 1};
  unsigned char elsewhere[16] = {192, 0, 2, 7};
  SipPolicy open;
  open.enabled = true;
  std::string error;
  if (!ParseAllowList("127.0.0.0/8, ::1", open, &error)) std::abort();
  SipPolicy guarded = open;
  guarded.username = "prov";
  guarded.password = "secret";
  SipNotifyHandler handler;
  auto a = handler.Handle(datagram, open, AF_INET, loopback, 1000);
  if (!a.response.empty() && !a.response.starts_with("SIP/2.0 ")) std::abort();
  auto b = handler.Handle(datagram, open, AF_INET, elsewhere, 1001);
  if (b.trigger) std::abort();
  SipNotifyHandler fresh;
  auto c = fresh.Handle(datagram, guarded, AF_INET, loopback, 1002);
  if (c.trigger) std::abort();
  (void)ParseSipEvent(datagram);
  SipPolicy parsed;
  (void)ParseAllowList(datagram, parsed, &error);
  return 0;
}
