// The agent's side of restores: it answers a requeued task's `restore-plan`
// from the catalog (restore_plan.h), follows each attempt the task reports,
// decides its outcome by the one rule of restore_outcome.h, and writes that
// outcome in one place (Finish), to slurmd's log and the catalog. The task
// itself cannot write the root-owned catalog. Belongs to the agent thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog_access.h"
#include "kcr/catalog/recorder.h"
#include "options.h"
#include "restore_outcome.h"
#include "restore_plan.h"
#include "step_identity.h"
#include "task_table.h"

namespace kcr::spank {

class RestoreTracker {
 public:
  RestoreTracker(const StepIdentity& id, const Settings& settings, CatalogAccess& catalog)
      : id_(id), settings_(settings), catalog_(catalog) {}

  // `restore-plan` of `task`, in the job's run `restart`.
  RestorePlan Plan(const TaskInfo& task, std::uint32_t restart);
  // `restore-try`, `restore-failed`, `restore-cold` of `task`.
  void Tried(const TaskInfo& task, std::int64_t checkpoint, const std::string& image);
  void FailureReported(const TaskInfo& task, std::int64_t checkpoint, const std::string& reason,
                       bool image_corrupt);
  void WentCold(const TaskInfo& task, const std::string& reason);
  // `restored`: the program runs again as `program`, below the task.
  // `clocks_continued`: what the task said of the program's clocks.
  void Restored(const TaskInfo& task, pid_t program, bool clocks_continued);
  // The task ended.
  void Exited(const TaskInfo& task, int wait_status);
  // Looks at each task with an open restore (its name in /proc); at every poll.
  void Watch(const std::vector<TaskInfo>& tasks);

 private:
  struct Attempt {
    RestoreWatch watch;
    catalog::RestoreRecord record;
    std::int64_t checkpoint = 0;
    std::string image;
    bool clocks_continued = false;  // the task said so (restored)
  };
  // Reads the catalog for the plan into *in; an error says why it could not.
  Status PlanInput(const TaskInfo& task, std::uint32_t restart, RestorePlanInput* in);
  // The good checkpoints of the task that its image directory records.
  Status RecordedCheckpoints(const TaskInfo& task, std::vector<catalog::CheckpointRow>* rows) const;
  // The one place a restore's outcome is logged and recorded.
  void Finish(const TaskInfo& task, Attempt& attempt, const RestoreVerdict& verdict);

  const StepIdentity& id_;
  const Settings& settings_;
  CatalogAccess& catalog_;
  std::map<std::uint32_t, Attempt> attempts_;  // by local id
};

}  // namespace kcr::spank
