// A fetch function over the real transfer layer (libcurl), for tests that drive a run themselves.
#pragma once

#include <memory>

#include "transfer/fetcher.hpp"

namespace autoprov {

inline FetchFunction CurlFetch() {
  auto fetcher = std::make_shared<Fetcher>();
  return [fetcher](const FetchRequest& r) { return fetcher->Fetch(r); };
}

}  // namespace autoprov
