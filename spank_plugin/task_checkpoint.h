// Checkpointing the step's tasks: one attempt per task, from the checks the
// module does not make to the catalog row, the image, its verification and
// retention; and the holds of tasks kept parked after a preemption
// checkpoint. Belongs to the agent thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <kcr/checkpoint.h>
#include <kcr/image_check.h>
#include <kcr/unique_fd.h>
#include "catalog_access.h"
#include "kcr/catalog/recorder.h"
#include "kcr/catalog/state.h"
#include "kcr/config/config.h"
#include "options.h"
#include "slurm_job.h"
#include "step_identity.h"
#include "task_table.h"

namespace kcr::spank {

// What one task's checkpoint attempt came to.
struct Outcome {
  std::uint32_t rank = 0;
  bool ok = false;
  std::int64_t id = 0;  // catalog row; 0 when nothing was recorded
  std::string image;
  std::uint64_t bytes = 0;
  std::uint64_t ms = 0;
  std::string reason;   // why not ok
  bool repeat = false;  // nothing new to say (the same refusal again, or the task had ended)
};

class Checkpointer {
 public:
  Checkpointer(const StepIdentity& id, const Settings& settings, const config::Config& cfg,
               CatalogAccess& catalog)
      : id_(id), settings_(settings), cfg_(cfg), catalog_(catalog) {}

  // Checkpoints every live task that is not held, side by side. With `hold`, the module
  // keeps each saved task parked until KillHeld() (preemption). `job` is
  // what slurmctld last said, for the rows' run and partition.
  std::vector<Outcome> CheckpointAll(const std::vector<TaskInfo>& tasks, catalog::Trigger trigger,
                                     bool hold, const std::optional<JobSnapshot>& job);

  bool AnyHeld() const { return !holds_.empty(); }
  // The job leaves the node: every held task is killed through its hold.
  void KillHeld(const std::vector<TaskInfo>& tasks);
  // The task exited: its hold and its last refusal go.
  void Forget(std::uint32_t local_id);

 private:
  // What the module's checkpoint call came to.
  struct Taken {
    Status status;
    CheckpointResult result;
    std::uint64_t file_bytes = 0;
    std::uint64_t ms = 0;
    // The task's processes are held (to become its holds_): one, or each
    // process of its tree.
    std::vector<UniqueFd> holds;
    std::size_t tree_processes = 0;  // a tree's, when it was saved as one
    // When it began, from the start of the step's checkpoint (several tasks).
    std::optional<std::uint64_t> started_ms;
    bool cut = false;  // held until the step's other tasks were saved too
  };
  // One task's attempt: prepared on the agent thread (checks, catalog row),
  // taken on a thread of its own (the module's call, the image re-read),
  // finished on the agent thread (catalog, holds, log, retention).
  struct Attempt {
    TaskInfo task;
    std::string path;
    catalog::CheckpointInfo info;  // what its row and its image record say
    std::optional<catalog::CheckpointRecord> record;
    Outcome outcome;
    bool done = false;  // decided before the module was asked
    Taken taken;
    std::optional<ImageCheck> check;  // the re-read, when configured
  };
  Attempt Prepare(const TaskInfo& t, catalog::Trigger trigger,
                  const std::optional<JobSnapshot>& job);
  void GroupAsOneSet(std::vector<Attempt>& attempts);
  void TakeAll(std::vector<Attempt>& attempts, bool hold,
               std::chrono::steady_clock::time_point t0) const;
  void ForEachParallel(const std::vector<Attempt*>& pending,
                       const std::function<void(Attempt&)>& fn) const;
  Taken Take(const TaskInfo& t, const std::string& path, bool hold) const;
  Outcome Finish(Attempt& a, catalog::Trigger trigger);
  void RecordImages(const std::vector<Attempt>& attempts, const std::vector<Outcome>& out) const;
  // What the re-read of the image just written says; the log's note about it.
  std::string Verified(const TaskInfo& t, const ImageCheck& check,
                       catalog::CheckpointRecord& record, Outcome* o, std::string* note);
  // The checks before an attempt; true (with *out filled) ends it early.
  bool Refused(const TaskInfo& t, catalog::Trigger trigger, const std::string& path,
               const std::optional<JobSnapshot>& job, Outcome* out);
  Status PrepareDir(const std::string& dir);
  catalog::CheckpointInfo RowInfo(const TaskInfo& t, catalog::Trigger trigger,
                                  const std::string& path,
                                  const std::optional<JobSnapshot>& job) const;
  // Whether `reason` repeats the task's last refusal (then it is not
  // recorded again); remembers it either way.
  bool RepeatedRefusal(std::uint32_t local_id, catalog::Trigger trigger, const std::string& reason);
  void ApplyRetention(std::uint32_t rank);
  Status ExpireBeyondKeepLast(catalog::Catalog& c, std::uint32_t rank);

  const StepIdentity& id_;
  const Settings& settings_;
  const config::Config& cfg_;
  CatalogAccess& catalog_;
  std::uint32_t seq_ = 0;    // numbers the step's images
  bool told_where_ = false;  // whether the image directory's file system was named
  // Holds of tasks kept parked in the kernel after their preemption
  // checkpoint (KCR_CKPT_HOLD), by local id: the one record of which tasks
  // are held. Closing one lets its task run on, so a task is killed first.
  std::map<std::uint32_t, std::vector<UniqueFd>> holds_;
  // Each task's last refusal, as RefusalCause() has it: so a refusal is
  // recorded once.
  std::map<std::uint32_t, std::string> last_refusal_;
};

}  // namespace kcr::spank
