#include "fleet/fleet.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/text.hpp"
#include "config/cli_script.hpp"
#include "config/ini.hpp"
#include "device/state_dir.hpp"
#include "engine/sequence.hpp"
#include "store/atomic_file.hpp"
#include "store/state_store.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {

Expected<std::pair<long long, long long>> ParseShard(std::string_view text) {
  auto slash = text.find('/');
  long long i = -1, m = 0;
  if (slash != std::string_view::npos) {
    std::from_chars(text.data(), text.data() + slash, i);
    std::from_chars(text.data() + slash + 1, text.data() + text.size(), m);
  }
  if (m < 1 || i < 0 || i >= m)
    return Fail(ErrorCode::kInvalidArgument, "--shard takes I/M with 0 <= I < M, e.g. 0/4, not '" + std::string(text) + "'");
  return std::make_pair(i, m);
}

Expected<std::string> MacForIndex(std::string_view base, long long index) {
  auto mac = NormalizeMac(base);
  if (!mac) return Unexpected(mac.error());
  unsigned long long v = std::stoull(*mac, nullptr, 16) + static_cast<unsigned long long>(index);
  if (v > 0xFFFFFFFFFFFFull) return Fail(ErrorCode::kInvalidArgument, "the MAC range overflows from " + std::string(base));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llX", v);
  return std::string(buf);
}

double StartOffset(uint64_t seed, long long index, int round, double spread_s) {
  if (spread_s <= 0) return 0;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(index) << 20) ^ static_cast<uint64_t>(round));
  return std::uniform_real_distribution<double>(0, spread_s)(rng);
}

namespace {

using Clock = std::chrono::steady_clock;

struct Device {
  long long id = 0;  // global index: the device column and the MAC offset
  DeviceIdentity identity;
  int runs_done = 0;
  bool failed = false;
  Clock::time_point next_start;
  bool scheduled = false;
  std::unique_ptr<DownloadSequence> seq;
  bool restart_run = false;  // the next run is the start-up run after a simulated restart
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] * 1000.0;
}

// Seconds until the next trigger of a device whose run just ended, from its own configuration; <0: none.
double NextTriggerIn(const Configuration& c, uint64_t seed, long long id, int run) {
  long long secs = c.GetInt("AutoUpdateFreqencySeconds");
  if (secs <= 0) secs = c.GetInt("AutoUpdateFrequency") * 60;
  if (secs > 0) return static_cast<double>(secs);
  const std::string& t = c.Get("AutoUpdatePredefinedTime");
  if (t.size() == 5) {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    tm.tm_hour = std::stoi(t.substr(0, 2));
    tm.tm_min = std::stoi(t.substr(3, 2));
    tm.tm_sec = 0;
    std::time_t at = std::mktime(&tm);
    if (at <= now) at += 86400;
    return static_cast<double>(at - now) + StartOffset(seed, id, run, static_cast<double>(c.GetInt("AutoUpdatePredefinedRandomTime")));
  }
  return -1;
}

}  // namespace

