// Files that are either old or new, never half-written: data goes to a temporary name in the same
// directory, is fsynced, renamed over the target, and the directory is fsynced.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace autoprov {

class AtomicFile {
 public:
  static Expected<AtomicFile> Create(const std::filesystem::path& target, mode_t mode = 0644);
  // A download that may be resumed (S-10.4): the temporary file has a stable name (PartialPath),
  // keeps its first `keep` bytes (anything after them, written but perhaps never synced, is cut),
  // and survives a failure: it is removed only by Commit's rename or by RemovePartial.
  static Expected<AtomicFile> Resume(const std::filesystem::path& target, uint64_t keep,
                                     mode_t mode = 0644);
  static std::filesystem::path PartialPath(const std::filesystem::path& target);
  static void RemovePartial(const std::filesystem::path& target);
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();  // removes the temporary file unless committed

  Expected<void> Write(const void* data, size_t size);
  // Discards what was written so far (a transfer restarting after a redirect or an auth challenge).
  Expected<void> Truncate();
  // fsync, rename into place, fsync the directory.
  Expected<void> Commit();
  // fdatasync: what was written so far is on disk (a resumable download's checkpoint).
  Expected<void> Sync();
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
  bool keep_on_abandon_ = false;
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

// Files that must change together (S-9.7: a TLS certificate and its key). They live in a generation
// directory <dir>/<set>.<n>/; the symlink <dir>/<set> names the one in use, and each stable name
// <dir>/<link> is a symlink to <set>/<file>. SwitchFileSet writes a new generation (every file
// fsynced), then switches with one rename of the <set> symlink: a kill at any instant leaves the
// old set or the new one. Files a set had before, not named in `files`, are carried over unchanged.
struct SetFile {
  std::string name;  // within the generation directory, e.g. "cert.pem"
  std::string link;  // the stable name in <dir>, e.g. "device-cert.pem"
  std::string content;
  mode_t mode = 0644;
};
Expected<void> SwitchFileSet(const std::filesystem::path& dir, const std::string& set,
                             const std::vector<SetFile>& files);

}  // namespace autoprov
