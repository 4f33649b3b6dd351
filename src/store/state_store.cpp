#include "store/state_store.hpp"

#include <nlohmann/json.hpp>

namespace autoprov {
namespace {

std::string JoinKey(const RowKey& key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) out += (i ? "," : "") + key[i];
  return out;
}

RowKey SplitKey(const std::string& s) {
  RowKey out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(',', start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

// A parameter whose schema file was removed is dropped; a value the schema no longer accepts too.
void ApplyParamRow(Configuration& config, const Schema& schema, const std::string& name,
                   const std::string& value) {
  const ParamSpec* spec = schema.FindParam(name);
  if (!spec) return;
  auto v = NormalizeValue(spec->value, value, false);
  if (v) config.SetCanonical(*spec, *v);
}

void ApplyTableRow(Configuration& config, const Schema& schema, const std::string& table,
                   const std::string& index, const std::string& json) {
  const TableSpec* spec = schema.FindTable(table);
  if (!spec) return;
  RowValues values;
  auto data = nlohmann::json::parse(json, nullptr, false);
  if (data.is_object())
    for (auto& [k, v] : data.items())
      if (v.is_string() && spec->FindColumn(k)) values[k] = v.get<std::string>();
  config.MutableTable(*spec)[SplitKey(index)] = std::move(values);
}

}  // namespace

Expected<StateStore> StateStore::Open(const std::filesystem::path& db_path, Durability durability,
                                      bool read_only) {
  auto db = Database::Open(db_path, durability, read_only);
  if (!db) return Unexpected(db.error());
  return StateStore(std::move(*db));
}

StateStore::DeviceCache* StateStore::Cached(long long device) {
  if (cache_max_ == 0) return nullptr;
  auto it = cache_.find(device);
  if (it != cache_.end()) return &it->second;
  if (cache_.size() >= cache_max_) cache_.clear();
  return &cache_[device];
}

Expected<void> StateStore::PreloadCache(long long first, long long last, const Schema& schema) {
  if (cache_max_ == 0 || last - first > static_cast<long long>(cache_max_)) return {};
  cache_.clear();
  for (long long d = first; d < last; ++d) {
    DeviceCache& c = cache_[d];
    c.config.emplace(schema);
    c.complete = true;
  }
  auto scan =
      [&](const char* sql,
          const std::function<void(DeviceCache&, const Statement&)>& apply) -> Expected<void> {
    auto st = db_.Prepare(sql);
    if (!st) return Unexpected(st.error());
    st->Bind(1, first).Bind(2, last);
    // Every device of [first, last) has its entry already.
    return st->EachRow([&](const Statement& row) { apply(cache_.at(row.Int(0)), row); });
  };
  Expected<void> r = scan("SELECT device, name, value FROM param WHERE device >= ? AND device < ?",
                          [&](DeviceCache& c, const Statement& row) {
                            ApplyParamRow(*c.config, schema, row.Text(1), row.Text(2));
                          });
  if (r)
    r = scan("SELECT device, tbl, idx, data FROM table_row WHERE device >= ? AND device < ?",
             [&](DeviceCache& c, const Statement& row) {
               ApplyTableRow(*c.config, schema, row.Text(1), row.Text(2), row.Text(3));
             });
  if (r)
    r = scan(
        "SELECT device, url, last_modified, etag, downloaded_at, sha256, kind FROM url_state WHERE "
        "device >= ? AND device < ?",
        [&](DeviceCache& c, const Statement& row) {
          c.urls[row.Text(1)] =
              UrlState{row.Text(2), row.Text(3), row.Int(4), row.Text(5), row.Text(6)};
        });
  if (r)
    r = scan("SELECT device, key, value FROM device_state WHERE device >= ? AND device < ?",
             [&](DeviceCache& c, const Statement& row) { c.values[row.Text(1)] = row.Text(2); });
  if (!r) cache_.clear();
  return r;
}

Expected<Configuration> StateStore::LoadConfiguration(long long device, const Schema& schema) {
  DeviceCache* cached = Cached(device);
  if (cached && cached->config && &cached->config->schema() == &schema) return *cached->config;
  Configuration config(schema);
  auto st = db_.Prepare("SELECT name, value FROM param WHERE device = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device);
  auto params = st->EachRow(
      [&](const Statement& row) { ApplyParamRow(config, schema, row.Text(0), row.Text(1)); });
  if (!params) return Unexpected(params.error());
  auto rows = db_.Prepare("SELECT tbl, idx, data FROM table_row WHERE device = ?");
  if (!rows) return Unexpected(rows.error());
  rows->Bind(1, device);
  auto table_rows = rows->EachRow([&](const Statement& row) {
    ApplyTableRow(config, schema, row.Text(0), row.Text(1), row.Text(2));
  });
  if (!table_rows) return Unexpected(table_rows.error());
  if (cached) {
    cached->config = config;
    cached->config_stamp = next_stamp_++;
  }
  return config;
}

Expected<void> StateStore::RefreshConfiguration(long long device, const Schema& schema,
                                                Configuration& config, unsigned long long& stamp) {
  DeviceCache* cached = Cached(device);
  if (cached && cached->config && &cached->config->schema() == &schema) {
    if (cached->config_stamp == 0) cached->config_stamp = next_stamp_++;  // preloaded
    if (cached->config_stamp != stamp) {
      config = *cached->config;
      stamp = cached->config_stamp;
    }
    return {};
  }
  // Without the cache: read again only if the database changed since `config` was read.
  Database::ChangeToken now = db_.Token();
  bool known = !cached && stamp != 0 && uncached_device_ == device && uncached_stamp_ == stamp &&
               uncached_token_ == now && &config.schema() == &schema;
  if (known) return {};
  auto fresh = LoadConfiguration(device, schema);
  if (!fresh) return Unexpected(fresh.error());
  config = std::move(*fresh);
  cached = Cached(device);
  if (cached && cached->config) {
    stamp = cached->config_stamp;
  } else {
    uncached_device_ = device;
    uncached_token_ = now;
    stamp = uncached_stamp_ = next_stamp_++;
  }
  return {};
}

Expected<void> StateStore::SaveConfiguration(long long device, const Configuration& config) {
  return WriteThrough(WriteConfiguration(device, config), device, [&](DeviceCache& cached) {
    cached.config = config;
    cached.config->DropEmptyTables();  // as loading it back would give it
    cached.config_stamp = next_stamp_++;
  });
}

Expected<void> StateStore::WriteConfiguration(long long device, const Configuration& config) {
  for (auto sql :
       {"DELETE FROM param WHERE device = ?", "DELETE FROM table_row WHERE device = ?"}) {
    auto st = db_.Prepare(sql);
    if (!st) return Unexpected(st.error());
    if (auto r = st->Bind(1, device).Run(); !r) return r;
  }
  auto ins = db_.Prepare("INSERT INTO param (device, name, value) VALUES (?, ?, ?)");
  if (!ins) return Unexpected(ins.error());
  for (const auto& [name, value] : config.scalars()) {
    if (auto r = ins->Bind(1, device).Bind(2, name).Bind(3, value).Run(); !r) return r;
  }
  auto tins = db_.Prepare("INSERT INTO table_row (device, tbl, idx, data) VALUES (?, ?, ?, ?)");
  if (!tins) return Unexpected(tins.error());
  for (const auto& [table, rows] : config.tables()) {
    for (const auto& [key, values] : rows) {
      nlohmann::json data = nlohmann::json::object();
      for (const auto& [col, value] : values) data[col] = value;
      if (auto r =
              tins->Bind(1, device).Bind(2, table).Bind(3, JoinKey(key)).Bind(4, data.dump()).Run();
          !r)
        return r;
    }
  }
  return {};
}

Expected<std::optional<UrlState>> StateStore::GetUrlState(long long device,
                                                          const std::string& url) {
  DeviceCache* cached = Cached(device);
  if (cached) {
    if (auto it = cached->urls.find(url); it != cached->urls.end()) return it->second;
    if (cached->complete) return std::optional<UrlState>();
  }
  auto st = db_.Prepare(
      "SELECT last_modified, etag, downloaded_at, sha256, kind FROM url_state WHERE device = ? AND "
      "url = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device).Bind(2, url);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  std::optional<UrlState> state;
  if (*row) state = UrlState{st->Text(0), st->Text(1), st->Int(2), st->Text(3), st->Text(4)};
  if (cached) cached->urls[url] = state;
  return state;
}

Expected<void> StateStore::PutUrlState(long long device, const std::string& url,
                                       const UrlState& s) {
  auto st = db_.Prepare(
      "INSERT OR REPLACE INTO url_state (device, url, last_modified, etag, downloaded_at, sha256, "
      "kind) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!st) return Unexpected(st.error());
  return WriteThrough(st->Bind(1, device)
                          .Bind(2, url)
                          .Bind(3, s.last_modified)
                          .Bind(4, s.etag)
                          .Bind(5, s.downloaded_at)
                          .Bind(6, s.sha256)
                          .Bind(7, s.kind)
                          .Run(),
                      device, [&](DeviceCache& cached) { cached.urls[url] = s; });
}

Expected<std::vector<std::pair<std::string, UrlState>>> StateStore::ListUrlStates(
    long long device) {
  std::vector<std::pair<std::string, UrlState>> out;
  auto st = db_.Prepare(
      "SELECT url, last_modified, etag, downloaded_at, sha256, kind FROM url_state WHERE device = "
      "? ORDER BY url");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device);
  auto rows = st->EachRow([&](const Statement& row) {
    out.emplace_back(row.Text(0),
                     UrlState{row.Text(1), row.Text(2), row.Int(3), row.Text(4), row.Text(5)});
  });
  if (!rows) return Unexpected(rows.error());
  return out;
}

Expected<void> StateStore::ForgetUrlStates(long long device, const std::string& kind) {
  auto st = db_.Prepare(kind.empty() ? "DELETE FROM url_state WHERE device = ?"
                                     : "DELETE FROM url_state WHERE device = ? AND kind = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device);
  if (!kind.empty()) st->Bind(2, kind);
  return WriteThrough(st->Run(), device, [&](DeviceCache& cached) {
    cached.urls.clear();  // read again from the database on demand
    cached.complete = false;
  });
}

Expected<void> StateStore::ForgetKindState(long long device, const std::string& kind) {
  auto st = db_.Prepare("DELETE FROM kind_state WHERE device = ? AND kind = ?");
  if (!st) return Unexpected(st.error());
  return st->Bind(1, device).Bind(2, kind).Run();
}

Expected<void> StateStore::ForgetKindStatesExcept(long long device, const std::string& keep) {
  auto st = db_.Prepare("DELETE FROM kind_state WHERE device = ? AND kind <> ?");
  if (!st) return Unexpected(st.error());
  return st->Bind(1, device).Bind(2, keep).Run();
}

Expected<long long> StateStore::ParamGeneration(long long device, const std::string& name) {
  auto st = db_.Prepare("SELECT gen FROM param_gen WHERE device = ? AND name = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device).Bind(2, name);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  return *row ? st->Int(0) : 0LL;
}

Expected<void> StateStore::BumpParamGeneration(long long device, const std::string& name) {
  auto st = db_.Prepare(
      "INSERT INTO param_gen (device, name, gen) VALUES (?, ?, 1) "
      "ON CONFLICT (device, name) DO UPDATE SET gen = gen + 1");
  if (!st) return Unexpected(st.error());
  return st->Bind(1, device).Bind(2, name).Run();
}

Expected<std::vector<std::pair<std::string, KindState>>> StateStore::ListKindStates(
    long long device) {
  std::vector<std::pair<std::string, KindState>> out;
  auto st = db_.Prepare(
      "SELECT kind, crc, sha256, version, path, installed_at FROM kind_state WHERE device = ? "
      "ORDER BY kind");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device);
  auto rows = st->EachRow([&](const Statement& row) {
    out.emplace_back(row.Text(0),
                     KindState{row.Text(1), row.Text(2), row.Text(3), row.Text(4), row.Int(5)});
  });
  if (!rows) return Unexpected(rows.error());
  return out;
}

Expected<std::vector<std::pair<std::string, std::string>>> StateStore::ListValues(
    long long device) {
  std::vector<std::pair<std::string, std::string>> out;
  auto st = db_.Prepare("SELECT key, value FROM device_state WHERE device = ? ORDER BY key");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device);
  auto rows =
      st->EachRow([&](const Statement& row) { out.emplace_back(row.Text(0), row.Text(1)); });
  if (!rows) return Unexpected(rows.error());
  return out;
}

Expected<std::optional<KindState>> StateStore::GetKindState(long long device,
                                                            const std::string& kind) {
  auto st = db_.Prepare(
      "SELECT crc, sha256, version, path, installed_at FROM kind_state WHERE device = ? AND kind = "
      "?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device).Bind(2, kind);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  if (!*row) return std::optional<KindState>();
  return std::optional<KindState>(
      KindState{st->Text(0), st->Text(1), st->Text(2), st->Text(3), st->Int(4)});
}

Expected<void> StateStore::PutKindState(long long device, const std::string& kind,
                                        const KindState& s) {
  auto st = db_.Prepare(
      "INSERT OR REPLACE INTO kind_state (device, kind, crc, sha256, version, path, installed_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!st) return Unexpected(st.error());
  return st->Bind(1, device)
      .Bind(2, kind)
      .Bind(3, s.crc)
      .Bind(4, s.sha256)
      .Bind(5, s.version)
      .Bind(6, s.path)
      .Bind(7, s.installed_at)
      .Run();
}

Expected<std::optional<std::string>> StateStore::GetValue(long long device,
                                                          const std::string& key) {
  DeviceCache* cached = Cached(device);
  if (cached) {
    if (auto it = cached->values.find(key); it != cached->values.end()) return it->second;
    if (cached->complete) return std::optional<std::string>();
  }
  auto st = db_.Prepare("SELECT value FROM device_state WHERE device = ? AND key = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device).Bind(2, key);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  std::optional<std::string> value;
  if (*row) value = st->Text(0);
  if (cached) cached->values[key] = value;
  return value;
}

Expected<void> StateStore::PutValue(long long device, const std::string& key,
                                    const std::string& value) {
  auto st =
      db_.Prepare("INSERT OR REPLACE INTO device_state (device, key, value) VALUES (?, ?, ?)");
  if (!st) return Unexpected(st.error());
  return WriteThrough(st->Bind(1, device).Bind(2, key).Bind(3, value).Run(), device,
                      [&](DeviceCache& cached) { cached.values[key] = value; });
}

Expected<void> StateStore::DeleteValue(long long device, const std::string& key) {
  auto st = db_.Prepare("DELETE FROM device_state WHERE device = ? AND key = ?");
  if (!st) return Unexpected(st.error());
  return WriteThrough(st->Bind(1, device).Bind(2, key).Run(), device,
                      [&](DeviceCache& cached) { cached.values[key] = std::nullopt; });
}

Expected<void> StateStore::AddRun(long long device, long long started_at,
                                  const std::string& report_json) {
  return db_.Relaxed([&] { return InsertRun(device, started_at, report_json); });
}

Expected<void> StateStore::InsertRun(long long device, long long started_at,
                                     const std::string& report_json) {
  auto st = db_.Prepare(
      "INSERT INTO run (device, id, started_at, report) VALUES "
      "(?, (SELECT COALESCE(MAX(id), 0) + 1 FROM run WHERE device = ?1), ?, ?)");
  if (!st) return Unexpected(st.error());
  if (auto r = st->Bind(1, device).Bind(2, started_at).Bind(3, report_json).Run(); !r) return r;
  // Keep the last 50 reports per device (pruned every 10th run: the cost stays off the common
  // path).
  if (sqlite3_last_insert_rowid(db_.handle()) % 10 != 0) return {};
  auto prune = db_.Prepare(
      "DELETE FROM run WHERE device = ? AND id <= (SELECT MAX(id) - 50 FROM run WHERE device = "
      "?1)");
  if (!prune) return Unexpected(prune.error());
  return prune->Bind(1, device).Run();
}

Expected<std::optional<std::string>> StateStore::LastRun(long long device) {
  auto st = db_.Prepare("SELECT report FROM run WHERE device = ? ORDER BY id DESC LIMIT 1");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

Expected<void> StateStore::BeginGroup() { return db_.Exec("BEGIN"); }

Expected<void> StateStore::CommitGroup() {
  if (auto c = db_.Exec("COMMIT"); !c) return c;
  return db_.Exec("BEGIN");
}

Expected<void> StateStore::EndGroup() { return db_.Exec("COMMIT"); }

}  // namespace autoprov
