// The load over time (issue: the fleet at internet scale): per second of a fleet run, the requests
// by status class and their latency, as a CSV (`fleet --timeline`) and as a picture (`fleet plot`):
// requests per second stacked by 200/304/4xx/5xx/network error, the p99 latency on a second axis.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace autoprov {

// Latencies in log-spaced buckets (HDR style): 8 per power of two of microseconds, so a percentile
// is within about 9% of the exact one; histograms of parts of a run merge into the whole's.
class LatencyHistogram {
 public:
  void Add(double seconds);
  void Merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  double PercentileMs(double p) const;  // p in [0, 1]; 0 when empty

  // The non-empty buckets as (index, count), for a summary file; FromBuckets reads them back
  // (bucket i holds latencies in [2^(i/8), 2^((i+1)/8)) microseconds).
  static constexpr int kSubBuckets = 8;
  std::vector<std::pair<int, uint64_t>> Buckets() const;
  static Expected<LatencyHistogram> FromBuckets(const std::vector<std::pair<int, uint64_t>>& b);

 private:
  std::vector<uint32_t> counts_;  // allocated at the first sample
  uint64_t count_ = 0;
};

enum class StatusClass { k200, k304, k4xx, k5xx, kNetwork, kOther };

struct TimelineSecond {
  uint32_t requests = 0, s200 = 0, s304 = 0, s4xx = 0, s5xx = 0, network = 0;
  LatencyHistogram latency;
};

class Timeline {
 public:
  // A request that completed `at_s` seconds after the start of the run.
  void Record(double at_s, StatusClass status, double latency_s);
  void Merge(const Timeline& other);
  const std::vector<TimelineSecond>& seconds() const { return seconds_; }
  // second,requests,status_200,status_304,status_4xx,status_5xx,network_errors,p50_ms,p99_ms
  std::string Csv() const;

 private:
  std::vector<TimelineSecond> seconds_;
};

struct TimelineRow {
  long second = 0;
  uint64_t requests = 0, s200 = 0, s304 = 0, s4xx = 0, s5xx = 0, network = 0;
  double p50_ms = 0, p99_ms = 0;
};

// The CSV Timeline::Csv writes; errors name the line.
Expected<std::vector<TimelineRow>> ParseTimelineCsv(std::string_view text, std::string_view origin);

// An SVG picture of the rows: stacked requests per second, p99 latency, axes, legend and title.
std::string TimelineSvg(const std::vector<TimelineRow>& rows, const std::string& title);

}  // namespace autoprov
