#include "store/state_dir.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/atomic_file.hpp"

namespace autoprov {

Expected<Schema> LoadSchema(const std::filesystem::path& state_dir,
                            const std::vector<std::string>& extra_files) {
  Schema schema = Schema::BuiltIn();
  std::vector<std::string> files;
  std::error_code ec;
  auto dir = state_dir / "schema.d";
  if (std::filesystem::is_directory(dir, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  }
  files.insert(files.end(), extra_files.begin(), extra_files.end());
  for (const auto& f : files)
    if (auto r = schema.MergeFile(f); !r) return Unexpected(r.error());
  return schema;
}

namespace {

// S-9.9: why a state directory cannot be written, in words a user can act on; empty when it can.
std::string WhyNotWritable(const std::filesystem::path& dir) {
  if (::access(dir.c_str(), W_OK) == 0) {
    struct statvfs vfs {};
    // A disk already full: refused before anything is attempted (root may use the reserved blocks).
    if (::statvfs(dir.c_str(), &vfs) == 0 && (::geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) == 0)
      return "disk full: no space left on the device holding the state directory " + dir.string();
    return {};
  }
  int err = errno;
  struct statvfs vfs {};
  if (err == EROFS || (::statvfs(dir.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)))
    return "state directory " + dir.string() +
           " is read-only (read-only file system); read-only commands "
           "(status, config show) still work";
  if (err == EACCES || err == EPERM)
    return "no permission to write to the state directory " + dir.string() + " (running as uid " +
           std::to_string(::geteuid()) + ")";
  return "cannot write to the state directory " + dir.string() + ": " + std::strerror(err);
}

// Why a reader cannot read a state directory (the directory or its database), in the same words
// as a writer's refusal; empty when it can.
std::string WhyNotReadable(const std::filesystem::path& dir) {
  auto who = [] { return " (running as uid " + std::to_string(::geteuid()) + ")"; };
  for (const auto& p : {dir, dir / "state.db"}) {
    int mode = p == dir ? R_OK | X_OK : R_OK;
    if (::access(p.c_str(), mode) == 0 || errno == ENOENT) continue;
    int err = errno;
    if (err == EACCES || err == EPERM)
      return "no permission to read " +
             (p == dir ? "the state directory " + dir.string()
                       : "the state database " + p.string()) +
             who();
    return "cannot read " + p.string() + ": " + std::strerror(err);
  }
  return {};
}

}  // namespace

Expected<std::unique_ptr<StateDirectory>> StateDirectory::Open(
    const std::filesystem::path& dir, const std::vector<std::string>& extra_schema_files,
    Access access) {
  std::error_code ec;
  if (access == Access::kReadOnly && !std::filesystem::is_directory(dir, ec))
    // A reader never creates a state directory: a mistyped --state-dir is an error, not a new
    // device.
    return Fail(ErrorCode::kIo, "no state directory " + dir.string() +
                                    ": nothing has been configured there (check --state-dir or "
                                    "AUTOPROV_STATE_DIR)");
  if (access == Access::kReadOnly) {
    // A reader opens like a writer where it can (the database is created or migrated as usual), and
    // read-only where it cannot: a read-only file system, a full disk, no write permission.
    auto rw = Open(dir, extra_schema_files, Access::kReadWrite);
    if (rw) return rw;
  }
  bool read_only = access == Access::kReadOnly;
  if (read_only) {
    if (auto why = WhyNotReadable(dir); !why.empty()) return Fail(ErrorCode::kIo, why);
    if (!std::filesystem::exists(dir / "state.db", ec))
      return Fail(ErrorCode::kIo,
                  "no state in " + dir.string() + ": no command has written to it yet");
  } else {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      std::string why = WhyNotWritable(dir.parent_path().empty() ? std::filesystem::path(".")
                                                                 : dir.parent_path());
      return Fail(ErrorCode::kIo, "cannot create state directory " + dir.string() + ": " +
                                      (why.empty() ? ec.message() : why));
    }
    if (auto why = WhyNotWritable(dir); !why.empty()) return Fail(ErrorCode::kIo, why);
    ::chmod(dir.c_str(), 0700);  // holds credentials and keys
  }
  auto state = std::unique_ptr<StateDirectory>(new StateDirectory());
  state->dir_ = dir;
  auto schema = LoadSchema(dir, extra_schema_files);
  if (!schema) return Unexpected(schema.error());
  state->schema_ = std::make_unique<Schema>(std::move(*schema));
  auto store = StateStore::Open(dir / "state.db", Durability::kFull, read_only);
  if (!store) return Unexpected(store.error());
  state->store_ = std::make_unique<StateStore>(std::move(*store));
  if (!read_only) RemoveStaleTemporaries(dir / "files");
  return state;
}

}  // namespace autoprov
