// The fleet and the device agree (issue: a faithful fleet). Random scenarios — file changes, new
// images, busy windows, the per-hour restart limit, server failures (503, 404, cut connections),
// report uploads that fail, power cuts at the fleet's cut points — each run twice on simulated
// time: through a real device state directory by the agent (RunAutomaticUpdate, its restarts as the
// daemon performs them), and through one simulated device by the fleet's own driver
// (fleet/simulated_device). Every report and the stored state are compared after each step.
//
// Not compared (listed): the stored run reports and the count of polls that changed nothing (the
// fleet keeps failed runs' reports only, by design: engine/after_run_test checks that rule), where
// files are kept (a simulated device keeps none: kind_state.path, a pending image's "(file)"), and
// the fleet's own "seeded" mark. Times are compared: both sides read the same simulated clock.
//
// A scenario that diverges prints its seed: AUTOPROV_AGREEMENT_SEED=<seed> runs that one alone,
// AUTOPROV_AGREEMENT_SCENARIOS=<n> sets how many (default 1,000; 150 under AddressSanitizer).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "common/digest.hpp"
#include "config/config_file.hpp"
#include "engine/restart.hpp"
#include "engine/run.hpp"
#include "fleet/identity.hpp"
#include "fleet/simulated_device.hpp"
#include "store/state_dir.hpp"
#include "support/test_dir.hpp"
#include "transfer/http_time.hpp"

namespace autoprov {
namespace {

const std::string kHost = "http://prov.test";
const std::string kSchema = std::string(AUTOPROV_SOURCE_DIR) + "/examples/schema/appliance.json";
constexpr long long kStart = 1'800'000'000;

enum class Fault { kNone, k503, k404, kCut };

std::string FaultName(Fault f) {
  switch (f) {
    case Fault::kNone:
      return "ok";
    case Fault::k503:
      return "503";
    case Fault::k404:
      return "404";
    case Fault::kCut:
      return "cut";
  }
  return "?";
}

// One scenario, drawn from its seed.
struct Scenario {
  uint64_t seed = 0;
  int max_defer_s = 60, busy_policy = 0, report_when = 0;
  bool reports = false, startup_run = true;
  struct Run {
    long long gap_s = 0;  // after the previous run's start
    bool ini_change = false, image_change = false, cli_change = false;
    std::map<std::string, Fault> faults;  // by path; "/report" for the uploads
    long long busy_for_s = 0;             // the appliance is busy this long from the run's start
    std::optional<PowerCut> cut;
  };
  std::vector<Run> runs;

  static Scenario From(uint64_t seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](uint64_t n) { return rng() % n; };
    Scenario s;
    s.seed = seed;
    s.max_defer_s = pick(2) ? 60 : 120;
    s.busy_policy = static_cast<int>(pick(2));
    s.reports = pick(3) != 0;
    s.report_when = static_cast<int>(pick(2));  // always, failures
    s.startup_run = pick(6) != 0;
    const int n = 2 + static_cast<int>(pick(5));
    for (int i = 0; i < n; ++i) {
      Run r;
      const long long gaps[] = {60, 300, 900, 1800, 4000};
      r.gap_s = gaps[pick(5)];
      r.ini_change = i == 0 || pick(2);
      r.image_change = pick(5) < 2;
      r.cli_change = pick(3) == 0;
      for (const char* path : {"/dev.ini", "/dev.cli", "/fw", "/report"}) {
        uint64_t f = pick(100);
        Fault fault = f < 80   ? Fault::kNone
                      : f < 87 ? Fault::k503
                      : f < 93 ? Fault::k404
                               : Fault::kCut;
        if (fault != Fault::kNone) r.faults[path] = fault;
      }
      const long long busy[] = {0, 0, 0, 45, 100, 500};
      r.busy_for_s = busy[pick(6)];
      if (pick(100) < 15) {
        PowerCut cut;
        cut.at = 1 + static_cast<int>(pick(5));  // past the run's requests: at its end
        cut.in_commit = pick(2);
        r.cut = cut;
      }
      s.runs.push_back(std::move(r));
    }
    return s;
  }
  std::string Describe() const {
    std::string out = "scenario seed " + std::to_string(seed) +
                      " (AUTOPROV_AGREEMENT_SEED=" + std::to_string(seed) + "): max-defer " +
                      std::to_string(max_defer_s) + " s, busy policy " +
                      std::to_string(busy_policy) + ", reports " +
                      (reports ? std::to_string(report_when) : "off") + ", start-up run " +
                      (startup_run ? "on" : "off") + "\n";
    for (size_t i = 0; i < runs.size(); ++i) {
      const Run& r = runs[i];
      out += "  run " + std::to_string(i + 1) + ": +" + std::to_string(r.gap_s) + " s" +
             (r.ini_change ? ", ini changes" : "") + (r.image_change ? ", new image" : "") +
             (r.cli_change ? ", CLI script changes" : "");
      for (const auto& [path, f] : r.faults) out += ", " + path + " " + FaultName(f);
      if (r.busy_for_s) out += ", busy " + std::to_string(r.busy_for_s) + " s";
      if (r.cut)
        out += ", power cut at request " + std::to_string(r.cut->at) +
               (r.cut->in_commit ? " in its commit" : " during its transfer");
      out += "\n";
    }
    return out;
  }
};

// The provisioning server both sides talk to: the same files, the same faults, answered at once.
class Server {
 public:
  int ini = 0, cli = 1, image = 250;
  std::map<std::string, Fault> faults;
  std::vector<std::string> log;

