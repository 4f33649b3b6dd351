// Streaming digests of downloaded files: SHA-256 (OpenSSL) for identity and reports, CRC-32 for the
// vendor's configuration-file check (SPEC S-4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace autoprov {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void Update(const void* data, size_t size);
  std::string HexDigest();  // finishes; call once
  void Reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Hex(std::string_view data);

// CRC-32 (IEEE 802.3, as zlib).
class Crc32 {
 public:
  void Update(const void* data, size_t size);
  uint32_t value() const { return ~state_; }
  void Reset() { state_ = 0xFFFFFFFFu; }

 private:
  uint32_t state_ = 0xFFFFFFFFu;
};

uint32_t Crc32Of(std::string_view data);

}  // namespace autoprov

namespace autoprov {

// SHA-256 and, on request, CRC-32 of a stream. With `threaded`, the digests are computed on a
// helper thread fed through a small bounded queue, so a large download hashes on the second core
// while the first receives and writes (memory stays bounded: at most kQueueDepth buffers of
// kBufferSize).
class StreamDigest {
 public:
  // At most kQueueDepth + 2 buffers exist (queued, filling, being hashed): 256 KiB. SHA-256 outruns
  // a download here, so a short queue does not hold the transfer back (bench/run_vs_curl.sh).
  static constexpr size_t kBufferSize = 64u << 10;
  static constexpr size_t kQueueDepth = 2;

  StreamDigest(bool with_crc32, bool threaded);
  ~StreamDigest();
  StreamDigest(const StreamDigest&) = delete;
  StreamDigest& operator=(const StreamDigest&) = delete;

  void Update(const char* data, size_t size);
  void Reset();
  // Completes the digests; call once after the last Update.
  void Finish(std::string& sha256_hex, uint32_t& crc32);

 private:
  struct Impl;
  Impl& impl();  // made at the first byte: a 304 costs nothing here
  bool with_crc32_, threaded_;
  std::unique_ptr<Impl> impl_;
};

// "OpenSSL 3.0.15 3 Sep 2024": for --version.
std::string CryptoLibraryVersion();

}  // namespace autoprov
