// The fleet's counters, one name each: the summary, its JSON, `fleet merge`, the progress line and
// the timeline's columns say these names (and so will metrics). And the one cap on how many
// failures a fleet lists.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <string_view>

namespace autoprov {

enum class Counter : size_t {
  kRunsStarted,        // runs the schedule started (rounds, intervals, retries)
  kRuns,               // every run, the start-up runs after restarts and power cuts included
  kRunsFailed,         // runs with a failed or rejected step (as `update` counts)
  kRequests,           // transfers, report uploads included
  kStatus200,          // downloads (200, or a file read by FTP/TFTP)
  kStatus304,          // not modified
  kStatus4xx,          // client errors
  kStatus5xx,          // server errors
  kNetworkErrors,      // no HTTP status: refused, cut, timed out
  kStatusOther,        // another success (a 201 or 204 to a report upload)
  kBytes,              // body bytes received (resumed parts not counted twice)
  kRestarts,           // restarts performed (S-2.2)
  kRetries,            // runs planned as retries after a failed run (S-10.1)
  kReportsSent,        // run reports delivered to AupdReportUrl (S-10.3)
  kBusyDeferrals,      // restarts that waited for the device to be idle (S-10.2)
  kRestartsGivenUp,    // of those, left pending (AupdBusyPolicy = give-up-until-next-run)
  kResumed,            // image downloads that continued a kept part (S-10.4)
  kPowerCuts,          // --power-loss: runs cut
  kSignatureRequests,  // of the requests, those for a file's signature (S-12.1)
  kCount
};
inline constexpr size_t kCounters = static_cast<size_t>(Counter::kCount);

// The one name of each counter.
inline constexpr std::array<std::string_view, kCounters> kCounterNames = {
    "runs_started",      "runs",         "runs_failed",
    "requests",          "status_200",   "status_304",
    "status_4xx",        "status_5xx",   "network_errors",
    "status_other",      "bytes",        "restarts",
    "retries",           "reports_sent", "busy_deferrals",
    "restarts_given_up", "resumed",      "power_cuts",
    "signature_requests"};
inline constexpr std::string_view CounterName(Counter c) {
  return kCounterNames[static_cast<size_t>(c)];
}

// A set of counts: a summary's, a shard's, a snapshot of the live ones.
struct CounterSet {
  std::array<long long, kCounters> values{};
  long long& operator[](Counter c) { return values[static_cast<size_t>(c)]; }
  long long operator[](Counter c) const { return values[static_cast<size_t>(c)]; }
  void Add(const CounterSet& o) {
    for (size_t i = 0; i < kCounters; ++i) values[i] += o.values[i];
  }
  bool operator==(const CounterSet&) const = default;
};

// One worker's counts as they happen; the progress line reads them from another thread.
class LiveCounters {
 public:
  void Add(Counter c, long long n = 1) {
    values_[static_cast<size_t>(c)].fetch_add(n, std::memory_order_relaxed);
  }
  CounterSet Snapshot() const {
    CounterSet s;
    for (size_t i = 0; i < kCounters; ++i) s.values[i] = values_[i].load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<long long>, kCounters> values_{};
};

// At most this many failures are listed in a fleet's summary (a shard's, a merge's): past it they
// are counted (runs_failed), not listed.
inline constexpr size_t kMaxListedFailures = 10000;

}  // namespace autoprov