  Fetched Fetch(const FetchRequest& req) {
    std::string path = req.url.substr(kHost.size());
    log.push_back((req.method.empty() ? "GET " : req.method + " ") + path);
    Fault fault = Fault::kNone;
    for (const auto& [prefix, f] : faults)
      if (path.starts_with(prefix)) fault = f;
    if (fault == Fault::kCut) {
      Error e =
          MakeError(ErrorCode::kNetwork, req.url + ": Recv failure: Connection reset by peer");
      return Unexpected(e);
    }
    if (fault == Fault::k503 || fault == Fault::k404) {
      long status = fault == Fault::k503 ? 503 : 404;
      Error e = MakeError(ErrorCode::kHttpStatus,
                          req.url + ": HTTP " + std::to_string(status) +
                              (status == 503 ? " Service Unavailable" : " Not Found"));
      return Unexpected(TransferError(e, {.http_status = status}));
    }
    FetchResult r;
    r.final_url = req.url;
    if (!req.method.empty()) {  // a report upload
      r.status = 204;
      return r;
    }
    auto body = Body(path);
    if (!body) {
      Error e = MakeError(ErrorCode::kHttpStatus, req.url + ": HTTP 404 Not Found");
      return Unexpected(TransferError(e, {.http_status = 404}));
    }
    r.validators.etag = "\"" + Sha256Hex(*body).substr(0, 16) + "\"";
    r.validators.last_modified = HttpDate(kStart - 86400 + static_cast<long long>(body->size()));
    if (req.condition && req.condition->etag == r.validators.etag) {
      r.status = 304;
      r.outcome = FetchOutcome::kNotModified;
      return r;
    }
    r.status = 200;
    r.bytes = body->size();
    r.sha256 = Sha256Hex(*body);
    if (req.compute_crc32) r.crc32 = Crc32Of(*body);
    if (req.sink == BodySink::kMemory) r.body = *body;
    if (req.sink == BodySink::kFile) std::ofstream(req.target, std::ios::binary) << *body;
    return r;
  }