Expected<FleetSummary> RunFleet(const FleetOptions& o, const std::function<void(const FleetProgress&)>& on_progress) {
  if (o.devices < 1) return Fail(ErrorCode::kInvalidArgument, "--devices must be at least 1");
  if (o.max_connections < 1) return Fail(ErrorCode::kInvalidArgument, "--max-connections must be at least 1");
  std::error_code ec;
  std::filesystem::create_directories(o.state_dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + o.state_dir.string() + ": " + ec.message());
  auto schema = LoadSchema(o.state_dir, o.schema_files);
  if (!schema) return Unexpected(schema.error());

  // The bootstrap configuration every new device starts from.
  auto text = ReadFile(o.bootstrap_file);
  if (!text) return Unexpected(text.error());
  Configuration bootstrap(*schema);
  std::string ext = ToLower(std::filesystem::path(o.bootstrap_file).extension().string());
  if (ext == ".cli" || ext == ".txt") {
    auto r = LoadCliScript(*text, o.bootstrap_file, bootstrap, CliScriptKind::kIncremental);
    if (!r.errors.empty()) return Fail(ErrorCode::kParse, r.errors[0].ToString());
    bootstrap = r.config;
  } else {
    auto r = LoadIni(*text, o.bootstrap_file, bootstrap);
    if (!r.errors.empty()) return Fail(ErrorCode::kParse, r.errors[0].ToString());
    bootstrap = r.config;
  }

  auto store_or = StateStore::Open(o.state_dir / "fleet.db", Durability::kRelaxed);
  if (!store_or) return Unexpected(store_or.error());
  StateStore store = std::move(*store_or);

  long long first = o.shard_index * o.devices / o.shard_count;
  long long last = (o.shard_index + 1) * o.devices / o.shard_count;
  std::vector<Device> devices(static_cast<size_t>(last - first));
  auto seeded = store.Transaction([&]() -> Expected<void> {
    for (long long i = first; i < last; ++i) {
      Device& d = devices[static_cast<size_t>(i - first)];
      d.id = i;
      auto mac = MacForIndex(o.mac_base, i);
      if (!mac) return Unexpected(mac.error());
      // The serial as the vendor derives a DHCP host name: the last three MAC bytes in decimal.
      d.identity = DeviceIdentity{o.product, *mac, std::to_string(std::stoul(mac->substr(6), nullptr, 16)), o.sw_version};
      auto done = store.GetValue(i, "seeded");
      if (!done) return Unexpected(done.error());
      if (!done->has_value()) {
        if (auto r = store.SaveConfiguration(i, bootstrap); !r) return r;
        if (auto r = store.PutValue(i, "seeded", "1"); !r) return r;
      }
    }
    return {};
  });
  if (!seeded) return Unexpected(seeded.error());

  FleetSummary summary;
  summary.devices = last - first;
  summary.first_index = first;
  FleetProgress progress;
  progress.devices = summary.devices;
  std::map<std::string, std::vector<double>> latency;
  FetchQueue queue(o.max_connections);
  const auto start = Clock::now();
  const auto deadline = o.duration_s > 0 ? start + std::chrono::seconds(o.duration_s) : Clock::time_point::max();
  int round = 1;
  auto schedule_round = [&](Clock::time_point base) {
    for (auto& d : devices) {
      d.next_start = base + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(StartOffset(o.seed, d.id, round, o.spread_s)));
      d.scheduled = true;
    }
  };
  schedule_round(start);

  std::deque<Device*> ready;
  size_t active = 0;
  const size_t max_active = static_cast<size_t>(o.max_connections) * 4;  // bounds memory for big fleets

  std::function<void(Device&)> advance;
  std::function<void(Device&)> start_device;
  auto finish = [&](Device& d) {
    RunReport report = d.seq->Finish();
    Configuration config = d.seq->config();
    d.seq.reset();
    --active;
    // Keep the pipeline full: the next ready device starts as soon as one finishes.
    if (!ready.empty() && active < max_active) {
      Device* next = ready.front();
      ready.pop_front();
      start_device(*next);
    }
    (void)store.AddRun(d.id, report.started_at, ToJson(report).dump());
    for (const auto& s : report.steps) {
      if (s.outcome == StepOutcome::kFailed || s.outcome == StepOutcome::kRejected) {
        d.failed = true;
        if (summary.failures.size() < 10000)
          summary.failures.push_back({d.identity.mac, d.runs_done + 1, s.kind, s.url, s.error});
      }
    }
    bool restarting = report.restart != RestartWhen::kNone;
    if (!d.restart_run) ++d.runs_done;
    d.restart_run = false;
    ++progress.finished;
    if (restarting) {
      // A simulated restart: the pending image becomes the running one, then the start-up trigger.
      ++summary.restarts;
      ++progress.restarts;
      (void)ActivatePendingImage(store, d.id);
      if (config.Get("AutoUpdateOnStartup") != "0") {
        d.restart_run = true;
        d.next_start = Clock::now();
        d.scheduled = true;
        return;
      }
    }
    if (o.duration_s > 0) {
      double in = NextTriggerIn(config, o.seed, d.id, d.runs_done);
      if (in >= 0) {
        d.next_start = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(in));
        d.scheduled = true;
      }
    }
  };
  advance = [&](Device& d) {
    auto req = d.seq->Next();
    if (!req) return finish(d);
    ++progress.requests;
    Device* dp = &d;
    queue.Submit(std::move(*req), [&, dp](Expected<FetchResult> r) {
      if (r) {
        long s = r->status;
        if (s == 200 || (s == 0 && r->outcome == FetchOutcome::kDownloaded)) ++progress.s200;
        else if (s == 304) ++progress.s304;
        progress.bytes += r->bytes;
      } else {
        long s = r.error().http_status;
        if (s >= 500) ++progress.s5xx;
        else if (s >= 400) ++progress.s4xx;
        else ++progress.net;
      }
      dp->seq->Complete(std::move(r));
      advance(*dp);
    });
  };
  start_device = [&](Device& d) {
    RunEnvironment env;
    env.store = &store;
    env.device = d.id;
    env.schema = &*schema;
    env.identity = d.identity;
    env.state_dir = o.state_dir;
    env.keep_files = false;
    env.on_step = [&latency](const StepReport& s) {
      if (s.outcome != StepOutcome::kFailed && s.outcome != StepOutcome::kSkipped) latency[s.kind].push_back(s.seconds);
    };
    RunOptions opts;
    opts.trigger = d.restart_run || d.runs_done == 0 ? "start-up" : o.duration_s > 0 ? "interval" : "round";
    auto seq = DownloadSequence::Start(std::move(env), opts);
    ++active;
    if (!seq) {
      d.failed = true;
      summary.failures.push_back({d.identity.mac, d.runs_done + 1, "start", "", seq.error().message});
      --active;
      if (!d.restart_run) ++d.runs_done;
      ++progress.finished;
      return;
    }
    d.seq = std::move(*seq);
    advance(d);
  };

  // Group commit: simulated devices' state changes are committed together every 200 ms (each step is still
  // a savepoint of its own); the single device commits every step durably instead.
  (void)store.db().Exec("BEGIN");
  auto last_commit = Clock::now();
  auto last_progress = Clock::now();
  for (;;) {
    if (Clock::now() - last_commit > std::chrono::milliseconds(200)) {
      (void)store.db().Exec("COMMIT");
      (void)store.db().Exec("BEGIN");
      last_commit = Clock::now();
    }
    auto now = Clock::now();
    // Start whatever is due, oldest first, within the active bound.
    Clock::time_point next_due = Clock::time_point::max();
    for (auto& d : devices) {
      if (!d.scheduled) continue;
      if (d.next_start <= now && now < deadline) {
        d.scheduled = false;
        ready.push_back(&d);
        if (!d.restart_run) ++progress.started;
      } else if (d.next_start < next_due) {
        next_due = d.next_start;
      }
    }
    while (!ready.empty() && active < max_active) {
      Device* d = ready.front();
      ready.pop_front();
      start_device(*d);
    }
    bool anything_left = active > 0 || !ready.empty() || queue.pending() > 0;
    bool future = false;
    for (auto& d : devices) future |= d.scheduled && d.next_start < deadline;
    if (!anything_left && !future) {
      if (o.duration_s == 0 && round < o.runs) {
        ++round;
        schedule_round(Clock::now());
        continue;
      }
      break;
    }
    long wait_ms = 50;
    if (next_due != Clock::time_point::max())
      wait_ms = std::clamp<long>(static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(next_due - now).count()), 0, 50);
    if (queue.pending() > 0)
      queue.Run(std::max(wait_ms, 1L));
    else if (wait_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    if (on_progress && Clock::now() - last_progress > std::chrono::milliseconds(500)) {
      last_progress = Clock::now();
      progress.elapsed_s = std::chrono::duration<double>(last_progress - start).count();
      on_progress(progress);
    }
    if (Clock::now() >= deadline && active == 0 && queue.pending() == 0) break;
  }
  if (auto c = store.db().Exec("COMMIT"); !c) return Unexpected(c.error());
  summary.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  progress.elapsed_s = summary.wall_s;
  if (on_progress) on_progress(progress);
  summary.requests = progress.requests;
  summary.status_200 = progress.s200;
  summary.status_304 = progress.s304;
  summary.status_4xx = progress.s4xx;
  summary.status_5xx = progress.s5xx;
  summary.network_errors = progress.net;
  summary.bytes = progress.bytes;
  for (auto& d : devices) {
    summary.runs_completed += d.runs_done;
    summary.devices_failed += d.failed;
  }
  for (auto& [kind, v] : latency) {
    LatencySummary l{kind, v.size(), 0, 0, 0};
    l.p50_ms = Percentile(v, 0.50);
    l.p95_ms = Percentile(v, 0.95);
    l.p99_ms = Percentile(v, 0.99);
    summary.latency.push_back(l);
  }
  return summary;
}

}  // namespace autoprov
