#include "triggers/agent_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

extern char** environ;

namespace autoprov {
namespace {

std::string DeathOf(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  return "ended with status " + std::to_string(status);
}

}  // namespace

AgentProcessResult RunAgentProcess(const std::vector<std::string>& argv, const std::string& trigger,
                                   const std::atomic<bool>& cancel, int grace_ms) {
  AgentProcessResult out;
  auto fail = [&](const std::string& why) {
    out.died = true;
    out.report = StartFailureReport(trigger, why);
    return out;
  };
  int pipe_fd[2];
  if (::pipe2(pipe_fd, O_CLOEXEC) != 0)
    return fail(std::string("cannot start a run: pipe: ") + std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, none;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(pipe_fd[1]);
  if (rc != 0) {
    ::close(pipe_fd[0]);
    return fail("cannot start the agent " + argv[0] + ": " + std::strerror(rc));
  }
  using Clock = std::chrono::steady_clock;
  std::string output;
  bool eof = false, signalled = false, killed = false;
  Clock::time_point kill_at{};
  int status = 0;
  for (;;) {
    if (cancel.load() && !signalled) {
      ::kill(pid, SIGTERM);
      signalled = true;
      kill_at = Clock::now() + std::chrono::milliseconds(grace_ms);
    }
    if (signalled && !killed && Clock::now() >= kill_at) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    if (eof) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      ::usleep(20 * 1000);
      continue;
    }
    pollfd p{pipe_fd[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[16384];
    ssize_t n = ::read(pipe_fd[0], buf, sizeof buf);
    if (n > 0) {
      if (output.size() < (16u << 20)) output.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      eof = true;
    }
  }
  ::close(pipe_fd[0]);
  auto j = nlohmann::json::parse(output, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("steps")) {
    out.report = RunReportFromJson(j);
    if (WIFSIGNALED(status))
      out.report.restart_reasons.push_back("the run's process was " + DeathOf(status));
    return out;
  }
  return fail("the run's process (" + argv[0] + ") " + DeathOf(status) + " without a report" +
              (signalled ? " after the daemon asked it to stop" : ""));
}

}  // namespace autoprov
