// autoprov fleet: many simulated devices against a real provisioning server.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "fleet/fleet.hpp"
#include "fleet/summary.hpp"
#include "fleet/timeline.hpp"
#include "store/state_store.hpp"

namespace autoprov::app {

namespace {

// The summary as text, for a person (--json: FleetSummaryJson).
void PrintFleetSummary(const FleetSummary& s, const std::string& state) {
  // Runs as `update` counts them: every run, and the failed ones (a failed or rejected step).
  const CounterSet& c = s.counters;
  std::string runs = std::to_string(c[Counter::kRuns]) + " runs (" +
                     std::to_string(c[Counter::kRunsFailed]) + " failed)";
  if (s.shards_merged > 1)
    std::printf("fleet: %d shards merged: %lld devices (from #%lld), %d threads, %s, %.2f s\n",
                s.shards_merged, s.devices, s.first_index, s.threads, runs.c_str(), s.wall_s);
  else
    std::printf("fleet: %lld devices (from #%lld, shard %lld/%lld), %d threads, %s, %.2f s\n",
                s.devices, s.first_index, s.shard_index, s.shard_count, s.threads, runs.c_str(),
                s.wall_s);
  std::printf("requests/s: %.0f\n",
              s.wall_s > 0 ? static_cast<double>(c[Counter::kRequests]) / s.wall_s : 0.0);
  // Every counter by its one name (as in --json's "counters"), four to a line.
  for (size_t i = 0; i < kCounters; ++i)
    std::printf("%s: %lld%s", std::string(kCounterNames[i]).c_str(), c.values[i],
                i + 1 == kCounters || i % 4 == 3 ? "\n" : "  ");
  std::printf("%-16s %8s %10s %10s %10s\n", "KIND", "COUNT", "P50 ms", "P95 ms", "P99 ms");
  for (const auto& l : s.latency)
    std::printf("%-16s %8zu %10.2f %10.2f %10.2f\n", l.kind.c_str(), l.count, l.p50_ms, l.p95_ms,
                l.p99_ms);
  if (!state.empty())
    std::printf("state: %s/fleet.db (durability relaxed: synchronous=OFF)\n", state.c_str());
  if (!s.failures.empty()) {
    auto causes = FailuresByCause(s);
    std::printf("failures by cause%s:\n",
                s.failures.size() >= kMaxListedFailures
                    ? (" (the first " + std::to_string(kMaxListedFailures) + ")").c_str()
                    : "");
    for (size_t i = 0; i < causes.size() && i < 20; ++i)
      std::printf("  %lld \u00d7 %s\n", causes[i].second, causes[i].first.c_str());
    if (causes.size() > 20) std::printf("  ... %zu causes in all\n", causes.size());
    const auto& f = s.failures.front();
    std::printf("first failure: %s run %d %s %s: %s (--json lists them all)\n", f.mac.c_str(),
                f.run, f.step.c_str(), f.url.c_str(), f.error.c_str());
  }
  std::printf("devices with a failed step: %lld\n", s.devices_failed);
  if (s.invariants_checked || c[Counter::kPowerCuts] > 0) {
    std::printf("power_cuts: %lld, invariant violations: %zu%s\n", c[Counter::kPowerCuts],
                s.violations.size(), s.invariants_checked ? "" : " (not checked)");
    for (const auto& v : s.violations)
      std::printf("VIOLATION %s %s: %s\n", v.mac.c_str(), v.invariant.c_str(), v.detail.c_str());
  }
}

}  // namespace

void RegisterFleetCommand(CLI::App& app, GlobalOptions& g) {
  auto o = std::make_shared<FleetOptions>();
  auto shard = std::make_shared<std::string>("0/1");
  auto json = std::make_shared<bool>(false);
  auto* fleet = app.add_subcommand(
      "fleet", "simulate many devices, each running the real agent, against a server");
  // Required unless a subcommand (plot) is used: checked in the callback.
  fleet->add_option("--devices", o->devices, "number of simulated devices (required)")
      ->check(CLI::Range(1LL, 10000000LL));
  fleet
      ->add_option("--bootstrap", o->bootstrap_file,
                   "ini file or CLI script every new device starts from (required)")
      ->check(CLI::ExistingFile);
  fleet
      ->add_option("--signers", o->signers_file,
                   "PEM CA certificates: every device requires each file's detached signature "
                   "(FILE.p7s) and checks it against them (S-12)")
      ->check(CLI::ExistingFile);
  auto timeline_csv = std::make_shared<std::string>();
  fleet->add_option("--timeline", *timeline_csv,
                    "write requests per second by status class and latency percentiles per "
                    "second to this CSV file (draw it with `fleet plot`)");
  auto json_out = std::make_shared<std::string>();
  fleet->add_option("--json-out", *json_out,
                    "also write the summary as JSON to this file (one per shard; add them up "
                    "with `fleet merge`)");
  fleet->require_subcommand(0, 1);
  auto merge_in = std::make_shared<std::vector<std::string>>();
  auto merge_json = std::make_shared<bool>(false);
  auto* merge = fleet->add_subcommand(
      "merge",
      "add up the --json-out summaries of shards into one: exact counts, latency "
      "percentiles from the merged histograms");
  merge->add_option("files", *merge_in, "the shards' summary files")
      ->required()
      ->check(CLI::ExistingFile);
  merge->add_flag("--json", *merge_json, "print the merged summary as one JSON object");
  // The files named are the user's: any of them unreadable or not a summary is a usage error.
  OnRun(merge, g, [&g, merge_in, merge_json]() -> Expected<void> {
    std::vector<FleetSummary> parts;
    for (const auto& file : *merge_in) {
      auto text = ReadFile(file);
      if (!text) return Unexpected(AsUsageError(text.error()));
      auto j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_discarded())
        return Fail(ErrorCode::kInvalidArgument,
                    file + ": not JSON (write a summary with fleet --json-out)");
      auto s = FleetSummaryFromJson(j, file);
      if (!s) return Unexpected(AsUsageError(s.error()));
      parts.push_back(std::move(*s));
    }
    auto merged = MergeFleetSummaries(parts, *merge_in);
    if (!merged) return Unexpected(AsUsageError(merged.error()));
    if (merged->shard_count > 1 && merged->shards_merged != merged->shard_count)
      std::cerr << "autoprov: warning: " << merged->shards_merged << " of " << merged->shard_count
                << " shards merged\n";
    if (*merge_json)
      std::cout << FleetSummaryJson(*merged).dump(2) << "\n";
    else
      PrintFleetSummary(*merged, "");
    g.exit_code = merged->devices_failed == 0 && merged->violations.empty() ? kExitOk : kExitFailed;
    return {};
  });
  auto plot_in = std::make_shared<std::string>();
  auto plot_out = std::make_shared<std::string>();
  auto plot_title = std::make_shared<std::string>("autoprov fleet: requests per second");
  auto* plot = fleet->add_subcommand(
      "plot", "draw a --timeline CSV as an SVG picture: requests/s stacked by status, p99 latency");
  plot->add_option("csv", *plot_in, "the CSV written by fleet --timeline")
      ->required()
      ->check(CLI::ExistingFile);
  plot->add_option("-o,--output", *plot_out, "the picture to write (.svg)")->required();
  plot->add_option("--title", *plot_title, "the picture's title");
  OnRun(plot, g, [plot_in, plot_out, plot_title]() -> Expected<void> {
    auto text = ReadFile(*plot_in);
    if (!text) return Unexpected(AsUsageError(text.error()));
    auto rows = ParseTimelineCsv(*text, *plot_in);
    if (!rows) return Unexpected(AsUsageError(rows.error()));
    return WriteFileAtomically(*plot_out, TimelineSvg(*rows, *plot_title));
  });
  fleet
      ->add_option("--power-loss", o->power_loss,
                   "cut each run's power at a random point with probability P (0..1), power the "
                   "device up again, add a round without cuts, and check every device's "
                   "invariants")
      ->check(CLI::Range(0.0, 1.0));
  auto check_json = std::make_shared<bool>(false);
  auto* check = fleet->add_subcommand(
      "check",
      "check every simulated device's invariants in a fleet state directory: stored "
      "values valid, no one-time URL cleared without its file");
  check->add_flag("--json", *check_json, "print the violations as one JSON object");
  check->fallthrough();  // --mac-base, --state-dir
  OnRun(check, g, [&g, o, check_json]() -> Expected<void> {
    auto schema = LoadSchema(g.state_dir, g.schema_files);
    if (!schema) return Unexpected(AsUsageError(schema.error()));
    auto db = std::filesystem::path(g.state_dir) / "fleet.db";
    if (!std::filesystem::exists(db))
      return Fail(ErrorCode::kInvalidArgument,
                  "no fleet state in " + g.state_dir + " (give the --state-dir of a fleet run)");
    auto store = StateStore::Open(db, Durability::kRelaxed, true);
    auto range = store ? FleetDeviceRange(*store)
                       : Expected<std::pair<long long, long long>>(Unexpected(store.error()));
    auto found =
        range ? CheckDeviceInvariants(*store, *schema, range->first, range->second, o->mac_base)
              : Expected<std::vector<InvariantViolation>>(Unexpected(range.error()));
    if (!found) return Unexpected(found.error());
    long long devices = range->second - range->first;
    if (*check_json) {
      std::cout
          << nlohmann::json{{"devices", devices}, {"violations", ViolationsJson(*found)}}.dump(2)
          << "\n";
    } else {
      for (const auto& v : *found)
        std::printf("VIOLATION %s %s: %s\n", v.mac.c_str(), v.invariant.c_str(), v.detail.c_str());
      std::printf("%lld devices checked, %zu invariant violations\n", devices, found->size());
    }
    g.exit_code = found->empty() ? kExitOk : kExitFailed;
    return {};
  });
  fleet->add_option("--mac-base", o->mac_base,
                    "MAC of device 0; the others count up (default 00908F000000)");
  fleet->add_option("--runs", o->runs, "rounds: each device runs once per round (default 1)")
      ->check(CLI::Range(1, 1000000));
  fleet
      ->add_option("--duration", o->duration_s,
                   "instead of rounds: run for SECONDS with each device's own triggers")
      ->check(CLI::Range(1L, 31L * 86400));
  fleet->add_option("--spread", o->spread_s,
                    "spread each round's device starts randomly over SECONDS");
  fleet->add_option("--busy-fraction", o->busy_fraction,
                    "with --duration: this fraction of the devices is busy (S-10.2), their "
                    "restarts wait as a BusyCommand would make them");
  fleet->add_option("--busy-for", o->busy_for_s,
                    "how long the busy devices stay busy from the start, seconds");
  fleet
      ->add_option("--max-connections", o->max_connections,
                   "at most C connections at once (default 256)")
      ->check(CLI::Range(1L, 100000L));
  fleet
      ->add_option("--threads", o->threads,
                   "worker threads, each with its own event loop (default: one per core)")
      ->check(CLI::Range(1, 256));
  fleet->add_option("--seed", o->seed, "seed of the start-time spread (reproducible schedules)");
  fleet->add_option("--shard", *shard,
                    "I/M: run the I-th of M disjoint slices of the device range");
  fleet->add_flag("--json", *json, "print the summary as one JSON object");
  fleet->get_option("--runs")->excludes("--duration");
  fleet->fallthrough();
  OnRun(fleet, g,
        [&g, &app, fleet, plot, merge, check, o, shard, json, json_out,
         timeline_csv]() -> Expected<void> {
          if (plot->parsed() || merge->parsed() || check->parsed()) return {};
          for (const char* required : {"--devices", "--bootstrap"})
            if (fleet->get_option(required)->count() == 0)
              return Fail(ErrorCode::kInvalidArgument,
                          std::string("fleet: ") + required + " is required");
          o->timeline = !timeline_csv->empty();
          auto parsed = ParseShard(*shard);
          if (!parsed) return Unexpected(AsUsageError(parsed.error()));
          std::tie(o->shard_index, o->shard_count) = *parsed;
          o->state_dir = g.state_dir;
          // Never the production state directory by default: without --state-dir (or
          // AUTOPROV_STATE_DIR) the simulated devices live in a new temporary directory, named.
          if (app.get_option("--state-dir")->count() == 0 && !std::getenv("AUTOPROV_STATE_DIR")) {
            std::string tmpl =
                (std::filesystem::temp_directory_path() / "autoprov-fleet-XXXXXX").string();
            if (!::mkdtemp(tmpl.data()))
              return Fail(ErrorCode::kIo,
                          std::string("cannot create a temporary state directory: ") +
                              std::strerror(errno) + " (give one with --state-dir)");
            o->state_dir = tmpl;
            std::cerr << "autoprov: no --state-dir given: the simulated devices' state is in "
                      << tmpl << "\n";
          }
          o->schema_files = g.schema_files;
          if (!g.product.empty()) o->product = g.product;
          if (!g.sw_version.empty()) o->sw_version = g.sw_version;
          bool tty = ::isatty(2);
          auto progress = [tty](const FleetProgress& p) {
            if (!tty) return;
            const CounterSet& c = p.counters;
            std::fprintf(
                stderr,
                "\r\033[Kdevices %lld | runs_started %lld runs %lld | %.0f req/s | "
                "status_200 %lld status_304 %lld status_4xx %lld status_5xx %lld "
                "network_errors %lld | %.1f MiB | restarts %lld",
                p.devices, c[Counter::kRunsStarted], c[Counter::kRuns],
                p.elapsed_s > 0 ? static_cast<double>(c[Counter::kRequests]) / p.elapsed_s : 0.0,
                c[Counter::kStatus200], c[Counter::kStatus304], c[Counter::kStatus4xx],
                c[Counter::kStatus5xx], c[Counter::kNetworkErrors],
                static_cast<double>(c[Counter::kBytes]) / 1048576.0, c[Counter::kRestarts]);
          };
          auto summary = RunFleet(*o, progress);
          if (tty) std::fprintf(stderr, "\n");
          if (!summary) return Unexpected(summary.error());
          const FleetSummary& s = *summary;
          if (!timeline_csv->empty())
            if (auto w = WriteFileAtomically(*timeline_csv, s.timeline.Csv()); !w) return w;
          if (!json_out->empty())
            if (auto w = WriteFileAtomically(*json_out, FleetSummaryJson(s).dump(2) + "\n"); !w)
              return w;
          if (*json)
            std::cout << FleetSummaryJson(s).dump(2) << "\n";
          else
            PrintFleetSummary(s, o->state_dir.string());
          g.exit_code = s.devices_failed == 0 && s.violations.empty() ? kExitOk : kExitFailed;
          return {};
        });
}

}  // namespace autoprov::app
