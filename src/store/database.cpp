#include "store/database.hpp"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace autoprov {
namespace {

// The WAL left behind by a process that wrote is emptied above this size (64 frames of 4 KiB
// pages).
constexpr off_t kWalTruncateBytes = 64 * (4096 + 24) + 32;

// Each entry moves the schema one version up; never edit a released entry, append a new one.
constexpr std::array<std::string_view, 5> kMigrations = {
    R"sql(
CREATE TABLE param (device INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
                    PRIMARY KEY (device, name));
CREATE TABLE table_row (device INTEGER NOT NULL, tbl TEXT NOT NULL, idx TEXT NOT NULL,
                        data TEXT NOT NULL, PRIMARY KEY (device, tbl, idx));
CREATE TABLE url_state (device INTEGER NOT NULL, url TEXT NOT NULL, last_modified TEXT, etag TEXT,
                        downloaded_at INTEGER, sha256 TEXT, PRIMARY KEY (device, url));
CREATE TABLE kind_state (device INTEGER NOT NULL, kind TEXT NOT NULL, crc TEXT, sha256 TEXT,
                         version TEXT, path TEXT, installed_at INTEGER, PRIMARY KEY (device, kind));
CREATE TABLE device_state (device INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                           PRIMARY KEY (device, key));
CREATE TABLE run (device INTEGER NOT NULL, id INTEGER NOT NULL, started_at INTEGER NOT NULL,
                  report TEXT NOT NULL, PRIMARY KEY (device, id));
)sql",
    // S-9.1, S-9.4: a per-parameter write counter, and the kind of file each URL's validators
    // belong to.
    R"sql(
CREATE TABLE param_gen (device INTEGER NOT NULL, name TEXT NOT NULL, gen INTEGER NOT NULL,
                        PRIMARY KEY (device, name));
ALTER TABLE url_state ADD COLUMN kind TEXT NOT NULL DEFAULT '';
)sql",
    // S-7.8: content from a URL that the device rejected, kept apart from the applied content's
    // validators.
    R"sql(
ALTER TABLE url_state ADD COLUMN rejected TEXT NOT NULL DEFAULT '';
)sql",
    // S-7.7: the last applied content of the configuration files that are applied again to compose
    // the configuration, kept once per distinct content (the devices of a fleet share it).
    R"sql(
CREATE TABLE content (sha256 TEXT NOT NULL PRIMARY KEY, body BLOB NOT NULL,
                      refs INTEGER NOT NULL DEFAULT 1);
)sql",
    // The device's values keyed by their primary key alone (no rowid, no second index): a value
    // written, new or changed, is one page (a poll that changes nothing writes one, issue 27).
    R"sql(
CREATE TABLE device_state_by_key (device INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                                  PRIMARY KEY (device, key)) WITHOUT ROWID;
INSERT INTO device_state_by_key (device, key, value) SELECT device, key, value FROM device_state;
DROP TABLE device_state;
ALTER TABLE device_state_by_key RENAME TO device_state;
)sql",
};

// S-9.9: an error says what happened in words a user can act on, and names the file.
std::string Cause(sqlite3* db, int code) {
  if (!db) return "out of memory";
  int err = sqlite3_system_errno(db);
  const char* file = sqlite3_db_filename(db, "main");
  std::string where = file && *file ? std::string(file) : std::string("the state database");
  switch (code & 0xff) {
    case SQLITE_FULL:
      return "disk full: no space left on the device holding " + where;
    case SQLITE_READONLY:
      return where + " is read-only";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return where + " is corrupt or not an autoprov state database (" + sqlite3_errmsg(db) +
             "); move it away to start again from defaults";
    case SQLITE_IOERR:
      if (err == ENOSPC) return "disk full: no space left on the device holding " + where;
      if (err == EROFS) return where + " is on a read-only file system";
      return "disk I/O error on " + where +
             (err ? std::string(": ") + std::strerror(err) : std::string());
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return "cannot open " + where +
             (err ? std::string(": ") + std::strerror(err)
                  : std::string(": ") + sqlite3_errmsg(db));
    default:
      return std::string("sqlite: ") + sqlite3_errmsg(db);
  }
}

