// The catalog on real SQLite files: opening, migration, damaged files, the
// state machine, latest-good lookups, restores, listing and many writers.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "catalog_test_util.h"
#include "kcr/catalog/catalog.h"

namespace kcr::catalog {
namespace {

using testing::kHourNs;
using testing::NowNs;
using testing::SlurmCheckpoint;
using testing::TempDir;
using testing::TestCatalog;
using testing::WriteFile;

// Raw SQL on a catalog file, for setting up what the library would refuse to.
void RawSql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

std::string RawQuery(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* s = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    const auto* t = sqlite3_column_text(s, 0);
    out = t ? reinterpret_cast<const char*>(t) : "";
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

OpenOptions ReadOnly() {
  OpenOptions o;
  o.read_only = true;
  return o;
}

// GCC warns about designated initializers that leave members out.
template <typename F>
ListFilter Where(F set) {
  ListFilter f;
  set(f);
  return f;
}

// The Status of a call that must fail.
Status ExpectError(const Status& st) {
  if (st.ok()) {
    ADD_FAILURE() << "the catalog call succeeded";
  }
  return st;
}

// The Status of an Open() that must fail.
Status OpenError(const std::filesystem::path& path, const OpenOptions& options = {}) {
  std::unique_ptr<Catalog> catalog;
  return ExpectError(Catalog::Open(path, options, &catalog));
}

// A committed checkpoint with a real image file of `bytes` bytes.
std::int64_t Committed(TestCatalog& cat, const TempDir& dir, const std::string& name,
                       std::uint32_t job = 7, std::uint32_t task = 0, std::uint64_t bytes = 100,
                       std::optional<std::int64_t> created = std::nullopt,
                       std::optional<std::int64_t> parent = std::nullopt) {
  auto path = dir / name;
  WriteFile(path, bytes);
  auto info = SlurmCheckpoint(job, 0, task, path.string());
  info.created_ns = created;
  info.parent_id = parent;
  auto id = cat.BeginCheckpoint(info);
  cat.CommitCheckpoint(id, {bytes, 0xfeedULL, 1000, 2000});
  return id;
}

// ---- opening ----

TEST(CatalogOpen, CreatesWalCatalogAtCurrentSchema) {
  TempDir dir;
  auto path = dir / "sub" / "catalog.db";
  {
    auto cat = TestCatalog::Open(path);
    EXPECT_EQ(cat.SchemaVersion(), kSchemaVersion);
  }
  // Kept after the last close, so that read-only users can open it.
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-wal"));
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-shm"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, ::geteuid() == 0 ? 0644u : 0600u);
  EXPECT_EQ(RawQuery(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery(path, "PRAGMA application_id"), std::to_string(0x4b435243));
}

TEST(CatalogOpen, CommittedRowSurvivesReopen) {
  TempDir dir;
  std::int64_t id = 0;
  {
    auto cat = TestCatalog::Open(dir / "c.db");
    id = Committed(cat, dir, "a.img");
  }
  auto cat = TestCatalog::Open(dir / "c.db", ReadOnly());
  auto row = cat.Get(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, State::kCommitted);
  EXPECT_EQ(row->bytes, 100u);
  EXPECT_EQ(row->checksum, 0xfeedULL);
  EXPECT_EQ(row->info.kcr_version, KcrVersion());
}

TEST(CatalogOpen, NonSqliteFileNamesTheCauseAndTheFix) {
  TempDir dir;
  auto path = dir / "catalog.db";
  std::ofstream(path) << "this is a text file that someone put where the catalog goes\n"
                      << std::string(8192, 'x');
  for (bool ro : {false, true}) {
    auto e = OpenError(path, ro ? ReadOnly() : OpenOptions{});
    EXPECT_EQ(e.code(), -EMEDIUMTYPE);
    EXPECT_NE(e.message().find(path.string()), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("not an SQLite database"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("kcr catalog rebuild"), std::string::npos) << e.message();
  }
}

TEST(CatalogOpen, DamagedPagesGiveACorruptionError) {
  TempDir dir;
  auto path = dir / "catalog.db";
  {
    auto cat = TestCatalog::Open(path);
    for (int i = 0; i < 300; ++i) {
      Committed(cat, dir, "img" + std::to_string(i), 7, static_cast<std::uint32_t>(i));
    }
  }
  RawSql(path, "PRAGMA wal_checkpoint(TRUNCATE)");  // everything in the main file
  {
    // Scribble over every page but the first (which holds the header).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    auto size = std::filesystem::file_size(path);
    std::string junk(4096, '\xa5');
    for (std::uint64_t off = 4096; off + 4096 <= size; off += 4096) {
      f.seekp(static_cast<std::streamoff>(off));
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  std::unique_ptr<Catalog> cat;
  std::vector<CheckpointRow> rows;
  Status e = Catalog::Open(path, ReadOnly(), &cat);
  if (e.ok()) {
    e = cat->List({}, &rows);
  }
  (void)ExpectError(e);
  EXPECT_EQ(e.code(), -EBADMSG) << e.message();
  EXPECT_NE(e.message().find("is damaged"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("rebuild"), std::string::npos) << e.message();
}

TEST(CatalogOpen, RefusesAnotherProgramsDatabase) {
  TempDir dir;
  auto path = dir / "other.db";
  RawSql(path, "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)");
  auto e = OpenError(path);
  EXPECT_EQ(e.code(), -EMEDIUMTYPE);
  EXPECT_NE(e.message().find("not a kcr catalog"), std::string::npos) << e.message();
  // Untouched: no kcr tables were added to it.
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM sqlite_master WHERE name = 'checkpoints'"), "0");
}

TEST(CatalogOpen, RefusesANewerSchema) {
  TempDir dir;
  auto path = dir / "c.db";
  TestCatalog::Open(path);
  RawSql(path, "PRAGMA user_version = 99");
  auto e = OpenError(path);
  EXPECT_EQ(e.code(), -EPROTONOSUPPORT);
  EXPECT_NE(e.message().find("upgrade kcr"), std::string::npos) << e.message();
}

TEST(CatalogOpen, ReadOnlyNeedsAnExistingFileAndRefusesWrites) {
  TempDir dir;
  auto missing = OpenError(dir / "none.db", ReadOnly());
  EXPECT_EQ(missing.code(), -ENOENT);
  EXPECT_NE(missing.message().find("catalog_path"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "none.db"));

  TestCatalog::Open(dir / "c.db");
  auto cat = TestCatalog::Open(dir / "c.db", ReadOnly());
  std::int64_t id = 0;
  auto e = ExpectError(cat->BeginCheckpoint(SlurmCheckpoint(1, 0, 0, "/x.img"), &id));
  EXPECT_EQ(e.code(), -EACCES);
}

TEST(CatalogOpen, RelativeImagePathsAreRefused) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  std::int64_t id = 0;
  auto e = ExpectError(cat->BeginCheckpoint(SlurmCheckpoint(1, 0, 0, "rel/x.img"), &id));
  EXPECT_EQ(e.code(), -EINVAL);
  EXPECT_NE(e.message().find("absolute"), std::string::npos);
}

// The documented permission model: root writes, a user reads through a
// read-only connection to root's 0644 file in a directory they cannot write.
TEST(CatalogOpen, UserReadsRootsCatalogReadOnly) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to create root's catalog and switch to another user";
  }
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  auto path = dir / "catalog.db";
  {
    auto cat = TestCatalog::Open(path);
    Committed(cat, dir, "a.img");
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(10);
    }
    try {
      auto cat = TestCatalog::Open(path, ReadOnly());
      if (cat.List({}).size() != 1) {
        ::_exit(11);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "read-only open failed: %s\n", e.what());
      ::_exit(12);
    }
    std::unique_ptr<Catalog> writable;
    Status st = Catalog::Open(path, {}, &writable);
    if (st.ok()) {
      ::_exit(13);  // writing must not work
    }
    ::_exit(st.code() == -EACCES ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  // Another SQLite program closing the file last removes -wal and -shm;
  // the user is then told how to get them back, and root's next open does.
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(10);
    }
    std::unique_ptr<Catalog> cat;
    Status st = Catalog::Open(path, ReadOnly(), &cat);
    if (st.ok()) {
      ::_exit(11);
    }
    bool clear = st.message().find("-wal and -shm") != std::string::npos;
    ::_exit(st.code() == -EACCES && clear ? 0 : 12);
  }
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  TestCatalog::Open(path);
  EXPECT_TRUE(std::filesystem::exists(path.string() + "-shm"));
}

// ---- migration ----

// Version 1 exactly as the first kcr catalog created it.
constexpr const char* kVersion1Schema = R"sql(
CREATE TABLE jobs (job_id INTEGER PRIMARY KEY, array_job_id INTEGER, array_task_id INTEGER,
  uid INTEGER NOT NULL, user TEXT NOT NULL, partition TEXT NOT NULL DEFAULT '',
  restart_count INTEGER NOT NULL DEFAULT 0, first_seen_ns INTEGER NOT NULL,
  last_seen_ns INTEGER NOT NULL);
CREATE TABLE checkpoints (id INTEGER PRIMARY KEY, job_id INTEGER REFERENCES jobs(job_id),
  step_id INTEGER NOT NULL, task INTEGER NOT NULL, node TEXT NOT NULL, pid INTEGER NOT NULL,
  uid INTEGER NOT NULL, user TEXT NOT NULL, image_path TEXT NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0, checksum INTEGER NOT NULL DEFAULT 0,
  trigger TEXT NOT NULL CHECK (trigger IN
    ('periodic', 'preempt', 'timelimit', 'manual', 'requeue-test', 'unknown')),
  parent_id INTEGER REFERENCES checkpoints(id), created_ns INTEGER NOT NULL,
  committed_ns INTEGER, freeze_ns INTEGER NOT NULL DEFAULT 0,
  write_ns INTEGER NOT NULL DEFAULT 0, kcr_version TEXT NOT NULL,
  kernel_release TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN
    ('WRITING', 'COMMITTED', 'VERIFIED', 'FAILED', 'CORRUPT', 'EXPIRED', 'DELETED')));
CREATE INDEX checkpoints_by_job ON checkpoints(job_id, step_id, task);
CREATE TABLE restores (id INTEGER PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id), started_ns INTEGER NOT NULL,
  outcome TEXT NOT NULL, error_text TEXT NOT NULL DEFAULT '');
PRAGMA application_id = 1262703171;
PRAGMA user_version = 1;
)sql";

TEST(CatalogMigration, Version1CatalogIsMigratedWithItsRows) {
  TempDir dir;
  auto path = dir / "old.db";
  auto image = dir / "old.img";
  WriteFile(image, 4096);
  RawSql(path, kVersion1Schema);
  RawSql(path,
         fmt::format("INSERT INTO jobs VALUES (55, NULL, NULL, 1000, 'alice', 'long', 2, 1, 2);"
                     "INSERT INTO checkpoints (id, job_id, step_id, task, node, pid, uid, user, "
                     "image_path, bytes, checksum, trigger, created_ns, committed_ns, kcr_version, "
                     "kernel_release, state) VALUES (1, 55, 0, 0, 'n1', 9, 1000, 'alice', '{}', "
                     "4096, 77, 'periodic', 100, 200, '0.0.1', '6.1.0', 'VERIFIED');"
                     "INSERT INTO restores VALUES (1, 1, 300, 'succeeded', '');",
                     image.string()));

  {
    // A user cannot migrate: read-only says so instead of failing later.
    auto e = OpenError(path, ReadOnly());
    EXPECT_EQ(e.code(), -EROFS);
    EXPECT_NE(e.message().find("as root"), std::string::npos) << e.message();
  }

  auto cat = TestCatalog::Open(path);
  EXPECT_EQ(cat.SchemaVersion(), kSchemaVersion);
  auto row = cat.Get(1);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, State::kVerified);
  EXPECT_EQ(row->info.job_id, 55u);
  EXPECT_EQ(row->info.partition, "long");
  EXPECT_EQ(row->info.restart_count, 2u);
  EXPECT_EQ(row->state_reason, "");
  EXPECT_EQ(row->state_changed_ns, 200);
  EXPECT_EQ(row->verified_ns, 200);
  auto restores = cat.RestoresOf(1);
  ASSERT_EQ(restores.size(), 1u);
  EXPECT_EQ(restores[0].outcome, RestoreOutcome::kSucceeded);
  EXPECT_EQ(restores[0].image_path, image.string());  // filled in from the checkpoint
  EXPECT_EQ(restores[0].finished_ns, 300);
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM sqlite_master WHERE name = 'checkpoints_by_uid'"),
            "1");

  // The migrated catalog works like a new one.
  auto good = cat.LatestGood(55, 0, 0);
  ASSERT_EQ(good.size(), 1u);
  EXPECT_EQ(good[0].id, 1);
  auto id = cat.RecordRestore(std::nullopt, "/not/catalogued.img", RestoreOutcome::kStarted, "",
                              "n2", 1000);
  EXPECT_GT(id, 1);
  cat.MarkCorrupt(1, "test");
  EXPECT_EQ(cat.Get(1)->state, State::kCorrupt);
}

