// What /proc says about a task, for the checks kcr's module does not make
// (whether it still runs, is stopped) and for a restore's outcome (the
// task's name).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kcr::spank {

struct ProcStatus {
  bool alive = false;
  char state = '?';  // R S D T Z ... from /proc/PID/stat
  pid_t parent = 0;
  int threads = 0;
  std::string comm;
  std::vector<pid_t> children;
};

ProcStatus ReadProc(pid_t pid);

inline constexpr const char* kTaskExited = "the task has exited";

// `pid` runs below `ancestor` (its child, grandchild, ...).
bool IsDescendant(pid_t pid, pid_t ancestor);

// The cgroup directory proctrack/cgroup made for the task `pid` runs in
// (TaskCgroupDir); empty when it runs in none (proctrack/linuxproc).
std::string TaskCgroup(pid_t pid);

// Every process in a cgroup directory and the cgroups below it.
std::vector<pid_t> CgroupProcesses(const std::string& dir);

// Empty when kcr can try; otherwise why not (ended, stopped, or a process
// Slurm tracks with the task runs outside its tree).
std::string WhyNotCheckpointable(pid_t pid);

}  // namespace kcr::spank
