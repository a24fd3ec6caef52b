// Recording `kcr checkpoint` and `kcr restart` in the catalog: the few calls
// the checkpoint and restart commands make (docs/catalog.md).
//
//   // kcr checkpoint PID -o IMAGE (unless --no-catalog):
//   auto rec = record_manual_checkpoint(loaded_config().catalog_path, {pid, image});
//   ... kcr_checkpoint(pid, image, ...) ...
//   ok ? rec.committed(r.image_bytes, r.image_checksum, r.freeze_ns, r.write_ns)
//      : rec.failed(err.message);
//   ... after a verify-after-write pass: rec.verified();
//
//   // kcr restart IMAGE:
//   auto rst = record_restore(loaded_config().catalog_path, image);
//   kcr_restart(image, ...);          // returns only on failure
//   rst.failed(err.message);
//
// Catalog trouble never fails the checkpoint or the restart: it is printed
// once as "kcr: warning: ..." on stderr and the record does nothing more.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include <kcr/catalog/catalog.h>

namespace kcr::cli {

struct ManualCheckpoint {
  pid_t pid = 0;
  std::string image_path;  // final path of the image; made absolute here
};

// One checkpoint's row, WRITING until committed() or failed(). A record
// destroyed while its row is still WRITING marks it FAILED, so an error path
// that forgets cannot leave a row for prune to time out.
class CheckpointRecord {
 public:
  CheckpointRecord() = default;
  CheckpointRecord(CheckpointRecord&& other) noexcept;
  CheckpointRecord& operator=(CheckpointRecord&& other) noexcept;
  ~CheckpointRecord();

  // Call after the image is complete, synced and renamed to its path.
  void committed(std::uint64_t image_bytes, std::uint64_t header_checksum, std::uint64_t freeze_ns,
                 std::uint64_t write_ns);
  void verified();
  void failed(const std::string& reason);

  bool active() const { return catalog_.has_value(); }
  std::int64_t id() const { return id_; }  // 0 when nothing was recorded

 private:
  friend CheckpointRecord record_manual_checkpoint(const std::string&, const ManualCheckpoint&);
  void warn_and_stop(const std::exception& e);

  std::optional<catalog::Catalog> catalog_;
  std::int64_t id_ = 0;
  bool writing_ = false;
};

// Opens the catalog and adds a WRITING row with trigger "manual", job
// "manual", the target's owner, this node and kernel.
CheckpointRecord record_manual_checkpoint(const std::string& catalog_path,
                                          const ManualCheckpoint& what);

// One restart's row, "started" until failed() (or succeeded(), for a caller
// that outlives a successful restart, such as the Slurm plugin). It keeps no
// catalog connection open, so none is inherited by the restored process.
class RestoreRecord {
 public:
  RestoreRecord() = default;
  void failed(const std::string& error);
  void succeeded();
  std::int64_t id() const { return id_; }

 private:
  friend RestoreRecord record_restore(const std::string&, const std::string&);
  void finish(catalog::RestoreOutcome outcome, const std::string& error);

  std::string catalog_path_;
  std::int64_t id_ = 0;  // 0: nothing recorded
};

// Adds a "started" restore row for `image_path`, linked to the newest live
// checkpoint row naming that file (none if the image is not catalogued).
RestoreRecord record_restore(const std::string& catalog_path, const std::string& image_path);

}  // namespace kcr::cli
