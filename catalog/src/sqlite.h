// Thin RAII over SQLite's C API: a connection (Db), a prepared statement
// (Stmt) and a write transaction (WriteTransaction). Every failure is thrown
// as a Failure (failure.h) whose Status names the file and what to do about
// it; the catalog's public calls turn it into their return value.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "failure.h"

namespace kcr::catalog::sql {

class Stmt;

class Db {
 public:
  // flags: SQLITE_OPEN_* (READONLY or READWRITE|CREATE).
  Db(const std::filesystem::path& path, int flags, std::chrono::milliseconds busy_timeout);

  sqlite3* get() const { return db_.get(); }
  const std::string& path() const { return path_; }
  std::chrono::milliseconds busy_timeout() const { return busy_timeout_; }

  void Exec(const char* sql, std::string_view doing);
  Stmt Prepare(std::string_view sql);
  std::int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  int Changes() const { return sqlite3_changes(db_.get()); }

  // Throws the Failure for SQLite result `rc` while `doing` something.
  [[noreturn]] void Fail(int rc, std::string_view doing) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
  std::chrono::milliseconds busy_timeout_;
};

// Builds the error for `rc`; `detail` is SQLite's own message.
Status MakeError(const std::string& path, int rc, std::string_view detail, std::string_view doing,
                 std::chrono::milliseconds busy_timeout);

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);

  // Parameters are 1-based, as in SQLite.
  template <std::integral T>
  Stmt& Bind(int index, T value) {
    // A uint64_t above INT64_MAX would silently change meaning: convert with AsInt64().
    static_assert(sizeof(T) < sizeof(std::int64_t) || std::is_signed_v<T>,
                  "bind a uint64_t through AsInt64()");
    return BindInt64(index, static_cast<std::int64_t>(value));
  }
  Stmt& Bind(int index, double value);
  Stmt& Bind(int index, std::string_view value);
  Stmt& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Stmt& Bind(int index, std::nullopt_t);
  template <typename T>
  Stmt& Bind(int index, const std::optional<T>& value) {
    return value ? Bind(index, *value) : Bind(index, std::nullopt);
  }

  // True while a row is available; false when done.
  bool Step();
  // Steps to the end of a statement that returns no rows.
  void Run() {
    while (Step()) {
    }
  }
  void Reset();

  bool IsNull(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  std::int64_t Int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  std::optional<std::int64_t> OptInt64(int col) const {
    return IsNull(col) ? std::nullopt : std::optional(Int64(col));
  }
  std::string Text(int col) const;

 private:
  Stmt& BindInt64(int index, std::int64_t value);
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  Db* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

// BEGIN IMMEDIATE takes the write lock up front, so two writers queue on the
// busy timeout instead of deadlocking when a reader tries to upgrade.
// Rolled back on destruction unless Commit() ran.
class WriteTransaction {
 public:
  explicit WriteTransaction(Db& db);
  ~WriteTransaction();
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void Commit();

 private:
  Db& db_;
  bool open_ = false;
};

// A read transaction: one snapshot for several SELECTs.
class ReadTransaction {
 public:
  explicit ReadTransaction(Db& db);
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Db& db_;
};

// SQLite stores signed 64-bit integers; checksums and sizes are unsigned.
inline std::int64_t AsInt64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}
inline std::uint64_t AsUint64(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

}  // namespace kcr::catalog::sql
