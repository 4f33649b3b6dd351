#include "fleet/fleet.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>

#include "common/atomic_file.hpp"
#include "config/config_file.hpp"
#include "engine/device_state.hpp"
#include "engine/schedule.hpp"
#include "engine/signature_check.hpp"
#include "fleet/simulated_device.hpp"
#include "fleet/summary.hpp"
#include "store/state_dir.hpp"
#include "store/state_store.hpp"
#include "transfer/fetcher.hpp"

namespace autoprov {

Expected<std::pair<long long, long long>> ParseShard(std::string_view text) {
  auto slash = text.find('/');
  long long i = -1, m = 0;
  if (slash != std::string_view::npos) {
    std::from_chars(text.data(), text.data() + slash, i);
    std::from_chars(text.data() + slash + 1, text.data() + text.size(), m);
  }
  if (m < 1 || i < 0 || i >= m)
    return Fail(ErrorCode::kInvalidArgument,
                "--shard takes I/M with 0 <= I < M, e.g. 0/4, not '" + std::string(text) + "'");
  return std::make_pair(i, m);
}

double NextTriggerIn(const Configuration& c, uint64_t seed, long long id, int run,
                     std::time_t last_run, std::time_t now) {
  auto next = NextRun(c, last_run, now, DeviceDraw(seed, DrawFor::kPeriodicSpread, id, run));
  if (!next.at) return -1;
  return static_cast<double>(*next.at - now);
}

Expected<FleetState> OpenFleetState(const FleetOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.state_dir, ec);
  if (ec)
    return Fail(ErrorCode::kIo, "cannot create " + o.state_dir.string() + ": " + ec.message());
  FleetState st;
  auto schema = LoadSchema(o.state_dir, o.schema_files);
  if (!schema) return Unexpected(schema.error());
  st.schema = std::make_unique<Schema>(std::move(*schema));
  // The bootstrap configuration every new device starts from.
  auto text = ReadFile(o.bootstrap_file);
  if (!text) return Unexpected(text.error());
  ConfigFormat format = DetectConfigFormat(o.bootstrap_file, *text);
  auto loaded = LoadConfigurationFile(*text, o.bootstrap_file, format, Configuration(*st.schema),
                                      LoadModeFor(format));
  if (!loaded.errors.empty()) return Fail(ErrorCode::kParse, loaded.errors[0].ToString());
  st.bootstrap = std::make_unique<Configuration>(std::move(loaded.config));
  auto store = StateStore::Open(o.state_dir / "fleet.db", Durability::kRelaxed);
  if (!store) return Unexpected(store.error());
  st.store = std::make_unique<StateStore>(std::move(*store));
  // This process is the database's only writer: what every run reads is kept in memory too.
  st.first = o.shard_index * o.devices / o.shard_count;
  st.last = (o.shard_index + 1) * o.devices / o.shard_count;
  if (auto p = st.store->PreloadCache(st.first, st.last, *st.schema); !p)
    return Unexpected(p.error());
  if (auto m = MacForIndex(o.mac_base, st.last - 1); !m) return Unexpected(m.error());
  auto seeded = st.store->Transaction([&]() -> Expected<void> {
    for (long long i = st.first; i < st.last; ++i) {
      DeviceState state(*st.store, i);
      auto done = state.Seeded();
      if (!done) return Unexpected(done.error());
      if (!*done) {
        if (auto r = st.store->SaveConfiguration(i, *st.bootstrap); !r) return r;
        if (auto r = state.MarkSeeded(); !r) return r;
      }
    }
    return {};
  });
  if (!seeded) return Unexpected(seeded.error());
  return st;
}

namespace {

using Clock = std::chrono::steady_clock;

// What the workers share: the options, the schema, the one state database and the schedule. `mu`
// serialises every use of the database (one SQLite connection), its group commit and the schedule;
// the network work of the workers runs in parallel. Devices are not tied to a worker: each run goes
// to whichever worker has room when it is due, so no worker idles while another still has devices
// waiting.
struct Shared {
  using Due = std::pair<Clock::time_point, SimulatedDevice*>;

  const FleetOptions& o;
  FleetState& state;
  std::vector<SimulatedDevice>& devices;
  std::mutex mu;
  std::condition_variable work_cv;  // something was scheduled, or everything is done
  Clock::time_point last_commit;
  Clock::time_point start, deadline;
  std::priority_queue<Due, std::vector<Due>, std::greater<>>
      due;                   // devices waiting for their start
  size_t running = 0;        // devices in a run, on any worker
  size_t done_in_round = 0;  // --runs: devices done with the current round
  int round = 1;
  bool verifying = false;  // --power-loss: the last round, without cuts

