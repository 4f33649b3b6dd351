#include "config/backoff.hpp"

#include <charconv>
#include <string>

#include "common/text.hpp"

namespace autoprov {

namespace {
constexpr long long kMaxSeconds =
    7 * 86400;  // a week: beyond that, the regular trigger comes first
}

Expected<std::vector<BackoffEntry>> ParseBackoffList(std::string_view text) {
  std::vector<BackoffEntry> out;
  text = Trim(text);
  if (text.empty()) return out;
  size_t start = 0;
  int n = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view entry = Trim(text.substr(start, end - start));
    ++n;
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kValidation, "retry entry " + std::to_string(n) + " '" +
                                              std::string(entry) + "': " + why +
                                              " (expected seconds or seconds+random, e.g. "
                                              "'60+30,300+120,1800+600')");
    };
    if (entry.empty()) return bad("empty");
    BackoffEntry e;
    size_t plus = entry.find('+');
    auto number = [](std::string_view s, long long& v) {
      s = Trim(s);
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      return !s.empty() && ec == std::errc() && p == s.data() + s.size();
    };
    if (!number(entry.substr(0, plus), e.base_s)) return bad("the delay is not a whole number");
    if (plus != std::string_view::npos && !number(entry.substr(plus + 1), e.random_s))
      return bad("the random part is not a whole number");
    if (e.base_s < 1) return bad("the delay must be at least 1 second");
    if (e.random_s < 0) return bad("the random part cannot be negative");
    if (e.base_s + e.random_s > kMaxSeconds) return bad("longer than a week");
    out.push_back(e);
    if (out.size() > 32) return bad("more than 32 entries");
    start = end + 1;
  }
  return out;
}

}  // namespace autoprov