 private:
  std::optional<std::string> Body(const std::string& path) const {
    if (path == "/dev.ini")
      return "; version " + std::to_string(ini) + "\nSyslogServerIP = '10.0." +
             std::to_string(ini / 200) + "." + std::to_string(ini % 200) +
             "'\nVoiceVolume = " + std::to_string(ini % 3) + "\nAutoCmpFileUrl = '" + kHost +
             "/fw/Mediant_7.20A." + std::to_string(image) + ".000.cmp'\n";
    if (path == "/dev.cli")
      return "configure troubleshoot\n syslog\n  syslog-ip 10.1.0." + std::to_string(cli % 250) +
             "\n exit\nexit\n";
    if (path == "/fw/Mediant_7.20A." + std::to_string(image) + ".000.cmp")
      return "image " + std::to_string(image) + std::string(1000, 'x');
    return std::nullopt;
  }
};

std::string Bootstrap(const Scenario& s) {
  std::string ini =
      "IniFileURL = '" + kHost + "/dev.ini'\nCliScriptURL = '" + kHost +
      "/dev.cli'\nAupdBusyCheckInterval = 30\nAupdBusyMaxDefer = " + std::to_string(s.max_defer_s) +
      "\nAupdBusyPolicy = " + std::to_string(s.busy_policy) +
      "\nAutoUpdateOnStartup = " + (s.startup_run ? "1" : "0") + "\n";
  if (s.reports)
    ini += "AupdReportUrl = '" + kHost +
           "/report'\nAupdReportWhen = " + std::to_string(s.report_when) + "\n";
  return ini;
}

// What the two sides' stores are compared on.
nlohmann::json Dump(StateStore& store, const Schema& schema, long long device) {
  nlohmann::json j;
  auto config = store.LoadConfiguration(device, schema);
  if (!config) return {{"error", config.error().message}};
  j["scalars"] = config->scalars();
  for (const auto& [table, rows] : config->tables())
    for (const auto& [key, values] : rows) j["tables"][table].push_back({key, values});
  if (auto values = store.ListValues(device))
    for (const auto& [k, v] : *values) {
      if (k == "seeded" || k == "quiet_polls") continue;  // the fleet's mark; the run record
      std::string value = v;
      // A pending restart's image is "<version> (<where it is kept>)": the place is not compared.
      if (k == "restart_pending")
        if (size_t open = value.find(" ("), end = value.find(")\n");
            open < end && end != value.npos)
          value.erase(open, end + 1 - open);
      j["values"][k] = value;
    }
  if (auto kinds = store.ListKindStates(device))
    for (const auto& [kind, k] : *kinds)
      j["kinds"][kind] = {k.crc, k.sha256, k.version, k.installed_at};  // not .path
  if (auto urls = store.ListUrlStates(device))
    for (const auto& [url, u] : *urls)
      j["urls"][url] = {u.last_modified, u.etag, u.downloaded_at, u.sha256, u.kind, u.rejected};
  return j;
}

// A report as compared: where a pending image is kept is no part of it.
std::string Normal(const RunReport& r) {
  nlohmann::json j = ToJson(r);
  if (j.contains("restart_pending") && j["restart_pending"].is_object()) {
    std::string image = j["restart_pending"].value("image", "");
    if (auto at = image.find(" ("); at != std::string::npos) image = image.substr(0, at);
    j["restart_pending"]["image"] = image;
  }
  return j.dump(1);
}

struct Side {
  Server server;
  double clock = kStart;
  std::vector<RunReport> reports;
  long long now() const { return static_cast<long long>(std::floor(clock)); }
};

// The fleet's side: one simulated device driven by the fleet's driver on simulated time.
class FleetSide final : public DeviceHost {
 public:
  FleetSide(const FleetOptions& o, FleetState& st) : o_(o), st_(st) { device_.id = 0; }

  // One scenario run from `at`: the device's run, what follows it, and the runs its restarts or a
  // power cut bring, until nothing more is scheduled.
  void Run(long long at, std::optional<PowerCut> cut, long long busy_for_s) {
    side.clock = std::max(side.clock, static_cast<double>(at));
    busy_until_ = side.clock + static_cast<double>(busy_for_s);
    cut_ = std::move(cut);
    due_ = side.clock;
    for (int guard = 0; due_ && guard < 1000; ++guard) {
      side.clock = std::max(side.clock, *due_);
      due_.reset();
      driver_.Due(device_);
    }
  }

  Side side;
  std::vector<std::string> problems;

  const FleetOptions& options() const override { return o_; }
  StateStore& store() override { return *st_.store; }
  const Schema& schema() const override { return *st_.schema; }
  long long UnixNow() override { return side.now(); }
  void Submit(SimulatedDevice&, FetchRequest request, std::function<void(Fetched)> done) override {
    done(side.server.Fetch(request));
  }
  void Schedule(SimulatedDevice&, double in_s) override { due_ = side.clock + in_s; }
  void Activate(SimulatedDevice&) override {}
  void Deactivate(SimulatedDevice&, bool) override {}
  bool Busy(const SimulatedDevice&) override { return side.clock < busy_until_; }
  std::optional<PowerCut> CutFor(const SimulatedDevice&) override {
    return std::exchange(cut_, {});
  }
  size_t ConfigHash(long long device) override {
    return ConfigurationDigest(store(), schema(), device);
  }
  bool verifying() const override { return false; }
  LiveCounters& counters() override { return counters_; }
  void Failure(DeviceFailure) override {}
  void Violation(InvariantViolation v) override {
    problems.push_back("fleet invariant " + v.invariant + ": " + v.detail);
  }
  void StepDone(const StepReport&) override {}
  void RunReported(const SimulatedDevice&, const RunReport& r) override {
    side.reports.push_back(r);
  }

