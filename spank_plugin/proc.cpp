#include "proc.h"
#include "task_cgroup.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace kcr::spank {

namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

ProcStatus ReadProc(pid_t pid) {
  ProcStatus p;
  std::string base = fmt::format("/proc/{}", pid);
  std::string stat = ReadFirstLine(base + "/stat");
  if (stat.empty())
    return p;
  // comm may hold spaces and parentheses: the state follows the last ')'.
  size_t open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= stat.size()) {
    return p;
  }
  p.alive = true;
  p.comm = stat.substr(open + 1, close - open - 1);
  p.state = stat[close + 2];
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Field 4 of stat is the parent, 20 num_threads; after ')' the state is field 3.
  for (int i = 3; i <= 20 && fields >> field; i++) {
    if (i == 4)
      p.parent = std::atoi(field.c_str());
    if (i == 20)
      p.threads = std::atoi(field.c_str());
  }
  std::istringstream kids(ReadFirstLine(fmt::format("{}/task/{}/children", base, pid)));
  for (pid_t c; kids >> c;)
    p.children.push_back(c);
  return p;
}

bool IsDescendant(pid_t pid, pid_t ancestor) {
  // A restored program is three levels below its task (restore.h); the
  // bound only keeps a pid loop from spinning.
  for (int depth = 0; pid > 1 && depth < 64; depth++) {
    pid = ReadProc(pid).parent;  // 0 when it is gone
    if (pid == ancestor)
      return true;
  }
  return false;
}

std::string TaskCgroup(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/cgroup", pid));
  std::stringstream text;
  text << in.rdbuf();
  return TaskCgroupDir(text.str());
}

std::vector<pid_t> CgroupProcesses(const std::string& dir) {
  std::vector<pid_t> pids;
  std::error_code ec;
  std::ifstream procs(dir + "/cgroup.procs");
  for (pid_t p; procs >> p;)
    pids.push_back(p);
  // Never a throwing increment: an exception would end slurmstepd.
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) {
      std::vector<pid_t> below = CgroupProcesses(it->path().string());
      pids.insert(pids.end(), below.begin(), below.end());
    }
  }
  return pids;
}

namespace {

// A process Slurm tracks with the task (proctrack/cgroup) that does not run
// below it left the tree (setsid and a double fork: a daemon). kcr saves a
// task's tree, so it would be lost without a word; proctrack/linuxproc gives
// no such view (the module's own session check is all there is then).
std::string Leaver(pid_t pid) {
  const std::string cgroup = TaskCgroup(pid);
  if (cgroup.empty())
    return {};
  for (pid_t p : CgroupProcesses(cgroup)) {
    if (p == pid || IsDescendant(p, pid))
      continue;
    ProcStatus s = ReadProc(p);
    if (!s.alive)
      continue;  // ended since the listing
    return fmt::format(
        "process {} ({}) is in the task's cgroup ({}, proctrack/cgroup) but does not run "
        "below the task's process {}: it left the task's process tree (a daemon, a double "
        "fork); kcr saves a task only whole",
        p, s.comm, cgroup, pid);
  }
  return {};
}

}  // namespace

std::string WhyNotCheckpointable(pid_t pid) {
  ProcStatus p = ReadProc(pid);
  if (!p.alive || p.state == 'Z' || p.state == 'X')
    return kTaskExited;
  if (p.state == 'T' || p.state == 't') {
    return fmt::format("the task (pid {}, {}) is stopped (suspended job or SIGSTOP)", pid, p.comm);
  }
  return Leaver(pid);
}

}  // namespace kcr::spank
