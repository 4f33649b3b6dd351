#include "common/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <array>

namespace autoprov {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) { Reset(); }
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Reset() { EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr); }

void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(impl_->ctx, data, size); }

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.HexDigest();
}

void Crc32::Update(const void* data, size_t size) {
  // zlib's crc32 is the same CRC-32 and several times faster than a byte table on large images.
  uLong c = ~state_;
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {
    uInt chunk = size > (1u << 30) ? (1u << 30) : static_cast<uInt>(size);
    c = crc32(c, p, chunk);
    p += chunk;
    size -= chunk;
  }
  state_ = ~static_cast<uint32_t>(c);
}

uint32_t Crc32Of(std::string_view data) {
  Crc32 c;
  c.Update(data.data(), data.size());
  return c.value();
}

}  // namespace autoprov

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

namespace autoprov {

struct StreamDigest::Impl {
  bool with_crc;
  bool threaded;
  std::optional<Sha256> sha;  // made at the first byte: a 304 costs no digest context
  Crc32 crc;

  // Threaded mode.
  std::vector<char> filling;
  std::deque<std::vector<char>> queue;
  std::vector<std::vector<char>> spare;
  std::mutex mutex;
  std::condition_variable cv;
  bool closing = false;
  std::thread worker;

  void Hash(const char* d, size_t n) {
    if (!sha) sha.emplace();
    sha->Update(d, n);
    if (with_crc) crc.Update(d, n);
  }

  void Work() {
    std::unique_lock lock(mutex);
    for (;;) {
      cv.wait(lock, [&] { return closing || !queue.empty(); });
      if (queue.empty()) return;
      std::vector<char> buf = std::move(queue.front());
      queue.pop_front();
      cv.notify_all();
      lock.unlock();
      Hash(buf.data(), buf.size());
      buf.clear();
      lock.lock();
      spare.push_back(std::move(buf));
    }
  }

  void Push() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return queue.size() < kQueueDepth; });
    queue.push_back(std::move(filling));
    filling = std::vector<char>();
    if (!spare.empty()) {
      filling = std::move(spare.back());
      spare.pop_back();
    }
    cv.notify_all();
  }

  void Start() {
    closing = false;
    filling.reserve(kBufferSize);
    worker = std::thread([this] { Work(); });
  }

  void Stop() {
    if (!worker.joinable()) return;
    if (!filling.empty()) Push();
    {
      std::lock_guard lock(mutex);
      closing = true;
    }
    cv.notify_all();
    worker.join();
  }
};

namespace {

// A helper thread only pays where there is a second core to run it. AUTOPROV_DIGEST_THREAD=0 keeps
// the hashing on the transfer's thread (single-core appliances; user-mode emulators that cannot
// start threads, see scripts/test-cross.sh).
bool DigestThreadAllowed() {
  static const bool allowed = [] {
    const char* env = std::getenv("AUTOPROV_DIGEST_THREAD");
    if (env && std::string_view(env) == "0") return false;
    return std::thread::hardware_concurrency() > 1;
  }();
  return allowed;
}

}  // namespace

StreamDigest::StreamDigest(bool with_crc32, bool threaded)
    : with_crc32_(with_crc32), threaded_(threaded && DigestThreadAllowed()) {}

StreamDigest::Impl& StreamDigest::impl() {
  if (!impl_) {
    impl_ = std::make_unique<Impl>();
    impl_->with_crc = with_crc32_;
    impl_->threaded = threaded_;
  }
  return *impl_;
}

StreamDigest::~StreamDigest() {
  if (impl_) impl_->Stop();
}

void StreamDigest::Update(const char* data, size_t size) {
  impl();
  if (!impl_->threaded) {
    impl_->Hash(data, size);
    return;
  }
  if (!impl_->worker.joinable()) impl_->Start();
  while (size > 0) {
    if (impl_->filling.capacity() < kBufferSize) impl_->filling.reserve(kBufferSize);
    size_t room = kBufferSize - impl_->filling.size();
    size_t n = size < room ? size : room;
    impl_->filling.insert(impl_->filling.end(), data, data + n);
    data += n;
    size -= n;
    if (impl_->filling.size() == kBufferSize) impl_->Push();
  }
}

void StreamDigest::Reset() {
  if (!impl_) return;
  impl_->Stop();
  impl_->queue.clear();
  impl_->filling.clear();
  impl_->sha.reset();
  impl_->crc.Reset();
}

void StreamDigest::Finish(std::string& sha256_hex, uint32_t& crc32) {
  impl();
  impl_->Stop();
  if (!impl_->sha) impl_->sha.emplace();
  sha256_hex = impl_->sha->HexDigest();
  crc32 = impl_->with_crc ? impl_->crc.value() : 0;
}

std::string CryptoLibraryVersion() { return OpenSSL_version(OPENSSL_VERSION); }

}  // namespace autoprov
