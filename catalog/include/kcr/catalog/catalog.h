// Catalog: the SQLite record of every checkpoint kcr takes (docs/catalog.md).
//
// Recording a checkpoint (what `kcr checkpoint` and the Slurm plugin do):
//
//   std::unique_ptr<Catalog> cat;
//   KCR_RETURN_IF_ERROR(Catalog::Open(path, {}, &cat));   // creates or migrates
//   std::int64_t id;
//   KCR_RETURN_IF_ERROR(cat->BeginCheckpoint(info, &id));  // row in WRITING
//   ... write the image to a temporary name, fsync, rename to info.image_path ...
//   cat->CommitCheckpoint(id, {bytes, checksum, freeze_ns, write_ns});  // COMMITTED
//   //   or on any failure: cat->FailCheckpoint(id, "why");             // FAILED
//   cat->MarkVerified(id);                         // after re-reading the image
//
// Commit only after the rename: then a crash leaves no row, a WRITING row
// (ignored by readers, cleaned by prune), or a COMMITTED row with a whole
// image. Restarting: LatestGood() gives the newest usable image first and
// the older fallbacks after it; RecordRestore() notes what was used.
//
// Every call returns a kcr::Status: ok, or an error whose message names the
// file, the cause and the fix; nothing throws. Its code (a negative errno)
// tells the kinds of trouble apart, so a caller can react to one:
//   -ENOENT           no such checkpoint, restore or catalog file
//   -EPERM            a state change the state machine refuses
//   -EINVAL           a bad argument (empty path, relative image path, ...)
//   -EBUSY            another process held the write lock past the busy timeout
//   -EACCES           the file or its directory cannot be opened as asked,
//                     or a write on a catalog opened read-only
//   -EMEDIUMTYPE      not an SQLite file, or an SQLite file of something else
//   -EBADMSG          SQLite reports the file damaged, or a row this kcr cannot read
//   -EPROTONOSUPPORT  written by a newer kcr; this one must not touch it
//   -EROFS            needs a migration, but the catalog was opened read-only
//   -EIO              disk full, I/O error, anything else from SQLite
// Results come back through the last argument.
// A Catalog is one SQLite connection: use it from one thread at a time; any
// number of processes may share the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kcr/status.h>

#include "kcr/catalog/records.h"
#include "kcr/catalog/retention.h"
#include "kcr/catalog/state.h"

namespace kcr::catalog {

// The schema version this library writes; Open() migrates older files.
inline constexpr int kSchemaVersion = 4;

struct OpenOptions {
  // Read-only never creates, migrates or writes; it is what a user who does
  // not own the catalog gets.
  bool read_only = false;
  // How long a writer waits for another one before giving up with -EBUSY.
  std::chrono::milliseconds busy_timeout{30000};
};

struct ListFilter {
  std::optional<std::uint32_t> job;  // kManualJob selects manual checkpoints
  std::optional<std::uint32_t> step;
  std::optional<std::uint32_t> task;
  std::optional<std::uint32_t> uid;
  std::vector<State> states;             // empty: every state
  std::optional<std::int64_t> since_ns;  // created at or after
  std::size_t limit = 0;                 // newest `limit` rows; 0: all
};

// Counts for `kcr catalog stats`, one per user or per job.
struct UsageStats {
  std::uint32_t uid = 0;
  std::string user;
  std::optional<std::uint32_t> job_id;  // per-job rows only; kManualJob for manual
  std::uint64_t checkpoints = 0;        // every row
  std::uint64_t committed = 0;          // rows that reached COMMITTED (whatever came after)
  std::uint64_t failed = 0;             // rows that ended FAILED
  std::uint64_t live = 0;               // COMMITTED or VERIFIED now
  std::uint64_t live_bytes = 0;
  std::uint64_t written_bytes = 0;  // of committed rows with a write time
  std::uint64_t write_ns = 0;       // their write time
  std::uint64_t restores = 0;

  // committed / (committed + failed); nullopt before anything finished.
  std::optional<double> SuccessRate() const;
  // Seconds of kernel write time per GiB written; nullopt with no data.
  std::optional<double> SecondsPerGib() const;
};

struct Stats {
  std::vector<UsageStats> per_user;  // by user name
  std::vector<UsageStats> per_job;   // by job id, manual last
};

// What ApplyPrune() did, for reporting.
struct PruneResult {
  std::vector<PruneAction> done;
  std::vector<std::string> problems;  // e.g. an image that could not be unlinked
  std::uint64_t bytes_freed = 0;
};

// What ForgetDeleted() removed (or, in a dry run, would at most remove).
struct ForgetResult {
  std::uint64_t checkpoints = 0;
  std::uint64_t restores = 0;
  std::uint64_t jobs = 0;
};

// How many images LatestGood() returns at most unless asked otherwise: the
// latest good checkpoint and its fallbacks.
inline constexpr std::size_t kLatestGoodDefault = 8;

class Catalog {
 public:
  // Opens (and with read_only false, creates and migrates) the catalog at
  // `path`: WAL journal, synchronous=FULL, foreign keys on. A new file is
  // mode 0644 when created by root, 0600 otherwise.
  static Status Open(const std::filesystem::path& path, const OpenOptions& options,
                     std::unique_ptr<Catalog>* catalog);

