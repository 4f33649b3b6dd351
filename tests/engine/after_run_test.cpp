// What follows a run (engine/after_run.hpp; S-2.2, S-9.8, S-10.2, S-10.3) on simulated time: the
// busy wait, the per-hour restart limit, the pending restart and its reasons, the report uploads
// before or after the restart. The agent and the fleet both drive this rule; these tests drive it
// directly, without sleeping.
#include "engine/after_run.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>

#include "engine/device_state.hpp"
#include "engine/restart.hpp"
#include "store/state_dir.hpp"
#include "support/test_dir.hpp"

namespace autoprov {
namespace {

class AfterRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_support::FreshDir("after");
    auto state = StateDirectory::Open(dir_, {});
    ASSERT_TRUE(state) << state.error().message;
    state_ = std::move(*state);
    env_.store = &state_->store();
    env_.device = kLocalDevice;
    env_.schema = &state_->schema();
    env_.identity = {"Mediant", "00908F000001", "4837234", "7.20A.250.001"};
    env_.state_dir = dir_;
    config_ = std::make_unique<Configuration>(state_->schema());
    ASSERT_TRUE(config_->Set("AupdBusyCheckInterval", "30"));
    ASSERT_TRUE(config_->Set("AupdBusyMaxDefer", "120"));
  }
  void TearDown() override {
    state_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A run that decided a restart at `now_`.
  RunReport Decided() {
    RunReport r;
    r.started_at = r.finished_at = now_;
    r.restart = RestartWhen::kAtEnd;
    r.restart_reasons = {"new image 7.20A.252.011"};
    return r;
  }
  // Drives the rule to its end as a driver does; `busy` answers at a time. Returns the report.
  RunReport Drive(RunReport report, AfterRunSetup setup,
                  const std::function<bool(long long)>& busy = nullptr) {
    AfterRun after(std::move(report), *config_, env_, setup);
    actions_.clear();
    for (auto step = after.Next(now_); step.action != AfterRun::Action::kDone;
         step = after.Next(now_)) {
      actions_.push_back(step.action);
      if (step.action == AfterRun::Action::kAskBusy) {
        EXPECT_GE(step.at, now_) << "never asked in the past";
        now_ = step.at;  // simulated time: the wait costs nothing
        after.Busy(busy && busy(now_), now_);
      } else if (step.action == AfterRun::Action::kUpload) {
        after.Uploaded({}, now_);
      } else {
        after.Restarted(restart_result_);
      }
      if (actions_.size() > 1000) ADD_FAILURE() << "no end";
      if (actions_.size() > 1000) break;
    }
    return after.TakeReport();
  }
  bool Restarted() const {
    return std::count(actions_.begin(), actions_.end(), AfterRun::Action::kRestart) > 0;
  }
  std::optional<PendingRestart> Pending() {
    auto p = DeviceState(state_->store(), kLocalDevice).PendingRestartState();
    EXPECT_TRUE(p);
    return p ? *p : std::nullopt;
  }

  std::filesystem::path dir_;
  std::unique_ptr<StateDirectory> state_;
  RunEnvironment env_;
  std::unique_ptr<Configuration> config_;
  long long now_ = 1'800'000'000;
  std::vector<AfterRun::Action> actions_;
  Expected<void> restart_result_;
};

// S-10.2: while busy the restart waits, asking every AupdBusyCheckInterval up to AupdBusyMaxDefer,
// then follows AupdBusyPolicy.
TEST_F(AfterRunTest, ARestartWaitsWhileTheApplianceIsBusy) {
  const AfterRunSetup device{true, true, true};
  // Not busy: no deferral, restarted at once.
  RunReport r = Drive(Decided(), device, [](long long) { return false; });
  EXPECT_FALSE(r.busy.deferred);
  EXPECT_TRUE(r.restart_performed);
  EXPECT_TRUE(Restarted());
  // Busy for 90 s: idle at the 4th ask.
  long long from = now_ += 3600;
  r = Drive(Decided(), device, [&](long long t) { return t < from + 90; });
  EXPECT_TRUE(r.busy.deferred);
  EXPECT_EQ(r.busy.checks, 4);
  EXPECT_EQ(r.busy.seconds, 90);
  EXPECT_EQ(now_, from + 90);
  EXPECT_TRUE(r.restart_performed);
  EXPECT_EQ(r.busy.outcome, "the appliance became idle: restarting");
  // Busy throughout: restart anyway at the cap...
  from = now_ += 3600;
  r = Drive(Decided(), device, [](long long) { return true; });
  EXPECT_EQ(r.busy.seconds, 120);
  EXPECT_NE(r.busy.outcome.find("restarting anyway"), std::string::npos);
  EXPECT_TRUE(r.restart_performed);
  // ...or give up until the next run: pending, and the report and the state say why.
  ASSERT_TRUE(config_->Set("AupdBusyPolicy", "give-up-until-next-run"));
  now_ += 3600;
  r = Drive(Decided(), device, [](long long) { return true; });
  EXPECT_FALSE(r.restart_performed);
  EXPECT_FALSE(Restarted());
  ASSERT_TRUE(r.pending);
  EXPECT_NE(r.pending->cause.find("give-up-until-next-run"), std::string::npos) << r.pending->cause;
  EXPECT_NE(r.pending->cause.find("new image"), std::string::npos) << r.pending->cause;
  auto stored = Pending();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->cause, r.pending->cause);
}

