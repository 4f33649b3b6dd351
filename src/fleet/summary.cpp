#include "fleet/summary.hpp"

#include <algorithm>
#include <map>

namespace autoprov {

void SetPercentiles(LatencySummary& l) {
  l.count = static_cast<size_t>(l.histogram.count());
  l.p50_ms = l.histogram.PercentileMs(0.50);
  l.p95_ms = l.histogram.PercentileMs(0.95);
  l.p99_ms = l.histogram.PercentileMs(0.99);
}

std::vector<LatencySummary> LatencySummaries(std::map<std::string, LatencyHistogram> by_kind) {
  std::vector<LatencySummary> out;
  for (auto& [kind, h] : by_kind) {
    LatencySummary l;
    l.kind = kind;
    l.histogram = std::move(h);
    SetPercentiles(l);
    out.push_back(std::move(l));
  }
  return out;
}

nlohmann::json ViolationsJson(const std::vector<InvariantViolation>& violations) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : violations)
    out.push_back(nlohmann::json{
        {"device", v.device}, {"mac", v.mac}, {"invariant", v.invariant}, {"detail", v.detail}});
  return out;
}

nlohmann::json FleetSummaryJson(const FleetSummary& s) {
  nlohmann::json counters = nlohmann::json::object();
  for (size_t i = 0; i < kCounters; ++i)
    counters[std::string(kCounterNames[i])] = s.counters.values[i];
  nlohmann::json lat = nlohmann::json::object();
  for (const auto& l : s.latency) {
    nlohmann::json buckets = nlohmann::json::array();
    for (const auto& [i, n] : l.histogram.Buckets()) buckets.push_back({i, n});
    lat[l.kind] = {{"count", l.count},
                   {"p50_ms", l.p50_ms},
                   {"p95_ms", l.p95_ms},
                   {"p99_ms", l.p99_ms},
                   {"histogram", buckets}};
  }
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& f : s.failures)
    failures.push_back(
        {{"mac", f.mac}, {"run", f.run}, {"step", f.step}, {"url", f.url}, {"error", f.error}});
  return {
      {"devices", s.devices},
      {"first_device", s.first_index},
      {"shard", s.shards_merged > 1
                    ? std::string("merged")
                    : std::to_string(s.shard_index) + "/" + std::to_string(s.shard_count)},
      {"shard_count", s.shard_count},
      {"shards_merged", s.shards_merged},
      {"format", kSummaryFormat},
      {"counters", counters},
      {"devices_failed", s.devices_failed},
      {"devices_last_run_failed", s.devices_last_run_failed},
      {"requests_per_s",
       s.wall_s > 0 ? static_cast<double>(s.counters[Counter::kRequests]) / s.wall_s : 0},
      {"wall_s", s.wall_s},
      {"startup_s", s.startup_s},
      {"threads", s.threads},
      {"durability", "relaxed: simulated devices share one SQLite database with synchronous=OFF"},
      {"memory_bytes",
       {{"devices", s.memory.devices},
        {"cache_entries", s.memory.cache_entries},
        {"cache_words", s.memory.cache_words},
        {"string_pool", s.memory.string_pool},
        {"pool_strings", s.memory.pool_strings}}},
      {"latency_histogram_buckets",
       "bucket i counts the latencies in [2^(i/8), 2^((i+1)/8)) microseconds"},
      {"latency_ms", lat},
      {"failures", failures},
      {"invariants",
       {{"checked", s.invariants_checked}, {"violations", ViolationsJson(s.violations)}}}};
}

namespace {

// Reads the fields one by one so that a wrong file says which field is wrong.
class Reader {
 public:
  Reader(const nlohmann::json& j, std::string_view origin) : j_(j), origin_(origin) {}
  template <typename T>
  void Get(const nlohmann::json& obj, const char* key, T& out, const std::string& where = "") {
    if (!error_.empty()) return;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      error_ = "no \"" + where + key + "\"";
      return;
    }
    try {
      out = it->get<T>();
    } catch (const nlohmann::json::exception&) {
      error_ = "\"" + where + key + "\" is not a " +
               (std::is_same_v<T, std::string> ? "string" : "number");
    }
  }
  const nlohmann::json& j() const { return j_; }
  std::string error() const {
    return error_.empty() ? "" : std::string(origin_) + ": not a fleet summary: " + error_;
  }
  void Fail(std::string e) {
    if (error_.empty()) error_ = std::move(e);
  }

 private:
  const nlohmann::json& j_;
  std::string_view origin_;
  std::string error_;
};

