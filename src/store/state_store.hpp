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
#include "store/read_cache.hpp"

namespace autoprov {

struct UrlState {
  std::string last_modified;  // the server's Last-Modified of the last download
  std::string etag;
  long long downloaded_at = 0;  // unix time of the last 200
  std::string sha256;
  std::string
      kind;  // the kind of file fetched from it: its validators are forgotten with its parameter
  // S-7.8: what the engine keeps about content from this URL that the device rejected (its own
  // encoding, engine/rejection.hpp); empty: the last content fetched from it was not rejected.
  std::string rejected;
};

struct KindState {
  std::string crc;     // CRC of the last applied configuration file (S-4)
  std::string sha256;  // of the installed file
  std::string version;
  std::string path;
  long long installed_at = 0;
};

// How messages name a device of a database: "the device" (the one real device), "simulated device
// N" (a fleet's).
std::string DeviceLabel(long long device);

class StateStore {
 public:
  static Expected<StateStore> Open(const std::filesystem::path& db_path, Durability durability,
                                   bool read_only = false);

  // Runs `body` as one transaction.
  Expected<void> Transaction(const std::function<Expected<void>()>& body);
  // Runs `body` and then undoes every write it made, as a power cut before their commit would
  // (the fleet's --power-loss): the state is what it was before.
  Expected<void> Discard(const std::function<void()>& body);

  // Keeps an in-memory copy of what every run reads (the configuration, URL validators, device
  // values) of devices [first, last), updated by every write through this object, filled with one
  // pass over each table. Only for a process that is the database's one writer: the fleet
  // simulator. The configurations are those of `schema`.
  Expected<void> PreloadCache(long long first, long long last, const Schema& schema);
  ReadCache::Usage CacheUsage() const { return cache_.usage(); }

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
  Expected<void> DeleteUrlState(long long device, const std::string& url);

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

  // S-7.7: file content kept by its SHA-256, once for every device that applied it, with a count of
  // the devices' records that refer to it. Put adds a reference (`add_reference`; else it only
  // makes sure the content is there), Release drops one and the content with the last. Counted, not
  // searched: at a million devices a search of the installed-file records would cost a scan or an
  // index of random keys on every write.
  Expected<void> PutContent(const std::string& sha256, const std::string& body, bool add_reference);
  Expected<std::optional<std::string>> GetContent(const std::string& sha256);
  Expected<void> ReleaseContent(const std::string& sha256);

  Expected<std::optional<std::string>> GetValue(long long device, const std::string& key);
  Expected<void> PutValue(long long device, const std::string& key, const std::string& value);
  Expected<void> DeleteValue(long long device, const std::string& key);

  Expected<void> AddRun(long long device, long long started_at, const std::string& report_json);
  // Writes without waiting for the disk (no fsync; committed and safe against a killed process, a
  // power loss may take it back): for what is only informative, as a run's report.
  Expected<void> WriteRelaxed(const std::function<Expected<void>()>& body) {
    return db_.Relaxed(body);
  }
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
  unsigned long long next_stamp_ = 1u << 31;  // the uncached path's (the cache's are below)
  // Without the cache, the configuration a caller last refreshed: which device, its stamp, and the
  // database's change token when it was read.
  long long uncached_device_ = -1;
  unsigned long long uncached_stamp_ = 0;
  Database::ChangeToken uncached_token_;
  Expected<void> InsertRun(long long device, long long started_at, const std::string& report_json);
  Expected<void> WriteConfiguration(long long device, const Configuration& config);
  Expected<Configuration> ReadConfiguration(long long device, const Schema& schema);
  // Whether the device's reads come from the cache (its entry loaded from the database first).
  bool Cached(long long device, const Schema* schema = nullptr);
  // After a write: the cache takes it when it went to the database, and drops the device's entry
  // when it did not; a transaction that rolls back drops the entries of the devices it wrote.
  template <class Update>
  Expected<void> WriteThrough(Expected<void> written, long long device, Update update) {
    if (!cache_schema_ || !cache_.Covers(device)) return written;
    if (!written) {
      cache_.Invalidate(device);
    } else if (cache_.Loaded(device)) {
      update();
    }
    if (depth_ > 0) touched_.push_back(device);
    return written;
  }
  void Undo(size_t mark);

  Database db_;
  const Schema* cache_schema_ = nullptr;  // null: no cache
  ReadCache cache_;
  int depth_ = 0;                   // Transaction() and Discard() nesting
  std::vector<long long> touched_;  // devices whose cache entries the open ones changed
};

}  // namespace autoprov
