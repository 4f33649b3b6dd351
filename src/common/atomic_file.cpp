#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace autoprov {
namespace {

constexpr std::string_view kTempMarker = ".autoprov-tmp-";

Error Errno(std::string_view what, const std::filesystem::path& p) {
  return MakeError(ErrorCode::kIo,
                   std::string(what) + " " + p.string() + ": " + std::strerror(errno));
}

}  // namespace

Expected<void> FsyncDirectory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unexpected(Errno("cannot open directory", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Unexpected(Errno("cannot fsync directory", dir));
  return {};
}

Expected<AtomicFile> AtomicFile::Create(const std::filesystem::path& target, mode_t mode) {
  static std::atomic<unsigned> counter{0};
  std::error_code ec;
  auto dir = target.parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec)
    return Fail(ErrorCode::kIo, "cannot create directory " + dir.string() + ": " + ec.message());
  auto temp = dir / ("." + target.filename().string() + std::string(kTempMarker) +
                     std::to_string(::getpid()) + "-" + std::to_string(counter++));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Unexpected(Errno("cannot create", temp));
  ::fchmod(fd, mode);  // not subject to the umask: a private key must end up 0600 exactly
  return AtomicFile(target, temp, fd);
}

std::filesystem::path AtomicFile::PartialPath(const std::filesystem::path& target) {
  return target.parent_path() / ("." + target.filename().string() + ".partial");
}

void AtomicFile::RemovePartial(const std::filesystem::path& target) {
  ::unlink(PartialPath(target).c_str());
}

Expected<AtomicFile> AtomicFile::Resume(const std::filesystem::path& target, uint64_t keep,
                                        mode_t mode) {
  std::error_code ec;
  auto dir = target.parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec)
    return Fail(ErrorCode::kIo, "cannot create directory " + dir.string() + ": " + ec.message());
  auto temp = PartialPath(target);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, mode);
  if (fd < 0) return Unexpected(Errno("cannot open", temp));
  ::fchmod(fd, mode);
  if (::ftruncate(fd, static_cast<off_t>(keep)) != 0 ||
      ::lseek(fd, static_cast<off_t>(keep), SEEK_SET) < 0) {
    auto e = Errno("cannot cut", temp);
    ::close(fd);
    return Unexpected(e);
  }
  AtomicFile f(target, temp, fd);
  f.keep_on_abandon_ = true;
  f.written_ = f.flushed_ = static_cast<size_t>(keep);
  return f;
}

Expected<void> AtomicFile::Sync() {
  if (fd_ < 0) return Fail(ErrorCode::kInternal, "sync of a closed file " + target_.string());
  if (::fdatasync(fd_) != 0) return Unexpected(Errno("cannot fdatasync", temp_));
  return {};
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : target_(std::move(o.target_)),
      temp_(std::move(o.temp_)),
      fd_(std::exchange(o.fd_, -1)),
      keep_on_abandon_(o.keep_on_abandon_),
      written_(o.written_),
      flushed_(o.flushed_) {}

AtomicFile::~AtomicFile() { Abandon(); }

void AtomicFile::Abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    if (!keep_on_abandon_) ::unlink(temp_.c_str());
  }
}

Expected<void> AtomicFile::Write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unexpected(Errno("cannot write", temp_));
    }
    p += n;
    size -= static_cast<size_t>(n);
    written_ += static_cast<size_t>(n);
  }
  // Start writeback of every full chunk while the rest still arrives, so that the final fsync of a
  // large image does not have to push the whole file to disk at once.
  constexpr size_t kChunk = 8u << 20;
  if (written_ - flushed_ >= kChunk) {
    ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(written_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = written_;
  }
  return {};
}

Expected<void> AtomicFile::Truncate() {
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0)
    return Unexpected(Errno("cannot truncate", temp_));
  written_ = 0;
  flushed_ = 0;
  return {};
}

Expected<void> AtomicFile::Commit() {
  if (fd_ < 0) return Fail(ErrorCode::kInternal, "commit of a closed file " + target_.string());
  if (::fsync(fd_) != 0) return Unexpected(Errno("cannot fsync", temp_));
  ::close(fd_);
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    auto e = Errno("cannot rename into", target_);
    ::unlink(temp_.c_str());
    return Unexpected(e);
  }
  return FsyncDirectory(target_.parent_path());
}

Expected<void> WriteFileAtomically(const std::filesystem::path& target, std::string_view data,
                                   mode_t mode) {
  auto f = AtomicFile::Create(target, mode);
  if (!f) return Unexpected(f.error());
  if (auto r = f->Write(data.data(), data.size()); !r) return r;
  return f->Commit();
}

