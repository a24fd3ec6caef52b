// The step's tasks as slurmstepd reports them: added from its main thread
// (slurm_spank_task_post_fork), their exits queued from it
// (slurm_spank_task_exit), read by the agent thread. This is the only state
// the two threads share, and one mutex guards all of it; everything else the
// agent keeps belongs to its own thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace kcr::spank {

struct TaskInfo {
  std::uint32_t local_id = 0;  // the task's index on this node
  std::uint32_t rank = 0;      // its global rank in the step
  pid_t pid = 0;               // the task process slurmstepd started
  // A program restored in a pid namespace of its own runs below the task
  // process, which only waits for it (restore.h); 0 when the task process
  // is the program.
  pid_t program_pid = 0;
  bool exited = false;

  // The process that is the task's program: the one to checkpoint.
  pid_t process() const { return program_pid ? program_pid : pid; }
};

struct TaskExit {
  TaskInfo task;
  int wait_status = 0;
};

class TaskTable {
 public:
  // slurmstepd's thread.
  void Add(const TaskInfo& task);
  void QueueExit(std::uint32_t local_id, int wait_status);
  // The agent thread: the task's program now runs as `program` (TaskInfo).
  void SetProgram(std::uint32_t local_id, pid_t program);

  // The agent thread.
  // The exits queued since the last call; their tasks are marked exited.
  std::vector<TaskExit> TakeExits();
  std::vector<TaskInfo> Snapshot() const;
  std::optional<TaskInfo> Find(std::uint32_t local_id) const;
  std::optional<TaskInfo> FindByPid(pid_t pid) const;

 private:
  mutable std::mutex mu_;
  std::vector<TaskInfo> tasks_;
  std::vector<std::pair<std::uint32_t, int>> exits_;  // local id, wait status
};

}  // namespace kcr::spank
