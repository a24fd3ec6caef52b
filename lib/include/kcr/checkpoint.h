// Checkpointing a process (or the caller itself) into an image file.
#pragma once

#include <kcr/export.h>

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <kcr/status.h>
#include <kcr/unique_fd.h>

namespace kcr {

struct CheckpointOptions {
  // The process runs no further instruction after its checkpoint:
  //  - kill: SIGKILLed once its image is published;
  //  - stop: left stopped, as by SIGSTOP (a SIGCONT resumes it);
  //  - hold: left parked in the kernel, and *hold receives a descriptor;
  //    closing it lets the process run on. Until then only SIGKILL reaches
  //    it; a SIGCONT does not resume it.
  // A failed checkpoint leaves the process running. At most one of them.
  bool kill = false;
  bool stop = false;
  UniqueFd* hold = nullptr;
  // Checkpoint a process its own user could not attach to with ptrace (not
  // dumpable: a set-id program, prctl(PR_SET_DUMPABLE, 0); or holding
  // capabilities). Needs CAP_SYS_PTRACE over it; the image stays the
  // caller's, never the process owner's. Without it such a process is refused.
  bool privileged = false;
  // Act for this user (a root caller only, e.g. the Slurm agent for a job's
  // owner): on the calling thread, with the user's effective ids and groups
  // and so no capability, ptrace's rule is applied to that user — what the
  // user could not attach to is refused — and the image is the user's.
  // /dev/kcr is opened before, with the caller's own rights.
  struct User {
    uid_t uid;
    gid_t gid;
    std::vector<gid_t> groups;  // supplementary groups
  };
  std::optional<User> as_user;
  // Called about every 200 ms from a helper thread while the module writes.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct CheckpointResult {
  uint64_t image_bytes = 0;
  uint64_t pages_saved = 0;
  uint64_t freeze_ns = 0;
  uint64_t write_ns = 0;
  uint64_t sync_ns = 0;
  uint64_t header_checksum = 0;
  uint32_t target_uid = 0;
  uint32_t target_gid = 0;
  // The process's own user may read the image (it could attach to the
  // process); otherwise the image stays the caller's.
  bool owner_may_read = false;
};

// SIGKILLs the process a hold (CheckpointOptions::hold) keeps: that very
// process, even if it died meanwhile and its pid was reused.
KCR_EXPORT Status KillHeld(int hold_fd);

// Writes to "<path>.tmp-XXXXXX", syncs, then renames over `path`: a reader
// sees the old image or the whole new one, never a partial file.
KCR_EXPORT Status Checkpoint(pid_t pid, const std::string& path, const CheckpointOptions& options,
                             CheckpointResult* result);

// The caller checkpoints itself. *restarted is false when the call returns in
// the original process and true when it returns in a process restored from
// the image. Runs the registered callbacks (see callbacks.h).
KCR_EXPORT Status CheckpointSelf(const std::string& path, CheckpointResult* result,
                                 bool* restarted);

// Bytes of memory a checkpoint of `pid` will roughly save (for progress).
KCR_EXPORT uint64_t EstimateImageBytes(pid_t pid);

}  // namespace kcr
