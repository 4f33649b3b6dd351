#include "transfer/resume.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <vector>

#include "common/text.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {
namespace {

uint64_t ToNumber(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// A part worth asking for: of this URL, under a validator, neither empty nor complete.
bool Usable(const KeptPart& k, std::string_view url) {
  return k.url == url && !k.validator.empty() && k.kept > 0 && k.kept < k.total;
}

}  // namespace

std::filesystem::path ResumeRecordPath(const std::filesystem::path& target) {
  return AtomicFile::PartialPath(target).string() + ".record";
}

std::filesystem::path ResumeOffsetPath(const std::filesystem::path& target) {
  return AtomicFile::PartialPath(target).string() + ".offset";
}

void ForgetResumable(const std::filesystem::path& target) {
  AtomicFile::RemovePartial(target);
  ::unlink(ResumeRecordPath(target).c_str());
  ::unlink(ResumeOffsetPath(target).c_str());
}

std::string ResumeValidator(std::string_view etag, std::string_view last_modified, uint64_t total) {
  if (total == 0) return {};
  return std::string(!etag.empty() && !etag.starts_with("W/") ? etag : last_modified);
}

Expected<void> RangeContinues(std::string_view content_range, const KeptPart& kept) {
  uint64_t start = 0, total = 0;
  std::string_view cr = content_range;
  if (cr.starts_with("bytes ")) {
    cr.remove_prefix(6);
    start = ToNumber(cr.substr(0, cr.find('-')));
    auto slash = cr.find('/');
    if (slash != std::string_view::npos) total = ToNumber(cr.substr(slash + 1));
  }
  if (kept.kept > 0 && start == kept.kept && total == kept.total) return {};
  return Fail(ErrorCode::kTruncated,
              "the server answered 206 with Content-Range '" + std::string(content_range) +
                  "', not the kept " + std::to_string(kept.kept) + " of " +
                  std::to_string(kept.total) +
                  " bytes: the kept part is dropped; the next attempt starts over (S-10.4)");
}

// ---- on disk ----

FileResume::FileResume(std::filesystem::path target) : target_(std::move(target)) {}

std::optional<KeptPart> FileResume::Load(std::string_view url) {
  auto record = ReadFile(ResumeRecordPath(target_), 8192);
  auto offset = ReadFile(ResumeOffsetPath(target_), 64);
  KeptPart k;
  if (record && offset) {
    std::string_view r(*record);
    auto line = [&r] {
      auto nl = r.find('\n');
      std::string_view l = r.substr(0, nl);
      r = nl == std::string_view::npos ? std::string_view() : r.substr(nl + 1);
      return std::string(l);
    };
    k.url = line();
    k.validator = line();
    k.total = ToNumber(line());
    k.kept = ToNumber(Trim(*offset));
  }
  struct stat st {};
  bool on_disk = ::stat(AtomicFile::PartialPath(target_).c_str(), &st) == 0 &&
                 static_cast<uint64_t>(st.st_size) >= k.kept;
  if (Usable(k, url) && on_disk) {
    part_ = k;
    return k;
  }
  Forget();  // another URL's part, or nothing recorded
  return std::nullopt;
}

Expected<void> FileResume::Open(bool continues, const KeptPart& fresh) {
  uint64_t keep = continues ? part_.kept : 0;
  auto f = AtomicFile::Resume(target_, keep);
  if (!f) return Unexpected(f.error());
  file_.emplace(std::move(*f));
  digest_.Reset();
  checkpointed_ = keep;
  last_checkpoint_ = std::chrono::steady_clock::now();
  if (continues) {
    // The hash covers the whole file: the kept part is read and hashed again.
    int fd = ::open(AtomicFile::PartialPath(target_).c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<char> buf(1u << 20);
    uint64_t left = keep;
    while (fd >= 0 && left > 0) {
      ssize_t n = ::read(fd, buf.data(), std::min<uint64_t>(left, buf.size()));
      if (n <= 0) break;
      digest_.Update(buf.data(), static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
    if (fd >= 0) ::close(fd);
    if (left > 0) {
      file_.reset();
      Forget();
      return Fail(ErrorCode::kIo, "cannot read the kept part of " + target_.string());
    }
    return {};
  }
  // From the start: resumable later only under a validator (a record written before any byte).
  part_ = fresh;
  part_.kept = 0;
  ::unlink(ResumeOffsetPath(target_).c_str());
  if (part_.validator.empty()) {
    ::unlink(ResumeRecordPath(target_).c_str());
    return {};
  }
  auto w =
      WriteFileAtomically(ResumeRecordPath(target_), part_.url + "\n" + part_.validator + "\n" +
                                                         std::to_string(part_.total) + "\n");
  if (!w) part_.validator.clear();  // not resumable, still downloadable
  return {};
}

Expected<void> FileResume::Write(const char* data, size_t len) {
  if (auto r = file_->Write(data, len); !r) return r;
  digest_.Update(data, len);
  if (!part_.validator.empty() && file_->size() - checkpointed_ >= kCheckpointBytes &&
      std::chrono::steady_clock::now() - last_checkpoint_ >= kCheckpointEvery)
    Checkpoint();
  return {};
}

void FileResume::Checkpoint() {
  if (!file_ || part_.validator.empty()) return;
  if (!file_->Sync()) return;
  std::filesystem::path path = ResumeOffsetPath(target_);
  bool created = ::access(path.c_str(), F_OK) != 0;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[32];
  int n =
      std::snprintf(line, sizeof line, "%020llu\n", static_cast<unsigned long long>(file_->size()));
  bool ok = ::pwrite(fd, line, static_cast<size_t>(n), 0) == n && ::fdatasync(fd) == 0;
  ::close(fd);
  if (ok && created) (void)FsyncDirectory(path.parent_path());
  if (ok) checkpointed_ = file_->size();
  last_checkpoint_ = std::chrono::steady_clock::now();
}

void FileResume::Close() {
  file_.reset();  // the partial file stays, cut back to the checkpoint when opened again
  digest_.Reset();
}

void FileResume::Keep() {
  Checkpoint();
  file_.reset();
}

Expected<std::string> FileResume::Complete() {
  if (!file_) {  // an empty file
    if (auto r = Open(false, {}); !r) return Unexpected(r.error());
  }
  if (auto c = file_->Commit(); !c) return Unexpected(c.error());
  file_.reset();
  ::unlink(ResumeRecordPath(target_).c_str());
  ::unlink(ResumeOffsetPath(target_).c_str());
  std::string sha;
  uint32_t crc = 0;
  digest_.Finish(sha, crc);
  return sha;
}

void FileResume::Forget() {
  file_.reset();
  ForgetResumable(target_);
  part_ = {};
}

// ---- in memory ----

std::optional<KeptPart> MemoryResume::Load(std::string_view url) {
  KeptPart k{p_.url, p_.validator, p_.total, p_.kept};
  if (Usable(k, url) && p_.sha) {
    loaded_ = k.kept;
    return k;
  }
  p_.Clear();  // another URL's part, or nothing kept
  return std::nullopt;
}

Expected<void> MemoryResume::Open(bool continues, const KeptPart& fresh) {
  if (continues) {
    if (p_.kept != loaded_ || !p_.sha) {
      p_.Clear();
      return Fail(ErrorCode::kTruncated, "the kept part changed during the transfer");
    }
  } else {
    p_.Clear();
    p_.validator = fresh.validator;
    p_.total = fresh.total;
    if (!p_.validator.empty()) p_.url = fresh.url;
    p_.sha = std::make_unique<Sha256>();
  }
  open_ = true;
  return {};
}

Expected<void> MemoryResume::Write(const char* data, size_t len) {
  p_.kept += len;
  p_.sha->Update(data, len);
  return {};
}

Expected<std::string> MemoryResume::Complete() {
  std::string sha = open_ && p_.sha ? p_.sha->HexDigest() : Sha256Hex("");
  p_.Clear();  // complete: nothing kept
  open_ = false;
  return sha;
}

void MemoryResume::Forget() {
  p_.Clear();
  open_ = false;
}

}  // namespace autoprov
