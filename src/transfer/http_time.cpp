#include "transfer/http_time.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <string>

#include "common/text.hpp"

namespace autoprov {

namespace {
constexpr long kMaxRetryAfter = 86400;
}

std::string HttpDate(long long t) { return UtcTime(t, "%a, %d %b %Y %H:%M:%S GMT", false); }

long RetryAfterSeconds(std::string_view value, std::time_t now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r'))
    value.remove_suffix(1);
  if (value.empty()) return 0;
  if (value.front() >= '0' && value.front() <= '9') {
    long long seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return kMaxRetryAfter;
    if (ec != std::errc() || end != value.data() + value.size()) return 0;
    return static_cast<long>(std::min<long long>(seconds, kMaxRetryAfter));
  }
  std::tm tm{};
  std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return 0;
  std::time_t at = ::timegm(&tm);
  if (at <= now) return 0;
  return static_cast<long>(std::min<long long>(at - now, kMaxRetryAfter));
}

}  // namespace autoprov
