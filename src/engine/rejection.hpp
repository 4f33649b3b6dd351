// Rejected stays rejected (S-7.8): what a device keeps about content it rejected from a URL, so
// that every later poll that finds the same content (a 304 to its validators, or the same SHA-256)
// reports it rejected again, with the original reason and since when, instead of "not modified".
// Kept apart from the applied content's validators (UrlState), in UrlState::rejected.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "transfer/transfer.hpp"

namespace autoprov {

struct Rejection {
  std::string last_modified, etag;   // validators of the rejected content (empty: none given)
  std::string sha256;                // of the rejected content
  std::string reason;                // the step's error when it was rejected
  std::vector<std::string> details;  // the first bad lines (at most kKeptDetails)
  long long since = 0;               // when this content was first rejected (unix time)

  static constexpr size_t kKeptDetails = 20;
  Validators validators() const { return Validators{last_modified, etag}; }
};

std::string EncodeRejection(const Rejection& r);
// Nothing for an empty or unreadable value (a rejection that cannot be read is forgotten: the file
// is fetched and judged again).
std::optional<Rejection> DecodeRejection(const std::string& encoded);

}  // namespace autoprov