  void Schedule(SimulatedDevice& d, Clock::time_point at) { due.emplace(at, &d); }
  void Schedule(SimulatedDevice& d, Clock::time_point base, double in_s) {
    Schedule(d, base + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(std::max(0.0, in_s))));
  }
  void ScheduleRound(Clock::time_point base) {
    for (SimulatedDevice& d : devices) {
      double in = StartOffset(o.seed, d.id, round, o.spread_s);
      // Real time: the start-up run waits its random delay, as the daemon's does (S-10.1).
      if (round == 1 && o.duration_s > 0)
        in += static_cast<double>(
            StartupDelay(*state.bootstrap, DeviceDraw(o.seed, DrawFor::kStartupDelay, d.id, 0)));
      Schedule(d, base, in);
    }
    work_cv.notify_all();
  }
  // S-10.2: whether a simulated device is busy now.
  bool Busy(const SimulatedDevice& d, Clock::time_point now) const {
    if (o.busy_fraction <= 0 || now - start >= std::chrono::duration<double>(o.busy_for_s))
      return false;
    return DeviceDraw(o.seed, DrawFor::kBusy, d.id, 0) < o.busy_fraction;
  }
  // A device is done with its run (and any restart run after it): with --runs, the next round
  // starts when every device is done with this one.
  void DoneWithRun() {
    if (o.duration_s > 0) return;
    if (++done_in_round < devices.size()) return;
    if (round >= o.runs) {
      // --power-loss: one more round without cuts: the run after the last cut completes.
      if (o.power_loss <= 0 || verifying) return;
      verifying = true;
    }
    done_in_round = 0;
    ++round;
    ScheduleRound(Clock::now());
  }
  bool Finished(Clock::time_point now) const {
    return running == 0 && (due.empty() || due.top().first >= deadline || now >= deadline);
  }

  // Group commit, called with `mu` held between steps (no savepoint open): simulated devices' state
  // changes are committed together every 200 ms, each step still a savepoint of its own. The single
  // device commits every step durably instead.
  void MaybeCommit() {
    auto now = Clock::now();
    if (now - last_commit < std::chrono::milliseconds(200)) return;
    (void)state.store->CommitGroup();
    last_commit = now;
  }
};

// Which status class a transfer's result counts under: a report upload's 2xx counts as a 200.
StatusClass Classify(const Fetched& r, bool upload) {
  if (r && upload) return StatusClass::k200;
  if (!r) {
    long s = r.error().stats.http_status;
    return s >= 500 ? StatusClass::k5xx : s >= 400 ? StatusClass::k4xx : StatusClass::kNetwork;
  }
  if (r->status == 200 || (r->status == 0 && r->outcome == FetchOutcome::kDownloaded))
    return StatusClass::k200;
  if (r->status == 304 || (r->status == 0 && r->outcome == FetchOutcome::kNotModified))
    return StatusClass::k304;
  return StatusClass::kOther;
}
constexpr Counter kStatusCounter[] = {Counter::kStatus200,     Counter::kStatus304,
                                      Counter::kStatus4xx,     Counter::kStatus5xx,
                                      Counter::kNetworkErrors, Counter::kStatusOther};

// One event loop (its own FetchQueue, its share of the connections) running whichever devices are
// due: the host of the devices it runs (fleet/simulated_device.hpp).
class Worker final : public DeviceHost {
 public:
  Worker(Shared& shared, long connections)
      : sh_(shared),
        queue_(connections),
        max_active_(static_cast<size_t>(connections) * 4) {}  // bounds memory

  void Run();

  LiveCounters live;
  Timeline timeline;                                // --timeline: this worker's requests per second
  std::map<std::string, LatencyHistogram> latency;  // per file kind
  std::vector<DeviceFailure> failures;
  std::vector<InvariantViolation> violations;  // --power-loss

