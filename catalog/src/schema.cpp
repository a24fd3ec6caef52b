#include "schema.h"

#include <fmt/format.h>

#include "kcr/catalog/catalog.h"

namespace kcr::catalog::schema {

namespace {

// Version 1: the first catalog. Kept verbatim: a catalog created by it is
// migrated step by step, and the unit tests build one from this text.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE jobs (
  job_id         INTEGER PRIMARY KEY,   -- Slurm job id; manual checkpoints have no row
  array_job_id   INTEGER,
  array_task_id  INTEGER,
  uid            INTEGER NOT NULL,
  user           TEXT NOT NULL,
  partition      TEXT NOT NULL DEFAULT '',
  restart_count  INTEGER NOT NULL DEFAULT 0,
  first_seen_ns  INTEGER NOT NULL,
  last_seen_ns   INTEGER NOT NULL
);
CREATE TABLE checkpoints (
  id             INTEGER PRIMARY KEY,
  job_id         INTEGER REFERENCES jobs(job_id),  -- NULL: manual, outside Slurm
  step_id        INTEGER NOT NULL,
  task           INTEGER NOT NULL,
  node           TEXT NOT NULL,
  pid            INTEGER NOT NULL,
  uid            INTEGER NOT NULL,
  user           TEXT NOT NULL,
  image_path     TEXT NOT NULL,
  bytes          INTEGER NOT NULL DEFAULT 0,
  checksum       INTEGER NOT NULL DEFAULT 0,
  trigger        TEXT NOT NULL CHECK (trigger IN
                   ('periodic', 'preempt', 'timelimit', 'manual', 'requeue-test', 'unknown')),
  parent_id      INTEGER REFERENCES checkpoints(id),
  created_ns     INTEGER NOT NULL,
  committed_ns   INTEGER,
  freeze_ns      INTEGER NOT NULL DEFAULT 0,
  write_ns       INTEGER NOT NULL DEFAULT 0,
  kcr_version    TEXT NOT NULL,
  kernel_release TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN
                   ('WRITING', 'COMMITTED', 'VERIFIED', 'FAILED', 'CORRUPT', 'EXPIRED', 'DELETED'))
);
CREATE INDEX checkpoints_by_job ON checkpoints(job_id, step_id, task);
CREATE TABLE restores (
  id             INTEGER PRIMARY KEY,
  checkpoint_id  INTEGER NOT NULL REFERENCES checkpoints(id),
  started_ns     INTEGER NOT NULL,
  outcome        TEXT NOT NULL,
  error_text     TEXT NOT NULL DEFAULT ''
);
)sql";

// Version 2: why a row changed state and when; verification time; restores
// of images the catalog does not know (checkpoint_id NULL, so the table is
// rebuilt: SQLite cannot drop a NOT NULL); indexes for list/latest/prune.
constexpr const char* kVersion2 = R"sql(
ALTER TABLE checkpoints ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE checkpoints ADD COLUMN verified_ns INTEGER;
ALTER TABLE checkpoints ADD COLUMN state_changed_ns INTEGER NOT NULL DEFAULT 0;
UPDATE checkpoints SET state_changed_ns = coalesce(committed_ns, created_ns);
UPDATE checkpoints SET verified_ns = state_changed_ns WHERE state = 'VERIFIED';

CREATE TABLE restores_v2 (
  id             INTEGER PRIMARY KEY,
  checkpoint_id  INTEGER REFERENCES checkpoints(id),  -- NULL: image not in the catalog
  image_path     TEXT NOT NULL DEFAULT '',
  node           TEXT NOT NULL DEFAULT '',
  uid            INTEGER NOT NULL DEFAULT 0,
  started_ns     INTEGER NOT NULL,
  finished_ns    INTEGER,
  outcome        TEXT NOT NULL CHECK (outcome IN ('started', 'succeeded', 'failed')),
  error_text     TEXT NOT NULL DEFAULT ''
);
INSERT INTO restores_v2 (id, checkpoint_id, image_path, uid, started_ns, finished_ns, outcome,
                         error_text)
  SELECT r.id, r.checkpoint_id, c.image_path, c.uid, r.started_ns,
         CASE WHEN r.outcome = 'started' THEN NULL ELSE r.started_ns END,
         CASE WHEN r.outcome IN ('started', 'succeeded', 'failed') THEN r.outcome ELSE 'failed' END,
         r.error_text
  FROM restores r LEFT JOIN checkpoints c ON c.id = r.checkpoint_id;
