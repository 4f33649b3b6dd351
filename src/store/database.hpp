// A thin RAII layer over SQLite: open with versioned migrations, prepared statements, transactions.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/error.hpp"

namespace autoprov {

enum class Durability {
  kFull,     // synchronous=FULL: a committed transaction survives power loss (the single device)
  kRelaxed,  // synchronous=OFF: the fleet simulator trades durability for speed, and says so
};

class Statement {
 public:
  // `cached`: the statement belongs to the Database's cache and is only reset when this object
  // goes.
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool cached = false)
      : db_(db), stmt_(stmt), cached_(cached) {}
  Statement(Statement&& o) noexcept
      : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)), cached_(o.cached_) {}
  Statement(const Statement&) = delete;
  ~Statement() {
    if (cached_) {
      if (stmt_) Reset();
    } else {
      sqlite3_finalize(stmt_);
    }
  }

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, long long value);
  Statement& BindNull(int index);
  // Steps once: true when a row is available, false when done.
  Expected<bool> Step();
  Expected<void> Run();  // steps to completion and resets
  // Calls `row` for every result row.
  Expected<void> EachRow(const std::function<void(const Statement&)>& row);
  void Reset();
  std::string Text(int col) const;
  long long Int(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool cached_ = false;
};

class Database {
 public:
  // `read_only`: for commands that only read (status, config show), also on a read-only file
  // system.
  static Expected<Database> Open(const std::filesystem::path& path, Durability durability,
                                 bool read_only = false);
  Database(Database&& o) noexcept
      : full_sync_(o.full_sync_), cache_(std::move(o.cache_)), db_(std::move(o.db_)) {}
  Database& operator=(Database&& o) noexcept {
    for (auto& [sql, stmt] : cache_)
      sqlite3_finalize(stmt);  // before the connection they belong to closes
    full_sync_ = o.full_sync_;
    cache_ = std::move(o.cache_);
    db_ = std::move(o.db_);
    return *this;
  }
  ~Database();

  Expected<void> Exec(std::string_view sql);
  // Prepared statements are cached by their text: the same query is compiled once per connection.
  // Do not hold two Statements of the same text at once.
  Expected<Statement> Prepare(std::string_view sql);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it fails. Inside an open
  // transaction it is a savepoint of it.
  Expected<void> Transaction(const std::function<Expected<void>()>& body);

  sqlite3* handle() const { return db_.get(); }

  // Runs `body` (one write outside a transaction) without waiting for the disk: committed and
  // crash-safe against a killed process, but a power loss may take it back. For what is only
  // informative (a run's report); everything a device acts on commits with the connection's
  // durability.
  Expected<void> Relaxed(const std::function<Expected<void>()>& body);

  // Changes since `Token()` was taken: another connection committed (PRAGMA data_version) or this
  // one wrote. Lets a reader skip re-reading what has not changed.
  struct ChangeToken {
    long long data_version = -1, own_changes = -1;
    bool operator==(const ChangeToken&) const = default;
  };
  ChangeToken Token();

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit Database(sqlite3* db) : db_(db) {}
  bool full_sync_ = false;
  Expected<void> Migrate();
  std::unordered_map<std::string, sqlite3_stmt*> cache_;  // finalized before the connection closes
  std::unique_ptr<sqlite3, Closer> db_;
};

// "SQLite 3.40.1": for --version.
std::string DatabaseLibraryVersion();

}  // namespace autoprov
