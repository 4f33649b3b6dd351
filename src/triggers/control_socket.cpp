#include "triggers/control_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace autoprov {

ControlCommand ParseControlCommand(const std::string& line) {
  if (line == "run") return ControlCommand::kRun;
  if (line == "dhcp") return ControlCommand::kDhcp;
  if (line == "status") return ControlCommand::kStatus;
  return ControlCommand::kUnknown;
}

std::filesystem::path ControlSocketPath(const std::filesystem::path& state_dir) {
  return state_dir / "control.sock";
}

Expected<int> ListenOnControlSocket(const std::filesystem::path& state_dir) {
  auto path = ControlSocketPath(state_dir);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path)
    return Fail(ErrorCode::kInvalidArgument,
                "state directory path too long for a control socket: " + path.string());
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  mode_t old = ::umask(0177);
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (fd < 0 || bound != 0 || ::listen(fd, 16) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Fail(ErrorCode::kIo, "cannot listen on " + path.string() + ": " + why);
  }
  ::chmod(path.c_str(), 0600);
  return fd;
}

int AcceptControlRequest(int listen_fd, std::string& line) {
  int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return -1;
  pollfd p{fd, POLLIN, 0};
  char buf[256];
  line.clear();
  while (line.find('\n') == std::string::npos && line.size() < 256 && ::poll(&p, 1, 2000) > 0) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  line = line.substr(0, line.find('\n'));
  return fd;
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
