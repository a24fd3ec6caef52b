#include "slurm_job.h"

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include <cerrno>
#include <iterator>
#include <memory>

namespace kcr::spank {

bool JobSnapshot::running() const {
  return job_state == JOB_RUNNING && !(state_flags & JOB_COMPLETING);
}
bool JobSnapshot::suspended() const {
  return job_state == JOB_SUSPENDED;
}

std::string JobSnapshot::StateName() const {
  static constexpr const char* kNames[] = {"PENDING",   "RUNNING",   "SUSPENDED", "COMPLETED",
                                           "CANCELLED", "FAILED",    "TIMEOUT",   "NODE_FAIL",
                                           "PREEMPTED", "BOOT_FAIL", "DEADLINE",  "OUT_OF_MEMORY"};
  std::string name = job_state < std::size(kNames) ? kNames[job_state] : "?";
  if (state_flags & JOB_COMPLETING)
    name += "+COMPLETING";
  if (state_flags & JOB_REQUEUE)
    name += "+REQUEUE";
  return name;
}

Status LoadJob(std::uint32_t job_id, JobSnapshot* out) {
  job_info_msg_t* raw = nullptr;
  if (slurm_load_job(&raw, job_id, SHOW_ALL) != SLURM_SUCCESS) {
    // Slurm's own error numbers are not errnos: the text carries the cause.
    return Status::Error(EIO, slurm_strerror(slurm_get_errno()));
  }
  std::unique_ptr<job_info_msg_t, decltype(&slurm_free_job_info_msg)> msg(raw,
                                                                          slurm_free_job_info_msg);
  for (uint32_t i = 0; i < msg->record_count; i++) {
    const slurm_job_info_t& j = msg->job_array[i];
    if (j.job_id != job_id)
      continue;
    out->job_state = j.job_state & JOB_STATE_BASE;
    out->state_flags = j.job_state & ~JOB_STATE_BASE;
    out->start_time = j.start_time;
    out->end_time = j.end_time;
    out->preempt_time = j.preempt_time;
    out->time_limit = j.time_limit;
    out->restart_cnt = j.restart_cnt;
    out->requeue = j.requeue != 0;
    out->partition = j.partition ? j.partition : "";
    out->array_job_id = j.array_job_id;
    out->array_task_id = j.array_task_id;
    out->user_id = j.user_id;
    return Status::Ok();
  }
  return Status::Error(ESRCH, "slurmctld does not know the job");
}

}  // namespace kcr::spank
