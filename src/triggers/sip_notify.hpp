// SIP NOTIFY with "Event: check-sync" (SPEC S-6.4, S-9.6): parsing the request, deciding whether to
// obey it, and building the response.
//
// A NOTIFY is obeyed only from an allowed source (SipNotifyAllowFrom: addresses or CIDRs, loopback
// by default, `any` for all) and, when SipNotifyUsername is set, only after a SIP Digest challenge
// (401 with a fresh nonce; each nonce answers once). `reboot=true` follows SipNotifyReboot (obey,
// ignore, if-changed). A retransmission (same Call-ID and CSeq) is answered again but starts no
// second run.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace autoprov {

// One entry of an allow-list: an IPv4 or IPv6 network.
struct IpNetwork {
  int family = 0;  // AF_INET or AF_INET6
  unsigned char addr[16] = {};
  int prefix = 0;
  bool Contains(int family, const unsigned char* addr) const;
};

enum class SipReboot { kObey, kIgnore, kIfChanged };

struct SipPolicy {
  bool enabled = false;  // EnableSIPRemoteReset
  bool allow_any = false;
  std::vector<IpNetwork> allow;
  std::string username, password;
  SipReboot reboot = SipReboot::kObey;
};

// Parses SipNotifyAllowFrom ("127.0.0.1/8, ::1, 192.0.2.10" or "any"); the error names the bad
// entry.
bool ParseAllowList(std::string_view text, SipPolicy& policy, std::string* error);

struct SipNotifyResult {
  int status = 400;  // 200 when the request is a valid, allowed check-sync NOTIFY
  std::string reason = "Bad Request";
  bool trigger = false;            // start a run
  bool reboot = false;             // restart after the run (reboot=true under `obey`)
  bool reboot_if_changed = false;  // reboot=true under `if-changed`
  bool retransmission = false;
  std::string response;  // the datagram to send back (empty when nothing can be answered)
};

// The parameters of an Event header value: "check-sync;reboot=true" -> type "check-sync", {reboot:
// true}.
struct SipEvent {
  std::string type;                           // lower case
  std::map<std::string, std::string> params;  // names lower case, values as given (unquoted)
};
SipEvent ParseSipEvent(std::string_view value);

class SipNotifyHandler {
 public:
  // `source`: the sender's address (family, bytes) as it came; `source_text` for the log.
  SipNotifyResult Handle(std::string_view datagram, const SipPolicy& policy, int family,
                         const unsigned char* source, long long now);

 private:
  std::string NewNonce(long long now);
  std::map<std::string, long long> nonces_;             // issued, not yet used -> when
  std::deque<std::pair<std::string, long long>> seen_;  // "call-id|cseq" of obeyed requests -> when
  std::map<std::string, SipNotifyResult> answers_;      // what each of them was answered
};

// Without a policy object: the parser and the answers of S-6.4 alone (tests, fuzzing).
SipNotifyResult HandleSipNotify(std::string_view datagram, bool enabled);

}  // namespace autoprov
