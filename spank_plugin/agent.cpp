// The agent's loop and how its parts meet (agent.h lists them). Everything
// here runs on the agent thread except AddTask, TaskExited and Stop.
#include "agent.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <kcr/checkpoint.h>
#include <kcr/unique_fd.h>
#include "catalog_access.h"
#include "kcr/catalog/records.h"
#include "kcr/catalog/state.h"
#include "kcr/util/units.h"
#include "log.h"
#include "proc.h"
#include "request_server.h"
#include "restore_ids.h"
#include "restore_tracker.h"
#include "schedule.h"
#include "slurm_job.h"
#include "task_checkpoint.h"
#include "task_table.h"

namespace kcr::spank {

namespace {

namespace cat = kcr::catalog;

// While tasks wait held for the requeue, each keeps a CPU slot of the node:
// the job's leaving is watched more closely, to end them soon.
constexpr std::chrono::milliseconds kHeldPoll{100};

// "1m30s": log lines show intervals unit by unit.
std::string Seconds(std::chrono::seconds s) {
  return util::FormatDuration(s, util::DurationStyle::kCompound);
}

JobView ViewOf(const std::optional<JobSnapshot>& job) {
  JobView v;
  if (!job)
    return v;
  v.known = true;
  v.running = job->running();
  v.suspended = job->suspended();
  v.preempt_time = job->preempt_time;
  v.end_time = job->end_time;
  v.time_limited = job->time_limit != JobSnapshot::kInfinite;
  return v;
}

TriggerRules RulesOf(const Settings& settings, const config::Config& cfg) {
  return {settings.checkpoints(), settings.on.preempt, settings.on.timelimit,
          cfg.checkpoint.grace_margin};
}

}  // namespace

struct Agent::Impl final : RequestHandler {
  Impl(StepIdentity identity, Settings s, SiteOptions site_options, config::Config c)
      : id(std::move(identity)),
        settings(std::move(s)),
        site(std::move(site_options)),
        cfg(std::move(c)),
        catalog(cfg.catalog_path),
        checkpointer(id, settings, cfg, catalog),
        restores(id, settings, catalog),
        server(
            id.job, id.step, id.uid,
            [this](pid_t pid) -> std::optional<std::uint32_t> {
              auto t = tasks.FindByPid(pid);
              return t ? std::optional(t->local_id) : std::nullopt;
            },
            *this),
        schedule(RulesOf(settings, cfg)) {}

  const StepIdentity id;
  const Settings settings;
  const SiteOptions site;
  const config::Config cfg;

  // Shared with slurmstepd's thread.
  TaskTable tasks;
  std::atomic<bool> stopping{false};
  UniqueFd wake;  // eventfd: Stop() and TaskExited() interrupt the poll
  std::thread thread;

  // The agent thread's.
  CatalogAccess catalog;
  Checkpointer checkpointer;
  RestoreTracker restores;
  RequestServer server;
  TriggerSchedule schedule;
  std::optional<JobSnapshot> job;  // what slurmctld said when it last answered
  bool load_error_logged = false;

  void Run();
  void Poll();
  void RefreshJob();
  void ProcessExits();
  std::vector<Outcome> CheckpointAll(cat::Trigger trigger, bool hold);
  void Rearm();
  std::chrono::seconds AutoIntervalNow();
  CheckpointCost CostOf(std::uint32_t rank, const std::vector<TaskInfo>& all);

