// Files that are either old or new, never half-written: data goes to a temporary name in the same
// directory, is fsynced, renamed over the target, and the directory is fsynced.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace autoprov {

class AtomicFile {
 public:
  static Expected<AtomicFile> Create(const std::filesystem::path& target, mode_t mode = 0644);
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary file unless committed

  Expected<void> Write(const void* data, size_t size);
  // Discards what was written so far (a transfer restarting after a redirect or an auth challenge).
  Expected<void> Truncate();
  // fsync, rename into place, fsync the directory.
  Expected<void> Commit();
  void Abandon();

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  size_t size() const { return written_; }

 private:
  AtomicFile(std::filesystem::path target, std::filesystem::path temp, int fd)
      : target_(std::move(target)), temp_(std::move(temp)), fd_(fd) {}
  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  size_t written_ = 0;
  size_t flushed_ = 0;  // bytes handed to writeback already
};

Expected<void> WriteFileAtomically(const std::filesystem::path& target, std::string_view data,
                                   mode_t mode = 0644);
// Reads a whole file, refusing one above `max_size` bytes.
Expected<std::string> ReadFile(const std::filesystem::path& path, size_t max_size = 256u << 20);
// Removes temporary files a killed process left behind in `dir` (recursively).
void RemoveStaleTemporaries(const std::filesystem::path& dir);
Expected<void> FsyncDirectory(const std::filesystem::path& dir);

}  // namespace autoprov
