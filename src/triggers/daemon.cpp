#include "triggers/daemon.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "common/log.hpp"
#include "common/systemd.hpp"
#include "device/hooks.hpp"
#include "engine/report.hpp"
#include "engine/restart.hpp"
#include "engine/schedule.hpp"
#include "store/state_dir.hpp"
#include "triggers/agent_process.hpp"
#include "triggers/control_socket.hpp"
#include "triggers/sip_listener.hpp"
#include "triggers/state_watch.hpp"
#include "triggers/timers.hpp"

namespace autoprov {
namespace {

std::string TimeText(std::time_t t) {
  char buf[64];
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

struct RunRequest {
  std::string trigger;
  bool reboot = false;
  bool reboot_if_changed = false;  // SipNotifyReboot = if-changed
  std::vector<int> clients;        // control connections waiting for this run's report
};

class Daemon {
 public:
  Daemon(const DaemonOptions& o, std::atomic<bool>& stop) : o_(o), stop_(stop) {}
  int Run();

 private:
  void Request(const std::string& trigger, bool reboot, int client, bool reboot_if_changed = false);
  void Worker();
  void HandleControl(int fd);
  void HandleSip();
  // Reads the configuration again and plans the periodic trigger when its schedule changed or a
  // run ended (the interval counts from the run, S-10.7).
  void Reschedule();
  void FinishRun();
  void Restart(const char* what);  // logs `what` once restarted
  std::vector<std::string> AgentArgs(const RunRequest& req) const;
  std::string StatusJson();

  const DaemonOptions& o_;
  std::atomic<bool>& stop_;
  std::atomic<bool> cancel_{false};
  std::unique_ptr<StateDirectory> state_;  // the main thread's connection
  std::mutex m_;
  std::condition_variable cv_;
  std::optional<RunRequest> pending_;  // merged triggers waiting for the next run
  std::optional<RunRequest> running_;
  std::optional<AgentProcessResult> finished_;  // set by the worker, taken by the main loop
  std::string last_report_;
  bool quit_ = false;
  int done_pipe_[2] = {-1, -1};
  std::unique_ptr<SipListener> sip_;  // --sip-listen
  // The periodic trigger, the start-up delay, the retry and the watchdog (triggers/timers.hpp).
  DaemonTimers timers_;
  // S-10.7: the interval counts from the last run, whatever triggered it; a finished run asks for
  // the periodic trigger to be scheduled again from its start.
  std::time_t last_run_ = std::time(nullptr);
  bool reschedule_ = true;
  std::string reported_error_;  // the schedule's error, logged once
  // What systemd shows (STATUS=), sent when it changes.
  std::string DescribeState();
  std::string RunningVersionCommand() const;  // hooks.ini's, read at each restart
  std::string sd_status_;
  std::mt19937_64 rng_{std::random_device{}()};
  double Draw() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  void StartupRun(long long delay);
};

std::string Daemon::RunningVersionCommand() const {
  auto hooks = LoadHooks(o_.state_dir);
  return hooks ? hooks->running_version_command : "";
}

std::string Daemon::DescribeState() {
  {
    std::lock_guard lock(m_);
    if (running_) return "running (" + running_->trigger + ")";
  }
  if (auto at = timers_.startup_at()) return "start-up run at " + TimeText(*at);
  std::string s = "idle";
  if (auto at = timers_.retry_at())
    s += "; retry " + std::to_string(timers_.retry_attempt()) + " at " + TimeText(*at);
  if (const auto& p = timers_.periodic(); p.at)
    s += "; next " + p.kind + " run at " + TimeText(*p.at);
  return s;
}

void Daemon::Request(const std::string& trigger, bool reboot, int client, bool reboot_if_changed) {
  // Any run stands for a planned retry: its own report says whether another one follows.
  timers_.ClearRetry();
  std::lock_guard lock(m_);
  if (!pending_)
    pending_ = RunRequest{trigger, false, false, {}};
  else if (pending_->trigger != trigger)
    pending_->trigger += "+" + trigger;
  pending_->reboot |= reboot;
  pending_->reboot_if_changed |= reboot_if_changed;
  if (client >= 0) pending_->clients.push_back(client);
  LogInfo("trigger: " + trigger +
          (running_ ? " (a run is in progress: merged into the follow-up run)" : ""));
  cv_.notify_all();
}

std::vector<std::string> Daemon::AgentArgs(const RunRequest& req) const {
  std::vector<std::string> args = {o_.agent, "--state-dir", o_.state_dir.string()};
  for (const auto& f : o_.schema_files) args.insert(args.end(), {"--schema", f});
  for (auto& a : IdentityArguments(o_.identity)) args.push_back(std::move(a));
  args.insert(args.end(), {"run-once", "--trigger", req.trigger});
  if (req.reboot) args.push_back("--reboot");
  if (req.reboot_if_changed) args.push_back("--reboot-if-changed");
  if (o_.verbose) args.push_back("--verbose");
  if (!o_.log_level.empty()) args.insert(args.end(), {"--log-level", o_.log_level});
  return args;
}

void Daemon::Worker() {
  for (;;) {
    RunRequest req;
    {
      std::unique_lock lock(m_);
      cv_.wait(lock, [&] { return quit_ || (pending_ && !running_ && !finished_); });
      if (quit_) return;
      req = std::move(*pending_);
      pending_.reset();
      running_ = RunRequest{req.trigger, req.reboot, req.reboot_if_changed, {}};
      running_->clients = std::move(req.clients);
    }
    LogInfo("run started (" + req.trigger + ")");
    SdNotify("STATUS=running (" + req.trigger + ")");  // at once: a short run ends between loops
    // S-6: each run is a process of its own; the daemon only waits for its report.
    AgentProcessResult run = RunAgentProcess(AgentArgs(req), req.trigger, cancel_);
    if (run.died) LogError(run.report.steps.back().error);
    {
      std::lock_guard lock(m_);
      finished_ = std::move(run);
    }
    char c = 1;
    (void)!::write(done_pipe_[1], &c, 1);
  }
}

// S-2.2: a restart the daemon performs itself (no reset command): it re-initialises as a freshly
// started device (PowerUp); the start-up run follows unless AutoUpdateOnStartup = 0.
void Daemon::Restart(const char* what) {
  auto startup =
      PowerUp(state_->store(), kLocalDevice, state_->schema(), Draw(), RunningVersionCommand());
  if (!startup) return LogError(startup.error().message);
  if (*what) LogInfo(what);
  if (startup->has_value() && !stop_) StartupRun(**startup);
}

// The start-up run, now or after its random delay (AupdStartupRandomDelay, S-10.1).
void Daemon::StartupRun(long long delay) {
  if (delay <= 0) return Request("start-up", false, -1);
  timers_.StartupIn(delay);  // the wait counts from now
  LogInfo("start-up run in " + std::to_string(delay) + " s (AupdStartupRandomDelay), at " +
          TimeText(*timers_.startup_at()));
}

void Daemon::FinishRun() {
  AgentProcessResult run;
  std::vector<int> clients;
  {
    std::lock_guard lock(m_);
    if (!finished_) return;
    run = std::move(*finished_);
    finished_.reset();
    clients = std::move(running_->clients);
    running_.reset();
  }
  RunReport& report = run.report;
  // A run whose process died left no report of its own: the daemon stores why, for `status`.
  if (run.died)
    if (auto r = state_->store().AddRun(kLocalDevice, report.started_at, ToJson(report).dump()); !r)
      LogError("cannot store the run report: " + r.error().message);
  size_t applied = 0, failed = 0;
  for (const auto& s : report.steps) {
    applied += s.outcome == StepOutcome::kApplied;
    failed += s.outcome == StepOutcome::kFailed || s.outcome == StepOutcome::kRejected;
  }
  LogInfo("run finished (" + report.trigger + "): " + std::to_string(report.steps.size()) +
          " step(s), " + std::to_string(applied) + " applied, " + std::to_string(failed) +
          " failed; restart " + report.RestartState());
  last_report_ = ToJson(report).dump();
  last_run_ =
      static_cast<std::time_t>(report.started_at > 0 ? report.started_at : std::time(nullptr));
  reschedule_ = true;
  if (report.next_retry_at > 0 && !stop_) {
    // The delay counts from now: the report's times are whole seconds.
    timers_.RetryIn(report.next_retry_at - report.finished_at, report.retry_attempt);
    LogInfo("retry " + std::to_string(report.retry_attempt) + " at " +
            TimeText(*timers_.retry_at()) + " (AupdRetrySchedule)");
  }
  // Idle between runs: give the run's freed heap back to the system.
  ::malloc_trim(0);
  for (int fd : clients) {
    (void)WriteAll(fd, last_report_ + "\n");
    ::close(fd);
  }
  if (report.restart != RestartWhen::kNone && report.restart_performed && !stop_) {
    auto hooks = LoadHooks(o_.state_dir);
    // With a reset command the device restarted for real (or was asked to); without, the daemon
    // does it.
    if (hooks && hooks->reset_command.empty()) {
      Restart("restart (simulated): the agent re-initialises as a freshly started device");
    } else {
      auto config = state_->LoadConfiguration();
      if (!config) LogError("start-up run: " + config.error().message);
      StartupRun(config ? StartupDelay(*config, Draw()) : 0);
    }
  }
  std::lock_guard lock(m_);
  cv_.notify_all();
}

std::string Daemon::StatusJson() {
  nlohmann::json j;
  {
    std::lock_guard lock(m_);
    j["running"] = running_.has_value();
    j["pending"] = pending_.has_value();
  }
  const ScheduledRun& periodic = timers_.periodic();
  j["next_trigger"] = periodic.at ? TimeText(*periodic.at) : "";
  j["next_trigger_kind"] = periodic.kind;
  j["next_retry"] = timers_.retry_at() ? TimeText(*timers_.retry_at()) : "";
  j["next_retry_attempt"] = timers_.retry_at() ? timers_.retry_attempt() : 0;
  j["next_startup"] = timers_.startup_at() ? TimeText(*timers_.startup_at()) : "";
  j["last_run"] =
      last_report_.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(last_report_);
  return j.dump();
}

void Daemon::HandleControl(int listen_fd) {
  std::string line;
  int fd = AcceptControlRequest(listen_fd, line);
  if (fd < 0) return;
  switch (ParseControlCommand(line)) {
    case ControlCommand::kRun:
      return Request("manual", false, fd);  // answered with the run's report
    case ControlCommand::kDhcp:
      // S-10.6: a new lease; the hook does not wait for the run.
      Request("dhcp", false, -1);
      (void)WriteAll(fd, "{\"queued\":true}\n");
      break;
    case ControlCommand::kStatus:
      (void)WriteAll(fd, StatusJson() + "\n");
      break;
    case ControlCommand::kUnknown:
      (void)WriteAll(fd, std::string(kUnknownControlReply) + "\n");
      break;
  }
  ::close(fd);
}

void Daemon::Reschedule() {
  auto c = state_->LoadConfiguration();
  if (!c) return;
  bool changed = !(ScheduleFrom(*c) == timers_.schedule());
  if (!changed && !reschedule_ && timers_.periodic().at) return;
  reschedule_ = false;
  const ScheduledRun& next = timers_.Plan(*c, last_run_, Draw());
  if (changed && !next.error.empty() && next.error != reported_error_) LogError(next.error);
  reported_error_ = next.error;
  if (next.at) LogInfo("next " + next.kind + " trigger at " + TimeText(*next.at));
}

// S-9.6: a datagram on the SIP listener, under the policy of the configuration as stored now.
void Daemon::HandleSip() {
  auto config = state_->LoadConfiguration();
  SipPolicy policy = config ? SipPolicyFrom(*config) : SipPolicy{};  // disabled: nothing obeyed
  if (auto t = sip_->Handle(policy))
    Request(t->reboot ? "sip-notify(reboot=true)" : "sip-notify", t->reboot, -1,
            t->reboot_if_changed);
}

int Daemon::Run() {
  auto state = StateDirectory::Open(o_.state_dir, o_.schema_files);
  if (!state) {
    LogError(state.error().message);
    return 2;
  }
  state_ = std::move(*state);
  // One daemon per state directory.
  int lock_fd = ::open((o_.state_dir / "daemon.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    LogError("another autoprov daemon holds " + o_.state_dir.string());
    return 1;
  }
  // The control socket, owner-only.
  auto sock_path = ControlSocketPath(o_.state_dir);
  auto listening = ListenOnControlSocket(o_.state_dir);
  if (!listening) {
    LogError(listening.error().message);
    return listening.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  int control = *listening;
  if (!o_.sip_listen.empty()) {
    auto sip = SipListener::Open(o_.sip_listen);
    if (!sip) {
      LogError(sip.error().message);
      return sip.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
    }
    sip_ = std::move(*sip);
  }
  if (::pipe2(done_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return 1;

  // SIGTERM and SIGINT reach the main thread only while it waits (ppoll below): a stop between the
  // check of stop_ and the wait is not lost, and no other thread takes the signal. The worker
  // inherits the mask; the runs it starts get an empty one (agent_process.cpp).
  sigset_t stop_signals, while_waiting;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, &while_waiting);
  sigdelset(&while_waiting, SIGTERM);
  sigdelset(&while_waiting, SIGINT);

  std::thread worker([this] { Worker(); });
  // A freshly started device: a pending image becomes the running one, then the start-up trigger.
  Restart("");
  LogInfo("daemon started on " + o_.state_dir.string() + (sip_ ? ", SIP on " + o_.sip_listen : ""));
  if (auto c = state_->LoadConfiguration(); sip_ && c && SipPolicyFrom(*c).allow_any)
    LogWarning("SipNotifyAllowFrom = any: a SIP NOTIFY from any host that reaches " +
               o_.sip_listen + " is obeyed; name the PBX or proxy instead (S-9.6)");
  // Writers (config set, the shell, the DHCP hook) change the configuration in the database: the
  // daemon hears of it from inotify and sleeps otherwise. Without inotify it looks every second.
  auto watch = StateWatch::Open(o_.state_dir);
  if (!watch)
    LogWarning(watch.error().message + ": configuration changes are looked for every second");
  const long long max_sleep_ms = watch ? 60'000 : 1'000;
  SdNotify("READY=1");
  timers_.Watchdog(WatchdogInterval());

  bool config_changed = true;
  while (!stop_) {
    // Configuration changes that move the periodic trigger apply without a restart; so does a run
    // that ended (the interval counts from it).
    if (config_changed || reschedule_) Reschedule();
    DaemonTimers::Due due = timers_.Take(Draw());
    if (!due.periodic.empty()) {
      last_run_ = std::time(nullptr);
      Request(due.periodic, false, -1);
    }
    if (due.startup) Request("start-up", false, -1);
    if (due.retry) {
      Request("retry", false, -1);
      LogInfo("retry " + std::to_string(timers_.retry_attempt()) + " after a failed run");
    }
    if (due.watchdog) SdNotify("WATCHDOG=1");
    if (std::string status = DescribeState(); status != sd_status_) {
      sd_status_ = status;
      SdNotify("STATUS=" + status);
    }
    // Asleep until the next timer, a socket, a finished run, a write to the state or a signal.
    pollfd fds[4] = {{control, POLLIN, 0},
                     {done_pipe_[0], POLLIN, 0},
                     {sip_ ? sip_->fd() : -1, POLLIN, 0},
                     {watch ? watch->fd() : -1, POLLIN, 0}};
    long long sleep_ms = timers_.SleepMs(max_sleep_ms);
    timespec timeout{static_cast<time_t>(sleep_ms / 1000),
                     static_cast<long>(sleep_ms % 1000) * 1'000'000};
    int n = ::ppoll(fds, 4, &timeout, &while_waiting);
    config_changed = !watch;  // without inotify: each wake-up, at least every second
    if (n <= 0) continue;
    if (fds[3].revents & POLLIN) config_changed = watch->Changed();
    if (fds[1].revents & POLLIN) {
      char buf[16];
      while (::read(done_pipe_[0], buf, sizeof buf) > 0) {
      }
      FinishRun();
      sd_status_.clear();  // the run's own STATUS lines came last: say again what the daemon does
    }
    if (fds[0].revents & POLLIN) HandleControl(control);
    if (fds[2].revents & POLLIN) HandleSip();
  }

  LogInfo("stopping");
  cancel_ = true;
  {
    std::lock_guard lock(m_);
    quit_ = true;
    cv_.notify_all();
  }
  worker.join();
  FinishRun();  // answers clients of an interrupted run
  {
    std::lock_guard lock(m_);
    if (pending_)
      for (int fd : pending_->clients) ::close(fd);
  }
  ::close(control);
  ::unlink(sock_path.c_str());
  ::close(lock_fd);
  SdNotify("STOPPING=1");
  return 0;
}

}  // namespace

std::string DefaultAgentPath() {
  if (const char* env = std::getenv("AUTOPROV_AGENT"); env && *env) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("autoprov") : (self.parent_path() / "autoprov").string();
}

int RunDaemon(const DaemonOptions& options, std::atomic<bool>& stop) {
  Daemon d(options, stop);
  return d.Run();
}

}  // namespace autoprov
