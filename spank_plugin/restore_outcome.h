// How the agent decides whether a task's restore succeeded: one rule, a
// pure state machine over what the agent observes (tests/slurm/
// test_restore_outcome.cpp). docs/slurm.md explains it for users.
//
// After `restore-try`, the first of these decides:
//   - `restore-failed`: failed. kcr::Restart() returned before anything of
//     the task changed; the task goes on to its next image.
//   - `restored pid=`: succeeded. A multi-threaded program is restored in
//     a pid namespace below the task, which reports it once it runs.
//   - The task runs under another name than the one it had while it waited
//     for its plan: succeeded. The module gives the restored task its
//     program's name as it restores the thread, after the memory; a restart
//     that had not passed its point of no return leaves the name alone. (The
//     name is read at `restore-plan`, when the task is blocked waiting for
//     the answer, so a restore that completes before the agent reads
//     `restore-try` is still seen.)
//   - The task exits with status 75 (kBrokenRestoreExit): failed. The
//     restore failed after the task process had changed, in libkcr.
//   - The task is killed by a signal: failed. The module kills a task whose
//     restore fails past its point of no return.
//   - The task exits with any other status: succeeded. Only the restored
//     program exits so (the restorer exits with 75 or returns to its own
//     restore conversation); it ran and ended before the agent looked.
// The task hanging up after `restore-try` tells nothing by itself: libkcr
// replaces the task's descriptors before the module's point of no return.
// There is no time limit: a restore stays "started" until one of the above.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace kcr::spank {

// Exit status of a task whose restore failed after its process had already
// been changed (it can neither continue nor start the program any more).
inline constexpr int kBrokenRestoreExit = 75;

struct RestoreVerdict {
  bool succeeded = false;
  std::string reason;          // why it failed
  bool image_corrupt = false;  // the task found the image damaged (restore-failed corrupt=1)
};

// One task's restores, as the agent sees them.
class RestoreWatch {
 public:
  // `restore-plan`: the task, still the restorer, waits for the answer;
  // `name` is its name now (/proc/PID/comm, "" if unreadable).
  void Planned(std::string name);
  // `restore-try`: a restore begins. An earlier attempt the task never
  // reported on failed.
  std::optional<RestoreVerdict> Tried();
  // `restore-failed`: the attempt failed and the task is unchanged.
  std::optional<RestoreVerdict> FailureReported(std::string reason, bool image_corrupt);
  // The task's name now, read while a restore is open ("" if unreadable).
  std::optional<RestoreVerdict> NameSeen(std::string_view name);
  // `restored`: the program runs again as `program`, below the task.
  std::optional<RestoreVerdict> Restored(pid_t program);
  // The task ended (its wait status).
  std::optional<RestoreVerdict> Exited(int wait_status);

  // A restore is open: its outcome is not known yet.
  bool open() const { return open_; }

 private:
  bool open_ = false;
  std::string restorer_name_;  // "" until known: then only the exit decides
};

}  // namespace kcr::spank
