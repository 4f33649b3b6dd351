// The daemon's SIP listener (SPEC S-9.6): a UDP socket on IPv4:PORT whose datagrams are answered by
// the NOTIFY rules of sip_notify.hpp under the policy of the configuration as stored now.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "config/configuration.hpp"
#include "triggers/sip_notify.hpp"

namespace autoprov {

// The policy the configuration sets (EnableSIPRemoteReset, SipNotifyAllowFrom, credentials,
// SipNotifyReboot); an allow list in error refuses every source (logged).
SipPolicy SipPolicyFrom(const Configuration& config);

class SipListener {
 public:
  // `listen`: "IPv4:PORT", e.g. 127.0.0.1:5060. kInvalidArgument for a malformed address.
  static Expected<std::unique_ptr<SipListener>> Open(const std::string& listen);
  ~SipListener();
  int fd() const { return fd_; }
  // The run a NOTIFY asks for.
  struct Trigger {
    bool reboot = false, reboot_if_changed = false;
  };
  // Reads one datagram, answers it by `policy` (logged), and returns the run it asks for, if any.
  std::optional<Trigger> Handle(const SipPolicy& policy);

 private:
  explicit SipListener(int fd) : fd_(fd) {}
  int fd_ = -1;
  SipNotifyHandler handler_;
};

}  // namespace autoprov
