// The transfer layer's fetchers, on libcurl (transfer/platform/curl/): one blocking Fetcher for a
// device's run, and the FetchQueue event loop the fleet simulator drives many devices with. The
// values they take and give are in transfer/transfer.hpp, which links no libcurl.
#pragma once

#include "transfer/transfer.hpp"
#include "transfer/url.hpp"

namespace autoprov {

// Runs transfers one at a time; consecutive fetches reuse connections to the same host.
class Fetcher {
 public:
  Fetcher();
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  Fetched Fetch(const FetchRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs many transfers concurrently over one event loop with at most `max_connections` connections.
// Completion callbacks run on the thread that calls Run().
class FetchQueue {
 public:
  using Done = std::function<void(Fetched)>;
  explicit FetchQueue(long max_connections);
  ~FetchQueue();
  FetchQueue(const FetchQueue&) = delete;
  FetchQueue& operator=(const FetchQueue&) = delete;

  void Submit(FetchRequest request, Done done);
  // Drives transfers until none is left or `wait_ms` passes without progress; returns the number of
  // transfers still pending. Callbacks may Submit() more.
  size_t Run(long wait_ms = 1000);
  size_t pending() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses with libcurl's URL parser; refuses schemes outside SupportedSchemes().
Expected<ParsedUrl> ParseUrl(std::string_view url);

// "libcurl 7.88.1 (OpenSSL/3.0.15)": for --version.
std::string TransferLibraryVersion();

}  // namespace autoprov