// ---- the state machine ----

// Every legal move, written out independently of CanMove().
const std::set<std::pair<State, State>> kLegal = {
    {State::kWriting, State::kCommitted},  {State::kWriting, State::kFailed},
    {State::kCommitted, State::kVerified}, {State::kCommitted, State::kCorrupt},
    {State::kCommitted, State::kExpired},  {State::kCommitted, State::kDeleted},
    {State::kVerified, State::kCorrupt},   {State::kVerified, State::kExpired},
    {State::kVerified, State::kDeleted},   {State::kFailed, State::kDeleted},
    {State::kCorrupt, State::kDeleted},    {State::kExpired, State::kDeleted},
};

TEST(CatalogState, CanMoveMatchesTheDocumentedTable) {
  for (State from : kAllStates) {
    for (State to : kAllStates) {
      EXPECT_EQ(CanMove(from, to), kLegal.contains({from, to}))
          << ToString(from) << " -> " << ToString(to);
    }
  }
}

// Brings a new row to `state` along legal moves.
std::int64_t RowIn(TestCatalog& cat, const TempDir& dir, State state) {
  static int n = 0;
  auto path = dir / fmt::format("s{}.img", n++);
  WriteFile(path, 10);
  auto id = cat.BeginCheckpoint(SlurmCheckpoint(3, 0, 0, path.string()));
  if (state == State::kWriting) {
    return id;
  }
  if (state == State::kFailed) {
    cat.FailCheckpoint(id, "test");
    return id;
  }
  cat.CommitCheckpoint(id, {10, 1, 0, 0});
  switch (state) {
    case State::kVerified:
      cat.MarkVerified(id);
      break;
    case State::kCorrupt:
    case State::kExpired:
    case State::kDeleted:
      cat.Move(id, state, "test");
      break;
    default:
      break;
  }
  return id;
}

