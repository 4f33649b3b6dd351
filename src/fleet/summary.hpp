// A fleet run's summary as a file, and shards' summaries added up (issue: the fleet at internet
// scale). `fleet --json`/`--json-out` write FleetSummaryJson; `fleet merge` reads shards' files
// back with FleetSummaryFromJson and adds them up with MergeFleetSummaries: counts exactly,
// latencies by their histograms (so the merged percentiles are those of all the requests, within
// the histogram's precision of about 9%).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "fleet/fleet.hpp"

namespace autoprov {

// The summary file's format: 3 names every counter once, under "counters" (fleet/counters.hpp);
// files of formats 1 and 2 are still read.
inline constexpr int kSummaryFormat = 3;

nlohmann::json FleetSummaryJson(const FleetSummary& s);
// Errors name the file (`origin`) and the field.
Expected<FleetSummary> FleetSummaryFromJson(const nlohmann::json& j, std::string_view origin);
// The shards must cover disjoint device ranges; `origins` name them in errors.
Expected<FleetSummary> MergeFleetSummaries(const std::vector<FleetSummary>& parts,
                                           const std::vector<std::string>& origins);
// Fills p50/p95/p99 from the histogram.
void SetPercentiles(LatencySummary& l);
// Per file kind, from its histogram.
std::vector<LatencySummary> LatencySummaries(std::map<std::string, LatencyHistogram> by_kind);
// The listed failures grouped by what went wrong, most frequent first: ("ini HTTP 404", 50). The
// cause is the error without the device's own URL, so the devices that failed alike count
// together.
std::vector<std::pair<std::string, long long>> FailuresByCause(const FleetSummary& s);
nlohmann::json ViolationsJson(const std::vector<InvariantViolation>& violations);

}  // namespace autoprov
