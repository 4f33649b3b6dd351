// The redirect policy (SPEC S-3.4): which redirects a transfer follows and what it keeps. Pure
// logic, no libcurl: the curl transfer job asks it at each 3xx, and it is unit-tested on its own.
#pragma once

#include <optional>
#include <string>

#include "common/error.hpp"
#include "transfer/url.hpp"

namespace autoprov {

struct RedirectStep {
  std::optional<Error> refused;   // not followed: why (the transfer fails with it)
  bool drop_credentials = false;  // the target is another host or port than the first URL's
};

// `origin`: the URL first asked for; `current`: the one that answered `status` with the Location
// `location` (parsed as `target`; nothing when there is none or it does not parse); `hop`: the
// number of this redirect (1 for the first).
RedirectStep DecideRedirect(const ParsedUrl& origin, const ParsedUrl& current,
                            const std::string& location, const std::optional<ParsedUrl>& target,
                            long status, int hop, int max_redirects);

}  // namespace autoprov