TEST(CatalogState, EveryMoveIsMadeOrRefusedOnARealCatalog) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  for (State from : kAllStates) {
    for (State to : kAllStates) {
      auto id = RowIn(cat, dir, from);
      ASSERT_EQ(cat.Get(id)->state, from);
      auto attempt = [&] {
        if (to == State::kCommitted) {
          return cat->CommitCheckpoint(id, {10, 1, 0, 0});
        } else if (to == State::kVerified) {
          return cat->MarkVerified(id);
        } else {
          return cat->Move(id, to, "test");
        }
      };
      // Re-verifying a VERIFIED row is a refresh, not a move.
      bool legal =
          kLegal.contains({from, to}) || (from == State::kVerified && to == State::kVerified);
      if (legal) {
        Status st = attempt();
        EXPECT_TRUE(st.ok()) << ToString(from) << " -> " << ToString(to) << ": " << st.message();
        EXPECT_EQ(cat.Get(id)->state, to);
      } else {
        auto e = ExpectError(attempt());
        EXPECT_EQ(e.code(), -EPERM) << ToString(from) << " -> " << ToString(to);
        EXPECT_NE(e.message().find(std::string(ToString(from))), std::string::npos);
        EXPECT_EQ(cat.Get(id)->state, from) << "a refused move must change nothing";
      }
    }
  }
}

