// A back-off list in the phones' syntax (SPEC S-10.1): "60+30,300+120,1800+600", each entry a base
// delay and a random spread in seconds ("300" alone: no spread). AupdRetrySchedule holds one.
#pragma once

#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace autoprov {

struct BackoffEntry {
  long long base_s = 0;
  long long random_s = 0;
  bool operator==(const BackoffEntry&) const = default;
};

// Empty text: an empty list. The error names the bad entry and what is wrong with it.
Expected<std::vector<BackoffEntry>> ParseBackoffList(std::string_view text);

}  // namespace autoprov
