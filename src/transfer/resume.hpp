// Resuming a download (SPEC S-10.4), without libcurl: what an earlier attempt kept, whether a
// response continues it, and one interface for where the kept bytes live — beside the target on
// disk (a device's image: partial file, record, checkpointed offset) or in the caller's memory (a
// simulated device keeps only the count and the running hash). The transfer job asks for the rest
// with Range + If-Range and feeds the body to the store; the store decides nothing about HTTP.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/atomic_file.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"

namespace autoprov {

struct ResumePoint;  // transfer/transfer.hpp

std::filesystem::path ResumeRecordPath(const std::filesystem::path& target);
std::filesystem::path ResumeOffsetPath(const std::filesystem::path& target);
// Drops the partial file and its records (a URL that changed, or a file no longer configured).
void ForgetResumable(const std::filesystem::path& target);

// What a download is fetched under, and how much of it is kept.
struct KeptPart {
  std::string url;        // without credentials
  std::string validator;  // sent as If-Range; empty: the download cannot be resumed
  uint64_t total = 0;     // the file's size when its first bytes were fetched
  uint64_t kept = 0;      // bytes kept so far
};

// The validator a download from the start can later be resumed under: a strong ETag, else the
// Last-Modified date; none (empty) without a known size.
std::string ResumeValidator(std::string_view etag, std::string_view last_modified, uint64_t total);
// A 206's Content-Range ("bytes START-END/TOTAL") continues `kept`: it starts at the kept offset
// and names the same total. Else an error saying what the server sent.
Expected<void> RangeContinues(std::string_view content_range, const KeptPart& kept);

// Where a resumable download keeps its bytes. One store serves one transfer at a time.
class ResumeStore {
 public:
  virtual ~ResumeStore() = default;
  // Before the request: the part kept for `url` that can be asked for; anything else kept (another
  // URL's part, a broken record) is dropped.
  virtual std::optional<KeptPart> Load(std::string_view url) = 0;
  // At a response body's first byte. `continues`: the body is the rest of the part Load() gave
  // (its Content-Range checked); else the body is the file from the start, fetched under `fresh`.
  virtual Expected<void> Open(bool continues, const KeptPart& fresh) = 0;
  virtual Expected<void> Write(const char* data, size_t len) = 0;
  // The body was dropped (a redirect, an authentication challenge): the next body opens again.
  virtual void Close() = 0;
  // The transfer failed: what arrived stays kept for the next attempt.
  virtual void Keep() = 0;
  // The whole file arrived: it is put in place (on disk: renamed over the target) and nothing stays
  // kept. Returns the SHA-256 of the whole file, the kept part included.
  virtual Expected<std::string> Complete() = 0;
  // Nothing stays kept (a 304, a 416, a part the server does not continue).
  virtual void Forget() = 0;
  virtual bool open() const = 0;
};

// On disk beside `target`: its partial file (AtomicFile::PartialPath), a record of what it is
// fetched under (URL, validator, total: written once) and the bytes on disk at the last checkpoint
// (rewritten in place after the partial file's fdatasync). A checkpoint holds the transfer up: one
// a second at most and 8 MiB apart, so a fast download pays almost nothing and a slow one, where a
// resume matters, loses at most a second's worth.
class FileResume final : public ResumeStore {
 public:
  static constexpr uint64_t kCheckpointBytes = 8u << 20;
  static constexpr std::chrono::seconds kCheckpointEvery{1};
  explicit FileResume(std::filesystem::path target);
  std::optional<KeptPart> Load(std::string_view url) override;
  Expected<void> Open(bool continues, const KeptPart& fresh) override;
  Expected<void> Write(const char* data, size_t len) override;
  void Close() override;
  void Keep() override;
  Expected<std::string> Complete() override;
  void Forget() override;
  bool open() const override { return file_.has_value(); }

 private:
  void Checkpoint();
  std::filesystem::path target_;
  KeptPart part_;  // what the partial file holds: Load's, then the open body's
  std::optional<AtomicFile> file_;
  StreamDigest digest_{false, true};  // the whole file's SHA-256, hashed on the second core
  uint64_t checkpointed_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
};

// In the caller's ResumePoint (a simulated device that keeps no bytes): the count and the running
// SHA-256 of the bytes received, kept across attempts while the caller keeps the point.
class MemoryResume final : public ResumeStore {
 public:
  explicit MemoryResume(ResumePoint& point) : p_(point) {}
  std::optional<KeptPart> Load(std::string_view url) override;
  Expected<void> Open(bool continues, const KeptPart& fresh) override;
  Expected<void> Write(const char* data, size_t len) override;
  void Close() override { open_ = false; }
  void Keep() override {}  // memory is kept as it is written
  Expected<std::string> Complete() override;
  void Forget() override;
  bool open() const override { return open_; }

 private:
  ResumePoint& p_;
  uint64_t loaded_ = 0;  // the kept bytes Load() offered
  bool open_ = false;
};

}  // namespace autoprov
