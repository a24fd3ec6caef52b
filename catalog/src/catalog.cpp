#include "kcr/catalog/catalog.h"
#include "kcr/util/image_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <system_error>
#include <thread>
#include <variant>

#include <fmt/format.h>

#include "kcr/util/clock.h"
#include "schema.h"
#include "sqlite.h"

namespace kcr::catalog {

namespace {

using Clock = std::chrono::steady_clock;

using util::NowNs;

// Every SELECT of checkpoint rows returns these columns, read by ReadRow().
constexpr std::string_view kRowColumns = R"sql(
  c.id, c.job_id, j.array_job_id, j.array_task_id, coalesce(j.partition, ''),
  coalesce(j.restart_count, 0), c.step_id, c.task, c.node, c.pid, c.uid, c.user, c.image_path,
  c.trigger, c.parent_id, c.kcr_version, c.kernel_release, c.created_ns, c.state,
  c.state_reason, c.bytes, c.checksum, c.freeze_ns, c.write_ns, c.committed_ns, c.verified_ns,
  c.state_changed_ns, c.set_key, c.set_size
  FROM checkpoints c LEFT JOIN jobs j ON j.job_id = c.job_id)sql";

std::optional<std::uint32_t> OptU32(const sql::Stmt& s, int col) {
  if (s.IsNull(col)) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(s.Int64(col));
}

CheckpointRow ReadRow(const sql::Stmt& s, const std::string& path) {
  CheckpointRow r;
  r.id = s.Int64(0);
  r.info.job_id = OptU32(s, 1).value_or(kManualJob);
  r.info.array_job_id = OptU32(s, 2);
  r.info.array_task_id = OptU32(s, 3);
  r.info.partition = s.Text(4);
  r.info.restart_count = static_cast<std::uint32_t>(s.Int64(5));
  r.info.step_id = static_cast<std::uint32_t>(s.Int64(6));
  r.info.task = static_cast<std::uint32_t>(s.Int64(7));
  r.info.node = s.Text(8);
  r.info.pid = static_cast<std::int32_t>(s.Int64(9));
  r.info.uid = static_cast<std::uint32_t>(s.Int64(10));
  r.info.user = s.Text(11);
  r.info.image_path = s.Text(12);
  auto trigger = ParseTrigger(s.Text(13));
  r.info.parent_id = s.OptInt64(14);
  r.info.kcr_version = s.Text(15);
  r.info.kernel_release = s.Text(16);
  r.info.created_ns = s.Int64(17);
  auto state = ParseState(s.Text(18));
  if (!trigger || !state) {
    Fail(EBADMSG,
         "catalog {}: checkpoint #{} has trigger '{}' and state '{}', which "
         "this kcr does not know; was it written by a newer kcr?",
         path, r.id, s.Text(13), s.Text(18));
  }
  r.info.trigger = *trigger;
  r.state = *state;
  r.state_reason = s.Text(19);
  r.bytes = sql::AsUint64(s.Int64(20));
  r.checksum = sql::AsUint64(s.Int64(21));
  r.freeze_ns = sql::AsUint64(s.Int64(22));
  r.write_ns = sql::AsUint64(s.Int64(23));
  r.committed_ns = s.OptInt64(24);
  r.verified_ns = s.OptInt64(25);
  r.state_changed_ns = s.Int64(26);
  r.set_key = s.OptInt64(27);
  r.set_size = static_cast<std::uint32_t>(s.Int64(28));
  return r;
}

// NULL stands for "no Slurm job" in the table.
std::optional<std::int64_t> JobColumn(std::uint32_t job_id) {
  if (job_id == kManualJob) {
    return std::nullopt;
  }
  return job_id;
}

std::string StatesSql(std::initializer_list<State> states) {
  std::string out;
  for (State s : states) {
    out += fmt::format("{}'{}'", out.empty() ? "" : ", ", ToString(s));
  }
  return out;
}

void FsyncDir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// A writer that died leaves its half-written image under the temporary name
// libkcr gives it: "<image_path>.tmp-" plus six mkostemp characters.
std::uint64_t RemoveTempLeftovers(const std::filesystem::path& image) {
  const std::string prefix = image.filename().string() + ".tmp-";
  std::uint64_t freed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(image.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == prefix.size() + 6 && name.starts_with(prefix)) {
      std::uint64_t size = entry.is_regular_file(ec) ? entry.file_size(ec) : 0;
      if (util::RemoveImage(entry.path().string()) == 0)
        freed += size;
    }
  }
  return freed;
}

