// Which cgroup Slurm's proctrack/cgroup made for a task, from the text of
// /proc/PID/cgroup: a pure function, so that the layouts are unit-tested.
#pragma once

#include <string>
#include <string_view>

namespace kcr::spank {

// The directory under /sys/fs/cgroup of the task's cgroup (cgroup v2
// ".../job_J/step_S/user/task_T", or v1 freezer ".../job_J/step_S/task_T");
// empty when the process is in none (proctrack/linuxproc).
std::string TaskCgroupDir(std::string_view proc_cgroup);

}  // namespace kcr::spank
