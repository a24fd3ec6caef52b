// Recording `kcr checkpoint` and `kcr restart` in the catalog, through the
// catalog's one recorder (kcr/catalog/recorder.h). What is the CLI's own:
// which catalog file, what a manual checkpoint's row says, and how trouble
// is reported (docs/catalog.md).
//
//   // kcr checkpoint PID -o IMAGE (unless --no-catalog):
//   auto rec = RecordManualCheckpoint(config->catalog_path, {pid, image});
//   ... Checkpoint(pid, image, ...) ...
//   st.ok() ? rec.Committed({r.image_bytes, r.header_checksum, r.freeze_ns, r.write_ns})
//           : rec.Failed(st.message());
//
//   // kcr restart IMAGE:
//   auto rst = RecordRestore(config->catalog_path, image);
//   Restart(image, ...);              // returns only on failure
//   rst.Failed(st.message());
//
// Catalog trouble never fails the checkpoint or the restart: it is printed
// once as "kcr: warning: ..." on stderr and the record does nothing more.
#pragma once

#include <sys/types.h>

#include <string>

#include <kcr/catalog/recorder.h>

namespace kcr::cli {

struct ManualCheckpoint {
  pid_t pid = 0;
  std::string image_path;  // final path of the image; made absolute here
};

// Opens the catalog and adds a WRITING row with trigger "manual", job
// "manual", the target's owner, this node and kernel.
catalog::CheckpointRecord RecordManualCheckpoint(const std::string& catalog_path,
                                                 const ManualCheckpoint& what);

// Adds a "started" restore row for `image_path`, linked to the newest live
// checkpoint row naming that file (none if the image is not catalogued). The
// catalog is open only while a row is written, so the restored program
// inherits no descriptor of it.
catalog::RestoreRecord RecordRestore(const std::string& catalog_path,
                                     const std::string& image_path);

}  // namespace kcr::cli
