#include "restore_tracker.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "fs_identity.h"
#include "kcr/catalog/image_record.h"
#include "kcr/catalog/records.h"
#include "kcr/catalog/state.h"
#include "kcr/config/image_dir.h"
#include "kcr/util/image_files.h"
#include "log.h"
#include "proc.h"

namespace kcr::spank {

namespace cat = kcr::catalog;

namespace {

// The task's name (its comm), "" when /proc cannot tell.
std::string NameOf(pid_t pid) {
  return ReadProc(pid).comm;
}

}  // namespace

RestorePlan RestoreTracker::Plan(const TaskInfo& task, std::uint32_t restart) {
  // The task waits for this answer, so it is still the restorer: its name
  // now is the one a successful restore changes.
  attempts_[task.local_id].watch.Planned(NameOf(task.pid));
  RestorePlan plan;
  RestorePlanInput in;
  if (Status st = PlanInput(task, restart, &in); st.ok())
    plan = PlanRestore(in);
  else
    plan.note = st.message();
  if (plan.candidates.empty()) {
    Info("task {}: restart {}: cold start ({})", task.rank, restart, plan.note);
  } else {
    const cat::CheckpointRow& first = plan.candidates.front();
    Info("task {}: restart {}: restoring from checkpoint {} ({}){}", task.rank, restart, first.id,
         cat::ToString(first.info.trigger),
         plan.candidates.size() > 1
             ? fmt::format(", {} older as fallbacks", plan.candidates.size() - 1)
             : "");
  }
  return plan;
}

Status RestoreTracker::PlanInput(const TaskInfo& task, std::uint32_t restart,
                                 RestorePlanInput* in) {
  in->from = settings_.restart_from;
  in->restart = restart;
  in->uid = id_.uid;
  in->step = id_.step;
  in->task = task.rank;
  std::shared_ptr<cat::Catalog> c = catalog_.Get();
  Status st = c ? Status::Ok() : Status::Error(EIO, "the catalog cannot be opened");
  if (c && in->from.kind == RestartFrom::Kind::kId)
    st = c->Get(in->from.id, &in->named);
  if (c && st.ok() && restart > 0)
    st = c->LatestGood(id_.job, id_.step, task.rank, cat::kLatestGoodDefault, &in->latest);
  st = st.With("reading the catalog");
  if (restart == 0)
    return st;
  // The checkpoints the job's image directory records: those taken on other
  // nodes (this node's catalog never saw them), and all of them when this
  // catalog cannot be read.
  std::vector<cat::CheckpointRow> recorded;
  Status read = RecordedCheckpoints(task, &recorded);
  if (!read.ok()) {
    Error("task {}: {}", task.rank, read.message());
    return st;
  }
  for (cat::CheckpointRow& r : recorded) {
    const bool known = std::any_of(in->latest.begin(), in->latest.end(), [&](const auto& x) {
      return x.info.image_path == r.info.image_path;
    });
    if (!known)
      in->latest.push_back(std::move(r));
  }
  std::stable_sort(in->latest.begin(), in->latest.end(),
                   [](const auto& a, const auto& b) { return a.created_ns() > b.created_ns(); });
  if (in->latest.size() > cat::kLatestGoodDefault)
    in->latest.resize(cat::kLatestGoodDefault);
  // With rows to restore from, an unreadable catalog is no reason for a cold start.
  return in->latest.empty() ? st : Status::Ok();
}

// Read as the job's user: the directory is the user's, on a file system
// (NFS with root_squash) where root may read nothing of it.
Status RestoreTracker::RecordedCheckpoints(const TaskInfo& task,
                                           std::vector<cat::CheckpointRow>* rows) const {
  const std::string step = cat::StepName(id_.step);
  const config::ImageDirFields fields{std::to_string(id_.job), step, std::to_string(task.rank),
                                      id_.user};
  const std::string dir = config::ExpandImageDir(settings_.dir_pattern, fields);
  AsUser as(id_.uid, id_.gid);
  return cat::ReadImageRecords(dir, id_.job, id_.step, task.rank, id_.uid, rows)
      .With("reading the image records of " + dir);
}

void RestoreTracker::Tried(const TaskInfo& task, std::int64_t checkpoint,
                           const std::string& image) {
  Attempt& a = attempts_[task.local_id];
  if (auto earlier = a.watch.Tried())
    Finish(task, a, *earlier);
  a.checkpoint = checkpoint;
  a.image = image;
  a.record = cat::RestoreRecord::Start(
      [this](std::shared_ptr<cat::Catalog>* catalog) {
        *catalog = catalog_.Get();  // logs it when it cannot be opened
        return Status::Ok();
      },
      {checkpoint ? std::optional<std::int64_t>(checkpoint) : std::nullopt, image, id_.node,
       id_.uid},
      TaskWarning(task.rank));
}

void RestoreTracker::FailureReported(const TaskInfo& task, std::int64_t checkpoint,
                                     const std::string& reason, bool image_corrupt) {
  Attempt& a = attempts_[task.local_id];
  if (a.checkpoint == 0)
    a.checkpoint = checkpoint;
  if (auto verdict = a.watch.FailureReported(reason, image_corrupt))
    Finish(task, a, *verdict);
}

void RestoreTracker::WentCold(const TaskInfo& task, const std::string& reason) {
  Error("task {}: starting the program from the beginning: {}", task.rank, reason);
}

void RestoreTracker::Restored(const TaskInfo& task, pid_t program, bool clocks_continued) {
  auto it = attempts_.find(task.local_id);
  if (it == attempts_.end())
    return;
  it->second.clocks_continued = clocks_continued;
  if (auto verdict = it->second.watch.Restored(program))
    Finish(task, it->second, *verdict);
}

void RestoreTracker::Exited(const TaskInfo& task, int wait_status) {
  auto it = attempts_.find(task.local_id);
  if (it == attempts_.end())
    return;
  if (auto verdict = it->second.watch.Exited(wait_status))
    Finish(task, it->second, *verdict);
  attempts_.erase(it);
}

void RestoreTracker::Watch(const std::vector<TaskInfo>& tasks) {
  for (const TaskInfo& task : tasks) {
    auto it = attempts_.find(task.local_id);
    if (it == attempts_.end() || !it->second.watch.open() || task.exited)
      continue;
    if (auto verdict = it->second.watch.NameSeen(NameOf(task.pid)))
      Finish(task, it->second, *verdict);
  }
}

void RestoreTracker::Finish(const TaskInfo& task, Attempt& a, const RestoreVerdict& verdict) {
  if (verdict.succeeded && task.exited) {
    Info("task {}: restored from checkpoint {} and finished", task.rank, a.checkpoint);
    a.record.Succeeded();
  } else if (verdict.succeeded) {
    Info("task {}: restored from checkpoint {}; it runs on as pid {} ({}){}{}", task.rank,
         a.checkpoint, task.process(), NameOf(task.process()),
         task.program_pid
             ? fmt::format(" in a pid namespace of its own, below task pid {}", task.pid)
             : "",
         a.clocks_continued
             ? "; saved on another boot or node, its clocks continue from the checkpoint"
             : "");
    a.record.Succeeded();
  } else {
    Error("task {}: restore from checkpoint {} failed: {}", task.rank, a.checkpoint,
          verdict.reason);
    a.record.Failed(verdict.reason, verdict.image_corrupt);
    if (verdict.image_corrupt && !a.image.empty()) {
      // The catalog marks its row CORRUPT; the image's record goes too, so
      // that no node finds the image through it again.
      AsUser as(id_.uid, id_.gid);
      if (::unlink(util::ImageRecordPath(a.image).c_str()) == 0)
        Info("task {}: the record of corrupt image {} removed", task.rank, a.image);
    }
  }
  a.checkpoint = 0;
}

}  // namespace kcr::spank
