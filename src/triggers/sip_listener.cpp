#include "triggers/sip_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/log.hpp"

namespace autoprov {

SipPolicy SipPolicyFrom(const Configuration& config) {
  SipPolicy policy;
  policy.enabled = config.Get("EnableSIPRemoteReset") == "1";
  std::string error;
  if (!ParseAllowList(config.Get("SipNotifyAllowFrom"), policy, &error)) {
    LogError(error + "; SIP NOTIFY is refused from every source");
    policy.enabled = false;
  }
  policy.username = config.Get("SipNotifyUsername");
  policy.password = config.Get("SipNotifyPassword");
  long long reboot = config.GetInt("SipNotifyReboot");
  policy.reboot = reboot == 1   ? SipReboot::kIgnore
                  : reboot == 2 ? SipReboot::kIfChanged
                                : SipReboot::kObey;
  return policy;
}

Expected<std::unique_ptr<SipListener>> SipListener::Open(const std::string& listen) {
  auto colon = listen.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (colon == std::string::npos ||
      ::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &sa.sin_addr) != 1)
    return Fail(ErrorCode::kInvalidArgument,
                "--sip-listen takes IPv4:PORT, e.g. 127.0.0.1:5060, not '" + listen + "'");
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(listen.c_str() + colon + 1)));
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Fail(ErrorCode::kIo, "cannot listen for SIP on " + listen + ": " + why);
  }
  return std::unique_ptr<SipListener>(new SipListener(fd));
}

SipListener::~SipListener() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<SipListener::Trigger> SipListener::Handle(const SipPolicy& policy) {
  char buf[8192];
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
  if (n <= 0) return std::nullopt;
  char host[INET6_ADDRSTRLEN] = "?";
  const unsigned char* addr = nullptr;
  if (from.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&from);
    addr = reinterpret_cast<const unsigned char*>(&in->sin_addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
  } else if (from.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&from);
    addr = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  }
  unsigned char none[16] = {};
  auto r = handler_.Handle(std::string_view(buf, static_cast<size_t>(n)), policy, from.ss_family,
                           addr ? addr : none, static_cast<long long>(std::time(nullptr)));
  std::string line =
      std::string("SIP request from ") + host + ": " + std::to_string(r.status) + " " + r.reason;
  if (r.retransmission) line += " (retransmission: no second run)";
  if (r.status == 403 || r.status == 401)
    LogWarning(line + (r.status == 403
                           ? " (not allowed by EnableSIPRemoteReset or SipNotifyAllowFrom)"
                           : " (Digest challenge)"));
  else
    LogInfo(line);
  if (!r.response.empty())
    (void)::sendto(fd_, r.response.data(), r.response.size(), 0, reinterpret_cast<sockaddr*>(&from),
                   len);
  if (!r.trigger) return std::nullopt;
  return Trigger{r.reboot, r.reboot_if_changed};
}

}  // namespace autoprov
