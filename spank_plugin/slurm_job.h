// A snapshot of what slurmctld says about a job (slurm_load_job): the agent's
// only way to see a preemption's grace period start, since SPANK has no
// callback for it and a batch script gets no signal until it ends.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <string>

#include <kcr/status.h>

namespace kcr::spank {

struct JobSnapshot {
  std::uint32_t job_state = 0;    // JOB_STATE_BASE bits
  std::uint32_t state_flags = 0;  // the rest (JOB_REQUEUE, JOB_COMPLETING, ...)
  std::time_t start_time = 0;
  std::time_t end_time = 0;      // cut to now + GraceTime when a preemption starts
  std::time_t preempt_time = 0;  // non-zero once a preemption's grace period started
  std::uint32_t time_limit = 0;  // minutes; kInfinite for none
  std::uint16_t restart_cnt = 0;
  bool requeue = false;
  std::string partition;
  std::uint32_t array_job_id = 0;
  std::uint32_t array_task_id = 0;
  std::uint32_t user_id = 0;

  static constexpr std::uint32_t kInfinite = 0xfffffffeU;
  bool running() const;
  bool suspended() const;
  std::string StateName() const;
};

// Asks slurmctld; an error says why not (slurmctld down, job gone).
Status LoadJob(std::uint32_t job_id, JobSnapshot* out);

}  // namespace kcr::spank
