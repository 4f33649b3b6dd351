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
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "config/configuration.hpp"
#include "config/schema.hpp"
#include "fleet/counters.hpp"
#include "fleet/identity.hpp"
#include "fleet/invariants.hpp"
#include "fleet/timeline.hpp"
#include "store/state_store.hpp"

namespace autoprov {

class SignersBundle;  // signing/signature.hpp

struct FleetOptions {
  long long devices = 1;
  std::filesystem::path state_dir;
  std::string bootstrap_file;
  // S-12: the signers bundle every simulated device checks signatures against (policy required);
  // empty: no signatures. RunFleet loads it into `signers` once, for all devices.
  std::string signers_file;
  std::shared_ptr<const SignersBundle> signers;
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
  // Runs, requests by status, bytes, restarts, ...: one name each (fleet/counters.hpp).
  CounterSet counters;
  long long devices_failed = 0;           // with a failed step in any run
  long long devices_last_run_failed = 0;  // whose last run had a failed step
  double wall_s = 0;
  double startup_s = 0;  // before the first run: the schema, the database, the device states
  int threads = 0;
  std::vector<LatencySummary> latency;  // per file kind
  std::vector<DeviceFailure> failures;  // at most kMaxListedFailures
  Timeline timeline;                    // with FleetOptions::timeline
  FleetMemory memory;
  // --power-loss: what the invariant checks found (fleet/invariants.hpp).
  bool invariants_checked = false;
  std::vector<InvariantViolation> violations;
};

// Live figures for a progress line.
struct FleetProgress {
  long long devices = 0;
  CounterSet counters;
  double elapsed_s = 0;
};

// The state a fleet's devices run on: the schema, the bootstrap configuration, the one database
// with its read cache loaded for devices [first, last), each device seeded with the bootstrap
// configuration on its first run.
struct FleetState {
  std::unique_ptr<Schema> schema;
  std::unique_ptr<Configuration> bootstrap;
  std::unique_ptr<StateStore> store;
  long long first = 0, last = 0;
};
Expected<FleetState> OpenFleetState(const FleetOptions& options);

// Parses "I/M" for --shard.
Expected<std::pair<long long, long long>> ParseShard(std::string_view text);

// Seconds from `now` until the next periodic run of a simulated device whose last run started at
// `last_run`:
// NextRun, as the daemon schedules, with the device's own reproducible spread; <0: none.
double NextTriggerIn(const Configuration& config, uint64_t seed, long long id, int run,
                     std::time_t last_run, std::time_t now);

Expected<FleetSummary> RunFleet(
    const FleetOptions& options,
    const std::function<void(const FleetProgress&)>& on_progress = nullptr);

}  // namespace autoprov