// The counters of a summary written before format 3, by their old names (the one place they are
// still spelled).
void ReadLegacyCounters(const nlohmann::json& j, Reader& r, CounterSet& c) {
  struct Old {
    Counter counter;
    const char* object;  // "" or "status"
    const char* name;
    bool required;
  };
  static constexpr Old kOld[] = {
      {Counter::kRunsStarted, "", "runs_completed", true},
      {Counter::kRuns, "", "runs", false},
      {Counter::kRunsFailed, "", "runs_failed", false},
      {Counter::kRequests, "", "requests", true},
      {Counter::kStatus200, "status", "200", true},
      {Counter::kStatus304, "status", "304", true},
      {Counter::kStatus4xx, "status", "4xx", true},
      {Counter::kStatus5xx, "status", "5xx", true},
      {Counter::kNetworkErrors, "status", "network_errors", true},
      {Counter::kStatusOther, "status", "other", false},
      {Counter::kBytes, "", "bytes", true},
      {Counter::kRestarts, "", "restarts", true},
      {Counter::kRetries, "", "retries", true},
      {Counter::kReportsSent, "", "reports_sent", true},
      {Counter::kBusyDeferrals, "", "busy_deferrals", true},
      {Counter::kRestartsGivenUp, "", "restarts_given_up", true},
      {Counter::kResumed, "", "resumed", true},
      {Counter::kPowerCuts, "", "power_cuts", false},
  };
  auto status = j.find("status");
  for (const Old& o : kOld) {
    if (*o.object && (status == j.end() || !status->is_object()))
      return r.Fail("no \"status\" object");
    const nlohmann::json& obj = *o.object ? *status : j;
    std::string where = *o.object ? std::string(o.object) + "." : "";
    if (o.required || obj.contains(o.name)) r.Get(obj, o.name, c[o.counter], where);
  }
  // Format 1 had no `runs`: the runs it counted, none known to have failed.
  if (!j.contains("runs")) c[Counter::kRuns] = c[Counter::kRunsStarted];
}

}  // namespace

Expected<FleetSummary> FleetSummaryFromJson(const nlohmann::json& j, std::string_view origin) {
  if (!j.is_object())
    return Fail(ErrorCode::kParse,
                std::string(origin) + ": not a fleet summary (write one with fleet --json-out)");
  FleetSummary s;
  Reader r(j, origin);
  r.Get(j, "devices", s.devices);
  r.Get(j, "first_device", s.first_index);
  std::string shard;
  r.Get(j, "shard", shard);
  if (auto p = ParseShard(shard); p)
    std::tie(s.shard_index, s.shard_count) = *p;
  else if (shard != "merged" && r.error().empty())
    r.Fail("\"shard\" is not I/M: " + shard);
  if (j.contains("shard_count")) r.Get(j, "shard_count", s.shard_count);
  if (j.contains("shards_merged")) r.Get(j, "shards_merged", s.shards_merged);
  int format = 1;
  if (j.contains("format")) r.Get(j, "format", format);
  if (format >= 3) {
    if (auto c = j.find("counters"); c != j.end() && c->is_object()) {
      for (size_t i = 0; i < kCounters; ++i)
        if (c->contains(kCounterNames[i]))  // a counter newer than the file: 0
          r.Get(*c, std::string(kCounterNames[i]).c_str(), s.counters.values[i], "counters.");
    } else {
      r.Fail("no \"counters\" object");
    }
  } else {
    ReadLegacyCounters(j, r, s.counters);
  }
  r.Get(j, "devices_failed", s.devices_failed);
  if (j.contains("devices_last_run_failed"))
    r.Get(j, "devices_last_run_failed", s.devices_last_run_failed);
  r.Get(j, "wall_s", s.wall_s);
  r.Get(j, "threads", s.threads);
  if (j.contains("startup_s")) r.Get(j, "startup_s", s.startup_s);
  if (auto lat = j.find("latency_ms"); lat != j.end() && lat->is_object()) {
    for (const auto& [kind, l] : lat->items()) {
      std::vector<std::pair<int, uint64_t>> buckets;
      auto h = l.find("histogram");
      if (h == l.end() || !h->is_array()) {
        r.Fail("latency_ms." + kind + " has no histogram (a summary of an older autoprov?)");
        break;
      }
      for (const auto& b : *h) {
        if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() ||
            !b[1].is_number_unsigned()) {
          r.Fail("latency_ms." + kind + ".histogram holds [bucket, count] pairs, not " + b.dump());
          break;
        }
        buckets.emplace_back(b[0].get<int>(), b[1].get<uint64_t>());
      }
      auto hist = LatencyHistogram::FromBuckets(buckets);
      if (!hist) {
        r.Fail("latency_ms." + kind + ": " + hist.error().message);
        break;
      }
      LatencySummary ls;
      ls.kind = kind;
      ls.histogram = std::move(*hist);
      SetPercentiles(ls);
      s.latency.push_back(std::move(ls));
    }
  } else {
    r.Fail("no \"latency_ms\" object");
  }
  if (auto f = j.find("failures"); f != j.end() && f->is_array()) {
    for (const auto& e : *f) {
      DeviceFailure d;
      r.Get(e, "mac", d.mac, "failures[].");
      r.Get(e, "run", d.run, "failures[].");
      r.Get(e, "step", d.step, "failures[].");
      r.Get(e, "url", d.url, "failures[].");
      r.Get(e, "error", d.error, "failures[].");
      s.failures.push_back(std::move(d));
    }
  }
  if (auto inv = j.find("invariants"); inv != j.end() && inv->is_object()) {
    r.Get(*inv, "checked", s.invariants_checked, "invariants.");
    if (auto vs = inv->find("violations"); vs != inv->end() && vs->is_array())
      for (const auto& e : *vs) {
        InvariantViolation v;
        r.Get(e, "device", v.device, "invariants.violations[].");
        r.Get(e, "mac", v.mac, "invariants.violations[].");
        r.Get(e, "invariant", v.invariant, "invariants.violations[].");
        r.Get(e, "detail", v.detail, "invariants.violations[].");
        s.violations.push_back(std::move(v));
      }
  }
  if (!r.error().empty()) return Fail(ErrorCode::kParse, r.error());
  if (s.devices < 0 || s.first_index < 0)
    return Fail(ErrorCode::kParse, std::string(origin) + ": negative device range");
  return s;
}