  Catalog(Catalog&&) noexcept;
  Catalog& operator=(Catalog&&) noexcept;
  ~Catalog();

  const std::filesystem::path& path() const;
  bool read_only() const;
  Status SchemaVersion(int* version);

  // ---- recording ----
  Status BeginCheckpoint(const CheckpointInfo& info, std::int64_t* id);
  // WRITING -> COMMITTED. Older live rows naming the same image path move to
  // DELETED, since the rename replaced their file.
  Status CommitCheckpoint(std::int64_t id, const CommitInfo& commit);
  Status FailCheckpoint(std::int64_t id, std::string_view reason);  // WRITING -> FAILED
  // Removes a WRITING row whose attempt never wrote anything because its
  // process had already ended: not a failure, and no image to keep track of.
  Status AbandonCheckpoint(std::int64_t id);
  // COMMITTED -> VERIFIED; on a VERIFIED row it only refreshes verified_ns.
  Status MarkVerified(std::int64_t id);
  Status MarkCorrupt(std::int64_t id, std::string_view reason);  // COMMITTED/VERIFIED -> CORRUPT
  // Any move CanMove() allows; -EPERM otherwise.
  Status Move(std::int64_t id, State to, std::string_view reason);

  Status RecordRestore(std::optional<std::int64_t> checkpoint_id, std::string_view image_path,
                       RestoreOutcome outcome, std::string_view error_text, std::string_view node,
                       std::uint32_t uid, std::int64_t* restore_id);
  Status FinishRestore(std::int64_t restore_id, RestoreOutcome outcome,
                       std::string_view error_text);

  // Inserts a row straight into `state` (COMMITTED or CORRUPT): for
  // `kcr catalog rebuild`, which finds images whose rows were lost.
  Status InsertRebuilt(const CheckpointInfo& info, const CommitInfo& commit, State state,
                       std::string_view reason, std::int64_t* id);

  // ---- reading ----
  // *row is nullopt when there is no such checkpoint.
  Status Get(std::int64_t id, std::optional<CheckpointRow>* row);
  Status List(const ListFilter& filter, std::vector<CheckpointRow>* rows);
  // Newest live row (WRITING, COMMITTED, VERIFIED) naming `image_path`.
  Status FindByImage(std::string_view image_path, std::optional<CheckpointRow>* row);
  // Makes these checkpoints (of one step, taken at one moment) one set of
  // `size` members (the step's tasks; more than the ids when some task's
  // checkpoint was not even tried): each counts for a restore only while the
  // set has all its members and every one is good. A size below 2 is no set.
  Status GroupCheckpoints(const std::vector<std::int64_t>& ids, std::uint32_t size);
  // Usable images for a job (step, task: any when absent), newest first: only
  // COMMITTED/VERIFIED rows whose file exists with the recorded size, and of a
  // set only when every member is such a row. The first is the latest good
  // checkpoint, the rest its fallbacks in order.
  Status LatestGood(std::uint32_t job_id, std::optional<std::uint32_t> step,
                    std::optional<std::uint32_t> task, std::size_t max_results,
                    std::vector<CheckpointRow>* rows);
  Status RestoresOf(std::int64_t checkpoint_id, std::vector<RestoreRow>* restores);
  Status GetJob(std::uint32_t job_id, std::optional<JobRow>* job);
  // Everyone's, or only `uid`'s.
  Status GetStats(std::optional<std::uint32_t> uid, Stats* stats);

  // ---- retention ----
  // Every row not yet DELETED: the input of PlanRetention().
  Status RetentionCandidates(std::vector<CheckpointRow>* rows);
  // Carries out a plan in the safe order: rows leave the live states first
  // (EXPIRED, or FAILED for abandoned writes) in one transaction, then the
  // image files are unlinked, then the rows become DELETED. A crash in
  // between leaves EXPIRED/FAILED rows that the next prune finishes.
  Status ApplyPrune(const PrunePlan& plan, PruneResult* result);
  // History: removes the rows of checkpoints DELETED before `before_ns`
  // (retention.keep_history) with their restore records, restore records of
  // uncatalogued images as old, and jobs rows left with no checkpoint and
  // not seen since. A row some other row names as parent stays until that
  // one goes. With dry_run, only counts (an upper bound) and changes nothing.
  Status ForgetDeleted(std::int64_t before_ns, bool dry_run, ForgetResult* result);

  struct Impl;

 private:
  explicit Catalog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The kcr version compiled into this library, recorded in rows.
std::string_view KcrVersion();

}  // namespace kcr::catalog
