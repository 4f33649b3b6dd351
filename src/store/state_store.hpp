// What a device keeps between runs and restarts: its running configuration, per-URL validators,
// per-kind CRC and installed files, device values (running version, pending image) and run reports.
// Every table has a device column so one database can hold one device or a simulated fleet.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/configuration.hpp"
#include "store/database.hpp"

namespace autoprov {

struct UrlState {
  std::string last_modified;  // the server's Last-Modified of the last download
  std::string etag;
  long long downloaded_at = 0;  // unix time of the last 200
  std::string sha256;
  std::string
      kind;  // the kind of file fetched from it: its validators are forgotten with its parameter
};

struct KindState {
  std::string crc;     // CRC of the last applied configuration file (S-4)
  std::string sha256;  // of the installed file
  std::string version;
  std::string path;
  long long installed_at = 0;
};

class StateStore {
 public:
  static Expected<StateStore> Open(const std::filesystem::path& db_path, Durability durability,
                                   bool read_only = false);

  // Runs `body` as one transaction.
  Expected<void> Transaction(const std::function<Expected<void>()>& body) {
    auto r = db_.Transaction(body);
    if (!r)
      cache_.clear();  // rolled back: what the cache took from the writes may not have happened
    return r;
  }

  // Keeps an in-memory copy of what every run reads (the configuration, URL validators, device
  // values) for up to `max_devices` devices, updated by every write through this object. Only for a
  // process that is the database's one writer: the fleet simulator. Beyond the bound the cache
  // starts again empty.
  void EnableReadCache(size_t max_devices) {
    cache_max_ = max_devices;
    cache_.clear();
  }
  // Fills the cache for devices [first, last) with one pass over each table (when they fit in its
  // bound).
  Expected<void> PreloadCache(long long first, long long last, const Schema& schema);

  Expected<Configuration> LoadConfiguration(long long device, const Schema& schema);
  // Makes `config` the configuration as stored now. With the read cache, `stamp` remembers which
  // stored version `config` is, and an unchanged one is not copied again (the fleet re-reads before
  // every step).
  Expected<void> RefreshConfiguration(long long device, const Schema& schema, Configuration& config,
                                      unsigned long long& stamp);
  // Replaces the stored configuration; call inside Transaction() to combine with other changes.
  Expected<void> SaveConfiguration(long long device, const Configuration& config);

  Expected<std::optional<UrlState>> GetUrlState(long long device, const std::string& url);
  Expected<void> PutUrlState(long long device, const std::string& url, const UrlState& state);

  // S-9.4: forgets the validators of one kind of file (every kind when `kind` is empty).
  Expected<void> ForgetUrlStates(long long device, const std::string& kind);
  // Forgets the CRC and installed-file record of a kind; with `all`, of every kind but `keep`.
  Expected<void> ForgetKindState(long long device, const std::string& kind);
  Expected<void> ForgetKindStatesExcept(long long device, const std::string& keep);

  // S-9.1: how many times a parameter was written (0: never).
  Expected<long long> ParamGeneration(long long device, const std::string& name);
  Expected<void> BumpParamGeneration(long long device, const std::string& name);

  Expected<std::vector<std::pair<std::string, UrlState>>> ListUrlStates(long long device);
  Expected<std::vector<std::pair<std::string, KindState>>> ListKindStates(long long device);
  Expected<std::vector<std::pair<std::string, std::string>>> ListValues(long long device);

  Expected<std::optional<KindState>> GetKindState(long long device, const std::string& kind);
  Expected<void> PutKindState(long long device, const std::string& kind, const KindState& state);

  Expected<std::optional<std::string>> GetValue(long long device, const std::string& key);
  Expected<void> PutValue(long long device, const std::string& key, const std::string& value);
  Expected<void> DeleteValue(long long device, const std::string& key);

  Expected<void> AddRun(long long device, long long started_at, const std::string& report_json);
  Expected<std::optional<std::string>> LastRun(long long device);

  // Group commit, for a process that is the database's one writer (the fleet simulator): BeginGroup
  // opens one transaction that every later Transaction() joins as a savepoint of its own;
  // CommitGroup makes what the group holds durable and opens the next group; EndGroup commits the
  // last one. A crash loses at most the open group, never part of a step.
  Expected<void> BeginGroup();
  Expected<void> CommitGroup();
  Expected<void> EndGroup();

  Database& db() { return db_; }

 private:
  explicit StateStore(Database db) : db_(std::move(db)) {}
  struct DeviceCache {
    std::optional<Configuration> config;
    std::unordered_map<std::string, std::optional<UrlState>> urls;
    std::unordered_map<std::string, std::optional<std::string>> values;
    bool complete =
        false;  // preloaded: a URL or value not in the maps is not in the database either
    unsigned long long config_stamp = 0;  // which stored version `config` is (0: none)
  };
  unsigned long long next_stamp_ = 1;
  // Without the cache, the configuration a caller last refreshed: which device, its stamp, and the
  // database's change token when it was read.
  long long uncached_device_ = -1;
  unsigned long long uncached_stamp_ = 0;
  Database::ChangeToken uncached_token_;
  Expected<void> InsertRun(long long device, long long started_at, const std::string& report_json);
  Expected<void> WriteConfiguration(long long device, const Configuration& config);
  // The device's cache entry, or nullptr when caching is off.
  DeviceCache* Cached(long long device);
  // After a write: the cache takes it when it went to the database, and is dropped when it did not.
  template <class Update>
  Expected<void> WriteThrough(Expected<void> written, long long device, Update update) {
    if (!written)
      cache_.clear();
    else if (DeviceCache* cached = Cached(device))
      update(*cached);
    return written;
  }

  Database db_;
  size_t cache_max_ = 0;  // 0: no cache
  std::unordered_map<long long, DeviceCache> cache_;
};

}  // namespace autoprov
