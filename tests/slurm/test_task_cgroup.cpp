// Which cgroup is the task's, as proctrack/cgroup lays them out.
#include <gtest/gtest.h>

#include "task_cgroup.h"

namespace kcr::spank {
namespace {

TEST(TaskCgroup, CgroupV2TaskOfABatchStep) {
  EXPECT_EQ(
      TaskCgroupDir("0::/system.slice/n1_slurmstepd.scope/job_7/step_batch/user/task_special\n"),
      "/sys/fs/cgroup/system.slice/n1_slurmstepd.scope/job_7/step_batch/user/task_special");
}

TEST(TaskCgroup, CgroupV1FreezerAmongOtherControllers) {
  EXPECT_EQ(TaskCgroupDir("12:pids:/slurm/uid_1000/job_9/step_0\n"
                          "5:freezer:/slurm_n1/uid_1000/job_9/step_0/task_1\n"
                          "0::/init.scope\n"),
            "/sys/fs/cgroup/freezer/slurm_n1/uid_1000/job_9/step_0/task_1");
}

TEST(TaskCgroup, NoneUnderLinuxprocOrOutsideATask) {
  EXPECT_EQ(TaskCgroupDir("0::/system.slice/slurmd.service\n"), "");
  EXPECT_EQ(TaskCgroupDir("0::/\n"), "");
  // The step's own processes (slurmstepd) are not a task's.
  EXPECT_EQ(TaskCgroupDir("0::/system.slice/n1_slurmstepd.scope/job_7/step_0/slurm\n"), "");
  // Out of order, or climbing out: not Slurm's layout.
  EXPECT_EQ(TaskCgroupDir("0::/task_1/step_0/job_7\n"), "");
  EXPECT_EQ(TaskCgroupDir("0::/job_7/step_0/task_1/../../..\n"), "");
  EXPECT_EQ(TaskCgroupDir(""), "");
  EXPECT_EQ(TaskCgroupDir("garbage without colons"), "");
}

}  // namespace
}  // namespace kcr::spank
