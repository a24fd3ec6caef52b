#include "task_checkpoint.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <regex>
#include <system_error>
#include <thread>
#include <unordered_set>

#include <kcr/checkpoint.h>
#include <kcr/image_check.h>
#include <kcr/tree.h>
#include "dirs.h"
#include "fs_identity.h"
#include "kcr/catalog/image_record.h"
#include "kcr/catalog/recorder.h"
#include "kcr/catalog/retention.h"
#include "kcr/config/image_dir.h"
#include "kcr/util/clock.h"
#include "kcr/util/host.h"
#include "kcr/util/image_files.h"
#include "kcr/util/status_format.h"
#include "log.h"
#include "proc.h"

namespace kcr::spank {

namespace cat = kcr::catalog;
using Clock = std::chrono::steady_clock;

std::vector<Outcome> Checkpointer::CheckpointAll(const std::vector<TaskInfo>& tasks,
                                                 cat::Trigger trigger, bool hold,
                                                 const std::optional<JobSnapshot>& job) {
  const auto t0 = Clock::now();
  std::vector<Attempt> attempts;
  for (const TaskInfo& t : tasks) {
    if (t.exited)
      continue;
    if (holds_.contains(t.local_id)) {
      Attempt a;
      a.outcome.rank = t.rank;
      a.outcome.reason = "the task is held after its preemption checkpoint";
      a.done = true;
      attempts.push_back(std::move(a));
      continue;
    }
    attempts.push_back(Prepare(t, trigger, job));
  }
  GroupAsOneSet(attempts);
  TakeAll(attempts, hold, t0);
  std::vector<Outcome> out;
  for (Attempt& a : attempts)
    out.push_back(a.done ? a.outcome : Finish(a, trigger));
  RecordImages(attempts, out);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  const size_t ok = std::count_if(out.begin(), out.end(), [](const Outcome& o) { return o.ok; });
  const bool all_repeats =
      std::all_of(out.begin(), out.end(), [](const Outcome& o) { return o.repeat; });
  if (!out.empty() && !all_repeats) {
    Info("step {}: {} checkpoint: {} of {} task{} saved in {} ms{}", cat::StepName(id_.step),
         cat::ToString(trigger), ok, out.size(), out.size() > 1 ? "s" : "", ms,
         hold && ok ? "; saved tasks held until the requeue" : "");
  }
  return out;
}

void Checkpointer::KillHeld(const std::vector<TaskInfo>& tasks) {
  for (const auto& [local_id, task_holds] : holds_) {
    // Through the holds: the task's processes themselves, even if one died
    // and its pid was reused before this poll saw it.
    Status st = Status::Ok();
    for (const UniqueFd& hold : task_holds) {
      Status one = kcr::KillHeld(hold.get());
      if (st.ok())
        st = one;
    }
    auto task = std::find_if(tasks.begin(), tasks.end(),
                             [id = local_id](const TaskInfo& t) { return t.local_id == id; });
    std::uint32_t rank = task != tasks.end() ? task->rank : local_id;
    if (st.ok())
      Info("task {}: killed after its preemption checkpoint as the job leaves the node", rank);
    else
      Error("task {}: {}", rank, st.message());
  }
  holds_.clear();
}

void Checkpointer::Forget(std::uint32_t local_id) {
  // The task's process ended; the rest of its tree, held with it, must not
  // run on from a state its image has already saved.
  if (auto held = holds_.find(local_id); held != holds_.end()) {
    for (const UniqueFd& hold : held->second)
      (void)kcr::KillHeld(hold.get());
  }
  holds_.erase(local_id);
  last_refusal_.erase(local_id);
}

Checkpointer::Attempt Checkpointer::Prepare(const TaskInfo& t, cat::Trigger trigger,
                                            const std::optional<JobSnapshot>& job) {
  Attempt a;
  a.task = t;
  Outcome& o = a.outcome;
  o.rank = t.rank;
  const std::string step = cat::StepName(id_.step);
  const config::ImageDirFields fields{std::to_string(id_.job), step, std::to_string(t.rank),
                                      id_.user};
  const std::string path =
      config::ExpandImageDir(settings_.dir_pattern, fields) + "/" +
      config::ImageFileName({fields.job, step, fields.task, job ? job->restart_cnt : 0U, ++seq_,
                             std::string(cat::ToString(trigger))});
  a.path = path;
  if (!told_where_) {
    // Said once per step: where the images go decides where a requeue can restore.
    told_where_ = true;
    AsUser as(id_.uid, id_.gid);
    const FileSystemKind fs = FileSystemOf(path.substr(0, path.find_last_of('/')));
    if (fs.node_local) {
      Info(
          "step {}: images go to a node-local file system ({}): a requeue onto another node "
          "starts from the beginning; put image_dir on a file system every node shares",
          step, fs.name);
    }
  }
  if (Refused(t, trigger, path, job, &o)) {
    a.done = true;
    return a;
  }
  a.info = RowInfo(t, trigger, path, job);
  a.info.created_ns = util::NowNs();
  a.info.kcr_version = std::string(cat::KcrVersion());
  a.record = cat::CheckpointRecord::Begin(catalog_.Get(), a.info, TaskWarning(t.rank));
  return a;
}

// Each image of a set saved whole gets its record beside it (written as the
// job's user, like the image), which is how the agent of whatever node the
// job is requeued onto finds it (image_record.h). A set with a member not
// saved gets none: it is no checkpoint of the step, as in the catalog.
void Checkpointer::RecordImages(const std::vector<Attempt>& attempts,
                                const std::vector<Outcome>& out) const {
  std::vector<std::string> members;
  for (const Outcome& o : out) {
    if (!o.ok)
      return;
    members.push_back(o.image);
  }
  if (members.empty())
    return;
  AsUser as(id_.uid, id_.gid);
  for (size_t i = 0; i < attempts.size(); i++) {
    const Attempt& a = attempts[i];
    cat::CheckpointRow row;
    row.info = a.info;
    row.state = a.check ? cat::State::kVerified : cat::State::kCommitted;
    row.bytes = out[i].bytes;
    row.checksum = a.taken.result.header_checksum;
    row.freeze_ns = a.taken.result.freeze_ns;
    row.write_ns = a.taken.result.write_ns;
    row.committed_ns = util::NowNs();
    if (a.check)
      row.verified_ns = row.committed_ns;
    if (Status st = cat::WriteImageRecord(row, members); !st.ok()) {
      Error("task {}: {}; a requeue onto another node will not find this checkpoint", out[i].rank,
            st.message());
    }
  }
}

// The tasks of a step saved at one moment are one set in the catalog: a
// restore takes them together or falls back, together, to an earlier set.
// The set has every live task of the step as a member, tried or not (a task
// refused, or still held after a preemption), so that it is whole only when
// all of them were saved. If the set cannot be recorded, no checkpoint is
// taken: ungrouped rows would let the tasks come back from different moments.
void Checkpointer::GroupAsOneSet(std::vector<Attempt>& attempts) {
  std::vector<std::int64_t> ids;
  for (const Attempt& a : attempts) {
    if (!a.done && a.record && a.record->id())
      ids.push_back(a.record->id());
  }
  const auto live = static_cast<std::uint32_t>(attempts.size());
  auto c = catalog_.Get();
  if (live < 2 || ids.empty() || !c)
    return;
  Status st = c->GroupCheckpoints(ids, live);
  if (st.ok())
    return;
  const std::string reason = "recording the step's checkpoint set failed: " + st.message();
  Error("step {}: {}; no task is checkpointed this time", cat::StepName(id_.step), reason);
  for (Attempt& a : attempts) {
    if (a.done || !a.record)
      continue;
    a.record->Failed(reason);
    a.outcome.reason = reason;
    a.done = true;
  }
}

// The module's calls, and the re-reads of their images, are what takes
// time: the tasks' run side by side (a preemption's grace time is short),
// up to one per core; the catalog stays with the agent thread.
void Checkpointer::TakeAll(std::vector<Attempt>& attempts, bool hold,
                           std::chrono::steady_clock::time_point t0) const {
  std::vector<Attempt*> pending;
  for (Attempt& a : attempts) {
    if (!a.done)
      pending.push_back(&a);
  }
  // One consistent cut for a step of several tasks: each is held from its
  // own checkpoint until every one is written, so that none runs on past
  // its image while another's is taken (as a tree's processes are held);
  // then all run on together, before the images are read back.
  const bool cut = pending.size() > 1;
  ForEachParallel(pending, [&](Attempt& a) {
    const auto started = Clock::now();
    try {
      a.taken = Take(a.task, a.path, hold || cut);
    } catch (const std::exception& e) {
      a.taken.status = Status::Error(ENOMEM, fmt::format("checkpointing: {}", e.what()));
      return;
    }
    if (pending.size() > 1) {
      a.taken.started_ms = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(started - t0).count());
    }
  });
  if (cut && !hold) {
    for (Attempt* a : pending) {
      a->taken.cut = !a->taken.holds.empty();
      a->taken.holds.clear();  // released: the task runs on
    }
  }
  if (!cfg_.checkpoint.verify_after_write)
    return;
  ForEachParallel(pending, [&](Attempt& a) {
    if (!a.taken.status.ok())
      return;
    AsUser as(id_.uid, id_.gid);
    try {
      a.check = VerifyImage(a.path);
    } catch (const std::exception&) {
      a.check.reset();  // not verified (and not corrupt): the row stays COMMITTED
    }
  });
}

