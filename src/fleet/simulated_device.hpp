// One simulated device's life, between the fleet's scheduler and the engine: its runs (the real
// DownloadSequence), what follows each (the real AfterRun: busy waits, report uploads, the
// restart), its power-ups, and the power cuts --power-loss makes. Its host (a fleet worker, or a
// test on simulated time) performs its transfers, keeps its clock and schedules it; nothing here
// waits or knows of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/after_run.hpp"
#include "engine/sequence.hpp"
#include "fleet/counters.hpp"
#include "fleet/fleet.hpp"
#include "fleet/power_cut.hpp"

namespace autoprov {

// What the simulator keeps of each device between events: a few bytes, a million of them.
struct SimulatedDevice {
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
  std::unique_ptr<DownloadSequence> seq;  // during a run and what follows it
  std::unique_ptr<PowerCut> cut;          // --power-loss: this run's cut (null: none)
  // What follows the run (null otherwise): the rule, the uploads' results, the start-up delay.
  struct Following;
  std::unique_ptr<Following> after;
  // S-10.4: where an image download cut short stands (null when none is kept): a simulated device
  // keeps no image bytes, only how many it has and their hash, and asks for the rest next time.
  std::unique_ptr<ResumePoint> resume;

  SimulatedDevice();
  SimulatedDevice(SimulatedDevice&&) noexcept;
  ~SimulatedDevice();
};

// What a simulated device needs from the fleet that runs it.
class DeviceHost {
 public:
  virtual ~DeviceHost() = default;
  virtual const FleetOptions& options() const = 0;
  virtual StateStore& store() = 0;
  virtual const Schema& schema() const = 0;
  virtual long long UnixNow() = 0;  // the clock the runs read (the test's: simulated)
  // Performs the transfer; `done` is called later (or at once) with the result.
  virtual void Submit(SimulatedDevice& d, FetchRequest request,
                      std::function<void(Fetched)> done) = 0;
  // Calls DeviceDriver::Due for `d` in `in_s` seconds.
  virtual void Schedule(SimulatedDevice& d, double in_s) = 0;
  // The device's run (or its after-run) starts or stops occupying a place on the host;
  // `round_done`: the device is done with this round.
  virtual void Activate(SimulatedDevice& d) = 0;
  virtual void Deactivate(SimulatedDevice& d, bool round_done) = 0;
  // S-10.2: whether the device is busy now.
  virtual bool Busy(const SimulatedDevice& d) = 0;
  // --power-loss: whether this run is cut, and where (nothing: not cut).
  virtual std::optional<PowerCut> CutFor(const SimulatedDevice& d) = 0;
  // The stored configuration's digest (power cuts compare them).
  virtual size_t ConfigHash(long long device) = 0;
  virtual bool verifying() const = 0;  // --power-loss: the last round, after the cuts
  virtual LiveCounters& counters() = 0;
  virtual void Failure(DeviceFailure f) = 0;
  virtual void Violation(InvariantViolation v) = 0;
  virtual void StepDone(const StepReport& s) = 0;  // latencies
  // Each finished run's report, as the device ends with it (after its uploads and restart).
  virtual void RunReported(const SimulatedDevice&, const RunReport&) {}
};

// Moves a device through its runs by the events of its host.
class DeviceDriver {
 public:
  explicit DeviceDriver(DeviceHost& host) : host_(host) {}
  // The device's scheduled instant has come: its run starts, or what follows its run goes on.
  void Due(SimulatedDevice& d);

 private:
  void Start(SimulatedDevice& d);
  void Advance(SimulatedDevice& d);
  void Finish(SimulatedDevice& d);
  void Follow(SimulatedDevice& d);
  void SendNextReport(SimulatedDevice& d);
  void Restart(SimulatedDevice& d);
  void RunOver(SimulatedDevice& d);
  // The power goes now (`result`: the request that just completed, else the run's end), then
  // comes back.
  void CutPower(SimulatedDevice& d, Fetched* result);
  DeviceIdentity Identity(long long id) const;

  DeviceHost& host_;
};

}  // namespace autoprov
