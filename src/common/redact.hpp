// S-9.5: no password leaves the process. One splitter finds a URL's userinfo (the transfer uses it
// too), and one redaction hides it in every report, status, log line and error message. The
// redaction does not depend on the URL being valid: whatever lies between "//" and the last '@' is
// hidden, so a password holding a raw '#', '?' or '/' is hidden too (hiding too much is acceptable,
// a leak is not).
#pragma once

#include <string>
#include <string_view>

namespace autoprov {

// RFC 3986: the authority runs from after "//" to the first '/', '?' or '#'; its userinfo ends at
// its last
// '@'. Positions in `url`; `userinfo_end` is npos when the authority has no '@'.
struct AuthoritySplit {
  size_t start = std::string_view::npos;  // npos: no "//"
  size_t end = std::string_view::npos;
  size_t userinfo_end = std::string_view::npos;  // index of the '@'
};
AuthoritySplit SplitAuthority(std::string_view url);

std::string RedactUrl(std::string_view url);

// Every "scheme://" in a text redacted as above, up to the end of the line.
std::string RedactText(std::string_view text);

// Why a URL's userinfo would be split differently by a URL parser than its writer meant (a raw
// reserved character in the password), or empty. Such a URL is refused with a hint to
// percent-encode.
std::string UserinfoProblem(std::string_view url);

}  // namespace autoprov
