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

Expected<void> StateStore::Transaction(const std::function<Expected<void>()>& body) {
  size_t mark = touched_.size();
  ++depth_;
  auto r = db_.Transaction(body);
  --depth_;
  if (!r)
    Undo(mark);  // rolled back: what the cache took from its writes did not happen
  else if (depth_ == 0)
    touched_.resize(mark);
  return r;
}

Expected<void> StateStore::Discard(const std::function<void()>& body) {
  if (auto r = db_.Exec("SAVEPOINT discard"); !r) return r;
  size_t mark = touched_.size();
  ++depth_;
  body();
  --depth_;
  auto r = db_.Exec("ROLLBACK TO discard");
  if (auto released = db_.Exec("RELEASE discard"); r && !released) r = released;
  Undo(mark);
  return r;
}

void StateStore::Undo(size_t mark) {
  for (size_t i = mark; i < touched_.size(); ++i) cache_.Invalidate(touched_[i]);
  touched_.resize(mark);
}

bool StateStore::Cached(long long device, const Schema* schema) {
  if (!cache_schema_ || !cache_.Covers(device)) return false;
  if (schema && schema != cache_schema_) return false;
  if (cache_.Loaded(device)) return true;
  // Load the device's entry from the database (after a write that failed or a rollback). Inside a
  // transaction it may hold that transaction's writes: a rollback drops it again.
  if (depth_ > 0) touched_.push_back(device);
  auto config = ReadConfiguration(device, *cache_schema_);
  if (!config) return false;
  cache_.SetConfiguration(device, *config);
  auto urls = ListUrlStates(device);
  auto values = ListValues(device);
  if (!urls || !values) {
    cache_.Invalidate(device);
    return false;
  }
  for (const auto& [url, state] : *urls) cache_.PutUrl(device, url, state);
  for (const auto& [key, value] : *values) cache_.PutValue(device, key, value);
  cache_.MarkLoaded(device);
  return true;
}

Expected<void> StateStore::PreloadCache(long long first, long long last, const Schema& schema) {
  cache_schema_ = nullptr;
  cache_.Reset(first, last);
  // One pass over each table, in device order: a device's configuration is built from its rows,
  // then kept in the cache's compact form.
  long long current = -1;
  Configuration config(schema);
  auto flush = [&] {
    if (current >= 0) cache_.SetConfiguration(current, config);
    config.ResetAll();
  };
  auto st = db_.Prepare(
      "SELECT device, name, value FROM param WHERE device >= ? AND device < ? ORDER BY device");
  if (!st) return Unexpected(st.error());
  st->Bind(1, first).Bind(2, last);
  auto r = st->EachRow([&](const Statement& row) {
    if (row.Int(0) != current) {
      flush();
      current = row.Int(0);
    }
    ApplyParamRow(config, schema, row.Text(1), row.Text(2));
  });
  if (!r) return r;
  flush();
  // Devices with table rows: their configuration again with the rows (rare: read one by one).
  auto tables = db_.Prepare(
      "SELECT DISTINCT device FROM table_row WHERE device >= ? AND device < ? ORDER BY device");
  if (!tables) return Unexpected(tables.error());
  tables->Bind(1, first).Bind(2, last);
  std::vector<long long> with_rows;
  if (auto t = tables->EachRow([&](const Statement& row) { with_rows.push_back(row.Int(0)); }); !t)
    return t;
  for (long long d : with_rows) {
    auto c = ReadConfiguration(d, schema);
    if (!c) return Unexpected(c.error());
    cache_.SetConfiguration(d, *c);
  }
  // Devices without parameters have their (empty) configuration too.
  for (long long d = first; d < last; ++d)
    if (cache_.stamp(d) == 0) cache_.SetConfiguration(d, Configuration(schema));
  auto urls = db_.Prepare(
      "SELECT device, url, last_modified, etag, downloaded_at, sha256, kind, rejected FROM "
      "url_state "
      "WHERE device >= ? AND device < ?");
  if (!urls) return Unexpected(urls.error());
  urls->Bind(1, first).Bind(2, last);
  r = urls->EachRow([&](const Statement& row) {
    cache_.PutUrl(
        row.Int(0), row.Text(1),
        UrlState{row.Text(2), row.Text(3), row.Int(4), row.Text(5), row.Text(6), row.Text(7)});
  });
  if (!r) return r;
  auto values =
      db_.Prepare("SELECT device, key, value FROM device_state WHERE device >= ? AND device < ?");
  if (!values) return Unexpected(values.error());
  values->Bind(1, first).Bind(2, last);
  r = values->EachRow(
      [&](const Statement& row) { cache_.PutValue(row.Int(0), row.Text(1), row.Text(2)); });
  if (!r) return r;
  for (long long d = first; d < last; ++d) cache_.MarkLoaded(d);
  cache_schema_ = &schema;
  return {};
}

