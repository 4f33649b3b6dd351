// The Retry-After header (RFC 9110 §10.2.3) of a 429 or 503 answer, which the retry schedule
// honours (SPEC S-10.1).
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace autoprov {

// An HTTP date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") of a unix time.
std::string HttpDate(long long unix_time);

// Seconds from `now` the server asks to wait: delay-seconds ("120") or an HTTP-date ("Sun, 06 Nov
// 1994 08:49:37 GMT"). 0 when absent, malformed or already past; capped at one day, so a hostile
// server cannot silence a device for longer than its regular trigger would.
long RetryAfterSeconds(std::string_view value, std::time_t now);

}  // namespace autoprov
