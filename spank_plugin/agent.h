// The per-step checkpoint agent: one thread inside each slurmstepd of a job
// that asked for checkpoints, started by slurm_spank_task_post_fork and
// stopped by slurm_spank_exit (docs/slurm.md has the whole picture).
//
// About once a second it asks slurmctld about the job (slurm_load_job):
// SPANK has no callback for a preemption's grace period, and a batch script
// gets no signal until the grace period is over, so polling is the only way
// to see it start. It checkpoints every local task
//   - periodically, at the job's interval (fixed, or Young/Daly for auto);
//   - when a preemption's grace period starts (then the module holds the
//     tasks until the agent kills them as the job leaves: whatever they
//     computed afterwards would be lost with the requeue);
//   - a margin before the job's time limit;
//   - when `kcr checkpoint --job` asks (lib/slurm/slurm_request.h).
// Images are written with the job user's filesystem identity into the
// configured directory, and every attempt on a live task becomes a catalog row. It also
// serves the restore side (restore.h): tasks of a requeued job ask it which
// images to try and report what happened, since only root may write the
// catalog and the task process is the user's by then.
//
// The agent never fails the job: every problem is logged to slurmd's log and
// recorded, and the task runs on.
//
// Its parts, each in its own file:
//   schedule.h         what is due at each poll (pure)
//   task_checkpoint.h  checkpointing the tasks, holds, retention
//   request_server.h   the socket, peer credentials, one handler per verb
//   restore_plan.h     which images a restore tries (pure)
//   restore_outcome.h  the one rule that decides a restore's outcome (pure)
//   restore_tracker.h  the restore side: plans, attempts, their outcome
//   task_table.h       the tasks slurmstepd's thread reports
//   catalog_access.h   the step's catalog connection
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "kcr/config/config.h"
#include "options.h"
#include "step_identity.h"

namespace kcr::spank {

class Agent {
 public:
  Agent(StepIdentity id, Settings settings, SiteOptions site, config::Config config);
  ~Agent();  // Stop()s
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Called from slurmstepd's main thread.
  void AddTask(std::uint32_t local_id, std::uint32_t rank, pid_t pid);
  void TaskExited(std::uint32_t local_id, int wait_status);
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kcr::spank