Expected<std::string> ReadFile(const std::filesystem::path& path, size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unexpected(Errno("cannot read", path));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = Errno("cannot read", path);
      ::close(fd);
      return Unexpected(e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_size) {
      ::close(fd);
      return Fail(ErrorCode::kTooLarge,
                  path.string() + " is larger than " + std::to_string(max_size) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

void RemoveStaleTemporaries(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) &&
        it->path().filename().string().find(kTempMarker) != std::string::npos)
      std::filesystem::remove(it->path(), ec);
  }
}

namespace {

// Points `link` at `target` with one rename of a new symlink over it.
Expected<void> ReplaceSymlink(const std::filesystem::path& link, const std::string& target) {
  auto tmp = link;
  tmp += std::string(kTempMarker) + "link";
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    return Unexpected(Errno("cannot create symlink", tmp));
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    auto e = Errno("cannot switch", link);
    ::unlink(tmp.c_str());
    return Unexpected(e);
  }
  return {};
}

std::string ReadLink(const std::filesystem::path& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

Expected<void> SwitchFileSet(const std::filesystem::path& dir, const std::string& set,
                             const std::vector<SetFile>& files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  auto set_link = dir / set;
  std::string current = ReadLink(set_link);
  if (current.empty()) {
    // First switch: files installed before sets existed become generation 0, linked one at a time;
    // each step leaves every stable name reading the same content as before.
    std::vector<SetFile> legacy;
    for (const auto& f : files) {
      auto old = dir / f.link;
      if (std::filesystem::is_symlink(old, ec) || !std::filesystem::is_regular_file(old, ec))
        continue;
      auto content = ReadFile(old);
      if (!content) return Unexpected(content.error());
      legacy.push_back({f.name, f.link, std::move(*content), f.mode});
    }
    auto gen0 = dir / (set + ".0");
    std::filesystem::remove_all(gen0, ec);
    std::filesystem::create_directories(gen0, ec);
    for (const auto& f : legacy)
      if (auto r = WriteFileAtomically(gen0 / f.name, f.content, f.mode); !r) return r;
    if (auto r = FsyncDirectory(dir); !r) return r;
    if (auto r = ReplaceSymlink(set_link, set + ".0"); !r) return r;
    for (const auto& f : legacy)
      if (auto r = ReplaceSymlink(dir / f.link, set + "/" + f.name); !r) return r;
    if (auto r = FsyncDirectory(dir); !r) return r;
    current = set + ".0";
  }
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.starts_with(set + ".") && name != current && e.is_directory(ec) && !e.is_symlink(ec))
      std::filesystem::remove_all(e.path(), ec);  // a generation a kill left behind
  }
  long long n = 0;
  if (auto dot = current.rfind('.'); dot != std::string::npos)
    n = std::atoll(current.c_str() + dot + 1);
  std::string next_name = set + "." + std::to_string(n + 1);
  auto next = dir / next_name;
  std::filesystem::remove_all(next, ec);  // a kill left it half-made: it was never switched to
  std::filesystem::create_directories(next, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + next.string() + ": " + ec.message());
  // Carried over: what the current generation holds that this switch does not replace.
  for (const auto& e : std::filesystem::directory_iterator(dir / current, ec)) {
    std::string name = e.path().filename().string();
    bool replaced = false;
    for (const auto& f : files) replaced = replaced || f.name == name;
    if (replaced || name.find(kTempMarker) != std::string::npos) continue;
    auto content = ReadFile(e.path());
    if (!content) return Unexpected(content.error());
    struct stat st {};
    mode_t mode = ::stat(e.path().c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
    if (auto r = WriteFileAtomically(next / name, *content, mode); !r) return r;
  }
  for (const auto& f : files)
    if (auto r = WriteFileAtomically(next / f.name, f.content, f.mode); !r) return r;
  if (auto r = FsyncDirectory(dir); !r) return r;
  if (auto r = ReplaceSymlink(set_link, next_name); !r) return r;  // the switch
  for (const auto& f : files) {
    if (ReadLink(dir / f.link) == set + "/" + f.name) continue;
    // A stable name not yet linked (its file did not exist before): nothing read it until now.
    if (auto r = ReplaceSymlink(dir / f.link, set + "/" + f.name); !r) return r;
  }
  if (auto r = FsyncDirectory(dir); !r) return r;
  std::filesystem::remove_all(dir / current, ec);
  return {};
}

}  // namespace autoprov
