#include "fleet/fleet.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <thread>

#include "common/atomic_file.hpp"
#include "common/text.hpp"
#include "config/config_file.hpp"
#include "engine/busy.hpp"
#include "engine/device_state.hpp"
#include "engine/report_upload.hpp"
#include "engine/restart.hpp"
#include "engine/schedule.hpp"
#include "engine/sequence.hpp"
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

Expected<std::string> MacForIndex(std::string_view base, long long index) {
  auto mac = NormalizeMac(base);
  if (!mac) return Unexpected(mac.error());
  unsigned long long v = std::stoull(*mac, nullptr, 16) + static_cast<unsigned long long>(index);
  if (v > 0xFFFFFFFFFFFFull)
    return Fail(ErrorCode::kInvalidArgument, "the MAC range overflows from " + std::string(base));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llX", v);
  return std::string(buf);
}

double StartOffset(uint64_t seed, long long index, int round, double spread_s) {
  if (spread_s <= 0) return 0;
  // SplitMix64 of (seed, index, round): a reproducible draw per device and round, cheap enough to
  // make on every decision (a seeded Mersenne Twister costs 312 words of set-up per draw).
  uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(index) << 20) ^
               static_cast<uint64_t>(round);
  for (int i = 0; i < 2; ++i) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
  }
  return static_cast<double>(z >> 11) * 0x1.0p-53 * spread_s;  // uniform in [0, spread_s)
}

namespace {

using Clock = std::chrono::steady_clock;

// --power-loss: where the current run's power cut falls, and the configurations it may leave.
struct PowerCut {
  int at = 0;  // when this many of the run's requests have completed (one more: at the run's end)
  int completions = 0;
  bool in_commit = false;      // in the state transaction of that result (else during its transfer)
  std::vector<size_t> states;  // the stored configuration at each step boundary of the run
};

struct Device {
  long long id = 0;  // global index: the device column and the MAC offset
  int runs_done = 0;
  bool failed = false;
  bool restart_run = false;   // the next run is the start-up run after a simulated restart
  bool retry_run = false;     // the next run is a retry after a failed run (S-10.1)
  bool power_up = false;      // the next run is the start-up run after a power cut
  bool last_failed = false;   // its last run had a failed step
  uint8_t cuts = 0;           // power cuts since the last complete run
  uint8_t requests = 0;       // of the current run
  uint8_t last_requests = 5;  // of the last complete run
  std::unique_ptr<DownloadSequence> seq;
  std::unique_ptr<PowerCut> cut;  // --power-loss: this run's cut (null: none)
  // S-10.3: the report uploads after a run, one at a time (null between runs).
  struct Uploads {
    std::vector<FetchRequest> requests;
    std::vector<Expected<FetchResult>> results;
    RunReport report;
  };
  std::unique_ptr<Uploads> uploads;
  // S-10.2: a restart waiting for the device to be idle (null otherwise).
  struct Deferral {
    Clock::time_point since;
    Configuration config;
  };
  std::unique_ptr<Deferral> deferral;
  // S-10.4: where an image download cut short stands (null when none is kept): a simulated device
  // keeps no image bytes, only how many it has and their hash, and asks for the rest next time.
  std::unique_ptr<ResumePoint> resume;
};

// Seconds until the next trigger of a device whose run just ended, from its own configuration, by
// the same rule as the daemon (NextRun); <0: none. The random spread is the device's own,
// reproducible per seed.
}  // namespace

double NextTriggerIn(const Configuration& c, uint64_t seed, long long id, int run,
                     std::time_t last_run, std::time_t now) {
  auto next = NextRun(c, last_run, now, StartOffset(seed, id, run, 1.0));
  if (!next.at) return -1;
  return static_cast<double>(*next.at - now);
}

