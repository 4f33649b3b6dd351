#include "device/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/systemd.hpp"
#include "common/text.hpp"
#include "device/identity.hpp"

namespace autoprov {

Expected<DeviceHooks> LoadHooks(const std::filesystem::path& state_dir) {
  DeviceHooks hooks;
  auto file = LocateDeviceFile(state_dir, "hooks.ini");
  if (file.empty()) return hooks;
  auto kv = ReadKeyValueFile(file);
  if (!kv) return Unexpected(kv.error());
  for (const auto& [k, v] : *kv) {
    if (IEquals(k, "InstallCommand"))
      hooks.install_command = v;
    else if (IEquals(k, "VersionCommand"))
      hooks.version_command = v;
    else if (IEquals(k, "ResetCommand"))
      hooks.reset_command = v;
    else if (IEquals(k, "BusyCommand"))
      hooks.busy_command = v;
    else if (IEquals(k, "RunningVersionCommand"))
      hooks.running_version_command = v;
    else if (IEquals(k, "LogLevel")) {
      std::string level = ToLower(v);
      if (level != "debug" && level != "info" && level != "warning" && level != "error")
        return Fail(ErrorCode::kParse, file.string() + ": LogLevel '" + v +
                                           "' is not one of debug, info, warning, error");
      hooks.log_level = level;
    } else if (IStartsWith(k, "Apply.")) {
      hooks.apply_commands[ToLower(k.substr(6))] = v;
    } else if (IEquals(k, "SignersBundle")) {
      hooks.signers_bundle = v;
    } else if (IEquals(k, "SignaturePolicy") || IStartsWith(k, "SignaturePolicy.")) {
      std::string policy = ToLower(v);
      if (policy != "off" && policy != "if-present" && policy != "required")
        return Fail(ErrorCode::kParse, file.string() + ": " + k + " '" + v +
                                           "' is not one of off, if-present, required (S-12.2)");
      if (k.size() == 15)
        hooks.signature_policy = policy;
      else
        hooks.signature_policies[ToLower(k.substr(16))] = policy;
    } else if (IEquals(k, "DecryptionCert")) {
      hooks.decryption_cert = v;
    } else if (IEquals(k, "DecryptionKey")) {
      hooks.decryption_key = v;
    } else if (IEquals(k, "EncryptionPolicy") || IStartsWith(k, "EncryptionPolicy.")) {
      std::string policy = ToLower(v);
      if (policy != "if-present" && policy != "required")
        return Fail(ErrorCode::kParse, file.string() + ": " + k + " '" + v +
                                           "' is not one of if-present, required (S-12.3)");
      if (k.size() == 16)
        hooks.encryption_policy = policy;
      else
        hooks.encryption_policies[ToLower(k.substr(17))] = policy;
    } else
      return Fail(ErrorCode::kParse, file.string() + ": unknown key '" + k + "'");
  }
  return hooks;
}

// S-9.8: the hook is waited for by its exit, not by its output pipe: a hook that starts a
// background service (whose child inherits the pipe) and exits 0 has finished. Output is read while
// it runs, up to a bound; the hook runs in its own process group, killed as a whole only on
// timeout.
Expected<CommandResult> RunCommand(const std::string& command, const std::vector<std::string>& args,
                                   int timeout_s, const std::vector<std::string>& env) {
  constexpr size_t kOutputLimit = 4096;
  std::vector<std::string> argv;
  for (auto w : SplitWhitespace(command)) argv.emplace_back(w);
  if (argv.empty()) return Fail(ErrorCode::kInvalidArgument, "empty command");
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> cenv;
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0)
    return Fail(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  // posix_spawn, not fork: nothing runs in a copy of this (multi-threaded) process, and it works
  // where fork does not (user-mode emulators). The hook gets its own process group, the pipe as
  // stdout and stderr, /dev/null as stdin.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    if (rc == ENOENT || rc == EACCES)
      return CommandResult{127, "cannot run " + argv[0] + ": " + std::strerror(rc)};
    return Fail(ErrorCode::kIo, "cannot run " + argv[0] + ": " + std::strerror(rc));
  }
  ::setpgid(pid, pid);  // also here: no race with the child's own call
  ::close(pipefd[1]);
  ::fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  CommandResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  bool pipe_open = true;
  int status = 0;
  auto drain = [&] {
    for (;;) {
      ssize_t n = ::read(pipefd[0], buf, sizeof buf);
      if (n == 0) pipe_open = false;
      if (n <= 0) return;
      if (r.output.size() < kOutputLimit)
        r.output.append(buf, std::min(static_cast<size_t>(n), kOutputLimit - r.output.size()));
    }
  };
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR)
      return Fail(ErrorCode::kIo, std::string("waitpid: ") + std::strerror(errno));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      ::close(pipefd[0]);
      return Fail(ErrorCode::kTimeout,
                  argv[0] + " did not finish within " + std::to_string(timeout_s) + " s");
    }
    if (pipe_open) {
      pollfd p{pipefd[0], POLLIN, 0};
      // Short waits: the exit is noticed within 20 ms even while a background child holds the pipe.
      (void)::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 20)));
      drain();
    } else {
      ::usleep(static_cast<useconds_t>(std::min<long long>(left.count(), 20) * 1000));
    }
  }
  drain();  // what the hook wrote before it exited
  ::close(pipefd[0]);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

LogLevel ChooseLogLevel(std::string_view asked, const std::filesystem::path& state_dir,
                        LogLevel otherwise) {
  LogLevel level = otherwise;
  if (!asked.empty()) {
    if (ParseLogLevel(asked, level)) return level;
  } else if (auto hooks = LoadHooks(state_dir); hooks && !hooks->log_level.empty()) {
    if (ParseLogLevel(hooks->log_level, level)) return level;
  }
  return otherwise;
}

namespace {
// A per-kind setting's value, as Apply.<kind> is found: <Key>.<keyword>, else <Key>.<name>, else
// <Key> (`all`); empty when none is set.
std::string PerKind(const std::map<std::string, std::string>& per_kind, const std::string& all,
                    std::string_view keyword, std::string_view kind_name) {
  for (std::string_view key : {keyword, kind_name})
    if (auto it = per_kind.find(std::string(key)); !key.empty() && it != per_kind.end())
      return it->second;
  return all;
}
}  // namespace

SignaturePolicy SignaturePolicyFor(const DeviceHooks& hooks, std::string_view keyword,
                                   std::string_view kind_name) {
  std::string name = PerKind(hooks.signature_policies, hooks.signature_policy, keyword, kind_name);
  if (name.empty())
    return hooks.signers_bundle.empty() ? SignaturePolicy::kOff : SignaturePolicy::kRequired;
  return name == "required"     ? SignaturePolicy::kRequired
         : name == "if-present" ? SignaturePolicy::kIfPresent
                                : SignaturePolicy::kOff;
}

bool EncryptionRequiredFor(const DeviceHooks& hooks, std::string_view keyword,
                           std::string_view kind_name) {
  return PerKind(hooks.encryption_policies, hooks.encryption_policy, keyword, kind_name) ==
         "required";
}

std::string_view SignaturePolicyName(SignaturePolicy p) {
  switch (p) {
    case SignaturePolicy::kRequired:
      return "required";
    case SignaturePolicy::kIfPresent:
      return "if-present";
    case SignaturePolicy::kOff:
      break;
  }
  return "off";
}

}  // namespace autoprov