Expected<Configuration> StateStore::ReadConfiguration(long long device, const Schema& schema) {
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
  return config;
}

Expected<Configuration> StateStore::LoadConfiguration(long long device, const Schema& schema) {
  if (Cached(device, &schema)) return cache_.GetConfiguration(device, schema);
  return ReadConfiguration(device, schema);
}

Expected<void> StateStore::RefreshConfiguration(long long device, const Schema& schema,
                                                Configuration& config, unsigned long long& stamp) {
  if (Cached(device, &schema)) {
    if (cache_.stamp(device) != stamp) {
      config = cache_.GetConfiguration(device, schema);
      stamp = cache_.stamp(device);
    }
    return {};
  }
  // Without the cache: read again only if the database changed since `config` was read.
  Database::ChangeToken now = db_.Token();
  bool known = stamp != 0 && uncached_device_ == device && uncached_stamp_ == stamp &&
               uncached_token_ == now && &config.schema() == &schema;
  if (known) return {};
  auto fresh = ReadConfiguration(device, schema);
  if (!fresh) return Unexpected(fresh.error());
  config = std::move(*fresh);
  uncached_device_ = device;
  uncached_token_ = now;
  stamp = uncached_stamp_ = next_stamp_++;
  return {};
}

Expected<void> StateStore::SaveConfiguration(long long device, const Configuration& config) {
  return WriteThrough(WriteConfiguration(device, config), device,
                      [&] { cache_.SetConfiguration(device, config); });
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
  bool cached = Cached(device);
  if (cached)
    if (auto known = cache_.GetUrl(device, url)) return *known;
  auto st = db_.Prepare(
      "SELECT last_modified, etag, downloaded_at, sha256, kind, rejected FROM url_state WHERE "
      "device = ? AND url = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device).Bind(2, url);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  std::optional<UrlState> state;
  if (*row)
    state = UrlState{st->Text(0), st->Text(1), st->Int(2), st->Text(3), st->Text(4), st->Text(5)};
  if (cached) cache_.PutUrl(device, url, state);
  return state;
}

Expected<void> StateStore::PutUrlState(long long device, const std::string& url,
                                       const UrlState& s) {
  auto st = db_.Prepare(
      "INSERT OR REPLACE INTO url_state (device, url, last_modified, etag, downloaded_at, sha256, "
      "kind, rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!st) return Unexpected(st.error());
  return WriteThrough(st->Bind(1, device)
                          .Bind(2, url)
                          .Bind(3, s.last_modified)
                          .Bind(4, s.etag)
                          .Bind(5, s.downloaded_at)
                          .Bind(6, s.sha256)
                          .Bind(7, s.kind)
                          .Bind(8, s.rejected)
                          .Run(),
                      device, [&] { cache_.PutUrl(device, url, s); });
}

Expected<void> StateStore::PutContent(const std::string& sha256, const std::string& body,
                                      bool add_reference) {
  auto st =
      db_.Prepare(add_reference ? "INSERT INTO content (sha256, body, refs) VALUES (?, ?, 1) "
                                  "ON CONFLICT (sha256) DO UPDATE SET refs = refs + 1"
                                : "INSERT OR IGNORE INTO content (sha256, body) VALUES (?, ?)");
  if (!st) return Unexpected(st.error());
  return st->Bind(1, sha256).Bind(2, body).Run();
}

Expected<std::optional<std::string>> StateStore::GetContent(const std::string& sha256) {
  auto st = db_.Prepare("SELECT body FROM content WHERE sha256 = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, sha256);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->Text(0));
}

Expected<void> StateStore::ReleaseContent(const std::string& sha256) {
  auto st = db_.Prepare("UPDATE content SET refs = refs - 1 WHERE sha256 = ?");
  if (!st) return Unexpected(st.error());
  if (auto r = st->Bind(1, sha256).Run(); !r) return r;
  auto gone = db_.Prepare("DELETE FROM content WHERE sha256 = ? AND refs <= 0");
  if (!gone) return Unexpected(gone.error());
  return gone->Bind(1, sha256).Run();
}

Expected<void> StateStore::DeleteUrlState(long long device, const std::string& url) {
  auto st = db_.Prepare("DELETE FROM url_state WHERE device = ? AND url = ?");
  if (!st) return Unexpected(st.error());
  return WriteThrough(st->Bind(1, device).Bind(2, url).Run(), device,
                      [&] { cache_.PutUrl(device, url, std::nullopt); });
}

Expected<std::vector<std::pair<std::string, UrlState>>> StateStore::ListUrlStates(
    long long device) {
  std::vector<std::pair<std::string, UrlState>> out;
  auto st = db_.Prepare(
      "SELECT url, last_modified, etag, downloaded_at, sha256, kind, rejected FROM url_state WHERE "
      "device = ? ORDER BY url");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device);
  auto rows = st->EachRow([&](const Statement& row) {
    out.emplace_back(row.Text(0), UrlState{row.Text(1), row.Text(2), row.Int(3), row.Text(4),
                                           row.Text(5), row.Text(6)});
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
  return WriteThrough(st->Run(), device, [&] { cache_.ForgetUrls(device); });
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
  bool cached = Cached(device);
  if (cached)
    if (auto known = cache_.GetValue(device, key)) return *known;
  auto st = db_.Prepare("SELECT value FROM device_state WHERE device = ? AND key = ?");
  if (!st) return Unexpected(st.error());
  st->Bind(1, device).Bind(2, key);
  auto row = st->Step();
  if (!row) return Unexpected(row.error());
  std::optional<std::string> value;
  if (*row) value = st->Text(0);
  if (cached) cache_.PutValue(device, key, value);
  return value;
}

Expected<void> StateStore::PutValue(long long device, const std::string& key,
                                    const std::string& value) {
  auto st =
      // An update in place: the row keeps its place in the table and in its key's index, so a
      // changed value writes one page (INSERT OR REPLACE would move it: two).
      db_.Prepare(
          "INSERT INTO device_state (device, key, value) VALUES (?, ?, ?) "
          "ON CONFLICT (device, key) DO UPDATE SET value = excluded.value");
  if (!st) return Unexpected(st.error());
  return WriteThrough(st->Bind(1, device).Bind(2, key).Bind(3, value).Run(), device,
                      [&] { cache_.PutValue(device, key, value); });
}

Expected<void> StateStore::DeleteValue(long long device, const std::string& key) {
  auto st = db_.Prepare("DELETE FROM device_state WHERE device = ? AND key = ?");
  if (!st) return Unexpected(st.error());
  return WriteThrough(st->Bind(1, device).Bind(2, key).Run(), device,
                      [&] { cache_.PutValue(device, key, std::nullopt); });
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

std::string DeviceLabel(long long device) {
  return device == 0 ? "the device" : "simulated device " + std::to_string(device);
}

}  // namespace autoprov