TEST(CatalogState, OnlyAWritingRowCanBeAbandoned) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  for (State from : kAllStates) {
    auto id = RowIn(cat, dir, from);
    if (from == State::kWriting) {
      cat.AbandonCheckpoint(id);
      EXPECT_FALSE(cat.Get(id).has_value()) << "an abandoned attempt leaves no row";
    } else {
      auto e = ExpectError(cat->AbandonCheckpoint(id));
      EXPECT_EQ(e.code(), -EPERM) << ToString(from);
      EXPECT_EQ(cat.Get(id)->state, from) << "a refused abandon must change nothing";
    }
  }
}

TEST(CatalogState, MovesRecordTheirReasonAndTime) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto id = RowIn(cat, dir, State::kCommitted);
  auto before = cat.Get(id)->state_changed_ns;
  cat.MarkCorrupt(id, "page chunk 3: checksum mismatch");
  auto row = cat.Get(id);
  EXPECT_EQ(row->state_reason, "page chunk 3: checksum mismatch");
  EXPECT_GE(row->state_changed_ns, before);
}

TEST(CatalogState, UnknownCheckpointIsNotFound) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  EXPECT_EQ(ExpectError(cat->MarkVerified(99)).code(), -ENOENT);
  EXPECT_FALSE(cat.Get(99));
  auto info = SlurmCheckpoint(1, 0, 0, "/a.img");
  info.parent_id = 1234;
  std::int64_t id = 0;
  EXPECT_EQ(ExpectError(cat->BeginCheckpoint(info, &id)).code(), -ENOENT);
}