 private:
  const FleetOptions& o_;
  FleetState& st_;
  SimulatedDevice device_;
  DeviceDriver driver_{*this};
  LiveCounters counters_;
  std::optional<double> due_;
  double busy_until_ = 0;
  std::optional<PowerCut> cut_;
};

// The device's side: the agent on a real state directory, its restarts as the daemon performs
// them (PowerUp, then the start-up run), the same triggers and draws as the fleet gives its
// devices.
class DeviceSide {
 public:
  DeviceSide(StateDirectory& state, const DeviceIdentity& identity, uint64_t seed)
      : state_(state), identity_(identity), seed_(seed) {}

  void Run(long long at, const std::optional<PowerCut>& cut, long long busy_for_s) {
    side.clock = std::max(side.clock, static_cast<double>(at));
    const double busy_until = side.clock + static_cast<double>(busy_for_s);
    bool cut_now = cut.has_value();
    for (int guard = 0; guard < 100; ++guard) {
      std::string trigger = restart_run_ || power_up_ || runs_done_ == 0 ? "start-up" : "round";
      if (cut_now) {
        // The power goes at the cut: the run stops where it is and nothing after it happens (an
        // uncommitted transaction leaves what no transaction would: kill_test kills the agent
        // for real at these instants).
        cut_now = false;
        RunUntilCut(trigger, cut->at);
        ++cuts_;
        auto up = PowerUp(state_.store(), kLocalDevice, state_.schema(),
                          DeviceDraw(seed_, DrawFor::kStartupDelay, 0, runs_done_ * 8LL + cuts_));
        if (up && !up->has_value()) {  // no start-up run: the cut run is over
          cuts_ = 0;
          if (!restart_run_) ++runs_done_;
          restart_run_ = false;
          return;
        }
        if (!restart_run_) power_up_ = true;
        continue;
      }
      LocalRunOptions options;
      options.run.trigger = trigger;
      options.run.retry_random = DeviceDraw(seed_, DrawFor::kRetrySpread, 0, runs_done_);
      options.simulate_restart = true;  // as the daemon runs the agent: it restarts the device
      options.clock = ClockSource{[this] { return side.now(); }, [] { return true; },
                                  [this](int ms) { side.clock += ms / 1000.0; }};
      options.busy = [this, busy_until] { return side.clock < busy_until; };
      power_up_ = false;
      cuts_ = 0;
      auto report =
          RunAutomaticUpdate(state_, identity_, DeviceHooks{}, options,
                             [this](const FetchRequest& r) { return side.server.Fetch(r); });
      if (!report) {
        problems.push_back("agent: " + report.error().message);
        return;
      }
      side.reports.push_back(*report);
      if (!restart_run_) ++runs_done_;
      restart_run_ = false;
      if (!report->restart_performed) return;
      auto up = PowerUp(state_.store(), kLocalDevice, state_.schema(),
                        DeviceDraw(seed_, DrawFor::kStartupDelay, 0, runs_done_));
      if (!up || !up->has_value()) return;
      restart_run_ = true;
    }
  }

  Side side;
  std::vector<std::string> problems;

 private:
  void RunUntilCut(const std::string& trigger, int at) {
    RunEnvironment env;
    env.store = &state_.store();
    env.device = kLocalDevice;
    env.schema = &state_.schema();
    env.identity = identity_;
    env.state_dir = state_.path();
    env.now = [this] { return side.now(); };
    RunOptions options;
    options.trigger = trigger;
    options.retry_random = DeviceDraw(seed_, DrawFor::kRetrySpread, 0, runs_done_);
    auto seq = DownloadSequence::Start(std::move(env), options);
    if (!seq) return problems.push_back("agent: " + seq.error().message);
    int completed = 0;
    while (auto req = (*seq)->Next()) {
      auto result = side.server.Fetch(*req);  // the server has seen the request
      if (++completed >= at) return;  // during this transfer, or in the commit of its result
      (*seq)->Complete(std::move(result));
    }
    // At the run's end: before what follows it.
  }

