// Recording checkpoints and restores as they happen: the one sequence of
// catalog calls that `kcr checkpoint`, `kcr restart` and the Slurm agent all
// make (docs/catalog.md).
//
//   auto rec = CheckpointRecord::Begin(catalog, info, warn);   // WRITING
//   ... write the image, fsync, rename ...
//   ok ? rec.Committed({bytes, checksum, freeze_ns, write_ns})  // COMMITTED
//      : rec.Failed(reason);                                    // FAILED
//   ... after re-reading the image: rec.Verified() or rec.Corrupt(why)
//   ... or, when the process had already gone: rec.Abandon()    // no row
//
//   auto rst = RestoreRecord::Start(open, {checkpoint, image, node, uid}, warn);
//   ... rst.Succeeded() or rst.Failed(error, image_corrupt)
//
// Catalog trouble never fails a checkpoint or a restore: the first error
// Status is handed to the record's warning callback (its message), and the
// record does nothing more. So these calls return nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kcr/catalog/catalog.h"

namespace kcr::catalog {

// Told what was being recorded ("recording the committed checkpoint") and
// the error's message. Empty: failures are silently dropped.
using RecordWarning = std::function<void(std::string_view doing, std::string_view error)>;

// One checkpoint's row, WRITING until Committed(), Failed() or Abandon().
// A record destroyed while its row is still WRITING marks it FAILED, so an
// error path that forgets cannot leave a row for prune to time out.
class CheckpointRecord {
 public:
  CheckpointRecord() = default;  // records nothing
  CheckpointRecord(CheckpointRecord&& other) noexcept;
  CheckpointRecord& operator=(CheckpointRecord&& other) noexcept;
  CheckpointRecord(const CheckpointRecord&) = delete;
  CheckpointRecord& operator=(const CheckpointRecord&) = delete;
  ~CheckpointRecord();

  // Adds a WRITING row for `info` to `catalog`, which the caller may keep
  // using (the Slurm agent keeps one connection for the whole step). A null
  // catalog records nothing.
  static CheckpointRecord Begin(std::shared_ptr<Catalog> catalog, const CheckpointInfo& info,
                                RecordWarning warn);

  // Call after the image is complete, synced and renamed to its path.
  void Committed(const CommitInfo& commit);
  void Verified();
  void Corrupt(const std::string& reason);  // the image just written does not verify
  void Failed(const std::string& reason);
  // The attempt reached no live process (it had ended): no failure to keep,
  // so its WRITING row goes.
  void Abandon();

  bool active() const { return catalog_ != nullptr; }
  std::int64_t id() const { return id_; }  // 0 when nothing was recorded

 private:
  // Runs one catalog call (returning a Status); on an error warns once and
  // stops recording.
  template <typename Call>
  void Attempt(std::string_view doing, Call&& call);

  std::shared_ptr<Catalog> catalog_;
  RecordWarning warn_;
  std::int64_t id_ = 0;
  bool writing_ = false;
};

// Where a restore record finds the catalog each time it writes: the agent
// hands out its open connection; `kcr restart` opens the file anew, so the
// restored program inherits no descriptor of it. An error is warned about;
// ok with a null *catalog records nothing, silently.
using CatalogOpener = std::function<Status(std::shared_ptr<Catalog>* catalog)>;

struct RestoreStart {
  // The checkpoint restored; when absent, the newest live row naming the
  // image (none if the image is not catalogued).
  std::optional<std::int64_t> checkpoint_id;
  std::string image_path;
  std::string node;
  std::uint32_t uid = 0;
};

// One restore's record, "started" until Succeeded() or Failed().
class RestoreRecord {
 public:
  RestoreRecord() = default;  // records nothing

  static RestoreRecord Start(CatalogOpener open, const RestoreStart& what, RecordWarning warn);

  void Succeeded();
  // `image_corrupt`: the image failed its checksums, so its checkpoint row
  // (if still COMMITTED or VERIFIED) becomes CORRUPT and is not tried again.
  void Failed(const std::string& error, bool image_corrupt = false);

  bool active() const { return id_ != 0; }
  std::int64_t id() const { return id_; }  // 0 when nothing was recorded
  std::optional<std::int64_t> checkpoint_id() const { return checkpoint_id_; }

 private:
  void Finish(RestoreOutcome outcome, const std::string& error, bool image_corrupt);

  CatalogOpener open_;
  RecordWarning warn_;
  std::int64_t id_ = 0;
  std::optional<std::int64_t> checkpoint_id_;
};

}  // namespace kcr::catalog
