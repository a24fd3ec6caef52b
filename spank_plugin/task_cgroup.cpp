#include "task_cgroup.h"

namespace kcr::spank {

std::string TaskCgroupDir(std::string_view proc_cgroup) {
  while (!proc_cgroup.empty()) {
    const size_t eol = proc_cgroup.find('\n');
    std::string_view line = proc_cgroup.substr(0, eol);
    proc_cgroup = eol == std::string_view::npos ? std::string_view() : proc_cgroup.substr(eol + 1);
    // "0::/path" (v2) or "N:freezer:/path" (v1, where proctrack/cgroup keeps tasks).
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos)
      continue;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    const size_t job = path.find("/job_"), step = path.find("/step_"), task = path.find("/task_");
    if (job == std::string_view::npos || step == std::string_view::npos ||
        task == std::string_view::npos || !(job < step && step < task) ||
        path.find("/..") != std::string_view::npos) {
      continue;
    }
    if (controllers.empty())
      return "/sys/fs/cgroup" + std::string(path);
    if (controllers == "freezer")
      return "/sys/fs/cgroup/freezer" + std::string(path);
  }
  return {};
}

}  // namespace kcr::spank