Expected<FleetSummary> MergeFleetSummaries(const std::vector<FleetSummary>& parts,
                                           const std::vector<std::string>& origins) {
  if (parts.empty()) return Fail(ErrorCode::kInvalidArgument, "nothing to merge");
  // Disjoint device ranges: a shard given twice would count its devices twice.
  std::vector<size_t> order(parts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return parts[a].first_index < parts[b].first_index; });
  for (size_t k = 1; k < order.size(); ++k) {
    const FleetSummary& a = parts[order[k - 1]];
    const FleetSummary& b = parts[order[k]];
    if (a.first_index + a.devices > b.first_index)
      return Fail(ErrorCode::kInvalidArgument,
                  origins[order[k - 1]] + " (devices " + std::to_string(a.first_index) + ".." +
                      std::to_string(a.first_index + a.devices - 1) + ") and " + origins[order[k]] +
                      " (from device " + std::to_string(b.first_index) +
                      ") overlap: give each shard once");
  }
  FleetSummary m;
  m.first_index = parts[order[0]].first_index;
  m.shard_count = parts[0].shard_count;
  m.shards_merged = 0;
  std::map<std::string, LatencyHistogram> latency;
  for (const FleetSummary& p : parts) {
    m.devices += p.devices;
    m.shards_merged += p.shards_merged;
    if (p.shard_count != m.shard_count) m.shard_count = 0;  // mixed: no single M
    m.counters.Add(p.counters);
    m.devices_failed += p.devices_failed;
    m.devices_last_run_failed += p.devices_last_run_failed;
    m.invariants_checked |= p.invariants_checked;
    m.violations.insert(m.violations.end(), p.violations.begin(), p.violations.end());
    m.wall_s = std::max(m.wall_s, p.wall_s);  // the shards run side by side
    m.startup_s = std::max(m.startup_s, p.startup_s);
    m.threads += p.threads;
    for (const auto& l : p.latency) latency[l.kind].Merge(l.histogram);
    for (const auto& f : p.failures)
      if (m.failures.size() < kMaxListedFailures) m.failures.push_back(f);
  }
  if (m.shard_count == 0) m.shard_count = 1;
  m.latency = LatencySummaries(std::move(latency));
  return m;
}

std::vector<std::pair<std::string, long long>> FailuresByCause(const FleetSummary& s) {
  std::map<std::string, long long> counts;
  for (const auto& f : s.failures) {
    std::string_view cause = f.error;
    if (size_t at = f.url.empty() ? std::string::npos : cause.find(f.url); at != cause.npos) {
      cause.remove_prefix(at + f.url.size());
      if (cause.starts_with(" (redirected from ")) cause.remove_prefix(cause.find(')') + 1);
      if (cause.starts_with(": ")) cause.remove_prefix(2);
    }
    ++counts[f.step + " " + std::string(cause)];
  }
  std::vector<std::pair<std::string, long long>> out(counts.begin(), counts.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

}  // namespace autoprov
