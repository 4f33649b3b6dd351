#include "triggers/state_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace autoprov {

Expected<StateWatch> StateWatch::Open(const std::filesystem::path& state_dir) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Fail(ErrorCode::kIo, std::string("inotify: ") + std::strerror(errno));
  if (::inotify_add_watch(fd, state_dir.c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return Fail(ErrorCode::kIo, "cannot watch " + state_dir.string() + ": " + why);
  }
  return StateWatch(fd);
}

StateWatch::~StateWatch() {
  if (fd_ >= 0) ::close(fd_);
}

bool StateWatch::Changed() {
  bool changed = false;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
      // state.db, state.db-wal (state.db-shm is shared memory: readers touch it too).
      std::string_view name(e->len ? e->name : "");
      if (name == "state.db" || name == "state.db-wal") changed = true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  return changed;
}

}  // namespace autoprov
