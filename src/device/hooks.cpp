#include "device/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/text.hpp"
#include "device/identity.hpp"

namespace autoprov {

Expected<DeviceHooks> LoadHooks(const std::filesystem::path& state_dir) {
  DeviceHooks hooks;
  auto file = state_dir / "hooks.ini";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return hooks;
  auto kv = ReadKeyValueFile(file);
  if (!kv) return Unexpected(kv.error());
  for (const auto& [k, v] : *kv) {
    if (IEquals(k, "InstallCommand")) hooks.install_command = v;
    else if (IEquals(k, "VersionCommand")) hooks.version_command = v;
    else if (IEquals(k, "ResetCommand")) hooks.reset_command = v;
    else if (IStartsWith(k, "Apply.")) hooks.apply_commands[ToLower(k.substr(6))] = v;
    else return Fail(ErrorCode::kParse, file.string() + ": unknown key '" + k + "'");
  }
  return hooks;
}

Expected<CommandResult> RunCommand(const std::string& command, const std::vector<std::string>& args, int timeout_s) {
  std::vector<std::string> argv;
  for (auto w : SplitWhitespace(command)) argv.emplace_back(w);
  if (argv.empty()) return Fail(ErrorCode::kInvalidArgument, "empty command");
  argv.insert(argv.end(), args.begin(), args.end());
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Fail(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) return Fail(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", cargv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  CommandResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    int pr = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) continue;
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    if (r.output.size() < 4096) r.output.append(buf, static_cast<size_t>(std::min<ssize_t>(n, 4096)));
  }
  ::close(pipefd[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Fail(ErrorCode::kTimeout, argv[0] + " did not finish within " + std::to_string(timeout_s) + " s");
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace autoprov