namespace {

// Live counters of one worker; the progress line sums them from another thread.
struct Counters {
  std::atomic<long long> started{0}, finished{0}, failed{0}, requests{0}, s200{0}, s304{0}, s4xx{0},
      s5xx{0}, net{0}, restarts{0}, retries{0}, reports{0}, deferrals{0}, given_up{0}, resumed{0},
      power_cuts{0};
  std::atomic<uint64_t> bytes{0};
  void Add(std::atomic<long long>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

// What the workers share: the options, the schema, the one state database and the schedule. `mu`
// serialises every use of the database (one SQLite connection), its group commit and the schedule;
// the network work of the workers runs in parallel. Devices are not tied to a worker: each run goes
// to whichever worker has room when it is due, so no worker idles while another still has devices
// waiting.
struct Shared {
  using Due = std::pair<Clock::time_point, Device*>;

  const FleetOptions& o;
  const Schema& schema;
  StateStore& store;
  std::vector<Device>& devices;
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
  const Configuration* bootstrap = nullptr;

  void Schedule(Device& d, Clock::time_point at) { due.emplace(at, &d); }
  void Schedule(Device& d, Clock::time_point base, double in_s) {
    Schedule(d, base + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(std::max(0.0, in_s))));
  }
  void ScheduleRound(Clock::time_point base) {
    for (Device& d : devices) {
      double in = StartOffset(o.seed, d.id, round, o.spread_s);
      // Real time: the start-up run waits its random delay, as the daemon's does (S-10.1).
      if (round == 1 && o.duration_s > 0 && bootstrap)
        in += static_cast<double>(StartupDelay(*bootstrap, StartupDraw(d.id, 0)));
      Schedule(d, base, in);
    }
    work_cv.notify_all();
  }
  // S-10.2: whether a simulated device is busy now.
  bool Busy(const Device& d, Clock::time_point now) const {
    if (o.busy_fraction <= 0 || now - start >= std::chrono::duration<double>(o.busy_for_s))
      return false;
    return StartOffset(o.seed ^ 0xb5b5, d.id, 0, 1.0) < o.busy_fraction;
  }
  // Who a device is: made when it runs rather than kept, a million devices' identities cost
  // nothing. The serial as the vendor derives a DHCP host name: the last three MAC bytes in
  // decimal.
  DeviceIdentity Identity(long long id) const {
    std::string mac = *MacForIndex(o.mac_base, id);  // the range was checked at the start
    std::string serial = std::to_string(std::stoul(mac.substr(6), nullptr, 16));
    return DeviceIdentity{o.product, std::move(mac), std::move(serial), o.sw_version};
  }
  // A device's reproducible draws in [0, 1), apart from those of its periodic spread.
  double StartupDraw(long long id, int run) const {
    return StartOffset(o.seed ^ 0x5707, id, run, 1.0);
  }
  double RetryDraw(long long id, int run) const {
    return StartOffset(o.seed ^ 0x2e72, id, run, 1.0);
  }
  double Draw(uint64_t salt, long long id, int n) const {
    return StartOffset(o.seed ^ salt, id, n, 1.0);
  }
  // A digest of the device's stored configuration (--power-loss compares them).
  size_t ConfigHash(long long id) {
    auto c = store.LoadConfiguration(id, schema);
    if (!c) return 0;
    size_t h = 0;
    auto mix = [&](std::string_view v) { h = h * 1000003u ^ std::hash<std::string_view>{}(v); };
    for (const auto& [name, value] : c->scalars()) {
      mix(name);
      mix(value);
    }
    for (const auto& [table, rows] : c->tables()) {
      mix(table);
      for (const auto& [key, values] : rows) {
        for (const auto& k : key) mix(k);
        for (const auto& [column, value] : values) {
          mix(column);
          mix(value);
        }
      }
    }
    return h;
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
    (void)store.CommitGroup();
    last_commit = now;
  }
};

// One event loop (its own FetchQueue, its share of the connections) running whichever devices are
// due.
class Worker {
 public:
  Worker(Shared& shared, long connections)
      : sh_(shared),
        queue_(connections),
        max_active_(static_cast<size_t>(connections) * 4) {}  // bounds memory