TEST(CatalogState, CommittingOverAnImagePathRetiresTheOlderRow) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto first = Committed(cat, dir, "same.img");
  auto second = Committed(cat, dir, "same.img");
  EXPECT_EQ(cat.Get(first)->state, State::kDeleted);
  EXPECT_NE(cat.Get(first)->state_reason.find(std::to_string(second)), std::string::npos);
  EXPECT_EQ(cat.Get(second)->state, State::kCommitted);
}

// ---- latest good ----

TEST(CatalogLatest, NewestFirstThenFallbacksInOrder) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto t = NowNs();
  auto a = Committed(cat, dir, "a", 7, 0, 100, t - 3 * kHourNs);
  auto b = Committed(cat, dir, "b", 7, 0, 100, t - 2 * kHourNs);
  auto c = Committed(cat, dir, "c", 7, 0, 100, t - 1 * kHourNs);
  cat.MarkVerified(a);
  auto good = cat.LatestGood(7, 0, 0);
  ASSERT_EQ(good.size(), 3u);
  EXPECT_EQ(good[0].id, c);
  EXPECT_EQ(good[1].id, b);
  EXPECT_EQ(good[2].id, a);
  EXPECT_EQ(cat.LatestGood(7, 0, 0, 1).size(), 1u);
}

TEST(CatalogLatest, NeverReturnsWritingFailedCorruptMissingOrTruncatedImages) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto t = NowNs();
  auto good = Committed(cat, dir, "good", 7, 0, 100, t - 10 * kHourNs);
  // Newer rows, each unusable in its own way.
  auto writing_path = dir / "writing";
  WriteFile(writing_path, 100);
  auto w = SlurmCheckpoint(7, 0, 0, writing_path.string());
  w.created_ns = t - kHourNs;
  cat.BeginCheckpoint(w);
  cat.FailCheckpoint(Committed(cat, dir, "x", 7, 0, 100, t - 9 * kHourNs) * 0 +
                         cat.BeginCheckpoint(SlurmCheckpoint(7, 0, 0, (dir / "f").string())),
                     "disk full");
  cat.MarkCorrupt(Committed(cat, dir, "corrupt", 7, 0, 100, t - 2 * kHourNs), "bad chunk");
  auto missing = Committed(cat, dir, "missing", 7, 0, 100, t - 3 * kHourNs);
  std::filesystem::remove(dir / "missing");
  auto truncated = Committed(cat, dir, "truncated", 7, 0, 100, t - 4 * kHourNs);
  std::filesystem::resize_file(dir / "truncated", 50);
  cat.Move(Committed(cat, dir, "expired", 7, 0, 100, t - 5 * kHourNs), State::kExpired, "old");
  (void)missing;
  (void)truncated;

  auto found = cat.LatestGood(7, 0, 0);
  // "x" (committed, whole, 9h old) and "good" (10h old) are all that is usable.
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].info.image_path, (dir / "x").string());
  EXPECT_EQ(found[1].id, good);
}