  // RequestHandler
  std::vector<slurm::TaskResult> OnCheckpoint(const Peer& peer) override;
  PlanAnswer OnRestorePlan(std::uint32_t local_id, std::int64_t restart) override;
  void OnRestoreTry(std::uint32_t local_id, std::int64_t checkpoint,
                    const std::string& image) override;
  void OnRestoreFailed(std::uint32_t local_id, std::int64_t checkpoint, bool image_corrupt,
                       const std::string& reason) override;
  void OnRestoreCold(std::uint32_t local_id, const std::string& reason) override;
  Status OnMapIds(std::uint32_t local_id, pid_t process, const std::string& clocks) override;
  void OnRestored(std::uint32_t local_id, pid_t program, bool clocks_continued) override;
};

Agent::Agent(StepIdentity id, Settings settings, SiteOptions site, config::Config config)
    : impl_(std::make_unique<Impl>(std::move(id), std::move(settings), std::move(site),
                                   std::move(config))) {
  impl_->wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

Agent::~Agent() {
  Stop();
}

void Agent::AddTask(std::uint32_t local_id, std::uint32_t rank, pid_t pid) {
  impl_->tasks.Add({local_id, rank, pid});
}

void Agent::TaskExited(std::uint32_t local_id, int wait_status) {
  impl_->tasks.QueueExit(local_id, wait_status);
  std::uint64_t one = 1;
  (void)!::write(impl_->wake.get(), &one, sizeof(one));
}

void Agent::Stop() {
  if (!impl_->thread.joinable())
    return;
  impl_->stopping = true;
  std::uint64_t one = 1;
  (void)!::write(impl_->wake.get(), &one, sizeof(one));
  impl_->thread.join();
}

// ---- the loop ---------------------------------------------------------------------------------

void Agent::Impl::Run() {
  SetLogJob(id.job);
  server.Listen(site.spool_dir);
  Rearm();
  Info("step {}: checkpoint agent started (interval {}, on {}, images in {})",
       cat::StepName(id.step),
       settings.interval.kind == Interval::Kind::kAuto
           ? fmt::format("auto = {}", Seconds(schedule.interval()))
           : ToString(settings.interval),
       ToString(settings.on), settings.dir_pattern);
  auto next_poll = Clock::now();
  while (!stopping) {
    std::vector<pollfd> fds{{wake.get(), POLLIN, 0}};
    server.AddPollFds(&fds);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - Clock::now());
    int r =
        ::poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (r < 0 && errno != EINTR) {
      Error("step {}: poll failed: {}; the agent stops", cat::StepName(id.step),
            std::strerror(errno));
      break;
    }
    std::uint64_t drained;
    while (::read(wake.get(), &drained, sizeof(drained)) > 0) {
    }
    // Requests first: what a task sent before it ended (a restore-try, then
    // exit 75) was readable before slurmstepd reaped it and reported the exit.
    server.Serve();
    ProcessExits();
    if (Clock::now() >= next_poll && !stopping) {
      Poll();
      next_poll =
          Clock::now() + (checkpointer.AnyHeld() ? std::min(site.poll, kHeldPoll) : site.poll);
    }
  }
  ProcessExits();
  server.Close();
  Debug("step {}: checkpoint agent stopped", cat::StepName(id.step));
}

void Agent::Impl::Poll() {
  RefreshJob();
  const std::time_t now = std::time(nullptr);
  switch (schedule.Next(ViewOf(job), now, Clock::now())) {
    case Due::kEndHeldTasks:
      // A task held after its preemption checkpoint ends now, not when
      // Slurm's SIGKILL comes KillWait seconds later.
      checkpointer.KillHeld(tasks.Snapshot());
      break;
    case Due::kPreempt:
      Info(
          "step {}: preemption grace period started {} s ago (job ends by then + {} s); "
          "checkpointing every task",
          cat::StepName(id.step), now - job->preempt_time, job->end_time - now);
      CheckpointAll(cat::Trigger::kPreempt, /*hold=*/true);
      break;
    case Due::kTimelimit:
      Info("step {}: time limit in {} s (margin {}); checkpointing every task",
           cat::StepName(id.step), job->end_time - now, Seconds(cfg.checkpoint.grace_margin));
      CheckpointAll(cat::Trigger::kTimelimit, /*hold=*/false);
      break;
    case Due::kPeriodic:
      CheckpointAll(cat::Trigger::kPeriodic, /*hold=*/false);
      break;
    case Due::kNothing:
      break;
  }
  restores.Watch(tasks.Snapshot());
}

void Agent::Impl::RefreshJob() {
  JobSnapshot now;
  Status st = LoadJob(id.job, &now);
  if (st.ok()) {
    job = std::move(now);
    load_error_logged = false;
  } else if (!load_error_logged) {
    Error(
        "cannot ask slurmctld about the job ({}); preemption and time-limit checkpoints wait "
        "until it answers",
        st.message());
    load_error_logged = true;
  }
}

void Agent::Impl::ProcessExits() {
  for (const TaskExit& e : tasks.TakeExits()) {
    checkpointer.Forget(e.task.local_id);
    restores.Exited(e.task, e.wait_status);
  }
}

// ---- checkpoints and their schedule -----------------------------------------------------------

std::vector<Outcome> Agent::Impl::CheckpointAll(cat::Trigger trigger, bool hold) {
  std::vector<Outcome> out = checkpointer.CheckpointAll(tasks.Snapshot(), trigger, hold, job);
  Rearm();  // the interval counts from the last checkpoint of any kind
  return out;
}

void Agent::Impl::Rearm() {
  std::chrono::seconds interval{0};
  if (settings.interval.kind == Interval::Kind::kFixed)
    interval = settings.interval.every;
  else if (settings.interval.kind == Interval::Kind::kAuto)
    interval = AutoIntervalNow();
  schedule.Rearm(interval, Clock::now());
}

std::chrono::seconds Agent::Impl::AutoIntervalNow() {
  const std::vector<TaskInfo> all = tasks.Snapshot();
  std::vector<CheckpointCost> costs;
  for (const TaskInfo& t : all)
    costs.push_back(CostOf(t.rank, all));
  if (all.empty())
    costs.push_back(CostOf(0, all));
  const AutoInterval a = ChooseAutoInterval(costs, site.mtbf, cfg.slurm.mtbf, site.min_interval);
  if (a.mtbf_assumed) {
    Error(
        "--checkpoint=auto needs the site's MTBF (slurm.mtbf in {} or mtbf= in "
        "plugstack.conf); assuming 24h",
        cfg.source.empty() ? "kcr.yaml" : cfg.source);
  }
  if (a.interval != schedule.interval()) {
    Info(
        "step {}: --checkpoint=auto: every {} (Young/Daly: checkpoint cost {:.2f} s {}, MTBF "
        "{} -> {}{})",
        cat::StepName(id.step), Seconds(a.interval), a.cost.seconds.count(), a.cost.how,
        Seconds(a.mtbf), Seconds(a.young_daly),
        a.interval != a.young_daly
            ? fmt::format(", raised to the site minimum {}", Seconds(site.min_interval))
            : "");
  }
  return a.interval;
}

// The cost of one checkpoint of task `rank`: its last (up to 3) committed
// checkpoints in the catalog, else an estimate from its memory.
CheckpointCost Agent::Impl::CostOf(std::uint32_t rank, const std::vector<TaskInfo>& all) {
  std::vector<std::uint64_t> measured;
  if (auto c = catalog.Get()) {
    cat::ListFilter f;
    f.job = id.job;
    f.step = id.step;
    f.task = rank;
    f.states = {cat::State::kCommitted, cat::State::kVerified};
    f.limit = 3;
    std::vector<cat::CheckpointRow> rows;
    if (Status st = c->List(f, &rows); !st.ok())
      Error("reading checkpoint costs from the catalog: {}", st.message());
    for (const auto& r : rows)
      measured.push_back(r.freeze_ns + r.write_ns);
  }
  std::uint64_t bytes = 0;
  if (measured.empty()) {
    for (const TaskInfo& t : all) {
      if (t.rank == rank)
        bytes = EstimateImageBytes(t.process());
    }
  }
  return EstimateCost(measured, bytes);
}

// ---- requests ---------------------------------------------------------------------------------

std::vector<slurm::TaskResult> Agent::Impl::OnCheckpoint(const Peer& peer) {
  Info("step {}: checkpoint requested by uid {} (pid {})", cat::StepName(id.step), peer.uid,
       peer.pid);
  std::vector<slurm::TaskResult> results;
  for (const Outcome& o : CheckpointAll(cat::Trigger::kManual, /*hold=*/false)) {
    slurm::TaskResult r;
    r.job = id.job;
    r.step = id.step;
    r.task = o.rank;
    r.ok = o.ok;
    r.checkpoint_id = o.id;
    r.bytes = o.bytes;
    r.ms = o.ms;
    r.image = o.image;
    r.reason = o.reason;
    results.push_back(std::move(r));
  }
  return results;
}

PlanAnswer Agent::Impl::OnRestorePlan(std::uint32_t local_id, std::int64_t restart) {
  PlanAnswer answer;
  auto task = tasks.Find(local_id);
  if (!task)
    return answer;
  const std::uint32_t run =
      RunOf(job ? std::optional<std::uint32_t>(job->restart_cnt) : std::nullopt, restart);
  RestorePlan plan = restores.Plan(*task, run);
  for (const cat::CheckpointRow& r : plan.candidates) {
    answer.candidates.push_back(
        {r.id, std::string(cat::ToString(r.info.trigger)), r.info.image_path});
  }
  answer.note = plan.note;
  return answer;
}

void Agent::Impl::OnRestoreTry(std::uint32_t local_id, std::int64_t checkpoint,
                               const std::string& image) {
  if (auto task = tasks.Find(local_id))
    restores.Tried(*task, checkpoint, image);
}

void Agent::Impl::OnRestoreFailed(std::uint32_t local_id, std::int64_t checkpoint,
                                  bool image_corrupt, const std::string& reason) {
  if (auto task = tasks.Find(local_id))
    restores.FailureReported(*task, checkpoint, reason, image_corrupt);
}

void Agent::Impl::OnRestoreCold(std::uint32_t local_id, const std::string& reason) {
  if (auto task = tasks.Find(local_id))
    restores.WentCold(*task, reason);
}

Status Agent::Impl::OnMapIds(std::uint32_t local_id, pid_t process, const std::string& clocks) {
  auto task = tasks.Find(local_id);
  if (!task)
    return Status::Error(ESRCH, "no such task");
  Status st = MapRestoreIds(process, task->pid, id.uid, clocks);
  if (!st.ok())
    Error("task {}: not mapping the ids of its restore's namespace: {}", task->rank, st.message());
  return st;
}

void Agent::Impl::OnRestored(std::uint32_t local_id, pid_t program, bool clocks_continued) {
  auto task = tasks.Find(local_id);
  if (!task)
    return;
  // Only a process of the task's own may stand for it: the agent checkpoints
  // it as root from now on.
  if (!IsDescendant(program, task->pid)) {
    if (::kill(program, 0) != 0 && errno == ESRCH) {
      restores.Restored(*task, program, clocks_continued);  // it ran, and has ended already
      return;
    }
    Error("task {}: ignoring 'restored pid={}': not a process below the task (pid {})", task->rank,
          program, task->pid);
    return;
  }
  tasks.SetProgram(local_id, program);
  task->program_pid = program;
  restores.Restored(*task, program, clocks_continued);
}

}  // namespace kcr::spank