  // DeviceHost, called with sh_.mu held.
  const FleetOptions& options() const override { return sh_.o; }
  StateStore& store() override { return *sh_.state.store; }
  const Schema& schema() const override { return *sh_.state.schema; }
  long long UnixNow() override { return static_cast<long long>(std::time(nullptr)); }
  void Submit(SimulatedDevice& d, FetchRequest request, std::function<void(Fetched)> done) override;
  void Schedule(SimulatedDevice& d, double in_s) override { sh_.Schedule(d, Clock::now(), in_s); }
  void Activate(SimulatedDevice&) override {
    ++active_;
    ++sh_.running;
  }
  void Deactivate(SimulatedDevice&, bool round_done) override {
    --active_;
    --sh_.running;
    if (round_done) sh_.DoneWithRun();
  }
  bool Busy(const SimulatedDevice& d) override { return sh_.Busy(d, Clock::now()); }
  std::optional<PowerCut> CutFor(const SimulatedDevice& d) override {
    return DrawPowerCut(sh_.o, d, sh_.verifying);
  }
  size_t ConfigHash(long long device) override {
    return ConfigurationDigest(store(), schema(), device);
  }
  bool verifying() const override { return sh_.verifying; }
  LiveCounters& counters() override { return live; }
  void Failure(DeviceFailure f) override {
    if (failures.size() < kMaxListedFailures) failures.push_back(std::move(f));
  }
  void Violation(InvariantViolation v) override { violations.push_back(std::move(v)); }
  void StepDone(const StepReport& s) override {
    if (s.outcome != StepOutcome::kFailed && s.outcome != StepOutcome::kSkipped)
      latency[s.kind].Add(s.seconds);
  }

 private:
  void StartDue();  // starts what is due, oldest first, within this worker's bound (mu held)

  Shared& sh_;
  DeviceDriver driver_{*this};
  FetchQueue queue_;
  size_t active_ = 0;  // devices in a run on this worker
  const size_t max_active_;
};

void Worker::Submit(SimulatedDevice&, FetchRequest request, std::function<void(Fetched)> done) {
  bool upload = !request.method.empty();
  queue_.Submit(std::move(request), [this, upload, done = std::move(done)](Fetched r) {
    StatusClass status = Classify(r, upload);
    live.Add(kStatusCounter[static_cast<size_t>(status)]);
    if (r) {
      live.Add(Counter::kBytes, static_cast<long long>(r->bytes - r->resumed_from));
      if (r->resumed_from > 0) live.Add(Counter::kResumed);
    }
    if (sh_.o.timeline)
      timeline.Record(std::chrono::duration<double>(Clock::now() - sh_.start).count(), status,
                      r ? r->seconds : r.error().stats.seconds);
    std::lock_guard lock(sh_.mu);
    sh_.MaybeCommit();
    done(std::move(r));
    StartDue();  // keep the pipeline full: the next due device starts as this one moves on
  });
}

void Worker::StartDue() {
  auto now = Clock::now();
  while (active_ < max_active_ && !sh_.due.empty() && sh_.due.top().first <= now &&
         now < sh_.deadline) {
    SimulatedDevice* d = sh_.due.top().second;
    sh_.due.pop();
    driver_.Due(*d);
  }
}

void Worker::Run() {
  std::unique_lock lock(sh_.mu);
  for (;;) {
    sh_.MaybeCommit();
    auto now = Clock::now();
    StartDue();
    if (sh_.Finished(now)) {
      sh_.work_cv.notify_all();  // the others may be waiting for work that will not come
      return;
    }
    // Wake for the next start only with room for it; when full, each ending run starts the next
    // (Submit).
    auto until = now + std::chrono::milliseconds(50);
    if (active_ < max_active_ && !sh_.due.empty()) until = std::min(until, sh_.due.top().first);
    if (queue_.pending() > 0) {
      long wait_ms = std::max(
          1L, static_cast<long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()));
      lock.unlock();
      queue_.Run(wait_ms);  // completions take the lock themselves
      lock.lock();
    } else {
      sh_.work_cv.wait_until(lock, until);
    }
  }
}

}  // namespace