Error DbError(sqlite3* db, std::string_view what) {
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM;
  return MakeError(ErrorCode::kDatabase, std::string(what) + ": " + Cause(db, code));
}

}  // namespace

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int index, long long value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}
Expected<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Unexpected(DbError(db_, "sqlite step"));
}
Expected<void> Statement::Run() {
  for (;;) {
    auto r = Step();
    if (!r) {
      Reset();
      return Unexpected(r.error());
    }
    if (!*r) break;
  }
  Reset();
  return {};
}
Expected<void> Statement::EachRow(const std::function<void(const Statement&)>& row) {
  for (;;) {
    auto more = Step();
    if (!more) return Unexpected(more.error());
    if (!*more) return {};
    row(*this);
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}
std::string Statement::Text(int col) const {
  auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col))
           : std::string();
}
long long Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Expected<Database> Database::Open(const std::filesystem::path& path, Durability durability,
                                  bool read_only) {
  sqlite3* raw = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) return Unexpected(DbError(raw, "cannot open the state database"));
  sqlite3_busy_timeout(raw, 10000);
  if (read_only) {
    // Reading a WAL database needs its -shm file; on a read-only file system nobody writes it, so
    // the database is opened as immutable when a plain read fails.
    bool readable = false;
    {
      auto v = db.Prepare("PRAGMA user_version");
      readable = v && v->Step();
    }  // the statement is reset before its connection may go
    if (!readable) {
      db = Database(nullptr);
      std::string uri = "file:" + path.string() + "?immutable=1";
      rc = sqlite3_open_v2(uri.c_str(), &raw,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
      db = Database(raw);
      if (rc != SQLITE_OK) return Unexpected(DbError(raw, "cannot open the state database"));
    }
    auto st = db.Prepare("PRAGMA user_version");
    if (!st) return Unexpected(st.error());
    auto row = st->Step();
    if (!row) return Unexpected(row.error());
    if (st->Int(0) != static_cast<long long>(kMigrations.size()))
      return Fail(ErrorCode::kDatabase,
                  path.string() + " has schema version " + std::to_string(st->Int(0)) +
                      "; run a command that writes (e.g. `autoprov status` on a writable "
                      "state directory) to migrate it");
    return db;
  }
  // WAL keeps readers (status, show) from blocking a run; FULL sync makes each commit durable.
  // A savepoint's journal (a step inside a run's transaction) stays in memory: spilled to a
  // temporary file, every page a step touched cost a write system call.
  std::string pragmas =
      "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;";
  // The fleet's database belongs to one process: exclusive locking spares a file lock per
  // transaction.
  pragmas += durability == Durability::kFull
                 ? "PRAGMA synchronous=FULL;"
                 : "PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;";
  if (auto r = db.Exec(pragmas); !r) return Unexpected(r.error());
  db.full_sync_ = durability == Durability::kFull;
  if (db.full_sync_) {
    // One device, a short process per command: each process should cost few syncs. The WAL file
    // stays between processes (no file to create and no directory to sync each time); closing does
    // not checkpoint (two more syncs) until the WAL has grown past kWalTruncateBytes (see
    // ~Database). Every commit is still synced to the WAL, and readers on read-only media read
    // through the -wal and -shm files, which stay.
    int persist = 1;
    sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    if (auto r = db.Exec("PRAGMA journal_size_limit=0"); !r) return Unexpected(r.error());
  }
  if (auto r = db.Migrate(); !r) return Unexpected(r.error());
  return db;
}

Expected<void> Database::Relaxed(const std::function<Expected<void>()>& body) {
  if (!full_sync_ || !sqlite3_get_autocommit(db_.get())) return body();
  if (auto r = Exec("PRAGMA synchronous=NORMAL"); !r) return r;
  auto result = body();
  if (auto r = Exec("PRAGMA synchronous=FULL"); !r) return r;
  return result;
}