// The checkpoints of a step's tasks taken at one moment are a set: a task's
// image counts only while every member does, so that each task falls back
// to the same earlier, whole set.
TEST(CatalogLatest, ASetCountsOnlyWhenEveryMemberIsGood) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto t = NowNs();
  auto old0 = Committed(cat, dir, "old0", 7, 0, 100, t - 3 * kHourNs);
  auto old1 = Committed(cat, dir, "old1", 7, 1, 100, t - 3 * kHourNs);
  cat.GroupCheckpoints({old0, old1}, 2);
  // The newer set lost task 1's image; the newest one task 1's row.
  auto mid0 = Committed(cat, dir, "mid0", 7, 0, 100, t - 2 * kHourNs);
  auto mid1 = Committed(cat, dir, "mid1", 7, 1, 100, t - 2 * kHourNs);
  cat.GroupCheckpoints({mid0, mid1}, 2);
  std::filesystem::remove(dir / "mid1");
  auto new0 = Committed(cat, dir, "new0", 7, 0, 100, t - 1 * kHourNs);
  auto new1 = Committed(cat, dir, "new1", 7, 1, 100, t - 1 * kHourNs);
  cat.GroupCheckpoints({new0, new1}, 2);
  cat.MarkCorrupt(new1, "bad chunk");

  for (std::uint32_t task : {0u, 1u}) {
    auto found = cat.LatestGood(7, 0, task);
    ASSERT_EQ(found.size(), 1u) << "task " << task;
    EXPECT_EQ(found[0].id, task == 0 ? old0 : old1);
    EXPECT_EQ(found[0].set_key, std::optional<std::int64_t>(old0));
    EXPECT_EQ(found[0].set_size, 2u);
  }
  // A step of one task makes no set; a step of two whose other task's
  // checkpoint was not even tried makes a set that is never whole.
  auto alone = Committed(cat, dir, "alone", 7, 0, 100, t);
  cat.GroupCheckpoints({alone}, 1);
  EXPECT_FALSE(cat.Get(alone)->set_key.has_value());
  cat.GroupCheckpoints({alone}, 2);
  EXPECT_EQ(cat.Get(alone)->set_size, 2u);
  EXPECT_EQ(cat.LatestGood(7, 0, 0)[0].id, old0);
}

TEST(CatalogLatest, WritingRowLeftByACrashIsIgnored) {
  TempDir dir;
  auto path = dir / "c.db";
  std::int64_t good = 0;
  {
    auto cat = TestCatalog::Open(path);
    good = Committed(cat, dir, "old.img");
  }
  // A writer that dies between begin and commit, after its rename even.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto cat = TestCatalog::Open(path);
    WriteFile(dir / "new.img", 100);
    cat.BeginCheckpoint(SlurmCheckpoint(7, 0, 0, (dir / "new.img").string()));
    ::_exit(0);  // no commit, no destructors: as abrupt as a crash gets in a test
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  auto cat = TestCatalog::Open(path);
  auto found = cat.LatestGood(7, 0, 0);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, good);
  EXPECT_EQ(cat.List(Where([&](ListFilter& f) { f.states = {State::kWriting}; })).size(), 1u);
}

TEST(CatalogLatest, StepTaskAndManualSelectTheirOwnSeries) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  Committed(cat, dir, "t0", 7, 0);
  auto t1 = Committed(cat, dir, "t1", 7, 1);
  Committed(cat, dir, "other-job", 8, 1);
  WriteFile(dir / "manual.img", 100);
  auto m = SlurmCheckpoint(kManualJob, 0, 0, (dir / "manual.img").string());
  m.trigger = Trigger::kManual;
  auto mid = cat.BeginCheckpoint(m);
  cat.CommitCheckpoint(mid, {100, 1, 0, 0});

  auto task1 = cat.LatestGood(7, 0, 1);
  ASSERT_EQ(task1.size(), 1u);
  EXPECT_EQ(task1[0].id, t1);
  EXPECT_EQ(cat.LatestGood(7, std::nullopt, std::nullopt).size(), 2u);
  EXPECT_TRUE(cat.LatestGood(7, 1, std::nullopt).empty());
  auto manual = cat.LatestGood(kManualJob, std::nullopt, std::nullopt);
  ASSERT_EQ(manual.size(), 1u);
  EXPECT_EQ(manual[0].id, mid);
  EXPECT_EQ(manual[0].info.job_id, kManualJob);
  EXPECT_FALSE(cat.GetJob(kManualJob));  // manual checkpoints belong to no job row
  ASSERT_TRUE(cat.GetJob(7));
  EXPECT_EQ(cat.GetJob(7)->user, "alice");
}

// ---- restores, listing, stats ----