  void Run();

  Counters counters;
  Timeline timeline;                                // --timeline: this worker's requests per second
  std::map<std::string, LatencyHistogram> latency;  // per file kind
  std::vector<DeviceFailure> failures;
  std::vector<InvariantViolation> violations;  // --power-loss

 private:
  // The four below run with sh_.mu held.
  void StartDue();  // starts what is due, oldest first, within this worker's bound
  void StartDevice(Device& d);
  void Advance(Device& d);
  void Finish(Device& d);
  void SendNextReport(Device& d);
  void AfterRun(Device& d, RunReport report);
  void Restart(Device& d, const Configuration& config);
  void BusyCheck(Device& d);
  // --power-loss: the power goes now (`result`: the request that just completed, else the run's
  // end), then comes back.
  void CutPower(Device& d, Expected<FetchResult>* result);

  Shared& sh_;
  FetchQueue queue_;
  size_t active_ = 0;  // devices in a run on this worker
  const size_t max_active_;
};

void Worker::StartDevice(Device& d) {
  RunEnvironment env;
  env.store = &sh_.store;
  env.device = d.id;
  env.schema = &sh_.schema;
  env.identity = sh_.Identity(d.id);
  env.state_dir = sh_.o.state_dir;
  env.keep_files = false;
  env.image_resume = [dp = &d]() -> ResumePoint& {
    if (!dp->resume) dp->resume = std::make_unique<ResumePoint>();
    return *dp->resume;
  };
  env.on_step = [this](const StepReport& s) {
    if (s.outcome != StepOutcome::kFailed && s.outcome != StepOutcome::kSkipped)
      latency[s.kind].Add(s.seconds);
  };
  RunOptions opts;
  opts.trigger = d.restart_run || d.power_up || d.runs_done == 0 ? "start-up"
                 : d.retry_run                                   ? "retry"
                 : sh_.o.duration_s > 0                          ? "interval"
                                                                 : "round";
  opts.retry_random = sh_.RetryDraw(d.id, d.runs_done);
  d.retry_run = false;
  d.power_up = false;
  d.requests = 0;
  auto seq = DownloadSequence::Start(std::move(env), opts);
  if (!seq) {
    d.failed = true;
    failures.push_back({sh_.Identity(d.id).mac, d.runs_done + 1, "start", "", seq.error().message});
    if (!d.restart_run) ++d.runs_done;
    d.restart_run = false;
    counters.Add(counters.finished);
    counters.Add(counters.failed);
    sh_.DoneWithRun();
    return;
  }
  ++active_;
  ++sh_.running;
  d.seq = std::move(*seq);
  constexpr int kMaxCutsInARow = 3;
  const int n = d.runs_done * 8 + d.cuts;
  if (sh_.o.power_loss > 0 && !sh_.verifying && d.cuts < kMaxCutsInARow &&
      sh_.Draw(0xc07, d.id, n) < sh_.o.power_loss) {
    d.cut = std::make_unique<PowerCut>();
    d.cut->at = 1 + static_cast<int>(sh_.Draw(0xa7, d.id, n) * (d.last_requests + 1));
    d.cut->in_commit = sh_.Draw(0x1c, d.id, n) < 0.5;
    d.cut->states.push_back(sh_.ConfigHash(d.id));
  }
  Advance(d);
}

void Worker::Advance(Device& d) {
  auto req = d.seq->Next();
  if (!req) return d.cut ? CutPower(d, nullptr) : Finish(d);
  counters.Add(counters.requests);
  if (d.requests < UINT8_MAX) ++d.requests;
  Device* dp = &d;
  queue_.Submit(std::move(*req), [this, dp](Expected<FetchResult> r) {
    StatusClass status = StatusClass::kOther;
    if (r) {
      long s = r->status;
      if (s == 200 || (s == 0 && r->outcome == FetchOutcome::kDownloaded)) {
        counters.Add(counters.s200);
        status = StatusClass::k200;
      } else if (s == 304 || (s == 0 && r->outcome == FetchOutcome::kNotModified)) {
        counters.Add(counters.s304);
        status = StatusClass::k304;
      }
      counters.bytes.fetch_add(r->bytes - r->resumed_from, std::memory_order_relaxed);
      if (r->resumed_from > 0) counters.Add(counters.resumed);
    } else {
      long s = r.error().http_status;
      counters.Add(s >= 500 ? counters.s5xx : s >= 400 ? counters.s4xx : counters.net);
      status = s >= 500 ? StatusClass::k5xx : s >= 400 ? StatusClass::k4xx : StatusClass::kNetwork;
    }
    if (sh_.o.timeline)
      timeline.Record(std::chrono::duration<double>(Clock::now() - sh_.start).count(), status,
                      r ? r->seconds : r.error().seconds);
    std::lock_guard lock(sh_.mu);
    sh_.MaybeCommit();
    if (dp->cut && ++dp->cut->completions >= dp->cut->at) return CutPower(*dp, &r);
    dp->seq->Complete(std::move(r));
    if (dp->cut) dp->cut->states.push_back(sh_.ConfigHash(dp->id));
    Advance(*dp);
  });
}

void Worker::Finish(Device& d) {
  RunReport report = d.seq->Finish();
  // S-10.3: report back as a device does, before the device is done with its run.
  auto uploads = PrepareReportUploads(report, d.seq->config(), d.seq->env(),
                                      report.restart != RestartWhen::kNone);
  if (uploads.empty()) return AfterRun(d, std::move(report));
  d.uploads = std::make_unique<Device::Uploads>();
  d.uploads->requests = std::move(uploads);
  d.uploads->report = std::move(report);
  SendNextReport(d);
}

void Worker::SendNextReport(Device& d) {
  Device::Uploads& u = *d.uploads;
  bool failed = !u.results.empty() && !u.results.back();
  if (failed || u.results.size() == u.requests.size()) {
    auto outcome = FinishReportUploads(sh_.store, d.id, u.requests, u.results);
    counters.reports.fetch_add(outcome.sent, std::memory_order_relaxed);
    RunReport report = std::move(u.report);
    d.uploads.reset();
    return AfterRun(d, std::move(report));
  }
  counters.Add(counters.requests);
  Device* dp = &d;
  queue_.Submit(u.requests[u.results.size()], [this, dp](Expected<FetchResult> r) {
    if (sh_.o.timeline) {
      long s = r ? r->status : r.error().http_status;
      StatusClass c = r          ? StatusClass::k200  // a 2xx to the upload
                      : s >= 500 ? StatusClass::k5xx
                      : s >= 400 ? StatusClass::k4xx
                                 : StatusClass::kNetwork;
      timeline.Record(std::chrono::duration<double>(Clock::now() - sh_.start).count(), c,
                      r ? r->seconds : r.error().seconds);
    }
    std::lock_guard lock(sh_.mu);
    dp->uploads->results.push_back(std::move(r));
    SendNextReport(*dp);
  });
}

// A simulated restart: the pending image becomes the running one, then the start-up trigger.
void Worker::Restart(Device& d, const Configuration& config) {
  counters.Add(counters.restarts);
  auto startup = RestartDevice(sh_.store, d.id, sh_.schema);
  if (!startup || !*startup) return;
  d.restart_run = true;
  double delay = sh_.o.duration_s > 0
                     ? static_cast<double>(StartupDelay(config, sh_.StartupDraw(d.id, d.runs_done)))
                     : 0;
  sh_.Schedule(d, Clock::now(), delay);
  StartDue();
}

void Worker::CutPower(Device& d, Expected<FetchResult>* result) {
  counters.Add(counters.power_cuts);
  std::unique_ptr<PowerCut> cut = std::move(d.cut);
  if (cut->in_commit) {
    // The result was being applied: whatever it wrote is lost with the power, as an
    // uncommitted transaction is.
    (void)sh_.store.Discard([&] {
      if (result)
        d.seq->Complete(std::move(*result));
      else
        (void)d.seq->Finish();
    });
  }
  d.seq.reset();  // the transfer and the run are gone
  --active_;
  --sh_.running;
  if (d.cuts < UINT8_MAX) ++d.cuts;
  size_t now = sh_.ConfigHash(d.id);
  if (std::find(cut->states.begin(), cut->states.end(), now) == cut->states.end())
    violations.push_back({d.id, sh_.Identity(d.id).mac, "cut",
                          "after a power cut " +
                              std::string(result ? "at a request" : "at the end") + " of run " +
                              std::to_string(d.runs_done + 1) +
                              " the configuration is none that a complete step left"});
  // The power comes back: the device starts as after a restart (S-2.2), then its start-up run
  // takes the place of the one that was cut.
  auto startup = RestartDevice(sh_.store, d.id, sh_.schema);
  if (!startup && failures.size() < 10000)
    failures.push_back(
        {sh_.Identity(d.id).mac, d.runs_done + 1, "power-up", "", startup.error().message});
  if (!d.restart_run) d.power_up = true;
  double delay = 0;
  if (sh_.o.duration_s > 0) {
    if (auto config = sh_.store.LoadConfiguration(d.id, sh_.schema))
      delay = static_cast<double>(
          StartupDelay(*config, sh_.StartupDraw(d.id, d.runs_done * 8 + d.cuts)));
  }
  sh_.Schedule(d, Clock::now(), delay);
  StartDue();
}

void Worker::BusyCheck(Device& d) {
  auto now = Clock::now();
  double waited = std::chrono::duration<double>(now - d.deferral->since).count();
  BusyDecision decision = DecideBusy(d.deferral->config, sh_.Busy(d, now), waited);
  if (decision.wait) {
    sh_.Schedule(d, now, static_cast<double>(decision.wait_s));  // StartDue comes back here
    return;
  }
  std::unique_ptr<Device::Deferral> deferral = std::move(d.deferral);
  if (decision.verdict == BusyVerdict::kGoAhead) {
    Restart(d, deferral->config);
    if (d.restart_run) return;
  } else {
    counters.Add(counters.given_up);  // the restart stays pending in the state database
  }
  if (sh_.o.duration_s > 0) {
    double in = NextTriggerIn(deferral->config, sh_.o.seed, d.id, d.runs_done, std::time(nullptr),
                              std::time(nullptr));
    if (in >= 0) sh_.Schedule(d, Clock::now(), in);
  }
}

void Worker::AfterRun(Device& d, RunReport report) {
  --active_;
  --sh_.running;
  if (d.resume && d.resume->kept == 0) d.resume.reset();  // nothing kept: no memory held
  bool run_failed = false;
  d.cuts = 0;
  d.last_requests = std::max<uint8_t>(d.requests, 1);
  for (const auto& s : report.steps) {
    if (s.outcome == StepOutcome::kFailed || s.outcome == StepOutcome::kRejected) {
      run_failed = true;
      if (sh_.verifying)
        violations.push_back(
            {d.id, sh_.Identity(d.id).mac, "next run",
             "the run after the power cuts failed: " + s.kind + " " + s.url + ": " + s.error});
      if (failures.size() < 10000)
        failures.push_back({sh_.Identity(d.id).mac, d.runs_done + 1, s.kind, s.url, s.error});
    }
  }
  d.failed |= run_failed;
  d.last_failed = run_failed;
  // A simulated run's report is kept when it failed (for inspection beside the summary's failure
  // list); the runs that went well are counted, not stored: that would be the bulk of the database
  // and of the work.
  if (run_failed) (void)sh_.store.AddRun(d.id, report.started_at, ToJson(report).dump());
  bool restarting = report.restart != RestartWhen::kNone;
  if (!d.restart_run) ++d.runs_done;
  d.restart_run = false;
  counters.Add(counters.finished);
  if (run_failed) counters.Add(counters.failed);
  std::unique_ptr<DownloadSequence> seq = std::move(d.seq);
  if (restarting) {
    if (sh_.Busy(d, Clock::now())) {
      // S-10.2: the restart waits while the device is busy, asking as the rule says.
      counters.Add(counters.deferrals);
      d.deferral =
          std::make_unique<Device::Deferral>(Device::Deferral{Clock::now(), seq->config()});
      sh_.DoneWithRun();
      return BusyCheck(d);
    }
    Restart(d, seq->config());
    if (d.restart_run) return;
  }
  if (sh_.o.duration_s > 0) {
    // Real time: the next periodic run counts from this run's start (S-10.7); a planned retry
    // comes first when it is earlier (S-10.1).
    std::time_t now = std::time(nullptr);
    double in = NextTriggerIn(seq->config(), sh_.o.seed, d.id, d.runs_done,
                              static_cast<std::time_t>(report.started_at), now);
    if (report.next_retry_at > 0) {
      double retry = static_cast<double>(report.next_retry_at - report.finished_at);
      if (in < 0 || retry < in) {
        in = retry;
        d.retry_run = true;
        counters.Add(counters.retries);
      }
    }
    if (in >= 0) sh_.Schedule(d, Clock::now(), in);
  }
  sh_.DoneWithRun();
  StartDue();  // keep the pipeline full: the next due device starts as this one ends
}

void Worker::StartDue() {
  auto now = Clock::now();
  while (active_ < max_active_ && !sh_.due.empty() && sh_.due.top().first <= now &&
         now < sh_.deadline) {
    Device* d = sh_.due.top().second;
    sh_.due.pop();
    if (d->deferral) {
      BusyCheck(*d);
      continue;
    }
    if (!d->restart_run && !d->power_up) counters.Add(counters.started);
    StartDevice(*d);
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
    // (Finish).
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

Expected<FleetSummary> RunFleet(const FleetOptions& o,
                                const std::function<void(const FleetProgress&)>& on_progress) {
  auto began = Clock::now();
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
  std::error_code ec;
  std::filesystem::create_directories(o.state_dir, ec);
  if (ec)
    return Fail(ErrorCode::kIo, "cannot create " + o.state_dir.string() + ": " + ec.message());
  auto schema = LoadSchema(o.state_dir, o.schema_files);
  if (!schema) return Unexpected(schema.error());

  // The bootstrap configuration every new device starts from.
  auto text = ReadFile(o.bootstrap_file);
  if (!text) return Unexpected(text.error());
  ConfigFormat format = DetectConfigFormat(o.bootstrap_file, *text);
  auto loaded = LoadConfigurationFile(
      *text, o.bootstrap_file, format, Configuration(*schema),
      format == ConfigFormat::kCli ? ConfigLoadMode::kIncremental : ConfigLoadMode::kFromFile);
  if (!loaded.errors.empty()) return Fail(ErrorCode::kParse, loaded.errors[0].ToString());
  const Configuration& bootstrap = loaded.config;

  auto store_or = StateStore::Open(o.state_dir / "fleet.db", Durability::kRelaxed);
  if (!store_or) return Unexpected(store_or.error());
  StateStore store = std::move(*store_or);
  // This process is the database's only writer: what every run reads is kept in memory too.

  long long first = o.shard_index * o.devices / o.shard_count;
  long long last = (o.shard_index + 1) * o.devices / o.shard_count;
  if (auto p = store.PreloadCache(first, last, *schema); !p) return Unexpected(p.error());
  if (auto m = MacForIndex(o.mac_base, last - 1); !m) return Unexpected(m.error());
  std::vector<Device> devices(static_cast<size_t>(last - first));
  auto seeded = store.Transaction([&]() -> Expected<void> {
    for (long long i = first; i < last; ++i) {
      Device& d = devices[static_cast<size_t>(i - first)];
      d.id = i;
      DeviceState state(store, i);
      auto done = state.Seeded();
      if (!done) return Unexpected(done.error());
      if (!*done) {
        if (auto r = store.SaveConfiguration(i, bootstrap); !r) return r;
        if (auto r = state.MarkSeeded(); !r) return r;
      }
    }
    return {};
  });
  if (!seeded) return Unexpected(seeded.error());

  // Workers: one event loop each with a share of the connections; the devices are scheduled for all
  // of them.
  size_t threads = o.threads > 0 ? static_cast<size_t>(o.threads)
                                 : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min({threads, devices.size(), static_cast<size_t>(o.max_connections)});
  Shared shared{o, *schema, store, devices, {}, {}, {}, {}, {}, {}};
  shared.bootstrap = &bootstrap;
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t w = 0; w < threads; ++w) {
    long connections =
        o.max_connections / static_cast<long>(threads) +
        (static_cast<long>(w) < o.max_connections % static_cast<long>(threads) ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(shared, connections));
  }

  FleetProgress progress;
  progress.devices = last - first;
  auto snapshot = [&] {
    FleetProgress p;
    p.devices = progress.devices;
    for (const auto& w : workers) {
      const Counters& c = w->counters;
      p.started += c.started;
      p.finished += c.finished;
      p.failed += c.failed;
      p.requests += c.requests;
      p.s200 += c.s200;
      p.s304 += c.s304;
      p.s4xx += c.s4xx;
      p.s5xx += c.s5xx;
      p.net += c.net;
      p.restarts += c.restarts;
      p.retries += c.retries;
      p.reports += c.reports;
      p.deferrals += c.deferrals;
      p.given_up += c.given_up;
      p.resumed += c.resumed;
      p.bytes += c.bytes;
    }
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
  progress = snapshot();
  progress.elapsed_s = summary.wall_s;
  if (on_progress) on_progress(progress);
  summary.runs = progress.finished;
  summary.runs_failed = progress.failed;
  summary.requests = progress.requests;
  summary.status_200 = progress.s200;
  summary.status_304 = progress.s304;
  summary.status_4xx = progress.s4xx;
  summary.status_5xx = progress.s5xx;
  summary.network_errors = progress.net;
  summary.bytes = progress.bytes;
  summary.restarts = progress.restarts;
  summary.retries = progress.retries;
  summary.reports_sent = progress.reports;
  summary.busy_deferrals = progress.deferrals;
  summary.restarts_given_up = progress.given_up;
  summary.resumed = progress.resumed;
  summary.threads = static_cast<int>(threads);
  ReadCache::Usage cache = store.CacheUsage();
  summary.memory = {devices.capacity() * sizeof(Device), cache.entry_bytes, cache.word_bytes,
                    cache.pool_bytes, cache.pool_strings};
  for (const auto& w : workers) summary.timeline.Merge(w->timeline);
  for (const auto& w : workers) {
    summary.power_cuts += w->counters.power_cuts;
    summary.violations.insert(summary.violations.end(), w->violations.begin(), w->violations.end());
  }
  if (o.power_loss > 0) {
    auto found = CheckDeviceInvariants(store, *schema, first, last, o.mac_base);
    if (!found) return Unexpected(found.error());
    summary.violations.insert(summary.violations.end(), found->begin(), found->end());
    summary.invariants_checked = true;
  }
  for (auto& d : devices) {
    summary.runs_completed += d.runs_done;
    summary.devices_failed += d.failed;
    summary.devices_last_run_failed += d.last_failed;
  }
  std::map<std::string, LatencyHistogram> latency;
  for (auto& w : workers) {
    for (auto& [kind, h] : w->latency) latency[kind].Merge(h);
    for (auto& f : w->failures)
      if (summary.failures.size() < 10000) summary.failures.push_back(std::move(f));
  }
  summary.latency = LatencySummaries(std::move(latency));
  return summary;
}

}  // namespace autoprov
