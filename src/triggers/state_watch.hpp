// Tells the daemon when anyone wrote the state database (config set, the shell, the DHCP hook, a
// run): inotify on the state directory, for the database and its write-ahead log. The daemon then
// reads the configuration again (a change may move the periodic trigger, S-6.2); idle, nothing
// wakes it.
#pragma once

#include <filesystem>

#include "common/error.hpp"

namespace autoprov {

class StateWatch {
 public:
  static Expected<StateWatch> Open(const std::filesystem::path& state_dir);
  StateWatch(StateWatch&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  StateWatch(const StateWatch&) = delete;
  ~StateWatch();
  int fd() const { return fd_; }  // readable when something was written
  // Reads the events waiting: true when the database was written since the last call.
  bool Changed();

 private:
  explicit StateWatch(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace autoprov
