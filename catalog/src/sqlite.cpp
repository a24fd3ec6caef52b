#include "sqlite.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace kcr::catalog::sql {

namespace {

// The fix that goes with a permission problem depends on who can write.
constexpr std::string_view kPermissionHint =
    "the shared catalog is written by root (the Slurm plugin) and only read by others: "
    "run this as root, or set catalog_path in your kcr.yaml to a file you own";

constexpr std::string_view kRebuildHint =
    "move it aside (with its -wal and -shm files) and re-create the rows from the images with "
    "`kcr catalog rebuild IMAGE_DIR`";

}  // namespace

Status MakeError(const std::string& path, int rc, std::string_view detail, std::string_view doing,
                 std::chrono::milliseconds busy_timeout) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Errorf(EBUSY,
                    "catalog {}: {}: still locked by another process after {}; retry, "
                    "or find the process holding it with `fuser {}`",
                    path, doing, busy_timeout, path);
    case SQLITE_NOTADB:
      return Errorf(EMEDIUMTYPE, "catalog {} is not an SQLite database ({}); if it was damaged, {}",
                    path, detail, kRebuildHint);
    case SQLITE_CORRUPT:
      return Errorf(EBADMSG, "catalog {} is damaged ({}, while {}); {}", path, detail, doing,
                    kRebuildHint);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Errorf(EACCES, "catalog {}: {}: {}; {}", path, doing, detail, kPermissionHint);
    case SQLITE_CANTOPEN:
      return Errorf(EACCES,
                    "catalog {}: cannot open it ({}): check that its directory exists "
                    "and that you may read it; {}",
                    path, detail, kPermissionHint);
    case SQLITE_FULL:
      return Errorf(EIO,
                    "catalog {}: {}: the disk is full; free space on "
                    "the filesystem that holds it",
                    path, doing);
    default:
      return Errorf(EIO, "catalog {}: {}: {} (SQLite error {})", path, doing, detail, rc);
  }
}

Db::Db(const std::filesystem::path& path, int flags, std::chrono::milliseconds busy_timeout)
    : path_(path.string()), busy_timeout_(busy_timeout) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path_.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, nullptr);
  db_.reset(raw);  // owned even when the open failed: SQLite allocates a handle anyway
  if (rc != SQLITE_OK) {
    Fail(rc, "opening");
  }
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
}

void Db::Fail(int rc, std::string_view doing) const {
  const char* detail = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  throw Failure(MakeError(path_, rc, detail, doing, busy_timeout_));
}

void Db::Exec(const char* sql, std::string_view doing) {
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    Fail(rc, doing);
  }
}

Stmt Db::Prepare(std::string_view sql) {
  return Stmt(*this, sql);
}

Stmt::Stmt(Db& db, std::string_view sql) : db_(&db) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  stmt_.reset(raw);
  if (rc != SQLITE_OK) {
    db.Fail(rc, fmt::format("preparing `{}`", sql.substr(0, 60)));
  }
}

Stmt& Stmt::BindInt64(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) {
    db_->Fail(rc, "binding a parameter");
  }
  return *this;
}

Stmt& Stmt::Bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_.get(), index, value);
  if (rc != SQLITE_OK) {
    db_->Fail(rc, "binding a parameter");
  }
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    db_->Fail(rc, "binding a parameter");
  }
  return *this;
}

Stmt& Stmt::Bind(int index, std::nullopt_t) {
  int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) {
    db_->Fail(rc, "binding a parameter");
  }
  return *this;
}

bool Stmt::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  db_->Fail(rc,
            fmt::format("running `{}`", std::string_view(sqlite3_sql(stmt_.get())).substr(0, 60)));
}

void Stmt::Reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Stmt::Text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  if (p == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)));
}

WriteTransaction::WriteTransaction(Db& db) : db_(db) {
  db_.Exec("BEGIN IMMEDIATE", "taking the write lock");
  open_ = true;
}

WriteTransaction::~WriteTransaction() {
  if (open_) {
    // Nothing to report from a destructor: the error that got us here is on its way.
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void WriteTransaction::Commit() {
  db_.Exec("COMMIT", "committing");
  open_ = false;
}

ReadTransaction::ReadTransaction(Db& db) : db_(db) {
  db_.Exec("BEGIN", "starting a read");
}

ReadTransaction::~ReadTransaction() {
  sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr);
}

}  // namespace kcr::catalog::sql