// Runs fn on every attempt, up to one thread per CPU of the job's (slurmstepd
// runs in its allocation), not the node's.
void Checkpointer::ForEachParallel(const std::vector<Attempt*>& pending,
                                   const std::function<void(Attempt&)>& fn) const {
  std::atomic<size_t> next{0};
  // Nothing may escape a worker thread (std::terminate would end slurmstepd).
  auto work = [&]() noexcept {
    for (size_t i; (i = next.fetch_add(1)) < pending.size();) {
      try {
        fn(*pending[i]);
      } catch (...) {
        // fn records its own failures; a stray exception leaves the attempt as it was
      }
    }
  };
  cpu_set_t allowed;
  const int job_cpus = ::sched_getaffinity(0, sizeof(allowed), &allowed) == 0
                           ? CPU_COUNT(&allowed)
                           : static_cast<int>(std::thread::hardware_concurrency());
  const size_t cores = static_cast<size_t>(std::max(2, job_cpus));
  std::vector<std::thread> workers;
  workers.reserve(std::min(pending.size(), cores));
  for (size_t w = 1; w < std::min(pending.size(), cores); w++) {
    try {
      workers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer at once; this thread works too
    }
  }
  work();
  for (std::thread& w : workers)
    w.join();
}

namespace {

// A process on its way out refuses a checkpoint a moment before it is a
// zombie: no process (ESRCH), or its /proc/PID/mem no longer opens for
// others once its memory is gone (EACCES, EPERM). Only those are waited
// for, briefly, and only by /proc/PID/stat: any other refusal is the
// task's own (the OOM killer's, say) and is recorded as it is.
bool EndedDuringCheckpoint(pid_t pid, const Status& st) {
  if (st.code() != -ESRCH && st.code() != -EACCES && st.code() != -EPERM)
    return false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  for (;;) {
    ProcStatus p = ReadProc(pid);
    if (!p.alive || p.state == 'Z' || p.state == 'X')
      return true;
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

Outcome Checkpointer::Finish(Attempt& a, cat::Trigger trigger) {
  const TaskInfo& t = a.task;
  const std::string& path = a.path;
  cat::CheckpointRecord& record = *a.record;
  Taken& taken = a.taken;
  Outcome& o = a.outcome;
  o.ms = taken.ms;
  std::string note = !taken.holds.empty() ? ", held before it ran on" : "";
  if (taken.tree_processes > 1)
    note += fmt::format(", a tree of {} processes", taken.tree_processes);
  if (taken.started_ms)
    note += fmt::format(", started {} ms into the step's checkpoint", *taken.started_ms);
  if (taken.cut)
    note += ", held until every task of the step was saved";
  if (!taken.holds.empty())
    holds_[t.local_id] = std::move(taken.holds);
  if (!taken.status.ok() && EndedDuringCheckpoint(t.process(), taken.status)) {
    // It ended during the checkpoint: whatever the try ran into (no
    // process, a /proc file an exiting process no longer lets be opened),
    // there is no live task it failed for, so no failure to record, as when
    // it ends between two polls (slurm_spank_task_exit is on its way).
    Debug("task {}: ended during its {} checkpoint; nothing recorded", t.rank,
          cat::ToString(trigger));
    record.Abandon();
    o.reason = kTaskExited;
    o.repeat = true;
    return o;
  }
  o.id = record.id();
  if (!taken.status.ok()) {
    o.reason = taken.status.message();
    if (RepeatedRefusal(t.local_id, trigger, o.reason)) {
      Debug("task {}: periodic checkpoint refused again: {}", t.rank, o.reason);
      record.Abandon();
      o.id = 0;
      o.repeat = true;
      return o;
    }
    Error("task {}: checkpoint ({}) failed: {}; the task runs on untouched", t.rank,
          cat::ToString(trigger), o.reason);
    record.Failed(o.reason);
    return o;
  }
  last_refusal_.erase(t.local_id);
  o.ok = true;
  o.image = path;
  o.bytes = taken.file_bytes ? taken.file_bytes : taken.result.image_bytes;
  record.Committed(
      {o.bytes, taken.result.header_checksum, taken.result.freeze_ns, taken.result.write_ns});
  std::string verified;
  if (a.check)
    verified = Verified(t, *a.check, record, &o, &note);
  Info(
      "task {}: {} checkpoint {} -> {} ({} bytes; freeze {:.1f} ms, write {:.1f} ms, total {} "
      "ms{}{})",
      t.rank, cat::ToString(trigger), o.id, path, o.bytes,
      static_cast<double>(taken.result.freeze_ns) / 1e6,
      static_cast<double>(taken.result.write_ns) / 1e6, o.ms, verified, note);
  if (o.ok)
    ApplyRetention(t.rank);
  return o;
}

Checkpointer::Taken Checkpointer::Take(const TaskInfo& t, const std::string& path,
                                       bool hold) const {
  Taken taken;
  const auto t0 = Clock::now();
  {
    // For a preemption checkpoint the task must not run one more instruction
    // once its image is taken: whatever it computed until the requeue would
    // be lost, and output it wrote to a pipe (srun steps) could not be rolled
    // back. The module holds it before it leaves the checkpoint, where
    // Slurm's SIGCONT and SIGTERM cannot resume it and the agent's SIGKILL
    // ends it; a failed checkpoint leaves it running.
    // The job owner's rule, not root's: what the owner could not attach to
    // with ptrace (a set-uid program, anything not dumpable) is refused, and
    // the image is created by, and belongs to, the owner.
    CheckpointOptions options;
    options.as_user = CheckpointOptions::User{id_.uid, id_.gid, id_.groups};
    // A task with children (a batch script running its programs) is saved
    // with all of them, as one tree image; it may fork its first child
    // between the look and the module's own.
    AnyCheckpointResult any;
    taken.status =
        CheckpointProcessOrTree(t.process(), path, options, &any, hold ? &taken.holds : nullptr);
    if (any.tree) {
      taken.result.image_bytes = any.processes.image_bytes;
      taken.result.pages_saved = any.processes.pages_saved;
      taken.result.freeze_ns = any.processes.freeze_ns;
      taken.result.write_ns = any.processes.write_ns;
      taken.result.header_checksum = any.processes.header_checksum;
      taken.tree_processes = any.processes.processes.size();
    } else {
      taken.result = any.process;
    }
  }
  if (taken.status.ok()) {
    AsUser as(id_.uid, id_.gid);  // the user's directory: opened as the user
    ImageCheck head = ReadImageHeader(path);
    taken.file_bytes = head.file_bytes;
  }
  taken.ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  return taken;
}

std::string Checkpointer::Verified(const TaskInfo& t, const ImageCheck& v,
                                   cat::CheckpointRecord& record, Outcome* o, std::string* note) {
  if (v.ok()) {
    record.Verified();
    return ", verified";
  }
  record.Corrupt(v.problem);
  Error("task {}: the image just written does not verify: {}", t.rank, v.problem);
  o->ok = false;
  o->reason = "verification: " + v.problem;
  // Nothing to resume from: the task runs on, as after a failed checkpoint.
  if (holds_.erase(t.local_id))
    *note = ", released";
  return ", VERIFY FAILED";
}

namespace {

// A refusal's cause without the process and thread ids it names: a batch
// script's shell starts a new child for each command, and "fd 3 is a
// socket" in the next child is the same cause, with the same fix.
std::string RefusalCause(const std::string& reason) {
  static const std::regex kIds("(process|thread) [0-9]+");
  return std::regex_replace(reason, kIds, "$1 #");
}

}  // namespace

bool Checkpointer::RepeatedRefusal(std::uint32_t local_id, cat::Trigger trigger,
                                   const std::string& reason) {
  // The same cause at every interval (a socket the task keeps open) is
  // recorded and logged once; an on-demand, preemption or time-limit
  // checkpoint is always recorded, as someone waits for its answer.
  std::string cause = RefusalCause(reason);
  auto [last, inserted] = last_refusal_.try_emplace(local_id, cause);
  const bool repeated = !inserted && last->second == cause;
  last->second = std::move(cause);
  return trigger == cat::Trigger::kPeriodic && !reason.empty() && repeated;
}

bool Checkpointer::Refused(const TaskInfo& t, cat::Trigger trigger, const std::string& path,
                           const std::optional<JobSnapshot>& job, Outcome* o) {
  auto record_failure = [&](const std::string& reason) {
    auto record = cat::CheckpointRecord::Begin(catalog_.Get(), RowInfo(t, trigger, path, job),
                                               TaskWarning(t.rank));
    record.Failed(reason);
    o->id = record.id();
  };
  // What the module does not check: the task must be one process.
  std::string refusal = WhyNotCheckpointable(t.process());
  if (refusal == kTaskExited) {
    // Ended between two polls; slurm_spank_task_exit is on its way.
    o->reason = refusal;
    o->repeat = true;
    return true;
  }
  if (!refusal.empty()) {
    o->reason = refusal;
    o->repeat = RepeatedRefusal(t.local_id, trigger, refusal);
    if (!o->repeat) {
      Error("task {}: cannot checkpoint (trigger {}): {}; the task runs on untouched", t.rank,
            cat::ToString(trigger), refusal);
      record_failure(refusal);
    }
    return true;
  }
  const std::string dir = path.substr(0, path.rfind('/'));
  if (Status st = PrepareDir(dir); !st.ok()) {
    o->reason = "image directory: " + st.message();
    Error("task {}: cannot checkpoint (trigger {}): {}", t.rank, cat::ToString(trigger), o->reason);
    record_failure(o->reason);
    return true;
  }
  return false;
}

Status Checkpointer::PrepareDir(const std::string& dir) {
  if (!settings_.dir_from_user) {
    // The site's fixed part is root's to create: sticky and world-writable
    // like /tmp, so each user can make (only) their own directory below it.
    std::string prefix = config::ImageDirFixedPrefix(settings_.dir_pattern);
    struct stat st;
    if (::stat(prefix.c_str(), &st) != 0)
      KCR_RETURN_IF_ERROR(MakeDirs(prefix, 01777));
  }
  AsUser as(id_.uid, id_.gid);
  KCR_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  // A directory another user made first (a {user} directory below a 1777
  // site directory) would let that user swap the images the job restores.
  return CheckTrustedDir(dir, id_.uid, id_.gid);
}

// The catalog row of one task's checkpoint: who, where, which job run.
cat::CheckpointInfo Checkpointer::RowInfo(const TaskInfo& t, cat::Trigger trigger,
                                          const std::string& path,
                                          const std::optional<JobSnapshot>& job) const {
  cat::CheckpointInfo info;
  info.job_id = id_.job;
  info.step_id = id_.step;
  info.task = t.rank;
  info.node = id_.node;
  info.pid = t.process();
  info.uid = id_.uid;
  info.user = id_.user;
  info.image_path = path;
  info.trigger = trigger;
  info.kernel_release = util::KernelRelease();
  if (job) {
    info.partition = job->partition;
    info.restart_count = job->restart_cnt;
    if (job->array_job_id) {
      info.array_job_id = job->array_job_id;
      info.array_task_id = job->array_task_id;
    }
  }
  return info;
}

// Keeps the newest retention.keep_last good images of each of this step's
// task series; older ones are expired and their files removed, so a long
// job with a short interval does not fill the disk.
void Checkpointer::ApplyRetention(std::uint32_t rank) {
  std::shared_ptr<cat::Catalog> c = catalog_.Get();
  if (!c || cfg_.retention.keep_last == 0)
    return;
  if (Status st = ExpireBeyondKeepLast(*c, rank); !st.ok())
    Error("task {}: applying retention.keep_last: {}", rank, st.message());
}

Status Checkpointer::ExpireBeyondKeepLast(cat::Catalog& c, std::uint32_t rank) {
  cat::ListFilter f;
  f.job = id_.job;
  f.step = id_.step;
  f.task = rank;
  std::vector<cat::CheckpointRow> rows;
  KCR_RETURN_IF_ERROR(c.List(f, &rows));
  cat::RetentionPolicy policy;
  policy.keep_last = cfg_.retention.keep_last;
  cat::ActiveJobs active = std::unordered_set<std::uint32_t>{id_.job};
  cat::PrunePlan plan = cat::PlanRetention(rows, policy, active, util::NowNs());
  for (const cat::PruneAction& a : plan.actions) {
    if (a.kind != cat::PruneKind::kExpire)
      continue;
    KCR_RETURN_IF_ERROR(c.Move(a.id, cat::State::kExpired, a.reason));
    if (a.unlink_image) {
      AsUser as(id_.uid, id_.gid);
      if (int err = util::RemoveImage(a.image_path); err != 0 && err != ENOENT) {
        Error("task {}: removing expired image {}: {}", rank, a.image_path, std::strerror(err));
        continue;
      }
    }
    KCR_RETURN_IF_ERROR(c.Move(a.id, cat::State::kDeleted, a.reason));
    Debug("task {}: expired checkpoint {} ({})", rank, a.id, a.reason);
  }
  return Status::Ok();
}

}  // namespace kcr::spank