DROP TABLE restores;
ALTER TABLE restores_v2 RENAME TO restores;
CREATE INDEX restores_by_checkpoint ON restores(checkpoint_id);

DROP INDEX checkpoints_by_job;
CREATE INDEX checkpoints_by_job ON checkpoints(job_id, step_id, task, id);
CREATE INDEX checkpoints_by_uid ON checkpoints(uid, id);
CREATE INDEX checkpoints_by_image ON checkpoints(image_path);
CREATE INDEX checkpoints_by_created ON checkpoints(created_ns);
CREATE INDEX checkpoints_not_deleted ON checkpoints(state) WHERE state <> 'DELETED';
)sql";

// Version 3: parents are looked up by child (prune keeps a kept row's parent,
// history forgetting keeps a live row's): without an index each lookup, and
// SQLite's foreign-key check on every deleted row, scans the whole table.
constexpr const char* kVersion3 = R"sql(
CREATE INDEX checkpoints_by_parent ON checkpoints(parent_id);
)sql";

// Version 4: sets. The checkpoints of a step's tasks taken at one moment (one
// consistent cut) share set_key, the id of the set's first row; set_size is
// how many the set has. A set counts for a restore only when all are usable.
// NULL: a checkpoint of its own (one task, or a kcr before sets).
constexpr const char* kVersion4 = R"sql(
ALTER TABLE checkpoints ADD COLUMN set_key INTEGER;
ALTER TABLE checkpoints ADD COLUMN set_size INTEGER NOT NULL DEFAULT 1;
CREATE INDEX checkpoints_by_set ON checkpoints(set_key) WHERE set_key IS NOT NULL;
)sql";

constexpr const char* kMigrations[] = {kVersion1, kVersion2, kVersion3, kVersion4};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

std::int64_t PragmaInt(sql::Db& db, const char* pragma) {
  auto stmt = db.Prepare(fmt::format("PRAGMA {}", pragma));
  return stmt.Step() ? stmt.Int64(0) : 0;
}

bool HasTables(sql::Db& db) {
  auto stmt = db.Prepare("SELECT count(*) FROM sqlite_master");
  return stmt.Step() && stmt.Int64(0) > 0;
}

// Refuses files that are some other program's database, or a newer kcr's.
// Returns the file's schema version.
std::int64_t CheckIdentity(sql::Db& db) {
  std::int64_t app = PragmaInt(db, "application_id");
  std::int64_t version = PragmaInt(db, "user_version");
  bool ours = app == kApplicationId || (app == 0 && version == 0 && !HasTables(db));
  if (!ours) {
    Fail(EMEDIUMTYPE,
         "catalog {} is an SQLite database but not a kcr catalog "
         "(application_id {:#x}); set catalog_path in kcr.yaml to another file",
         db.path(), app);
  }
  if (version > kSchemaVersion) {
    Fail(EPROTONOSUPPORT,
         "catalog {} has schema version {}, newer than this kcr knows ({}): "
         "a newer kcr wrote it; upgrade kcr here rather than let an older one "
         "write to it",
         db.path(), version, kSchemaVersion);
  }
  return version;
}

}  // namespace

void Migrate(sql::Db& db) {
  // Cheap check first: most opens find the catalog current and take no lock.
  // Its pragma reads are separate snapshots, so a catalog another process is
  // creating this very moment can look foreign (tables, no id yet): only the
  // check under the write lock below may refuse a file.
  try {
    if (CheckIdentity(db) == kSchemaVersion) {
      return;
    }
  } catch (const Failure& f) {
    if (f.status().code() != -EMEDIUMTYPE) {
      throw;
    }
  }
  sql::WriteTransaction tx(db);
  std::int64_t version = CheckIdentity(db);  // again, now that we hold the lock
  for (auto v = version; v < kSchemaVersion; ++v) {
    db.Exec(kMigrations[v], fmt::format("migrating the schema from version {} to {}", v, v + 1));
  }
  db.Exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {}", kApplicationId,
                      kSchemaVersion)
              .c_str(),
          "recording the schema version");
  tx.Commit();
}

void CheckReadable(sql::Db& db) {
  std::int64_t version = CheckIdentity(db);
  if (version == 0) {
    Fail(ENOENT, "catalog {} is empty: nothing has been recorded in it yet", db.path());
  }
  if (version < kSchemaVersion) {
    Fail(EROFS,
         "catalog {} has schema version {} and needs migrating to {}, which "
         "takes write access: run any `kcr catalog` command on it once as "
         "root (its owner)",
         db.path(), version, kSchemaVersion);
  }
}

}  // namespace kcr::catalog::schema
