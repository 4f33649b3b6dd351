// MD5 (RFC 1321) for SIP Digest authentication (RFC 3261 22.4, S-9.6) only: the resident daemon
// answers SIP NOTIFY without linking a crypto library. Never used for file integrity (SHA-256 is,
// common/digest).
#pragma once

#include <string>
#include <string_view>

namespace autoprov {

// The lower-case hex MD5 of `data`.
std::string Md5Hex(std::string_view data);

}  // namespace autoprov