Database::ChangeToken Database::Token() {
  ChangeToken t;
  t.own_changes = sqlite3_total_changes64(db_.get());
  auto st = Prepare("PRAGMA data_version");
  if (st && st->Step()) t.data_version = st->Int(0);
  return t;
}

Expected<void> Database::Exec(std::string_view sql) {
  char* msg = nullptr;
  std::string s(sql);
  if (sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    sqlite3_free(msg);
    return Unexpected(DbError(db_.get(), "state database"));
  }
  return {};
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  // The WAL stays between processes, and the first connection of the next process reads every
  // frame in it to rebuild its index: a WAL of a few hundred frames costs a no-change run a
  // millisecond, and SQLite cannot restart a WAL it has just recovered, so without help it only
  // grows (and every automatic checkpoint copies all of it again). A process that wrote and leaves
  // more than kWalTruncateBytes behind moves the frames into the database and empties the WAL (two
  // syncs, every few runs). Never waits: with a reader or a writer in another process, the WAL
  // stays as it is and the next writer tries again.
  if (db_ && full_sync_ && sqlite3_total_changes64(db_.get()) > 0) {
    struct stat st {};
    const char* wal = sqlite3_filename_wal(sqlite3_db_filename(db_.get(), "main"));
    if (wal == nullptr || ::stat(wal, &st) != 0 || st.st_size <= kWalTruncateBytes) return;
    sqlite3_busy_timeout(db_.get(), 0);
    sqlite3_wal_checkpoint_v2(db_.get(), "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
}

Expected<Statement> Database::Prepare(std::string_view sql) {
  std::string key(sql);
  if (auto it = cache_.find(key); it != cache_.end()) return Statement(db_.get(), it->second, true);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK)
    return Unexpected(DbError(db_.get(), "sqlite prepare"));
  cache_.emplace(std::move(key), stmt);
  return Statement(db_.get(), stmt, true);
}

Expected<void> Database::Transaction(const std::function<Expected<void>()>& body) {
  if (!sqlite3_get_autocommit(db_.get())) {
    // Inside an outer transaction (the fleet's group commit): a savepoint keeps this one
    // all-or-nothing.
    if (auto r = Exec("SAVEPOINT step"); !r) return r;
    auto result = body();
    if (!result) {
      (void)Exec("ROLLBACK TO step");
      (void)Exec("RELEASE step");
      return result;
    }
    return Exec("RELEASE step");
  }
  if (auto r = Exec("BEGIN IMMEDIATE"); !r) return r;
  auto result = body();
  if (!result) {
    (void)Exec("ROLLBACK");
    return result;
  }
  if (auto r = Exec("COMMIT"); !r) {
    (void)Exec("ROLLBACK");
    return r;
  }
  return {};
}

Expected<void> Database::Migrate() {
  long long version = 0;
  {  // the statement ends before a migration changes the tables (a DROP waits for no reader)
    auto st = Prepare("PRAGMA user_version");
    if (!st) return Unexpected(st.error());
    auto row = st->Step();
    if (!row) return Unexpected(row.error());
    version = st->Int(0);
  }
  if (version > static_cast<long long>(kMigrations.size()))
    return Fail(ErrorCode::kDatabase, "state database version " + std::to_string(version) +
                                          " is newer than this autoprov understands");
  for (size_t v = static_cast<size_t>(version); v < kMigrations.size(); ++v) {
    auto r = Transaction([&]() -> Expected<void> {
      if (auto e = Exec(kMigrations[v]); !e) return e;
      return Exec("PRAGMA user_version = " + std::to_string(v + 1));
    });
    if (!r) return r;
  }
  return {};
}

std::string DatabaseLibraryVersion() { return std::string("SQLite ") + sqlite3_libversion(); }

}  // namespace autoprov
