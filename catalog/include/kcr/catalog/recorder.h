// Recording checkpoints and restores as they happen: the one sequence of
// catalog calls that `kcr checkpoint`, `kcr restart` and the Slurm agent all
// make (docs/catalog.md).
//
//   auto rec = CheckpointRecord::begin(catalog, info, warn);   // WRITING
//   ... write the image, fsync, rename ...
//   ok ? rec.committed({bytes, checksum, freeze_ns, write_ns})  // COMMITTED
//      : rec.failed(reason);                                    // FAILED
//   ... after re-reading the image: rec.verified() or rec.corrupt(why)
//   ... or, when the process had already gone: rec.abandon()    // no row
//
//   auto rst = RestoreRecord::start(open, {checkpoint, image, node, uid}, warn);
//   ... rst.succeeded() or rst.failed(error, image_corrupt)
//
// Catalog trouble never fails a checkpoint or a restore: the first error is
// handed to the record's warning callback, and the record does nothing more.
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
// the error. Empty: failures are silently dropped.
using RecordWarning = std::function<void(std::string_view doing, std::string_view error)>;

// One checkpoint's row, WRITING until committed(), failed() or abandon().
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
  static CheckpointRecord begin(std::shared_ptr<Catalog> catalog, const CheckpointInfo& info,
                                RecordWarning warn);

  // Call after the image is complete, synced and renamed to its path.
  void committed(const CommitInfo& commit);
  void verified();
  void corrupt(const std::string& reason);  // the image just written does not verify
  void failed(const std::string& reason);
  // The attempt reached no live process (it had ended): no failure to keep,
  // so its WRITING row goes.
  void abandon();

  bool active() const { return catalog_ != nullptr; }
  std::int64_t id() const { return id_; }  // 0 when nothing was recorded

 private:
  // Runs one catalog call; on an error warns once and stops recording.
  template <typename Call>
  void attempt(std::string_view doing, Call&& call);

  std::shared_ptr<Catalog> catalog_;
  RecordWarning warn_;
  std::int64_t id_ = 0;
  bool writing_ = false;
};

// Where a restore record finds the catalog each time it writes: the agent
// hands out its open connection; `kcr restart` opens the file anew, so the
// restored program inherits no descriptor of it. May return null.
using CatalogOpener = std::function<std::shared_ptr<Catalog>()>;

struct RestoreStart {
  // The checkpoint restored; when absent, the newest live row naming the
  // image (none if the image is not catalogued).
  std::optional<std::int64_t> checkpoint_id;
  std::string image_path;
  std::string node;
  std::uint32_t uid = 0;
};

// One restore's record, "started" until succeeded() or failed().
class RestoreRecord {
 public:
  RestoreRecord() = default;  // records nothing

  static RestoreRecord start(CatalogOpener open, const RestoreStart& what, RecordWarning warn);

  void succeeded();
  // `image_corrupt`: the image failed its checksums, so its checkpoint row
  // (if still COMMITTED or VERIFIED) becomes CORRUPT and is not tried again.
  void failed(const std::string& error, bool image_corrupt = false);

  bool active() const { return id_ != 0; }
  std::int64_t id() const { return id_; }  // 0 when nothing was recorded
  std::optional<std::int64_t> checkpoint_id() const { return checkpoint_id_; }

 private:
  void finish(RestoreOutcome outcome, const std::string& error, bool image_corrupt);

  CatalogOpener open_;
  RecordWarning warn_;
  std::int64_t id_ = 0;
  std::optional<std::int64_t> checkpoint_id_;
};

}  // namespace kcr::catalog