TEST(CatalogRestore, StartedRestoreFinishesOnce) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto ck = Committed(cat, dir, "a.img");
  auto r =
      cat.RecordRestore(ck, (dir / "a.img").string(), RestoreOutcome::kStarted, "", "n1", 1000);
  cat.FinishRestore(r, RestoreOutcome::kFailed, "ABI mismatch: image from kernel 6.2");
  auto rows = cat.RestoresOf(ck);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].outcome, RestoreOutcome::kFailed);
  EXPECT_EQ(rows[0].error_text, "ABI mismatch: image from kernel 6.2");
  EXPECT_TRUE(rows[0].finished_ns);
  EXPECT_EQ(ExpectError(cat->FinishRestore(r, RestoreOutcome::kSucceeded, "")).code(), -EPERM);
  std::int64_t id = 0;
  EXPECT_EQ(
      ExpectError(cat->RecordRestore(999, "/x", RestoreOutcome::kStarted, "", "n", 0, &id)).code(),
      -ENOENT);
}

// ---- history (retention.keep_history) ----

void Retire(TestCatalog& cat, std::int64_t id) {
  cat.Move(id, State::kExpired, "test");
  cat.Move(id, State::kDeleted, "test");
}

TEST(CatalogHistory, ForgetsOldDeletedRowsWithTheirRestoresAndEmptyJobs) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto parent = Committed(cat, dir, "p.img", 7);
  auto child = Committed(cat, dir, "c.img", 7, 0, 100, std::nullopt, parent);
  auto gone = Committed(cat, dir, "g.img", 8);
  auto live = Committed(cat, dir, "l.img", 9);
  cat.RecordRestore(gone, (dir / "g.img").string(), RestoreOutcome::kSucceeded, "", "n1", 1000);
  cat.RecordRestore(live, (dir / "l.img").string(), RestoreOutcome::kSucceeded, "", "n1", 1000);
  for (auto id : {parent, child, gone}) {
    Retire(cat, id);
  }

  // Deleted just now: younger than any cutoff in the past.
  auto none = cat.ForgetDeleted(NowNs() - kHourNs);
  EXPECT_EQ(none.checkpoints + none.restores + none.jobs, 0u);
  auto dry = cat.ForgetDeleted(NowNs() + kHourNs, true);
  EXPECT_EQ(dry.checkpoints, 3u);
  EXPECT_EQ(dry.restores, 1u);
  EXPECT_EQ(dry.jobs, 2u);
  EXPECT_TRUE(cat.Get(gone));  // a dry run changes nothing

  auto f = cat.ForgetDeleted(NowNs() + kHourNs);
  EXPECT_EQ(f.checkpoints, 3u);  // the child first, then the parent it named
  EXPECT_EQ(f.restores, 1u);
  EXPECT_EQ(f.jobs, 2u);  // jobs 7 and 8 have nothing left
  EXPECT_FALSE(cat.Get(parent));
  EXPECT_FALSE(cat.Get(child));
  EXPECT_FALSE(cat.Get(gone));
  ASSERT_TRUE(cat.Get(live));
  EXPECT_EQ(cat.Get(live)->state, State::kCommitted);
  EXPECT_EQ(cat.RestoresOf(live).size(), 1u);
  EXPECT_TRUE(cat.GetJob(9));
  EXPECT_FALSE(cat.GetJob(8));
}

TEST(CatalogHistory, KeepsADeletedParentOfALiveCheckpoint) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto parent = Committed(cat, dir, "p.img", 7);
  Committed(cat, dir, "c.img", 7, 0, 100, std::nullopt, parent);  // live, names the parent
  Retire(cat, parent);
  auto f = cat.ForgetDeleted(NowNs() + kHourNs);
  EXPECT_EQ(f.checkpoints, 0u);
  EXPECT_TRUE(cat.Get(parent));
  EXPECT_TRUE(cat.GetJob(7));
}

