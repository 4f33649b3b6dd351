// A thin RAII layer over SQLite: open with versioned migrations, prepared statements, transactions.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/error.hpp"

namespace autoprov {

enum class Durability {
  kFull,     // synchronous=FULL: a committed transaction survives power loss (the single device)
  kRelaxed,  // synchronous=OFF: the fleet simulator trades durability for speed, and says so
};

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}
  Statement(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, long long value);
  Statement& BindNull(int index);
  // Steps once: true when a row is available, false when done.
  Expected<bool> Step();
  Expected<void> Run();  // steps to completion and resets
  void Reset();
  std::string Text(int col) const;
  long long Int(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  static Expected<Database> Open(const std::filesystem::path& path, Durability durability);
  Database(Database&& o) noexcept : db_(std::move(o.db_)) {}
  Database& operator=(Database&& o) noexcept {
    db_ = std::move(o.db_);
    return *this;
  }

  Expected<void> Exec(std::string_view sql);
  Expected<Statement> Prepare(std::string_view sql);

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it fails.
  Expected<void> Transaction(const std::function<Expected<void>()>& body);

  sqlite3* handle() const { return db_.get(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit Database(sqlite3* db) : db_(db) {}
  Expected<void> Migrate();
  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace autoprov
