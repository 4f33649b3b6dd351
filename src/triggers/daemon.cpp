#include "triggers/daemon.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
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
#include "triggers/sip_notify.hpp"

namespace autoprov {
namespace {

std::string TimeText(std::time_t t) {
  char buf[64];
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
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
  void HandleSip(int fd);
  SipPolicy CurrentSipPolicy();
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
  std::optional<std::time_t> next_periodic_;
  SipNotifyHandler sip_;
  std::string next_periodic_kind_;
  // S-10.7: the interval counts from the last run, whatever triggered it; a finished run asks for
  // the periodic trigger to be scheduled again from its start.
  std::time_t last_run_ = std::time(nullptr);
  bool reschedule_ = false;
  std::optional<std::time_t> next_retry_;  // S-10.1: from the last run's report
  std::chrono::steady_clock::time_point next_retry_due_;
  int next_retry_attempt_ = 0;
  std::optional<std::time_t> next_startup_;  // S-10.1: a start-up run waiting its random delay
  std::chrono::steady_clock::time_point next_startup_due_;
  // What systemd shows (STATUS=), sent when it changes; the watchdog, pinged from the main loop.
  std::string DescribeState();
  std::string RunningVersionCommand() const;  // hooks.ini's, read at each restart
  std::string sd_status_;
  std::chrono::microseconds watchdog_{0};
  std::chrono::steady_clock::time_point last_ping_;
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
  if (next_startup_) return "start-up run at " + TimeText(*next_startup_);
  std::string s = "idle";
  if (next_retry_)
    s += "; retry " + std::to_string(next_retry_attempt_) + " at " + TimeText(*next_retry_);
  if (next_periodic_) s += "; next " + next_periodic_kind_ + " run at " + TimeText(*next_periodic_);
  return s;
}

void Daemon::Request(const std::string& trigger, bool reboot, int client, bool reboot_if_changed) {
  // Any run stands for a planned retry: its own report says whether another one follows.
  next_retry_.reset();
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
  const IdentityOverrides& id = o_.identity;
  for (const auto& [flag, value] :
       {std::pair{"--product", id.product}, std::pair{"--mac", id.mac},
        std::pair{"--serial", id.serial}, std::pair{"--sw-version", id.sw_version}})
    if (!value.empty()) args.insert(args.end(), {flag, value});
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
  next_startup_ = std::time(nullptr) + delay;  // for status; the wait counts from now
  next_startup_due_ = std::chrono::steady_clock::now() + std::chrono::seconds(delay);
  LogInfo("start-up run in " + std::to_string(delay) + " s (AupdStartupRandomDelay), at " +
          TimeText(*next_startup_));
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
    long long delay = report.next_retry_at - report.finished_at;
    next_retry_ = std::time(nullptr) + static_cast<std::time_t>(delay);
    next_retry_due_ = std::chrono::steady_clock::now() + std::chrono::seconds(delay);
    next_retry_attempt_ = report.retry_attempt;
    LogInfo("retry " + std::to_string(report.retry_attempt) + " at " + TimeText(*next_retry_) +
            " (AupdRetrySchedule)");
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
  j["next_trigger"] = next_periodic_ ? TimeText(*next_periodic_) : "";
  j["next_trigger_kind"] = next_periodic_kind_;
  j["next_retry"] = next_retry_ ? TimeText(*next_retry_) : "";
  j["next_retry_attempt"] = next_retry_ ? next_retry_attempt_ : 0;
  j["next_startup"] = next_startup_ ? TimeText(*next_startup_) : "";
  j["last_run"] =
      last_report_.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(last_report_);
  return j.dump();
}

void Daemon::HandleControl(int listen_fd) {
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return;
  // The request is one short line; a client that sends nothing within 2 s is dropped.
  pollfd p{fd, POLLIN, 0};
  std::string line;
  char buf[256];
  while (line.find('\n') == std::string::npos && line.size() < 256 && ::poll(&p, 1, 2000) > 0) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  line = line.substr(0, line.find('\n'));
  if (line == "run") {
    Request("manual", false, fd);
  } else if (line == "dhcp") {
    // S-10.6: a new lease; the hook does not wait for the run.
    Request("dhcp", false, -1);
    (void)WriteAll(fd, "{\"queued\":true}\n");
    ::close(fd);
  } else if (line == "status") {
    (void)WriteAll(fd, StatusJson() + "\n");
    ::close(fd);
  } else {
    (void)WriteAll(fd, "{\"error\":\"unknown request; use run or status\"}\n");
    ::close(fd);
  }
}

// S-9.6: the policy of the configuration as stored now.
SipPolicy Daemon::CurrentSipPolicy() {
  SipPolicy policy;
  auto config = state_->LoadConfiguration();
  if (!config) return policy;  // disabled: nothing is obeyed
  policy.enabled = config->Get("EnableSIPRemoteReset") == "1";
  std::string error;
  if (!ParseAllowList(config->Get("SipNotifyAllowFrom"), policy, &error)) {
    LogError(error + "; SIP NOTIFY is refused from every source");
    policy.enabled = false;
  }
  policy.username = config->Get("SipNotifyUsername");
  policy.password = config->Get("SipNotifyPassword");
  long long reboot = config->GetInt("SipNotifyReboot");
  policy.reboot = reboot == 1   ? SipReboot::kIgnore
                  : reboot == 2 ? SipReboot::kIfChanged
                                : SipReboot::kObey;
  return policy;
}

void Daemon::HandleSip(int fd) {
  char buf[8192];
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
  if (n <= 0) return;
  SipPolicy policy = CurrentSipPolicy();
  char host[INET6_ADDRSTRLEN] = "?";
  const unsigned char* addr = nullptr;
  if (from.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&from);
    addr = reinterpret_cast<const unsigned char*>(&in->sin_addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
  } else if (from.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&from);
    addr = reinterpret_cast<const unsigned char*>(&in6->sin6_addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  }
  unsigned char none[16] = {};
  auto r = sip_.Handle(std::string_view(buf, static_cast<size_t>(n)), policy, from.ss_family,
                       addr ? addr : none, static_cast<long long>(std::time(nullptr)));
  std::string line =
      std::string("SIP request from ") + host + ": " + std::to_string(r.status) + " " + r.reason;
  if (r.retransmission) line += " (retransmission: no second run)";
  if (r.status == 403 || r.status == 401)
    LogWarning(line + (r.status == 403
                           ? " (not allowed by EnableSIPRemoteReset or SipNotifyAllowFrom)"
                           : " (Digest challenge)"));
  else
    LogInfo(line);
  if (!r.response.empty())
    (void)::sendto(fd, r.response.data(), r.response.size(), 0, reinterpret_cast<sockaddr*>(&from),
                   len);
  if (r.trigger)
    Request(r.reboot ? "sip-notify(reboot=true)" : "sip-notify", r.reboot, -1, r.reboot_if_changed);
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
  ::unlink(sock_path.c_str());
  int control = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (sock_path.string().size() >= sizeof addr.sun_path) {
    LogError("state directory path too long for a control socket: " + sock_path.string());
    return 2;
  }
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  mode_t old = ::umask(0177);
  int bound = ::bind(control, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (bound != 0 || ::listen(control, 16) != 0) {
    LogError("cannot listen on " + sock_path.string() + ": " + std::strerror(errno));
    return 1;
  }
  ::chmod(sock_path.c_str(), 0600);
  int sip = -1;
  if (!o_.sip_listen.empty()) {
    auto colon = o_.sip_listen.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    if (colon == std::string::npos ||
        ::inet_pton(AF_INET, o_.sip_listen.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
      LogError("--sip-listen takes IPv4:PORT, e.g. 127.0.0.1:5060, not '" + o_.sip_listen + "'");
      return 2;
    }
    sa.sin_port = htons(static_cast<uint16_t>(std::atoi(o_.sip_listen.c_str() + colon + 1)));
    sip = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (::bind(sip, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      LogError("cannot listen for SIP on " + o_.sip_listen + ": " + std::strerror(errno));
      return 1;
    }
  }
  if (::pipe2(done_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return 1;

  std::thread worker([this] { Worker(); });
  // A freshly started device: a pending image becomes the running one, then the start-up trigger.
  Restart("");
  LogInfo("daemon started on " + o_.state_dir.string() +
          (sip >= 0 ? ", SIP on " + o_.sip_listen : ""));
  if (sip >= 0 && CurrentSipPolicy().allow_any)
    LogWarning("SipNotifyAllowFrom = any: a SIP NOTIFY from any host that reaches " +
               o_.sip_listen + " is obeyed; name the PBX or proxy instead (S-9.6)");
  SdNotify("READY=1");
  watchdog_ = WatchdogInterval();
  last_ping_ = std::chrono::steady_clock::now();

  PeriodicSchedule schedule;
  std::string reported_error;
  auto last_config_check = std::chrono::steady_clock::time_point{};
  while (!stop_) {
    // Configuration changes that move the periodic trigger apply without a restart; so does a run
    // that ended (the interval counts from it).
    if (reschedule_ ||
        std::chrono::steady_clock::now() - last_config_check > std::chrono::seconds(1)) {
      last_config_check = std::chrono::steady_clock::now();
      auto c = state_->LoadConfiguration();
      if (c && (!(ScheduleFrom(*c) == schedule) || !next_periodic_ || reschedule_)) {
        bool changed = !(ScheduleFrom(*c) == schedule);
        reschedule_ = false;
        schedule = ScheduleFrom(*c);
        ScheduledRun next = NextRun(*c, last_run_, std::time(nullptr), Draw());
        if (changed && !next.error.empty() && next.error != reported_error) LogError(next.error);
        reported_error = next.error;
        next_periodic_ = next.at;
        next_periodic_kind_ = next.kind;
        if (next_periodic_)
          LogInfo("next " + next_periodic_kind_ + " trigger at " + TimeText(*next_periodic_));
      }
    }
    std::time_t now = std::time(nullptr);
    if (next_periodic_ && now >= *next_periodic_) {
      last_run_ = now;
      Request(next_periodic_kind_, false, -1);
      next_periodic_ = NextPeriodicTrigger(schedule, last_run_, now, Draw());
    }
    if (next_startup_ && std::chrono::steady_clock::now() >= next_startup_due_) {
      next_startup_.reset();
      Request("start-up", false, -1);
    }
    if (next_retry_ && std::chrono::steady_clock::now() >= next_retry_due_) {
      int attempt = next_retry_attempt_;
      Request("retry", false, -1);  // clears next_retry_
      LogInfo("retry " + std::to_string(attempt) + " after a failed run");
    }
    if (std::string status = DescribeState(); status != sd_status_) {
      sd_status_ = status;
      SdNotify("STATUS=" + status);
    }
    if (watchdog_.count() > 0 && std::chrono::steady_clock::now() - last_ping_ >= watchdog_ / 2) {
      last_ping_ = std::chrono::steady_clock::now();
      SdNotify("WATCHDOG=1");
    }
    pollfd fds[3] = {{control, POLLIN, 0}, {done_pipe_[0], POLLIN, 0}, {sip, POLLIN, 0}};
    int n = ::poll(fds, sip >= 0 ? 3 : 2, 200);
    if (n <= 0) continue;
    if (fds[1].revents & POLLIN) {
      char buf[16];
      while (::read(done_pipe_[0], buf, sizeof buf) > 0) {
      }
      FinishRun();
      sd_status_.clear();  // the run's own STATUS lines came last: say again what the daemon does
    }
    if (fds[0].revents & POLLIN) HandleControl(control);
    if (sip >= 0 && (fds[2].revents & POLLIN)) HandleSip(sip);
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
  if (sip >= 0) ::close(sip);
  ::close(lock_fd);
  SdNotify("STOPPING=1");
  return 0;
}

}  // namespace

std::filesystem::path ControlSocketPath(const std::filesystem::path& state_dir) {
  return state_dir / "control.sock";
}

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

bool NudgeDaemon(const std::filesystem::path& state_dir, const std::string& trigger) {
  auto path = ControlSocketPath(state_dir);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  bool sent = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string line = trigger + "\n";
    sent = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size());
  }
  ::close(fd);
  return sent;
}

Expected<std::string> AskDaemon(const std::filesystem::path& state_dir, const std::string& command,
                                int timeout_s) {
  auto path = ControlSocketPath(state_dir);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EACCES || err == EPERM) {
      // The state directory is 0700: only its owner reaches the socket. Not "no daemon".
      struct stat st {};
      std::string owner =
          ::stat(state_dir.c_str(), &st) == 0 ? " (uid " + std::to_string(st.st_uid) + ")" : "";
      return Fail(ErrorCode::kAuth, "permission denied on " + path.string() +
                                        ": the daemon's control socket is open to the owner of " +
                                        state_dir.string() + owner +
                                        " only; run as that user or as root (e.g. with sudo)");
    }
    return Fail(ErrorCode::kNetwork, "no autoprov daemon is running on " + state_dir.string());
  }
  std::string line = command + "\n";
  (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
  std::string reply;
  char buf[65536];
  pollfd p{fd, POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    long left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      ::close(fd);
      return Fail(ErrorCode::kTimeout,
                  "the daemon did not answer within " + std::to_string(timeout_s) + " s");
    }
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (reply.empty())
    return Fail(ErrorCode::kCancelled,
                "the daemon closed the connection without a report (stopping?)");
  return reply;
}

}  // namespace autoprov