// Runs `body` in a write transaction. The busy timeout already makes a
// writer wait for the lock; SQLite can still answer BUSY early (e.g. while
// another process recovers the WAL index), so retry until the timeout has
// really passed.
template <typename Body>
auto WriteTx(sql::Db& db, Body&& body) {
  const auto deadline = Clock::now() + db.busy_timeout();
  for (;;) {
    try {
      sql::WriteTransaction tx(db);
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
        tx.Commit();
        return;
      } else {
        auto result = body();
        tx.Commit();
        return result;
      }
    } catch (const Failure& f) {
      if (f.status().code() != -EBUSY || Clock::now() >= deadline) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

// Same early-BUSY retry for a single statement outside a transaction.
void ExecRetrying(sql::Db& db, const char* sql, std::string_view doing) {
  const auto deadline = Clock::now() + db.busy_timeout();
  for (;;) {
    try {
      db.Exec(sql, doing);
      return;
    } catch (const Failure& f) {
      if (f.status().code() != -EBUSY || Clock::now() >= deadline) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

}  // namespace

struct Catalog::Impl {
  Impl(const std::filesystem::path& p, int flags, std::chrono::milliseconds busy, bool ro)
      : path(p), db(p, flags, busy), read_only(ro) {}

  std::filesystem::path path;
  sql::Db db;
  bool read_only;

  State StateOf(std::int64_t id) {
    auto s = db.Prepare("SELECT state FROM checkpoints WHERE id = ?");
    s.Bind(1, id);
    if (!s.Step()) {
      Fail(ENOENT, "catalog {}: no checkpoint #{} (see `kcr catalog list`)", db.path(), id);
    }
    auto state = ParseState(s.Text(0));
    if (!state) {
      Fail(EBADMSG,
           "catalog {}: checkpoint #{} has unknown "
           "state '{}'",
           db.path(), id, s.Text(0));
    }
    return *state;
  }

  // The state machine's gate; call inside a write transaction.
  State CheckMove(std::int64_t id, State to) {
    State from = StateOf(id);
    if (!CanMove(from, to)) {
      std::string allowed;
      for (State s : kAllStates) {
        if (CanMove(from, s)) {
          allowed += fmt::format("{}{}", allowed.empty() ? "" : ", ", ToString(s));
        }
      }
      Fail(EPERM,
           "catalog {}: checkpoint #{} is {} and cannot become {} (from {} it "
           "may only become: {})",
           db.path(), id, ToString(from), ToString(to), ToString(from),
           allowed.empty() ? "nothing, it is final" : allowed);
    }
    return from;
  }

  void SetState(std::int64_t id, State to, std::string_view reason) {
    auto s = db.Prepare(
        "UPDATE checkpoints SET state = ?2, state_reason = ?3, state_changed_ns = ?4, "
        "verified_ns = CASE WHEN ?2 = 'VERIFIED' THEN ?4 ELSE verified_ns END WHERE id = ?1");
    s.Bind(1, id).Bind(2, ToString(to)).Bind(3, reason).Bind(4, NowNs());
    s.Run();
  }

  std::int64_t InsertWriting(const CheckpointInfo& info) {
    if (info.image_path.empty() || info.image_path.front() != '/') {
      Fail(EINVAL,
           "catalog {}: image path '{}' is not absolute; the catalog is "
           "shared by processes in other directories, so record absolute "
           "paths",
           db.path(), info.image_path);
    }
    const std::int64_t now = NowNs();
    const std::int64_t created = info.created_ns.value_or(now);
    if (info.parent_id) {
      StateOf(*info.parent_id);  // a clear error instead of a foreign-key failure
    }
    if (info.job_id != kManualJob) {
      auto job = db.Prepare(R"sql(
        INSERT INTO jobs (job_id, array_job_id, array_task_id, uid, user, partition,
                          restart_count, first_seen_ns, last_seen_ns)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
        ON CONFLICT (job_id) DO UPDATE SET
          last_seen_ns = max(last_seen_ns, excluded.last_seen_ns),
          restart_count = max(restart_count, excluded.restart_count),
          partition = CASE WHEN excluded.partition <> '' THEN excluded.partition ELSE partition END,
          array_job_id = coalesce(excluded.array_job_id, array_job_id),
          array_task_id = coalesce(excluded.array_task_id, array_task_id))sql");
      job.Bind(1, info.job_id)
          .Bind(2, info.array_job_id)
          .Bind(3, info.array_task_id)
          .Bind(4, info.uid)
          .Bind(5, info.user)
          .Bind(6, info.partition)
          .Bind(7, info.restart_count)
          .Bind(8, created);
      job.Run();
    }
    auto s = db.Prepare(R"sql(
      INSERT INTO checkpoints (job_id, step_id, task, node, pid, uid, user, image_path, trigger,
                               parent_id, created_ns, kcr_version, kernel_release, state,
                               state_changed_ns)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'WRITING', ?14))sql");
    s.Bind(1, JobColumn(info.job_id))
        .Bind(2, info.step_id)
        .Bind(3, info.task)
        .Bind(4, info.node)
        .Bind(5, info.pid)
        .Bind(6, info.uid)
        .Bind(7, info.user)
        .Bind(8, info.image_path)
        .Bind(9, ToString(info.trigger))
        .Bind(10, info.parent_id)
        .Bind(11, created)
        .Bind(12, info.kcr_version.empty() ? KcrVersion() : info.kcr_version)
        .Bind(13, info.kernel_release)
        .Bind(14, now);
    s.Run();
    return db.LastInsertRowid();
  }

  // WRITING -> COMMITTED with the image's facts; the caller checked the move.
  void CommitRow(std::int64_t id, const CommitInfo& commit) {
    const std::int64_t now = NowNs();
    auto s = db.Prepare(
        "UPDATE checkpoints SET state = 'COMMITTED', state_reason = '', bytes = ?2, "
        "checksum = ?3, freeze_ns = ?4, write_ns = ?5, committed_ns = ?6, state_changed_ns = ?6 "
        "WHERE id = ?1");
    s.Bind(1, id)
        .Bind(2, sql::AsInt64(commit.bytes))
        .Bind(3, sql::AsInt64(commit.checksum))
        .Bind(4, sql::AsInt64(commit.freeze_ns))
        .Bind(5, sql::AsInt64(commit.write_ns))
        .Bind(6, now);
    s.Run();
    // The rename that made this image whole replaced any older file at the
    // same path: rows that pointed at it no longer have an image.
    auto replaced = db.Prepare(fmt::format(
        "UPDATE checkpoints SET state = 'DELETED', state_changed_ns = ?2, "
        "state_reason = 'image replaced by checkpoint #' || ?1 "
        "WHERE image_path = (SELECT image_path FROM checkpoints WHERE id = ?1) AND id <> ?1 "
        "AND state IN ({})",
        StatesSql({State::kCommitted, State::kVerified})));
    replaced.Bind(1, id).Bind(2, now);
    replaced.Run();
  }

  void RequireWritable(std::string_view what) const {
    if (read_only) {
      Fail(EACCES, "catalog {}: cannot {}: it was opened read-only", db.path(), what);
    }
  }

  std::vector<CheckpointRow> SelectRows(sql::Stmt& s) {
    std::vector<CheckpointRow> rows;
    while (s.Step()) {
      rows.push_back(ReadRow(s, db.path()));
    }
    return rows;
  }
};

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;
Catalog::~Catalog() = default;

const std::filesystem::path& Catalog::path() const {
  return impl_->path;
}
bool Catalog::read_only() const {
  return impl_->read_only;
}

namespace {

// Open()'s work; throws a Failure.
std::unique_ptr<Catalog::Impl> OpenImpl(const std::filesystem::path& path,
                                        const OpenOptions& options) {
  if (path.empty()) {
    Fail(EINVAL, "catalog path is empty; set catalog_path in kcr.yaml");
  }
  std::error_code ec;
  if (options.read_only) {
    if (!std::filesystem::exists(path, ec)) {
      Fail(ENOENT,
           "no catalog at {}: nothing has been recorded there yet, or "
           "catalog_path in kcr.yaml names the wrong file",
           path.string());
    }
    auto impl =
        std::make_unique<Catalog::Impl>(path, SQLITE_OPEN_READONLY, options.busy_timeout, true);
    try {
      schema::CheckReadable(impl->db);
    } catch (const Failure& f) {
      // A WAL database is readable without write access only while its
      // -wal and -shm files exist; kcr's writers keep them, but another
      // SQLite program closing the file last removes them.
      bool wal_files = std::filesystem::exists(path.string() + "-wal", ec) &&
                       std::filesystem::exists(path.string() + "-shm", ec);
      if (f.status().code() != -EACCES || wal_files) {
        throw;
      }
      Fail(EACCES,
           "catalog {} cannot be read without write access while its -wal "
           "and -shm files are missing (another SQLite program removed "
           "them); run any `kcr catalog` command as root once to recreate "
           "them",
           path.string());
    }
    return impl;
  }

  bool existed = std::filesystem::exists(path, ec);
  if (!existed && path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);  // Open() reports failures
  }
  auto impl = std::make_unique<Catalog::Impl>(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                              options.busy_timeout, false);
  sql::Db& db = impl->db;
  if (sqlite3_db_readonly(db.get(), "main") == 1) {
    // SQLite quietly falls back to read-only when it may not write the file.
    struct stat st {};
    ::stat(path.c_str(), &st);
    Fail(EACCES,
         "catalog {} is not writable for uid {} (it belongs to uid {}, mode "
         "{:04o}); the shared catalog is written by root (the Slurm plugin) "
         "and only read by others: run this as root, or set catalog_path in "
         "your kcr.yaml to a file you own",
         db.path(), ::geteuid(), st.st_uid, st.st_mode & 07777);
  }
  if (!existed) {
    // The shared catalog (root's) is readable by users, whose rows the CLI
    // filters; anyone else's is private. SQLite gives -wal/-shm this mode too.
    ::chmod(path.c_str(), ::geteuid() == 0 ? 0644 : 0600);
  }
  // WAL: readers never block the writer and a crash loses no committed row.
  ExecRetrying(db, "PRAGMA journal_mode = WAL", "switching to the WAL journal");
  {
    auto s = db.Prepare("PRAGMA journal_mode");
    std::string mode = s.Step() ? s.Text(0) : std::string();
    if (mode != "wal") {
      Fail(EIO,
           "catalog {}: SQLite cannot use a WAL journal here (journal mode "
           "stays '{}'); put the catalog on a local filesystem",
           db.path(), mode);
    }
  }
  // Keep -wal and -shm after the last writer closes: users who may not
  // create files next to root's catalog can then still open it read-only.
  int persist = 1;
  sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  // FULL: a COMMITTED row is on disk before commit returns.
  // The kept -wal file is cut back to 4 MiB after each checkpoint of it.
  db.Exec(
      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
      "PRAGMA journal_size_limit = 4194304",
      "setting pragmas");
  schema::Migrate(db);
  return impl;
}

}  // namespace

Status Catalog::Open(const std::filesystem::path& path, const OpenOptions& options,
                     std::unique_ptr<Catalog>* catalog) {
  return Guard([&] { catalog->reset(new Catalog(OpenImpl(path, options))); });
}

Status Catalog::SchemaVersion(int* version) {
  return Guard([&] {
    auto s = impl_->db.Prepare("PRAGMA user_version");
    *version = s.Step() ? static_cast<int>(s.Int64(0)) : 0;
  });
}

Status Catalog::BeginCheckpoint(const CheckpointInfo& info, std::int64_t* id) {
  return Guard([&] {
    impl_->RequireWritable("record a checkpoint");
    *id = WriteTx(impl_->db, [&] { return impl_->InsertWriting(info); });
  });
}

Status Catalog::CommitCheckpoint(std::int64_t id, const CommitInfo& commit) {
  return Guard([&] {
    impl_->RequireWritable("commit a checkpoint");
    WriteTx(impl_->db, [&] {
      impl_->CheckMove(id, State::kCommitted);
      impl_->CommitRow(id, commit);
    });
  });
}

Status Catalog::FailCheckpoint(std::int64_t id, std::string_view reason) {
  return Move(id, State::kFailed, reason);
}

Status Catalog::AbandonCheckpoint(std::int64_t id) {
  return Guard([&] {
    impl_->RequireWritable(fmt::format("abandon checkpoint #{}", id));
    WriteTx(impl_->db, [&] {
      State from = impl_->StateOf(id);
      if (from != State::kWriting) {
        Fail(EPERM,
             "catalog {}: checkpoint #{} is {}; only a WRITING row can be "
             "abandoned",
             impl_->db.path(), id, ToString(from));
      }
      auto s = impl_->db.Prepare("DELETE FROM checkpoints WHERE id = ?1");
      s.Bind(1, id);
      s.Run();
    });
  });
}

Status Catalog::MarkVerified(std::int64_t id) {
  return Guard([&] {
    impl_->RequireWritable("mark a checkpoint verified");
    WriteTx(impl_->db, [&] {
      if (impl_->StateOf(id) == State::kVerified) {
        auto s = impl_->db.Prepare("UPDATE checkpoints SET verified_ns = ?2 WHERE id = ?1");
        s.Bind(1, id).Bind(2, NowNs());
        s.Run();
        return;
      }
      impl_->CheckMove(id, State::kVerified);
      impl_->SetState(id, State::kVerified, "");
    });
  });
}

Status Catalog::MarkCorrupt(std::int64_t id, std::string_view reason) {
  return Move(id, State::kCorrupt, reason);
}

Status Catalog::Move(std::int64_t id, State to, std::string_view reason) {
  return Guard([&] {
    impl_->RequireWritable(fmt::format("move checkpoint #{} to {}", id, ToString(to)));
    if (to == State::kCommitted) {
      Fail(EPERM,
           "catalog {}: checkpoint #{} can become COMMITTED only through "
           "CommitCheckpoint(), which records its size and checksum",
           impl_->db.path(), id);
    }
    WriteTx(impl_->db, [&] {
      impl_->CheckMove(id, to);
      impl_->SetState(id, to, reason);
    });
  });
}

Status Catalog::RecordRestore(std::optional<std::int64_t> checkpoint_id,
                              std::string_view image_path, RestoreOutcome outcome,
                              std::string_view error_text, std::string_view node, std::uint32_t uid,
                              std::int64_t* restore_id) {
  return Guard([&] {
    impl_->RequireWritable("record a restore");
    sql::Db& db = impl_->db;
    *restore_id = WriteTx(db, [&] {
      if (checkpoint_id) {
        impl_->StateOf(*checkpoint_id);
      }
      const std::int64_t now = NowNs();
      auto s = db.Prepare(
          "INSERT INTO restores (checkpoint_id, image_path, node, uid, started_ns, finished_ns, "
          "outcome, error_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      s.Bind(1, checkpoint_id)
          .Bind(2, image_path)
          .Bind(3, node)
          .Bind(4, uid)
          .Bind(5, now)
          .Bind(6, outcome == RestoreOutcome::kStarted ? std::nullopt : std::optional(now))
          .Bind(7, ToString(outcome))
          .Bind(8, error_text);
      s.Run();
      return db.LastInsertRowid();
    });
  });
}

Status Catalog::FinishRestore(std::int64_t restore_id, RestoreOutcome outcome,
                              std::string_view error_text) {
  return Guard([&] {
    impl_->RequireWritable("record a restore's outcome");
    sql::Db& db = impl_->db;
    WriteTx(db, [&] {
      auto cur = db.Prepare("SELECT outcome FROM restores WHERE id = ?");
      cur.Bind(1, restore_id);
      if (!cur.Step()) {
        Fail(ENOENT, "catalog {}: no restore #{}", db.path(), restore_id);
      }
      if (cur.Text(0) != ToString(RestoreOutcome::kStarted) ||
          outcome == RestoreOutcome::kStarted) {
        Fail(EPERM,
             "catalog {}: restore #{} is '{}' and cannot become '{}' (only a "
             "started restore finishes, as succeeded or failed)",
             db.path(), restore_id, cur.Text(0), ToString(outcome));
      }
      auto s = db.Prepare(
          "UPDATE restores SET outcome = ?2, error_text = ?3, finished_ns = ?4 WHERE id = ?1");
      s.Bind(1, restore_id).Bind(2, ToString(outcome)).Bind(3, error_text).Bind(4, NowNs());
      s.Run();
    });
  });
}

Status Catalog::InsertRebuilt(const CheckpointInfo& info, const CommitInfo& commit, State state,
                              std::string_view reason, std::int64_t* id) {
  return Guard([&] {
    impl_->RequireWritable("rebuild rows");
    if (state != State::kCommitted && state != State::kCorrupt) {
      Fail(EINVAL, "catalog {}: a rebuilt row is COMMITTED or CORRUPT, not {}", impl_->db.path(),
           ToString(state));
    }
    *id = WriteTx(impl_->db, [&] {
      std::int64_t row = impl_->InsertWriting(info);
      if (state == State::kCommitted) {
        impl_->CommitRow(row, commit);
      }
      // The reason stays on the row so nobody mistakes it for one recorded live.
      auto s = impl_->db.Prepare(
          "UPDATE checkpoints SET state = ?2, state_reason = ?3, bytes = ?4, checksum = ?5 "
          "WHERE id = ?1");
      s.Bind(1, row)
          .Bind(2, ToString(state))
          .Bind(3, reason)
          .Bind(4, sql::AsInt64(commit.bytes))
          .Bind(5, sql::AsInt64(commit.checksum));
      s.Run();
      return row;
    });
  });
}

Status Catalog::Get(std::int64_t id, std::optional<CheckpointRow>* row) {
  return Guard([&] {
    auto s = impl_->db.Prepare(fmt::format("SELECT {} WHERE c.id = ?", kRowColumns));
    s.Bind(1, id);
    *row = s.Step() ? std::optional(ReadRow(s, impl_->db.path())) : std::nullopt;
  });
}

Status Catalog::List(const ListFilter& f, std::vector<CheckpointRow>* out) {
  return Guard([&] {
    std::string where;
    std::vector<std::variant<std::int64_t, std::string>> params;
    auto add = [&](std::string clause) {
      where += where.empty() ? " WHERE " : " AND ";
      where += clause;
    };
    if (f.job) {
      if (*f.job == kManualJob) {
        add("c.job_id IS NULL");
      } else {
        add("c.job_id = ?");
        params.emplace_back(std::int64_t{*f.job});
      }
    }
    if (f.step) {
      add("c.step_id = ?");
      params.emplace_back(std::int64_t{*f.step});
    }
    if (f.task) {
      add("c.task = ?");
      params.emplace_back(std::int64_t{*f.task});
    }
    if (f.uid) {
      add("c.uid = ?");
      params.emplace_back(std::int64_t{*f.uid});
    }
    if (!f.states.empty()) {
      std::string in;
      for (State s : f.states) {
        in += in.empty() ? "?" : ", ?";
        params.emplace_back(std::string(ToString(s)));
      }
      add(fmt::format("c.state IN ({})", in));
    }
    if (f.since_ns) {
      add("c.created_ns >= ?");
      params.emplace_back(*f.since_ns);
    }
    std::string sql = fmt::format("SELECT {}{} ORDER BY c.id", kRowColumns, where);
    if (f.limit > 0) {
      sql += fmt::format(" DESC LIMIT {}", f.limit);
    }
    auto s = impl_->db.Prepare(sql);
    for (std::size_t i = 0; i < params.size(); ++i) {
      std::visit([&](const auto& v) { s.Bind(static_cast<int>(i + 1), v); }, params[i]);
    }
    std::vector<CheckpointRow> rows = impl_->SelectRows(s);
    if (f.limit > 0) {
      std::reverse(rows.begin(), rows.end());  // the newest `limit`, still oldest first
    }
    *out = std::move(rows);
  });
}

Status Catalog::FindByImage(std::string_view image_path, std::optional<CheckpointRow>* row) {
  return Guard([&] {
    auto s = impl_->db.Prepare(fmt::format(
        "SELECT {} WHERE c.image_path = ? AND c.state IN ({}) ORDER BY c.id DESC LIMIT 1",
        kRowColumns, StatesSql({State::kWriting, State::kCommitted, State::kVerified})));
    s.Bind(1, image_path);
    *row = s.Step() ? std::optional(ReadRow(s, impl_->db.path())) : std::nullopt;
  });
}

Status Catalog::GroupCheckpoints(const std::vector<std::int64_t>& ids, std::uint32_t size) {
  if (size < 2 || ids.empty())
    return Status::Ok();
  return Guard([&] {
    impl_->RequireWritable("group checkpoints into a set");
    const std::int64_t key = *std::min_element(ids.begin(), ids.end());
    WriteTx(impl_->db, [&] {
      auto s =
          impl_->db.Prepare("UPDATE checkpoints SET set_key = ?2, set_size = ?3 WHERE id = ?1");
      for (std::int64_t id : ids) {
        s.Bind(1, id).Bind(2, key).Bind(3, size);
        s.Run();
        s.Reset();
      }
    });
  });
}

Status Catalog::LatestGood(std::uint32_t job_id, std::optional<std::uint32_t> step,
                           std::optional<std::uint32_t> task, std::size_t max_results,
                           std::vector<CheckpointRow>* rows) {
  return Guard([&] {
    std::string sql = fmt::format("SELECT {} WHERE {} AND c.state IN ({})", kRowColumns,
                                  job_id == kManualJob ? "c.job_id IS NULL" : "c.job_id = ?1",
                                  StatesSql({State::kCommitted, State::kVerified}));
    if (step) {
      sql += " AND c.step_id = ?2";
    }
    if (task) {
      sql += " AND c.task = ?3";
    }
    sql += " ORDER BY c.created_ns DESC, c.id DESC";
    auto s = impl_->db.Prepare(sql);
    if (job_id != kManualJob) {
      s.Bind(1, job_id);
    }
    if (step) {
      s.Bind(2, *step);
    }
    if (task) {
      s.Bind(3, *task);
    }
    // The row says the image is whole; believe it only if the file agrees.
    // A full checksum pass is `kcr catalog verify`'s job, not a lookup's.
    auto whole = [](const std::string& path, std::uint64_t want) {
      std::uint64_t bytes = 0;
      return util::ImageBytes(path, &bytes) && bytes == want;
    };
    auto members = impl_->db.Prepare(fmt::format(
        "SELECT c.image_path, c.bytes FROM checkpoints c WHERE c.set_key = ?1 AND c.state IN ({})",
        StatesSql({State::kCommitted, State::kVerified})));
    // A set's member is good only if every member is: one task restored from
    // a moment the others cannot come back to would be no restore of the step.
    auto set_whole = [&](const CheckpointRow& row) {
      members.Reset();
      members.Bind(1, *row.set_key);
      std::uint32_t n = 0;
      while (members.Step()) {
        if (!whole(members.Text(0), sql::AsUint64(members.Int64(1))))
          return false;
        n++;
      }
      return n == row.set_size;
    };
    std::vector<CheckpointRow> good;
    while (good.size() < max_results && s.Step()) {
      CheckpointRow row = ReadRow(s, impl_->db.path());
      if (!whole(row.info.image_path, row.bytes) || (row.set_key && !set_whole(row)))
        continue;
      good.push_back(std::move(row));
    }
    *rows = std::move(good);
  });
}

Status Catalog::RestoresOf(std::int64_t checkpoint_id, std::vector<RestoreRow>* restores) {
  return Guard([&] {
    auto s = impl_->db.Prepare(
        "SELECT id, checkpoint_id, image_path, node, uid, started_ns, finished_ns, outcome, "
        "error_text FROM restores WHERE checkpoint_id = ? ORDER BY id");
    s.Bind(1, checkpoint_id);
    std::vector<RestoreRow> out;
    while (s.Step()) {
      RestoreRow r;
      r.id = s.Int64(0);
      r.checkpoint_id = s.OptInt64(1);
      r.image_path = s.Text(2);
      r.node = s.Text(3);
      r.uid = static_cast<std::uint32_t>(s.Int64(4));
      r.started_ns = s.Int64(5);
      r.finished_ns = s.OptInt64(6);
      r.outcome = ParseRestoreOutcome(s.Text(7)).value_or(RestoreOutcome::kFailed);
      r.error_text = s.Text(8);
      out.push_back(std::move(r));
    }
    *restores = std::move(out);
  });
}

Status Catalog::GetJob(std::uint32_t job_id, std::optional<JobRow>* job) {
  return Guard([&] {
    auto s = impl_->db.Prepare(
        "SELECT job_id, array_job_id, array_task_id, uid, user, partition, restart_count, "
        "first_seen_ns, last_seen_ns FROM jobs WHERE job_id = ?");
    s.Bind(1, job_id);
    if (!s.Step()) {
      *job = std::nullopt;
      return;
    }
    JobRow j;
    j.job_id = static_cast<std::uint32_t>(s.Int64(0));
    j.array_job_id = OptU32(s, 1);
    j.array_task_id = OptU32(s, 2);
    j.uid = static_cast<std::uint32_t>(s.Int64(3));
    j.user = s.Text(4);
    j.partition = s.Text(5);
    j.restart_count = static_cast<std::uint32_t>(s.Int64(6));
    j.first_seen_ns = s.Int64(7);
    j.last_seen_ns = s.Int64(8);
    *job = std::move(j);
  });
}

std::optional<double> UsageStats::SuccessRate() const {
  if (committed + failed == 0) {
    return std::nullopt;
  }
  return static_cast<double>(committed) / static_cast<double>(committed + failed);
}

std::optional<double> UsageStats::SecondsPerGib() const {
  if (written_bytes == 0) {
    return std::nullopt;
  }
  return (static_cast<double>(write_ns) / 1e9) /
         (static_cast<double>(written_bytes) / (1024.0 * 1024.0 * 1024.0));
}

Status Catalog::GetStats(std::optional<std::uint32_t> uid, Stats* stats) {
  return Guard([&] {
    sql::Db& db = impl_->db;
    sql::ReadTransaction snapshot(db);  // both tables from one moment
    const std::string live = StatesSql({State::kCommitted, State::kVerified});
    const std::string where = uid ? "WHERE c.uid = ?1" : "";
    // The same sums per group; `same_group` ties the restores' subquery to it.
    auto sums = [&](std::string_view same_group) {
      return fmt::format(
          "count(*), sum(c.committed_ns IS NOT NULL), sum(c.state = 'FAILED'), "
          "sum(c.state IN ({0})), sum(CASE WHEN c.state IN ({0}) THEN c.bytes ELSE 0 END), "
          "sum(CASE WHEN c.committed_ns IS NOT NULL AND c.write_ns > 0 THEN c.bytes ELSE 0 END), "
          "sum(CASE WHEN c.committed_ns IS NOT NULL AND c.write_ns > 0 THEN c.write_ns ELSE 0 "
          "END), (SELECT count(*) FROM restores r WHERE r.checkpoint_id IN "
          "(SELECT c2.id FROM checkpoints c2 WHERE {1}))",
          live, same_group);
    };
    auto fill = [](const sql::Stmt& s, int first, UsageStats& u) {
      u.checkpoints = sql::AsUint64(s.Int64(first));
      u.committed = sql::AsUint64(s.Int64(first + 1));
      u.failed = sql::AsUint64(s.Int64(first + 2));
      u.live = sql::AsUint64(s.Int64(first + 3));
      u.live_bytes = sql::AsUint64(s.Int64(first + 4));
      u.written_bytes = sql::AsUint64(s.Int64(first + 5));
      u.write_ns = sql::AsUint64(s.Int64(first + 6));
      u.restores = sql::AsUint64(s.Int64(first + 7));
    };
    Stats out;
    {
      auto s =
          db.Prepare(fmt::format("SELECT c.uid, max(c.user), {} FROM checkpoints c {} "
                                 "GROUP BY c.uid ORDER BY max(c.user), c.uid",
                                 sums("c2.uid = c.uid"), where));
      if (uid) {
        s.Bind(1, *uid);
      }
      while (s.Step()) {
        UsageStats u;
        u.uid = static_cast<std::uint32_t>(s.Int64(0));
        u.user = s.Text(1);
        fill(s, 2, u);
        out.per_user.push_back(std::move(u));
      }
    }
    {
      auto s = db.Prepare(
          fmt::format("SELECT c.job_id, c.uid, max(c.user), {} FROM checkpoints c {} "
                      "GROUP BY c.job_id, c.uid ORDER BY c.job_id IS NULL, c.job_id, c.uid",
                      sums("c2.job_id IS c.job_id AND c2.uid = c.uid"), where));
      if (uid) {
        s.Bind(1, *uid);
      }
      while (s.Step()) {
        UsageStats u;
        u.job_id = OptU32(s, 0).value_or(kManualJob);
        u.uid = static_cast<std::uint32_t>(s.Int64(1));
        u.user = s.Text(2);
        fill(s, 3, u);
        out.per_job.push_back(std::move(u));
      }
    }
    *stats = std::move(out);
  });
}

Status Catalog::RetentionCandidates(std::vector<CheckpointRow>* rows) {
  return Guard([&] {
    auto s = impl_->db.Prepare(
        fmt::format("SELECT {} WHERE c.state <> 'DELETED' ORDER BY c.id", kRowColumns));
    *rows = impl_->SelectRows(s);
  });
}

Status Catalog::ApplyPrune(const PrunePlan& plan, PruneResult* out) {
  return Guard([&] {
    impl_->RequireWritable("prune");
    sql::Db& db = impl_->db;
    PruneResult& result = *out;
    result = {};
    struct Step {
      const PruneAction* action;
      State parked;  // the state the row waits in between the two transactions
      bool unlink;
    };
    std::vector<Step> steps;

    // 1. Take the rows out of the live states, so that no reader picks an
    //    image that is about to disappear.
    WriteTx(db, [&] {
      steps.clear();
      result.problems.clear();
      auto live_twin = db.Prepare(fmt::format(
          "SELECT count(*) FROM checkpoints WHERE image_path = ?1 AND id <> ?2 AND state IN ({})",
          StatesSql({State::kWriting, State::kCommitted, State::kVerified})));
      for (const PruneAction& a : plan.actions) {
        State now_state = impl_->StateOf(a.id);
        if (now_state != a.from) {
          result.problems.push_back(
              fmt::format("checkpoint #{} is {} now, not {} as planned; left alone", a.id,
                          ToString(now_state), ToString(a.from)));
          continue;
        }
        State parked = a.from;
        if (a.kind == PruneKind::kExpire) {
          parked = State::kExpired;
        } else if (a.kind == PruneKind::kAbandonWriting) {
          parked = State::kFailed;
        }
        if (parked != a.from) {
          impl_->CheckMove(a.id, parked);
          impl_->SetState(a.id, parked, a.reason);
        }
        live_twin.Reset();
        live_twin.Bind(1, a.image_path).Bind(2, a.id);
        bool shared = live_twin.Step() && live_twin.Int64(0) > 0;
        steps.push_back({&a, parked, a.unlink_image && !shared});
      }
    });

    // 2. Remove the files, and make the removals durable before any row says so.
    std::set<std::filesystem::path> dirs;
    std::vector<const Step*> removed;
    for (const Step& st : steps) {
      const PruneAction& a = *st.action;
      if (st.unlink) {
        if (a.kind == PruneKind::kAbandonWriting || a.from == State::kFailed) {
          result.bytes_freed += RemoveTempLeftovers(a.image_path);
        }
        if (int err = util::RemoveImage(a.image_path); err == 0) {
          result.bytes_freed += a.bytes;
          dirs.insert(std::filesystem::path(a.image_path).parent_path());
        } else if (err != ENOENT) {
          result.problems.push_back(
              fmt::format("checkpoint #{}: cannot remove {}: {}; the row stays {} and the next "
                          "prune tries again",
                          a.id, a.image_path, std::strerror(err), ToString(st.parked)));
          continue;
        }
      }
      removed.push_back(&st);
    }
    for (const auto& dir : dirs) {
      FsyncDir(dir);
    }

    // 3. Only now are the rows DELETED.
    WriteTx(db, [&] {
      for (const Step* st : removed) {
        if (impl_->StateOf(st->action->id) != st->parked) {
          continue;  // someone else finished it meanwhile
        }
        impl_->CheckMove(st->action->id, State::kDeleted);
        impl_->SetState(st->action->id, State::kDeleted,
                        fmt::format("pruned: {}", st->action->reason));
      }
    });
    for (const Step* st : removed) {
      result.done.push_back(*st->action);
    }
  });
}

Status Catalog::ForgetDeleted(std::int64_t before_ns, bool dry_run, ForgetResult* out) {
  return Guard([&] {
    sql::Db& db = impl_->db;
    ForgetResult result;
    // Leaves first: a DELETED row that another row names as parent goes in a
    // later round, once that child has gone (foreign keys are enforced).
    static constexpr const char* kForgettable =
        "state = 'DELETED' AND state_changed_ns < ?1 AND NOT EXISTS "
        "(SELECT 1 FROM checkpoints AS child WHERE child.parent_id = checkpoints.id)";
    static constexpr const char* kOldOrphanRestores =
        "checkpoint_id IS NULL AND coalesce(finished_ns, started_ns) < ?1";
    static constexpr const char* kOldEmptyJobs =
        "last_seen_ns < ?1 AND NOT EXISTS "
        "(SELECT 1 FROM checkpoints WHERE checkpoints.job_id = jobs.job_id)";
    auto count = [&](const std::string& sql) {
      auto stmt = db.Prepare(sql);
      stmt.Bind(1, before_ns);
      return stmt.Step() ? static_cast<std::uint64_t>(stmt.Int64(0)) : 0;
    };
    if (dry_run) {
      result.checkpoints = count(
          "SELECT count(*) FROM checkpoints WHERE state = 'DELETED' AND state_changed_ns < ?1");
      result.restores =
          count(fmt::format("SELECT count(*) FROM restores WHERE {} OR checkpoint_id IN (SELECT id "
                            "FROM checkpoints WHERE state = 'DELETED' AND state_changed_ns < ?1)",
                            kOldOrphanRestores));
      // Jobs that would be left with no checkpoint once those rows are gone.
      result.jobs = count(
          "SELECT count(*) FROM jobs WHERE last_seen_ns < ?1 AND NOT EXISTS (SELECT 1 FROM "
          "checkpoints WHERE checkpoints.job_id = jobs.job_id AND NOT (state = 'DELETED' AND "
          "state_changed_ns < ?1))");
      *out = result;
      return;
    }
    impl_->RequireWritable("forget deleted checkpoints");
    auto run = [&](const std::string& sql) {
      auto stmt = db.Prepare(sql);
      stmt.Bind(1, before_ns);
      stmt.Step();
      return static_cast<std::uint64_t>(db.Changes());
    };
    WriteTx(db, [&] {
      result = {};
      for (;;) {
        result.restores += run(fmt::format(
            "DELETE FROM restores WHERE checkpoint_id IN (SELECT id FROM checkpoints WHERE {})",
            kForgettable));
        std::uint64_t gone = run(fmt::format("DELETE FROM checkpoints WHERE {}", kForgettable));
        if (gone == 0) {
          break;
        }
        result.checkpoints += gone;
      }
      result.restores += run(fmt::format("DELETE FROM restores WHERE {}", kOldOrphanRestores));
      result.jobs = run(fmt::format("DELETE FROM jobs WHERE {}", kOldEmptyJobs));
    });
    *out = result;
  });
}

}  // namespace kcr::catalog
