// The fleet simulator's in-memory copy of what every run reads from the state database (the
// configuration, URL validators, device values), for up to millions of devices (issue: the fleet
// at internet scale). Bytes are what limit it, so a device's entry is a few dozen 32-bit words:
// every string (parameter names and values, URLs, validators, hashes) is kept once in a pool and
// named by its id, and the devices that share a configuration or a file share its strings. A
// string unique to one device (its per-MAC URL) costs its length and 12 bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/configuration.hpp"

namespace autoprov {

struct UrlState;

// Strings kept once, named by a 32-bit id, never freed (a fleet sees a bounded set of values).
class StringPool {
 public:
  uint32_t Intern(std::string_view s);
  std::optional<uint32_t> Find(std::string_view s) const;
  std::string_view Get(uint32_t id) const;
  size_t strings() const { return count_; }
  size_t bytes() const;  // held by the pool: its chunks and its index

 private:
  static constexpr uint32_t kChunkBits = 20;  // ids are (chunk << 20 | offset)
  std::vector<std::unique_ptr<char[]>> chunks_;
  uint32_t used_ = 1u << kChunkBits;  // in the last chunk; full: none yet
  size_t allocated_ = 0;              // in chunks
  std::vector<uint32_t> slots_;       // open addressing: id + 1, 0 empty
  size_t count_ = 0;
  size_t Slot(std::string_view s) const;  // where s is, or the empty slot it would go to
};

class ReadCache {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;  // known not to be in the database

  // Caches devices [first, last): each entry starts unloaded.
  void Reset(long long first, long long last);
  bool Covers(long long device) const { return device >= first_ && device < last_; }
  // A loaded entry holds everything the database holds for the device (of what it caches).
  bool Loaded(long long device) const { return entry(device).loaded; }
  // Drops a device's entry: the next read loads it from the database again.
  void Invalidate(long long device);
  void InvalidateAll();

  // Loading or replacing an entry's configuration: canonical scalars and table rows as stored.
  void SetConfiguration(long long device, const Configuration& config);
  // The cached configuration (call only when Loaded).
  Configuration GetConfiguration(long long device, const Schema& schema) const;
  unsigned long long stamp(long long device) const { return entry(device).stamp; }

  // nullopt: not known (go to the database); a nullopt inside: known to be absent.
  std::optional<std::optional<UrlState>> GetUrl(long long device, const std::string& url) const;
  void PutUrl(long long device, const std::string& url, const std::optional<UrlState>& state);
  void ForgetUrls(long long device);
  std::optional<std::optional<std::string>> GetValue(long long device,
                                                     const std::string& key) const;
  void PutValue(long long device, const std::string& key, const std::optional<std::string>& v);
  // Marks a freshly filled entry loaded.
  void MarkLoaded(long long device) { entry(device).loaded = true; }

  // Where the bytes go, for the benchmark.
  struct Usage {
    size_t devices = 0, entry_bytes = 0, word_bytes = 0, pool_bytes = 0, pool_strings = 0;
  };
  Usage usage() const;

 private:
  // A device's entry: [n_params n_rows n_urls n_values | params: name value | rows: table index
  // data | urls: url last_modified etag sha256 kind downloaded_at (low, high) rejected | values:
  // key value].
  struct Entry {
    std::vector<uint32_t> words;
    uint32_t stamp = 0;  // which stored configuration this is (0: none)
    bool loaded = false;
  };
  struct Unpacked {
    std::vector<uint32_t> params, rows, urls, values;
  };
  static constexpr size_t kUrlWords = 8;
  Entry& entry(long long device) { return entries_[static_cast<size_t>(device - first_)]; }
  const Entry& entry(long long device) const {
    return entries_[static_cast<size_t>(device - first_)];
  }
  static Unpacked Unpack(const std::vector<uint32_t>& words);
  static void Pack(const Unpacked& u, std::vector<uint32_t>& words);

  long long first_ = 0, last_ = 0;
  std::vector<Entry> entries_;
  StringPool pool_;
  uint32_t next_stamp_ = 1;
};

}  // namespace autoprov
