// SIP NOTIFY with "Event: check-sync" (SPEC S-6.4): parsing the request and building the response.
#pragma once

#include <string>
#include <string_view>

namespace autoprov {

struct SipNotifyResult {
  int status = 400;         // 200 when the request is a valid check-sync NOTIFY
  std::string reason = "Bad Request";
  bool trigger = false;     // start a run
  bool reboot = false;      // ;reboot=true
  std::string response;     // the datagram to send back (empty when nothing can be answered)
};

// `enabled`: EnableSIPRemoteReset. A disabled device answers 403 and does not run.
SipNotifyResult HandleSipNotify(std::string_view datagram, bool enabled);

}  // namespace autoprov
