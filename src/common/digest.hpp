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