// SIGTERM while waiting: the restart stays pending.
TEST_F(AfterRunTest, StoppingWhileBusyLeavesTheRestartPending) {
  AfterRun after(Decided(), *config_, env_, {true, true, true});
  auto step = after.Next(now_);
  ASSERT_EQ(step.action, AfterRun::Action::kAskBusy);
  after.Busy(true, now_);
  step = after.Next(now_);
  ASSERT_EQ(step.action, AfterRun::Action::kAskBusy);
  EXPECT_EQ(step.at, now_ + 30);
  after.Stopped(now_ + 10);
  EXPECT_EQ(after.Next(now_ + 10).action, AfterRun::Action::kDone);
  EXPECT_FALSE(after.report().restart_performed);
  EXPECT_EQ(after.report().busy.seconds, 10);
  EXPECT_TRUE(Pending());
}

// S-9.8: at most three restarts within an hour, counted at the time of each restart; the fourth
// stays pending until the hour has passed.
TEST_F(AfterRunTest, TheFourthRestartWithinAnHourStaysPending) {
  const AfterRunSetup device{true, false, true};
  for (int i = 0; i < 3; ++i) {
    RunReport r = Drive(Decided(), device);
    EXPECT_TRUE(r.restart_performed) << i;
    ASSERT_TRUE(RestartDevice(state_->store(), kLocalDevice, state_->schema()));
    now_ += 600;
  }
  RunReport r = Drive(Decided(), device);
  EXPECT_FALSE(r.restart_performed);
  EXPECT_FALSE(Restarted());
  ASSERT_TRUE(r.pending);
  EXPECT_NE(r.pending->cause.find("(S-9.8)"), std::string::npos) << r.pending->cause;
  now_ += 1801;  // the first restart is over an hour ago
  r = Drive(Decided(), device);
  EXPECT_TRUE(r.restart_performed);
}

// No way to restart: pending with the run's reasons; a reset command that fails: pending with why.
TEST_F(AfterRunTest, ARestartThatCannotHappenIsPending) {
  RunReport r = Drive(Decided(), {false, false, true});
  EXPECT_FALSE(r.restart_performed);
  ASSERT_TRUE(r.pending);
  EXPECT_EQ(r.pending->cause, "new image 7.20A.252.011");
  EXPECT_EQ(r.pending->since, now_);
  ASSERT_TRUE(RestartDevice(state_->store(), kLocalDevice, state_->schema()));
  EXPECT_FALSE(Pending()) << "a restart clears it";

  restart_result_ = Fail(ErrorCode::kIo, "the reset command exited with 3");
  r = Drive(Decided(), {true, false, true});
  EXPECT_TRUE(Restarted());
  EXPECT_FALSE(r.restart_performed);
  ASSERT_TRUE(r.pending);
  EXPECT_EQ(r.pending->cause, "the reset command exited with 3; the restart is pending");
}

// S-10.3: the reports go up before the restart when none follows; with a restart they wait for the
// start-up run. The fleet stores the reports of failed runs only.
TEST_F(AfterRunTest, ReportsWaitForTheStartUpRunAndTheFleetKeepsFailedRunsOnly) {
  ASSERT_TRUE(config_->Set("AupdReportUrl", "http://127.0.0.1:9/report"));
  ASSERT_TRUE(config_->Set("AupdReportWhen", "always"));
  RunReport plain;
  plain.started_at = plain.finished_at = now_;
  Drive(plain, {true, false, true});
  EXPECT_EQ(actions_, std::vector<AfterRun::Action>{AfterRun::Action::kUpload});
  Drive(Decided(), {true, false, true});
  EXPECT_EQ(actions_, std::vector<AfterRun::Action>{AfterRun::Action::kRestart})
      << "the report waits for the start-up run";

  auto runs = [&] {
    auto last = state_->store().LastRun(kLocalDevice);
    return last && last->has_value() ? **last : std::string();
  };
  std::string before = runs();
  plain.trigger = "fleet-ok";
  Drive(plain, {true, false, false});
  EXPECT_EQ(runs(), before) << "a run that went well is not stored by the fleet";
  StepReport failed;
  failed.kind = "ini";
  failed.outcome = StepOutcome::kFailed;
  plain.steps.push_back(failed);
  plain.trigger = "fleet-failed";
  Drive(plain, {true, false, false});
  EXPECT_NE(runs().find("fleet-failed"), std::string::npos);
}

}  // namespace
}  // namespace autoprov
