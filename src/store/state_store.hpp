// What a device keeps between runs and restarts: its running configuration, per-URL validators, per-kind
// CRC and installed files, device values (running version, pending image) and run reports. Every table
// has a device column so one database can hold one device or a simulated fleet.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
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
  static Expected<StateStore> Open(const std::filesystem::path& db_path, Durability durability);

  // Runs `body` as one transaction.
  Expected<void> Transaction(const std::function<Expected<void>()>& body) { return db_.Transaction(body); }

  Expected<Configuration> LoadConfiguration(long long device, const Schema& schema);
  // Replaces the stored configuration; call inside Transaction() to combine with other changes.
  Expected<void> SaveConfiguration(long long device, const Configuration& config);

  Expected<std::optional<UrlState>> GetUrlState(long long device, const std::string& url);
  Expected<void> PutUrlState(long long device, const std::string& url, const UrlState& state);

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

  Database& db() { return db_; }

 private:
  explicit StateStore(Database db) : db_(std::move(db)) {}
  Database db_;
};

}  // namespace autoprov
