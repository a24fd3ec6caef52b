// Process trees: a process and all its descendants, checkpointed together
// into a tree image (a directory: one image per process, the pipes' unread
// data, and tree.json joining them) and restored together, each process
// with its own pid, parent, process group and session.
#pragma once

#include <kcr/export.h>

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include <kcr/checkpoint.h>
#include <kcr/restart.h>
#include <kcr/status.h>

namespace kcr {

struct TreeCheckpointResult {
  std::vector<pid_t> processes;  // as the caller sees them, the tree's root first
  size_t zombies = 0;            // of them, ended and not yet reaped
  size_t pipes = 0;              // pipes between them, saved with their data
  uint64_t image_bytes = 0;
  uint64_t pages_saved = 0;
  // From the first process stopped to the last one released.
  uint64_t freeze_ns = 0;
  uint64_t write_ns = 0;
  uint64_t header_checksum = 0;  // the root's image's, naming the tree image in the catalog
};

// Whether the process has children (any thread's).
KCR_EXPORT bool HasChildren(pid_t pid);

// Checkpoints `pid` and every descendant into the directory `path`. Each
// process is held from its checkpoint until all are saved, so the images are
// one moment of the whole tree; pipes between them are saved with the data
// in them. Anything one of them holds that kcr cannot save refuses the
// whole checkpoint, naming the process, and every process runs on. With
// options.kill every process is killed once the tree image is published;
// options.stop and options.hold are not for trees: with `holds` every
// process stays held once the tree image is published, and *holds receives
// their holds (KillHeld() on each kills that process; closing them lets
// them run on). Publishing replaces `path` atomically (a file or an earlier
// tree image there). With options.as_user the tree image is the user's.
KCR_EXPORT Status CheckpointTree(pid_t pid, const std::string& path,
                                 const CheckpointOptions& options, TreeCheckpointResult* result,
                                 std::vector<UniqueFd>* holds = nullptr);

// A process, or its tree: what `kcr checkpoint` and the Slurm agent save.
// Checkpoint() for a process without children, CheckpointTree() for one
// with children (also when it forks its first between the look and the
// module's own). `holds` as for CheckpointTree() (options.hold is not used).
struct AnyCheckpointResult {
  bool tree = false;
  CheckpointResult process;        // !tree
  TreeCheckpointResult processes;  // tree
  uint64_t image_bytes() const { return tree ? processes.image_bytes : process.image_bytes; }
  uint64_t header_checksum() const {
    return tree ? processes.header_checksum : process.header_checksum;
  }
};
KCR_EXPORT Status CheckpointProcessOrTree(pid_t pid, const std::string& path,
                                          const CheckpointOptions& options,
                                          AnyCheckpointResult* result,
                                          std::vector<UniqueFd>* holds = nullptr);

// Whether `path` is a tree image (a directory with tree.json).
KCR_EXPORT bool IsTreeImage(const std::string& path);

// The image of the tree's root process within a tree image (its header
// names the tree image: the program, the kernel it ran on).
KCR_EXPORT Status TreeRootImage(const std::string& path, std::string* root_image);

// Checks every checksum of a tree image: each process's image (as
// Image::VerifyPages()), and the pipes' data. *processes receives how many
// processes it holds.
KCR_EXPORT Status VerifyTreeImage(const std::string& path, size_t* processes);

// Restores the tree as RestartWithIds() restores one program: in a pid
// namespace made for it, each process with its own pid; the caller waits
// and returns how the tree's root ended. When the root ends, whatever of
// the tree still runs is ended with the namespace.
KCR_EXPORT Status RestartTree(const std::string& path, const RestartOptions& options,
                              int* wait_status);

}  // namespace kcr
