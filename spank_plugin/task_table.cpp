#include "task_table.h"

#include <algorithm>

namespace kcr::spank {

void TaskTable::Add(const TaskInfo& task) {
  std::lock_guard lock(mu_);
  tasks_.push_back(task);
}

void TaskTable::QueueExit(std::uint32_t local_id, int wait_status) {
  std::lock_guard lock(mu_);
  exits_.emplace_back(local_id, wait_status);
}

void TaskTable::SetProgram(std::uint32_t local_id, pid_t program) {
  std::lock_guard lock(mu_);
  for (TaskInfo& t : tasks_) {
    if (t.local_id == local_id)
      t.program_pid = program;
  }
}

std::vector<TaskExit> TaskTable::TakeExits() {
  std::lock_guard lock(mu_);
  std::vector<TaskExit> done;
  for (auto [local_id, status] : exits_) {
    auto t = std::find_if(tasks_.begin(), tasks_.end(),
                          [id = local_id](const TaskInfo& x) { return x.local_id == id; });
    if (t == tasks_.end())
      continue;
    t->exited = true;
    done.push_back({*t, status});
  }
  exits_.clear();
  return done;
}

std::vector<TaskInfo> TaskTable::Snapshot() const {
  std::lock_guard lock(mu_);
  return tasks_;
}

std::optional<TaskInfo> TaskTable::Find(std::uint32_t local_id) const {
  std::lock_guard lock(mu_);
  for (const TaskInfo& t : tasks_) {
    if (t.local_id == local_id)
      return t;
  }
  return std::nullopt;
}

std::optional<TaskInfo> TaskTable::FindByPid(pid_t pid) const {
  std::lock_guard lock(mu_);
  for (const TaskInfo& t : tasks_) {
    if (t.pid == pid)
      return t;
  }
  return std::nullopt;
}

}  // namespace kcr::spank