  StateDirectory& state_;
  DeviceIdentity identity_;
  uint64_t seed_;
  int runs_done_ = 0;
  bool restart_run_ = false, power_up_ = false;
  int cuts_ = 0;
};

// Runs one scenario on both sides; returns what differs (empty: they agree).
std::string RunScenario(const Scenario& s, const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "fleet");
  std::ofstream(dir / "bootstrap.ini") << Bootstrap(s);
  FleetOptions o;
  o.devices = 1;
  o.state_dir = dir / "fleet";
  o.bootstrap_file = (dir / "bootstrap.ini").string();
  o.product = "Mediant";
  o.sw_version = "7.20A.250.000";
  o.seed = s.seed;
  o.busy_fraction = 1;
  o.schema_files = {kSchema};
  auto st = OpenFleetState(o);
  if (!st) return "fleet: " + st.error().message;
  if (auto b = st->store->BeginGroup(); !b) return "fleet: " + b.error().message;
  auto state = StateDirectory::Open(dir / "device", {kSchema});
  if (!state) return "device: " + state.error().message;
  if (auto r = (*state)->store().SaveConfiguration(kLocalDevice, *st->bootstrap); !r)
    return "device: " + r.error().message;

  FleetSide fleet(o, *st);
  DeviceSide device(**state, FleetIdentity(o.mac_base, o.product, o.sw_version, 0), s.seed);
  std::string out;
  long long at = kStart;
  for (size_t i = 0; i < s.runs.size() && out.empty(); ++i) {
    const Scenario::Run& r = s.runs[i];
    at += r.gap_s;
    for (Server* server : {&fleet.side.server, &device.side.server}) {
      server->ini += r.ini_change || r.image_change;
      server->image += r.image_change;
      server->cli += r.cli_change;
      server->faults = r.faults;
    }
    size_t f0 = fleet.side.reports.size(), d0 = device.side.reports.size();
    fleet.Run(at, r.cut, r.busy_for_s);
    device.Run(at, r.cut, r.busy_for_s);
    std::string where = "after run " + std::to_string(i + 1) + ": ";
    for (const auto& p : fleet.problems) out += where + p + "\n";
    for (const auto& p : device.problems) out += where + p + "\n";
    if (fleet.side.server.log != device.side.server.log) {
      out += where + "the requests differ\n  fleet: ";
      for (const auto& l : fleet.side.server.log) out += l + "; ";
      out += "\n  device: ";
      for (const auto& l : device.side.server.log) out += l + "; ";
      out += "\n";
    }
    size_t nf = fleet.side.reports.size() - f0, nd = device.side.reports.size() - d0;
    if (nf != nd)
      out += where + std::to_string(nf) + " report(s) from the fleet, " + std::to_string(nd) +
             " from the device\n";
    for (size_t k = 0; k < std::min(nf, nd); ++k) {
      std::string a = Normal(fleet.side.reports[f0 + k]), b = Normal(device.side.reports[d0 + k]);
      if (a != b)
        out += where + "report " + std::to_string(k + 1) + " differs\n--- fleet\n" + a +
               "\n--- device\n" + b + "\n";
    }
    if (fleet.side.now() != device.side.now())  // (the agent sleeps in slices of 100 ms)
      out += where + "the clocks differ: fleet " + std::to_string(fleet.side.now()) + ", device " +
             std::to_string(device.side.now()) + "\n";
    if (auto c = st->store->CommitGroup(); !c) out += "fleet commit: " + c.error().message;
    nlohmann::json a = Dump(*st->store, *st->schema, 0);
    nlohmann::json b = Dump((*state)->store(), (*state)->schema(), kLocalDevice);
    if (a != b)
      out += where + "the stored state differs\n--- fleet\n" + a.dump(1) + "\n--- device\n" +
             b.dump(1) + "\n";
  }
  (void)st->store->EndGroup();
  return out;
}

long Env(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atol(v) : fallback;
}

TEST(FleetAgreementTest, TheFleetAndTheDeviceAgreeOnRandomScenarios) {
  const long kDefault = test_support::Iterations(1000, 150);
  const long only = Env("AUTOPROV_AGREEMENT_SEED", -1);
  const long count = only >= 0 ? 1 : Env("AUTOPROV_AGREEMENT_SCENARIOS", kDefault);
  auto dir =
      std::filesystem::temp_directory_path() / ("autoprov-agree-" + std::to_string(::getpid()));
  int divergences = 0;
  for (long i = 0; i < count && divergences < 3; ++i) {
    Scenario s =
        Scenario::From(only >= 0 ? static_cast<uint64_t>(only) : 1000 + static_cast<uint64_t>(i));
    std::string diff = RunScenario(s, dir);
    if (!diff.empty()) {
      ++divergences;
      ADD_FAILURE() << s.Describe() << diff;
    }
  }
  std::filesystem::remove_all(dir);
  EXPECT_EQ(divergences, 0);
}

}  // namespace
}  // namespace autoprov
