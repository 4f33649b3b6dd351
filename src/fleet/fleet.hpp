// The fleet simulator: N simulated devices in one process, each running the real Automatic Update
// sequence (DownloadSequence) with its own identity, configuration and persisted state, against a
// real provisioning server. A few worker threads (one per core by default) each drive a disjoint
// slice of the devices through one libcurl multi event loop (FetchQueue) with their share of a
// bounded number of connections; state lives in one SQLite database with a device column, used by
// one worker at a time.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/configuration.hpp"
#include "config/schema.hpp"
#include "fleet/invariants.hpp"
#include "fleet/timeline.hpp"

namespace autoprov {

struct FleetOptions {
  long long devices = 1;
  std::filesystem::path state_dir;
  std::string bootstrap_file;
  std::string mac_base = "00908F000000";
  std::string product = "autoprov";
  std::string sw_version = "1.0.0.0";
  int runs = 1;         // rounds; each device runs once per round (round 1 is its start-up)
  long duration_s = 0;  // instead of rounds: real-time triggers from each device's configuration
  double spread_s = 0;  // random start offset of each device within a round
  long max_connections = 256;  // in all, shared out between the workers
  int threads = 0;             // worker threads (event loops); 0: one per core
  uint64_t seed = 1;
  long long shard_index = 0, shard_count = 1;
  std::vector<std::string> schema_files;
  // S-10.2: this fraction of the devices (drawn by the seed) is busy for the first busy_for_s
  // seconds of the simulation: their restarts wait as a real BusyCommand would make them.
  double busy_fraction = 0;
  double busy_for_s = 0;
  bool timeline = false;  // record requests and latency per second (FleetSummary::timeline)
  // --power-loss: each run is cut at a random point with this probability (the device's transfer
  // and state transaction abandoned as a power cut would), the device then powers up again; after
  // the rounds, one more round without cuts, and every device's invariants are checked.
  double power_loss = 0;
};

struct LatencySummary {
  std::string kind;
  size_t count = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;  // from the histogram
  LatencyHistogram histogram;                 // mergeable across shards (fleet merge)
};

struct DeviceFailure {
  std::string mac;
  int run = 0;
  std::string step, url, error;
};

// Where a fleet's memory goes (the largest parts), in bytes at the end of the run.
struct FleetMemory {
  size_t devices = 0;        // the simulator's record of each device
  size_t cache_entries = 0;  // the state cache: one entry per device
  size_t cache_words = 0;    // its per-device words (ids of strings)
  size_t string_pool = 0;    // the strings, each kept once
  size_t pool_strings = 0;   // how many
};

struct FleetSummary {
  long long devices = 0, first_index = 0;
  long long shard_index = 0, shard_count = 1;
  int shards_merged = 1;  // fleet merge: how many shard summaries this one adds up
  // Runs as a device counts them (issue: truthful reports): every run, the start-up runs after
  // simulated restarts and power cuts included; and those with a failed or rejected step (a run
  // that `update` would call failed).
  long long runs = 0, runs_failed = 0;
  // The runs the schedule asked for (rounds, intervals, retries), whatever their outcome; start-up
  // runs after restarts not counted. Kept under its old name for summaries written before `runs`.
  long long runs_completed = 0;
  long long devices_failed = 0;           // with a failed step in any run
  long long devices_last_run_failed = 0;  // whose last run had a failed step
  long long requests = 0;
  long long status_200 = 0, status_304 = 0, status_4xx = 0, status_5xx = 0, network_errors = 0,
            other = 0;
  uint64_t bytes = 0;
  long long restarts = 0;
  long long retries = 0;       // runs that were retries after a failed run (S-10.1)
  long long reports_sent = 0;  // run reports uploaded to AupdReportUrl (S-10.3)
  long long busy_deferrals = 0, restarts_given_up = 0;  // S-10.2
  long long resumed = 0;  // image downloads that continued a part kept from a cut (S-10.4)
  double wall_s = 0;
  double startup_s = 0;  // before the first run: the schema, the database, the device states
  int threads = 0;
  std::vector<LatencySummary> latency;  // per file kind
  std::vector<DeviceFailure> failures;
  Timeline timeline;  // with FleetOptions::timeline
  FleetMemory memory;
  // --power-loss: the cuts made, and what the invariant checks found (fleet/invariants.hpp).
  long long power_cuts = 0;
  bool invariants_checked = false;
  std::vector<InvariantViolation> violations;
};

// Live figures for a progress line.
struct FleetProgress {
  long long started = 0, finished = 0, failed = 0, devices = 0;
  long long requests = 0, s200 = 0, s304 = 0, s4xx = 0, s5xx = 0, net = 0, restarts = 0,
            retries = 0, reports = 0, deferrals = 0, given_up = 0, resumed = 0;
  uint64_t bytes = 0;
  double elapsed_s = 0;
};

// Parses "I/M" for --shard.
Expected<std::pair<long long, long long>> ParseShard(std::string_view text);
// MAC of device `index` counting up from `base` (12 hex digits).
Expected<std::string> MacForIndex(std::string_view base, long long index);
// The start offset of a device within a round, in seconds: deterministic for (seed, index).
double StartOffset(uint64_t seed, long long index, int round, double spread_s);

// Seconds from `now` until the next periodic run of a simulated device whose last run started at
// `last_run`:
// NextRun, as the daemon schedules, with the device's own reproducible spread; <0: none.
double NextTriggerIn(const Configuration& config, uint64_t seed, long long id, int run,
                     std::time_t last_run, std::time_t now);

Expected<FleetSummary> RunFleet(
    const FleetOptions& options,
    const std::function<void(const FleetProgress&)>& on_progress = nullptr);

}  // namespace autoprov