Expected<FleetSummary> RunFleet(const FleetOptions& given,
                                const std::function<void(const FleetProgress&)>& on_progress) {
  auto began = Clock::now();
  FleetOptions o = given;
  if (!o.signers_file.empty()) {
    DeviceHooks hooks;
    hooks.signers_bundle = o.signers_file;
    auto bundle = LoadSigners(o.state_dir, hooks);
    if (!bundle) return Unexpected(bundle.error());
    o.signers = std::move(*bundle);
  }
  if (o.devices < 1) return Fail(ErrorCode::kInvalidArgument, "--devices must be at least 1");
  if (o.max_connections < 1)
    return Fail(ErrorCode::kInvalidArgument, "--max-connections must be at least 1");
  if (o.busy_fraction < 0 || o.busy_fraction > 1)
    return Fail(ErrorCode::kInvalidArgument, "--busy-fraction is between 0 and 1");
  if (o.busy_fraction > 0 && o.duration_s <= 0)
    return Fail(ErrorCode::kInvalidArgument,
                "--busy-fraction needs --duration: a restart waits in real time (S-10.2)");
  if (o.threads < 0) return Fail(ErrorCode::kInvalidArgument, "--threads must be at least 1");
  if (o.power_loss < 0 || o.power_loss > 1)
    return Fail(ErrorCode::kInvalidArgument, "--power-loss is a probability between 0 and 1");
  auto opened = OpenFleetState(o);
  if (!opened) return Unexpected(opened.error());
  FleetState& state = *opened;
  StateStore& store = *state.store;
  const long long first = state.first, last = state.last;
  std::vector<SimulatedDevice> devices(static_cast<size_t>(last - first));
  for (long long i = first; i < last; ++i) devices[static_cast<size_t>(i - first)].id = i;

  // Workers: one event loop each with a share of the connections; the devices are scheduled for all
  // of them.
  size_t threads = o.threads > 0 ? static_cast<size_t>(o.threads)
                                 : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min({threads, devices.size(), static_cast<size_t>(o.max_connections)});
  Shared shared{o, state, devices, {}, {}, {}, {}, {}, {}};
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t w = 0; w < threads; ++w) {
    long connections =
        o.max_connections / static_cast<long>(threads) +
        (static_cast<long>(w) < o.max_connections % static_cast<long>(threads) ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(shared, connections));
  }

  auto snapshot = [&] {
    FleetProgress p;
    p.devices = last - first;
    for (const auto& w : workers) p.counters.Add(w->live.Snapshot());
    p.elapsed_s = std::chrono::duration<double>(Clock::now() - shared.start).count();
    return p;
  };
  if (auto b = store.BeginGroup(); !b) return Unexpected(b.error());
  shared.start = shared.last_commit = Clock::now();
  shared.deadline = o.duration_s > 0 ? shared.start + std::chrono::seconds(o.duration_s)
                                     : Clock::time_point::max();
  shared.ScheduleRound(shared.start);
  // The workers run; this thread draws the progress line every 500 ms and wakes as soon as they are
  // done.
  size_t running = workers.size();
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::vector<std::thread> pool;
  for (auto& w : workers)
    pool.emplace_back([&, w = w.get()] {
      w->Run();
      std::lock_guard lock(done_mu);
      if (--running == 0) done_cv.notify_one();
    });
  {
    std::unique_lock lock(done_mu);
    while (!done_cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return running == 0; }))
      if (on_progress) {
        lock.unlock();
        on_progress(snapshot());
        lock.lock();
      }
  }
  for (auto& t : pool) t.join();
  if (auto c = store.EndGroup(); !c) return Unexpected(c.error());

  FleetSummary summary;
  summary.devices = last - first;
  summary.first_index = first;
  summary.shard_index = o.shard_index;
  summary.shard_count = o.shard_count;
  summary.wall_s = std::chrono::duration<double>(Clock::now() - shared.start).count();
  summary.startup_s = std::chrono::duration<double>(shared.start - began).count();
  FleetProgress progress = snapshot();
  progress.elapsed_s = summary.wall_s;
  if (on_progress) on_progress(progress);
  summary.counters = progress.counters;
  summary.threads = static_cast<int>(threads);
  ReadCache::Usage cache = store.CacheUsage();
  summary.memory = {devices.capacity() * sizeof(SimulatedDevice), cache.entry_bytes,
                    cache.word_bytes, cache.pool_bytes, cache.pool_strings};
  for (const auto& w : workers) summary.timeline.Merge(w->timeline);
  for (const auto& w : workers)
    summary.violations.insert(summary.violations.end(), w->violations.begin(), w->violations.end());
  if (o.power_loss > 0) {
    auto found = CheckDeviceInvariants(store, *state.schema, first, last, o.mac_base);
    if (!found) return Unexpected(found.error());
    summary.violations.insert(summary.violations.end(), found->begin(), found->end());
    summary.invariants_checked = true;
  }
  for (auto& d : devices) {
    summary.devices_failed += d.failed;
    summary.devices_last_run_failed += d.last_failed;
  }
  std::map<std::string, LatencyHistogram> latency;
  for (auto& w : workers) {
    for (auto& [kind, h] : w->latency) latency[kind].Merge(h);
    for (auto& f : w->failures)
      if (summary.failures.size() < kMaxListedFailures) summary.failures.push_back(std::move(f));
  }
  summary.latency = LatencySummaries(std::move(latency));
  return summary;
}

}  // namespace autoprov