TEST(CatalogList, FiltersCombine) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  auto t = NowNs();
  Committed(cat, dir, "a", 1, 0, 100, t - 5 * kHourNs);
  auto b = Committed(cat, dir, "b", 1, 1, 100, t - kHourNs);
  auto other = SlurmCheckpoint(2, 0, 0, (dir / "c").string());
  other.uid = 2000;
  other.user = "bob";
  cat.FailCheckpoint(cat.BeginCheckpoint(other), "no space");

  EXPECT_EQ(cat.List({}).size(), 3u);
  EXPECT_EQ(cat.List(Where([](ListFilter& f) { f.job = 1; })).size(), 2u);
  EXPECT_EQ(cat.List(Where([](ListFilter& f) {
                 f.job = 1;
                 f.task = 1;
               }))
                .size(),
            1u);
  EXPECT_EQ(cat.List(Where([&](ListFilter& f) { f.uid = 2000; })).size(), 1u);
  EXPECT_EQ(cat.List(Where([&](ListFilter& f) { f.states = {State::kFailed}; })).size(), 1u);
  EXPECT_EQ(cat.List(Where([&](ListFilter& f) {
                 f.states = {State::kFailed, State::kCommitted};
               }))
                .size(),
            3u);
  EXPECT_EQ(cat.List(Where([&](ListFilter& f) { f.since_ns = t - 2 * kHourNs; })).size(), 2u);
  auto newest = cat.List(Where([](ListFilter& f) { f.limit = 2; }));
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].id, b);  // the newest two, oldest of them first
  EXPECT_EQ(cat.List(Where([&](ListFilter& f) { f.job = kManualJob; })).size(), 0u);
  EXPECT_TRUE(cat.FindByImage((dir / "b").string()));
  EXPECT_FALSE(cat.FindByImage((dir / "c").string()));  // FAILED is not live
}

TEST(CatalogStats, CountsRatesAndWriteSpeedPerUserAndJob) {
  TempDir dir;
  auto cat = TestCatalog::Open(dir / "c.db");
  const std::uint64_t gib = 1ULL << 30;
  for (int i = 0; i < 3; ++i) {
    auto id = cat.BeginCheckpoint(SlurmCheckpoint(1, 0, 0, (dir / std::to_string(i)).string()));
    cat.CommitCheckpoint(id, {gib, 1, 0, 2'000'000'000});  // 2 s per GiB
  }
  cat.FailCheckpoint(cat.BeginCheckpoint(SlurmCheckpoint(1, 0, 0, (dir / "f").string())), "x");
  cat.RecordRestore(1, "", RestoreOutcome::kStarted, "", "n", 1000);
  auto s = cat.GetStats();
  ASSERT_EQ(s.per_user.size(), 1u);
  const auto& u = s.per_user[0];
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.checkpoints, 4u);
  EXPECT_EQ(u.live, 3u);
  EXPECT_EQ(u.live_bytes, 3 * gib);
  EXPECT_DOUBLE_EQ(*u.SuccessRate(), 0.75);
  EXPECT_DOUBLE_EQ(*u.SecondsPerGib(), 2.0);
  EXPECT_EQ(u.restores, 1u);
  ASSERT_EQ(s.per_job.size(), 1u);
  EXPECT_EQ(s.per_job[0].job_id, 1u);
  EXPECT_TRUE(cat.GetStats(4242).per_user.empty());
}

// ---- many writers ----

// 64 processes open one catalog (new: they race to create it too) and each
// records 8 checkpoints; no row may be lost and no writer may see "locked".
TEST(CatalogConcurrency, SixtyFourWriterProcessesLoseNothing) {
  TempDir dir;
  auto path = dir / "shared.db";
  constexpr int kWriters = 64;
  constexpr int kEach = 8;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        auto cat = TestCatalog::Open(path);
        for (int i = 0; i < kEach; ++i) {
          auto info =
              SlurmCheckpoint(static_cast<std::uint32_t>(1000 + w), 0,
                              static_cast<std::uint32_t>(i), fmt::format("/img/{}/{}", w, i));
          auto id = cat.BeginCheckpoint(info);
          cat.CommitCheckpoint(id, {static_cast<std::uint64_t>(w * 100 + i), 1, 0, 0});
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        rc = 1;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  int failures = 0;
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(failures, 0) << "writers failed; their errors are on stderr above";

  auto cat = TestCatalog::Open(path, ReadOnly());
  auto rows = cat.List({});
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(kWriters * kEach));
  std::set<std::string> paths;
  for (const auto& r : rows) {
    EXPECT_EQ(r.state, State::kCommitted);
    paths.insert(r.info.image_path);
  }
  EXPECT_EQ(paths.size(), rows.size());
}

}  // namespace
}  // namespace kcr::catalog
