// The restore side, run in slurm_spank_task_init: in the task process, as
// the job's user, just before Slurm would exec the task's program.
//
// When the job was requeued (restart count > 0) or names an image with
// --restart-from=ID, the task asks its step's agent (agent.h) which images
// to try, newest first, and kcr::Restart()s the first that works: the task
// process becomes the saved program and continues it, so Slurm's exec never
// happens. Restart verifies the image and its files before it changes
// anything, so a bad image costs nothing and the next one is tried; output
// files that grew since the checkpoint are truncated back to their size then
// (--rollback-files), so no output is written twice. When every image fails,
// the task starts its program from the beginning. Each attempt is reported to
// the agent, which records it in the catalog and slurmd's log (the task can
// no longer write the root-owned catalog).
#pragma once

#include <cstdint>
#include <string>

#include "options.h"
#include "restore_outcome.h"

namespace kcr::spank {

struct RestoreContext {
  std::uint32_t job = 0;
  std::uint32_t step = 0;
  std::uint32_t rank = 0;
  std::uint32_t restart_count = 0;  // SLURM_RESTART_COUNT of the job
  std::string spool_dir;
  Settings settings;
};

// Does not return when a restore succeeds. Returns when the task should run
// its program from the beginning (first run, nothing to restore, or every
// image failed; the reason is in slurmd's log).
void RestoreOrReturn(const RestoreContext& ctx);

}  // namespace kcr::spank
