#include "agent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "checkpoint.h"
#include "fs_identity.h"
#include "image.h"
#include "kcr/catalog/catalog.h"
#include "kcr/catalog/retention.h"
#include "kcr/util/clock.h"
#include "kcr/util/host.h"
#include "kcr/util/units.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "slurm_job.h"
#include "slurm_request.h"
#include "unique_fd.h"

namespace kcr::spank {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kParkedPoll{100};
constexpr size_t kMaxClients = 64;
namespace cat = kcr::catalog;

// "1m30s": log lines show measured intervals unit by unit.
std::string FormatSeconds(std::chrono::seconds s) {
  return util::format_duration(s, util::DurationStyle::kCompound);
}

std::string StepName(std::uint32_t step) {
  return cat::step_name(step);
}

// mkdir -p, each new directory with `mode`; as whoever the thread is now.
bool MakeDirs(const std::string& path, mode_t mode, std::string* why) {
  std::string sofar;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    sofar = path.substr(0, pos);
    if (sofar.empty())
      continue;
    if (::mkdir(sofar.c_str(), mode) == 0) {
      ::chmod(sofar.c_str(), mode);  // mkdir's mode went through the umask
      continue;
    }
    if (errno == EEXIST) {
      struct stat st;
      if (::stat(sofar.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        continue;
      *why = fmt::format("{} exists and is not a directory", sofar);
      return false;
    }
    *why = fmt::format("cannot create directory {}: {}", sofar, std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace

struct Agent::Impl {
  Impl(StepIdentity identity, Settings s, SiteOptions site_options, config::Config c)
      : id(std::move(identity)),
        settings(std::move(s)),
        site(std::move(site_options)),
        cfg(std::move(c)) {}

  struct Task {
    std::uint32_t local_id = 0;
    std::uint32_t rank = 0;
    pid_t pid = 0;
    bool exited = false;
    std::string last_refusal;  // the last "cannot checkpoint" reason, to not repeat rows
    // A restore the task announced and has not yet been seen to finish.
    std::int64_t restore_id = 0;
    std::int64_t restore_checkpoint = 0;
    bool restore_awaiting = false;  // connection closed: is it running restored?
    int restore_polls = 0;
  };

  struct Client {
    slurm::LineSocket sock;
    pid_t pid = 0;
    uid_t uid = 0;
    std::optional<std::uint32_t> task;  // local id, when the peer is one of our tasks
  };

  struct Outcome {
    std::uint32_t rank = 0;
    bool ok = false;
    std::int64_t id = 0;
    std::string image;
    std::uint64_t bytes = 0;
    std::uint64_t ms = 0;
    std::string reason;
    bool repeat = false;  // the same refusal as last time: not recorded again
  };

  StepIdentity id;
  Settings settings;
  SiteOptions site;
  config::Config cfg;

  std::mutex mu;  // guards tasks and exits between slurmstepd's thread and ours
  std::vector<Task> tasks;
  std::vector<std::pair<std::uint32_t, int>> exits;  // local id, wait status
  // Holds of the tasks kept parked in the kernel after their preemption
  // checkpoint (KCR_CKPT_HOLD), by local id; the one record of which tasks
  // are held. Closing one lets its task run on, so a task is killed before
  // its hold goes; a task that exits loses its hold.
  std::map<std::uint32_t, UniqueFd> holds;
  std::atomic<bool> stopping{false};
  UniqueFd wake;  // eventfd: Stop() and TaskExited() interrupt the poll
  std::thread thread;

  // Everything below belongs to the agent thread.
  std::optional<cat::Catalog> catalog;
  Clock::time_point catalog_retry{};
  UniqueFd listener;
  std::string socket_path;
  std::vector<Client> clients;
  JobSnapshot snap;
  bool have_snap = false;
  bool load_error_logged = false;
  bool preempt_done = false;
  std::time_t timelimit_done_for = 0;
  Clock::time_point next_periodic{};
  std::chrono::seconds interval{0};
  bool auto_pending = false;  // auto: chosen at the first poll, once the tasks are known
  std::uint32_t seq = 0;
  std::string kernel = util::kernel_release();

  void Run();
  void Poll();
  void ProcessExits();
  void CheckRestores();
  void SetUpSocket();
  void AcceptClients();
  void ServeClients();
  bool Handle(Client& c, const std::string& line);
  cat::Catalog* Catalog();
  void ScheduleNext();
  std::chrono::duration<double> MeasuredCost(std::uint32_t rank, std::string* how);
  std::vector<Outcome> CheckpointAll(cat::Trigger trigger, bool park);
  Outcome CheckpointTask(const Task& t, cat::Trigger trigger, bool park);
  std::int64_t RecordFailure(const Task& t, cat::Trigger trigger, const std::string& path,
                             const std::string& reason);
  cat::CheckpointInfo RowInfo(const Task& t, cat::Trigger trigger, const std::string& path) const;
  bool PrepareDir(const std::string& dir, std::string* why);
  void ApplyRetention(std::uint32_t rank);
  void KillParked();
  bool AnyParked();
  Task* FindTask(std::uint32_t local_id);
  Task* FindTaskByPid(pid_t pid);
  std::vector<Task> TaskCopy();
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
  std::lock_guard lock(impl_->mu);
  Impl::Task t;
  t.local_id = local_id;
  t.rank = rank;
  t.pid = pid;
  impl_->tasks.push_back(t);
}

void Agent::TaskExited(std::uint32_t local_id, int wait_status) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->exits.emplace_back(local_id, wait_status);
  }
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

Agent::Impl::Task* Agent::Impl::FindTask(std::uint32_t local_id) {
  for (Task& t : tasks) {
    if (t.local_id == local_id)
      return &t;
  }
  return nullptr;
}

Agent::Impl::Task* Agent::Impl::FindTaskByPid(pid_t pid) {
  for (Task& t : tasks) {
    if (t.pid == pid)
      return &t;
  }
  return nullptr;
}

std::vector<Agent::Impl::Task> Agent::Impl::TaskCopy() {
  std::lock_guard lock(mu);
  return tasks;
}

// ---- the loop -----------------------------------------------------------------------------

void Agent::Impl::Run() {
  SetLogJob(id.job);
  SetUpSocket();
  interval = settings.interval.kind == Interval::Kind::kFixed ? settings.interval.every
                                                              : std::chrono::seconds(0);
  if (settings.interval.kind == Interval::Kind::kAuto)
    ScheduleNext();
  if (interval.count() > 0)
    next_periodic = Clock::now() + interval;
  Info("step {}: checkpoint agent started (interval {}, on {}, images in {})", StepName(id.step),
       settings.interval.kind == Interval::Kind::kAuto
           ? fmt::format("auto = {}", FormatSeconds(interval))
           : ToString(settings.interval),
       ToString(settings.on), settings.dir_pattern);
  auto next_poll = Clock::now();
  while (!stopping) {
    std::vector<pollfd> fds;
    fds.push_back({wake.get(), POLLIN, 0});
    if (listener.valid())
      fds.push_back({listener.get(), POLLIN, 0});
    for (const Client& c : clients)
      fds.push_back({c.sock.fd(), POLLIN, 0});
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - Clock::now());
    int timeout = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    int r = ::poll(fds.data(), fds.size(), timeout);
    if (r < 0 && errno != EINTR) {
      Error("step {}: poll failed: {}; the agent stops", StepName(id.step), std::strerror(errno));
      break;
    }
    std::uint64_t drained;
    while (::read(wake.get(), &drained, sizeof(drained)) > 0) {
    }
    ProcessExits();
    if (listener.valid())
      AcceptClients();
    ServeClients();
    if (Clock::now() >= next_poll && !stopping) {
      Poll();
      CheckRestores();
      // While tasks wait held for the requeue, each keeps a CPU slot of the
      // node: the job's leaving is watched more closely, to end them soon.
      next_poll = Clock::now() + (AnyParked() ? std::min(site.poll, kParkedPoll) : site.poll);
    }
  }
  ProcessExits();
  clients.clear();
  if (!socket_path.empty())
    ::unlink(socket_path.c_str());
  Debug("step {}: checkpoint agent stopped", StepName(id.step));
}

void Agent::Impl::Poll() {
  if (auto_pending) {
    auto_pending = false;
    ScheduleNext();
  }
  std::string why;
  if (LoadJob(id.job, &snap, &why)) {
    have_snap = true;
    load_error_logged = false;
  } else if (!load_error_logged) {
    Error(
        "cannot ask slurmctld about the job ({}); preemption and time-limit checkpoints wait "
        "until it answers",
        why);
    load_error_logged = true;
  }
  std::time_t now = std::time(nullptr);
  if (have_snap && !snap.running()) {
    // The job is leaving: a task held after its preemption checkpoint ends
    // now, not when Slurm's SIGKILL comes KillWait seconds later.
    KillParked();
    return;
  }
  if (have_snap && snap.suspended())
    return;
  // A job that only restores (--restart-from=ID with --checkpoint=off) takes no checkpoints.
  if (!settings.checkpoints())
    return;
  if (have_snap && settings.on.preempt && snap.preempt_time != 0 && !preempt_done) {
    preempt_done = true;
    Info(
        "step {}: preemption grace period started {} s ago (job ends by then + {} s); "
        "checkpointing every task",
        StepName(id.step), now - snap.preempt_time, snap.end_time - now);
    CheckpointAll(cat::Trigger::kPreempt, /*park=*/true);
    return;
  }
  if (have_snap && settings.on.timelimit && snap.preempt_time == 0 &&
      snap.time_limit != JobSnapshot::kInfinite && snap.end_time > 0 &&
      now + cfg.checkpoint.grace_margin.count() >= snap.end_time &&
      timelimit_done_for != snap.end_time) {
    timelimit_done_for = snap.end_time;
    Info("step {}: time limit in {} s (margin {}); checkpointing every task", StepName(id.step),
         snap.end_time - now, FormatSeconds(cfg.checkpoint.grace_margin));
    CheckpointAll(cat::Trigger::kTimelimit, /*park=*/false);
    return;
  }
  if (interval.count() > 0 && Clock::now() >= next_periodic && !preempt_done) {
    CheckpointAll(cat::Trigger::kPeriodic, /*park=*/false);
  }
}

void Agent::Impl::ScheduleNext() {
  if (settings.interval.kind == Interval::Kind::kAuto) {
    std::chrono::seconds mtbf = site.mtbf.count() > 0 ? site.mtbf : cfg.slurm.mtbf;
    std::string how;
    auto tasks_now = TaskCopy();
    std::chrono::duration<double> cost{0};
    for (const Task& t : tasks_now) {
      std::string h;
      auto c = MeasuredCost(t.rank, &h);
      if (c >= cost)
        cost = c, how = h;
    }
    if (tasks_now.empty())
      cost = MeasuredCost(0, &how);
    if (mtbf.count() <= 0) {
      mtbf = std::chrono::hours(24);
      Error(
          "--checkpoint=auto needs the site's MTBF (slurm.mtbf in {} or mtbf= in "
          "plugstack.conf); assuming 24h",
          cfg.source.empty() ? "kcr.yaml" : cfg.source);
    }
    auto chosen = config::young_daly_interval(cost, mtbf);
    auto floor = site.min_interval;
    std::chrono::seconds used = std::max(chosen, floor);
    if (used != interval) {
      Info(
          "step {}: --checkpoint=auto: every {} (Young/Daly: checkpoint cost {:.2f} s {}, MTBF "
          "{} -> {}{})",
          StepName(id.step), FormatSeconds(used), cost.count(), how, FormatSeconds(mtbf),
          FormatSeconds(chosen),
          used != chosen ? fmt::format(", raised to the site minimum {}", FormatSeconds(floor))
                         : "");
    }
    interval = used;
  }
  if (interval.count() > 0)
    next_periodic = Clock::now() + interval;
}

// The cost of one checkpoint of task `rank`: the mean of its last (up to 3)
// committed checkpoints in the catalog, else an estimate from its memory.
std::chrono::duration<double> Agent::Impl::MeasuredCost(std::uint32_t rank, std::string* how) {
  if (cat::Catalog* c = Catalog()) {
    try {
      cat::ListFilter f;
      f.job = id.job;
      f.step = id.step;
      f.task = rank;
      f.states = {cat::State::kCommitted, cat::State::kVerified};
      f.limit = 3;
      auto rows = c->list(f);
      if (!rows.empty()) {
        double sum = 0;
        for (const auto& r : rows)
          sum += static_cast<double>(r.freeze_ns + r.write_ns) / 1e9;
        *how =
            fmt::format("measured over {} checkpoint{}", rows.size(), rows.size() > 1 ? "s" : "");
        return std::chrono::duration<double>(sum / static_cast<double>(rows.size()));
      }
    } catch (const std::exception& e) {
      Error("reading checkpoint costs from the catalog: {}", e.what());
    }
  }
  std::uint64_t bytes = 0;
  for (const Task& t : TaskCopy()) {
    if (t.rank == rank)
      bytes = EstimateImageBytes(t.pid);
  }
  // Until a checkpoint was measured: 1 GiB/s plus a fixed 0.1 s.
  *how = fmt::format("estimated from {} MiB of memory (none measured yet)", bytes >> 20);
  return std::chrono::duration<double>(0.1 + static_cast<double>(bytes) / (1 << 30));
}

void Agent::Impl::ProcessExits() {
  std::vector<std::pair<std::uint32_t, int>> done;
  {
    std::lock_guard lock(mu);
    done.swap(exits);
  }
  for (auto [local_id, status] : done) {
    std::optional<Task> t;
    {
      std::lock_guard lock(mu);
      if (Task* p = FindTask(local_id)) {
        p->exited = true;
        holds.erase(local_id);
        t = *p;
        p->restore_id = 0;
        p->restore_awaiting = false;
      }
    }
    if (!t || t->restore_id == 0)
      continue;
    // The task ended before the agent saw it run restored.
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::string text = WIFEXITED(status) && WEXITSTATUS(status) == kBrokenRestoreExit
                           ? "the restore failed after the task process had been changed"
                       : WIFEXITED(status)
                           ? fmt::format("the task exited with status {} right after the restore",
                                         WEXITSTATUS(status))
                           : fmt::format("the task was killed by signal {} right after the restore",
                                         WTERMSIG(status));
    if (ok) {
      Info("task {}: restored from checkpoint {} and finished", t->rank, t->restore_checkpoint);
    } else {
      Error("task {}: restore from checkpoint {}: {}", t->rank, t->restore_checkpoint, text);
    }
    if (cat::Catalog* c = Catalog()) {
      try {
        c->finish_restore(t->restore_id,
                          ok ? cat::RestoreOutcome::kSucceeded : cat::RestoreOutcome::kFailed,
                          ok ? "" : text);
      } catch (const std::exception& e) {
        Error("recording the restore outcome: {}", e.what());
      }
    }
  }
}

// A task that announced a restore and closed its connection either runs
// restored now (the module gave it the image's name) or failed on the way.
void Agent::Impl::CheckRestores() {
  for (const Task& copy : TaskCopy()) {
    if (!copy.restore_awaiting || copy.exited)
      continue;
    // The module names a restored process after the image's program; before
    // the restore (and after a failed one) the task is still "slurmstepd".
    std::string comm;
    {
      UniqueFd fd(::open(fmt::format("/proc/{}/comm", copy.pid).c_str(), O_RDONLY | O_CLOEXEC));
      char buf[32] = {};
      if (fd.valid() && ::read(fd.get(), buf, sizeof(buf) - 1) > 0)
        comm = buf;
      if (!comm.empty() && comm.back() == '\n')
        comm.pop_back();
    }
    bool restored = !comm.empty() && comm.rfind("slurmstepd", 0) != 0;
    {
      std::lock_guard lock(mu);
      Task* p = FindTask(copy.local_id);
      if (!p || !p->restore_awaiting)
        continue;
      if (!restored && ++p->restore_polls < 30)
        continue;
      p->restore_awaiting = false;
      p->restore_id = 0;
    }
    if (restored) {
      Info("task {}: restored from checkpoint {}; it runs on as pid {} ({})", copy.rank,
           copy.restore_checkpoint, copy.pid, comm);
    } else {
      Error("task {}: restore from checkpoint {} was not seen to complete", copy.rank,
            copy.restore_checkpoint);
    }
    if (cat::Catalog* c = Catalog()) {
      try {
        c->finish_restore(copy.restore_id,
                          restored ? cat::RestoreOutcome::kSucceeded : cat::RestoreOutcome::kFailed,
                          restored ? "" : "not seen running restored within 30 polls");
      } catch (const std::exception& e) {
        Error("recording the restore outcome: {}", e.what());
      }
    }
  }
}

// ---- catalog --------------------------------------------------------------------------------

cat::Catalog* Agent::Impl::Catalog() {
  if (catalog)
    return &*catalog;
  if (Clock::now() < catalog_retry)
    return nullptr;
  try {
    std::filesystem::path p(cfg.catalog_path);
    std::string why;
    if (p.has_parent_path() && !MakeDirs(p.parent_path().string(), 0755, &why)) {
      throw std::runtime_error(why);
    }
    catalog.emplace(cat::Catalog::open(p));
    return &*catalog;
  } catch (const std::exception& e) {
    Error("cannot open the catalog {}: {}; checkpoints go on unrecorded (retrying in 60 s)",
          cfg.catalog_path, e.what());
    catalog_retry = Clock::now() + std::chrono::seconds(60);
    return nullptr;
  }
}

// The catalog row of one task's checkpoint: who, where, which job run.
cat::CheckpointInfo Agent::Impl::RowInfo(const Task& t, cat::Trigger trigger,
                                         const std::string& path) const {
  cat::CheckpointInfo info;
  info.job_id = id.job;
  info.step_id = id.step;
  info.task = t.rank;
  info.node = id.node;
  info.pid = t.pid;
  info.uid = id.uid;
  info.user = id.user;
  info.image_path = path;
  info.trigger = trigger;
  info.kernel_release = kernel;
  if (have_snap) {
    info.partition = snap.partition;
    info.restart_count = snap.restart_cnt;
    if (snap.array_job_id) {
      info.array_job_id = snap.array_job_id;
      info.array_task_id = snap.array_task_id;
    }
  }
  return info;
}

std::int64_t Agent::Impl::RecordFailure(const Task& t, cat::Trigger trigger,
                                        const std::string& path, const std::string& reason) {
  cat::Catalog* c = Catalog();
  if (!c)
    return 0;
  try {
    std::int64_t row = c->begin_checkpoint(RowInfo(t, trigger, path));
    c->fail_checkpoint(row, reason);
    return row;
  } catch (const std::exception& e) {
    Error("task {}: recording the failed checkpoint: {}", t.rank, e.what());
    return 0;
  }
}

// Keeps the newest retention.keep_last good images of each of this step's
// task series; older ones are expired and their files removed, so a long
// job with a short interval does not fill the disk.
void Agent::Impl::ApplyRetention(std::uint32_t rank) {
  cat::Catalog* c = Catalog();
  if (!c || cfg.retention.keep_last == 0)
    return;
  try {
    cat::ListFilter f;
    f.job = id.job;
    f.step = id.step;
    f.task = rank;
    auto rows = c->list(f);
    cat::RetentionPolicy policy;
    policy.keep_last = cfg.retention.keep_last;
    cat::ActiveJobs active = std::unordered_set<std::uint32_t>{id.job};
    cat::PrunePlan plan = cat::plan_retention(rows, policy, active, util::now_ns());
    for (const cat::PruneAction& a : plan.actions) {
      if (a.kind != cat::PruneKind::kExpire)
        continue;
      c->move(a.id, cat::State::kExpired, a.reason);
      if (a.unlink_image) {
        AsUser as(id.uid, id.gid);
        if (::unlink(a.image_path.c_str()) != 0 && errno != ENOENT) {
          Error("task {}: removing expired image {}: {}", rank, a.image_path, std::strerror(errno));
          continue;
        }
      }
      c->move(a.id, cat::State::kDeleted, a.reason);
      Debug("task {}: expired checkpoint {} ({})", rank, a.id, a.reason);
    }
  } catch (const std::exception& e) {
    Error("task {}: applying retention.keep_last: {}", rank, e.what());
  }
}

// ---- checkpoints ------------------------------------------------------------------------

bool Agent::Impl::PrepareDir(const std::string& dir, std::string* why) {
  if (!settings.dir_from_user) {
    // The site's fixed part is root's to create: sticky and world-writable
    // like /tmp, so each user can make (only) their own directory below it.
    std::string prefix = config::image_dir_fixed_prefix(settings.dir_pattern);
    struct stat st;
    if (::stat(prefix.c_str(), &st) != 0 && !MakeDirs(prefix, 01777, why))
      return false;
  }
  AsUser as(id.uid, id.gid);
  return MakeDirs(dir, 0700, why);
}

std::vector<Agent::Impl::Outcome> Agent::Impl::CheckpointAll(cat::Trigger trigger, bool park) {
  std::vector<Outcome> out;
  auto t0 = Clock::now();
  for (const Task& t : TaskCopy()) {
    if (t.exited)
      continue;
    bool held;
    {
      std::lock_guard lock(mu);
      held = holds.contains(t.local_id);
    }
    if (held) {
      Outcome o;
      o.rank = t.rank;
      o.reason = "the task is held after its preemption checkpoint";
      out.push_back(o);
      continue;
    }
    out.push_back(CheckpointTask(t, trigger, park));
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  size_t ok = std::count_if(out.begin(), out.end(), [](const Outcome& o) { return o.ok; });
  bool all_repeats = std::all_of(out.begin(), out.end(), [](const Outcome& o) { return o.repeat; });
  if (!out.empty() && !all_repeats) {
    Info("step {}: {} checkpoint: {} of {} task{} saved in {} ms{}", StepName(id.step),
         cat::to_string(trigger), ok, out.size(), out.size() > 1 ? "s" : "", ms,
         park && ok ? "; saved tasks held until the requeue" : "");
  }
  ScheduleNext();
  return out;
}

Agent::Impl::Outcome Agent::Impl::CheckpointTask(const Task& t, cat::Trigger trigger, bool park) {
  Outcome o;
  o.rank = t.rank;
  std::string step = StepName(id.step);
  config::ImageDirFields fields{std::to_string(id.job), step, std::to_string(t.rank), id.user};
  std::string dir = config::expand_image_dir(settings.dir_pattern, fields);
  std::uint32_t restart = have_snap ? snap.restart_cnt : 0;
  std::string path = dir + "/" +
                     config::image_file_name({fields.job, step, fields.task, restart, ++seq,
                                              std::string(cat::to_string(trigger))});

  // What the module does not check: the task must be one process.
  std::string refusal = WhyNotCheckpointable(t.pid);
  if (refusal == kTaskExited) {
    // Ended between two polls; slurm_spank_task_exit is on its way.
    o.reason = refusal;
    o.repeat = true;
    return o;
  }
  if (!refusal.empty()) {
    o.reason = refusal;
    bool repeat = trigger == cat::Trigger::kPeriodic && refusal == t.last_refusal;
    {
      std::lock_guard lock(mu);
      if (Task* p = FindTask(t.local_id))
        p->last_refusal = refusal;
    }
    o.repeat = repeat;
    if (!repeat) {
      Error("task {}: cannot checkpoint (trigger {}): {}; the task runs on untouched", t.rank,
            cat::to_string(trigger), refusal);
      o.id = RecordFailure(t, trigger, path, refusal);
    }
    return o;
  }

  std::string why;
  if (!PrepareDir(dir, &why)) {
    o.reason = "image directory: " + why;
    Error("task {}: cannot checkpoint (trigger {}): {}", t.rank, cat::to_string(trigger), o.reason);
    o.id = RecordFailure(t, trigger, path, o.reason);
    return o;
  }

  cat::Catalog* c = Catalog();
  std::int64_t row = 0;
  if (c) {
    try {
      row = c->begin_checkpoint(RowInfo(t, trigger, path));
    } catch (const std::exception& e) {
      Error("task {}: recording the checkpoint start: {}", t.rank, e.what());
    }
  }

  auto t0 = Clock::now();
  CheckpointResult r;
  Status st;
  UniqueFd hold;
  std::uint64_t file_bytes = 0;
  {
    // For a preemption checkpoint the task must not run one more instruction
    // once its image is taken: whatever it computed until the requeue would
    // be lost, and output it wrote to a pipe (srun steps) could not be rolled
    // back. The module holds it before it leaves the checkpoint, where
    // Slurm's SIGCONT and SIGTERM cannot resume it and the agent's SIGKILL
    // ends it; a failed checkpoint leaves it running.
    CheckpointOptions options;
    options.hold = park ? &hold : nullptr;
    AsUser as(id.uid, id.gid);
    st = Checkpoint(t.pid, path, options, &r);
  }
  std::string stop_note;
  if (hold.valid()) {
    stop_note = ", held before it ran on";
    std::lock_guard lock(mu);
    holds[t.local_id] = std::move(hold);
  }
  {
    AsUser as(id.uid, id.gid);
    struct stat sb;
    if (st.ok() && ::stat(path.c_str(), &sb) == 0)
      file_bytes = static_cast<std::uint64_t>(sb.st_size);
  }
  o.ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
  if (!st.ok() && st.code() == -ESRCH && WhyNotCheckpointable(t.pid) == kTaskExited) {
    // It ended between the check above and the module's request: no live
    // process was tried, so there is no failure to record, as when it ends
    // between two polls (slurm_spank_task_exit is on its way).
    Debug("task {}: ended during its {} checkpoint; nothing recorded", t.rank,
          cat::to_string(trigger));
    if (c && row) {
      try {
        c->abandon_checkpoint(row);
      } catch (const std::exception& e) {
        Error("task {}: dropping the checkpoint row of an ended task: {}", t.rank, e.what());
      }
    }
    o.reason = kTaskExited;
    o.repeat = true;
    return o;
  }
  if (!st.ok()) {
    o.reason = st.message();
    {
      std::lock_guard lock(mu);
      if (Task* p = FindTask(t.local_id))
        p->last_refusal = o.reason;
    }
    Error("task {}: checkpoint ({}) failed: {}; the task runs on untouched", t.rank,
          cat::to_string(trigger), o.reason);
    if (c && row) {
      try {
        c->fail_checkpoint(row, o.reason);
      } catch (const std::exception& e) {
        Error("task {}: recording the failed checkpoint: {}", t.rank, e.what());
      }
    }
    o.id = row;
    return o;
  }
  {
    std::lock_guard lock(mu);
    if (Task* p = FindTask(t.local_id))
      p->last_refusal.clear();
  }
  o.ok = true;
  o.id = row;
  o.image = path;
  o.bytes = file_bytes ? file_bytes : r.image_bytes;
  if (c && row) {
    try {
      c->commit_checkpoint(row, {o.bytes, r.header_checksum, r.freeze_ns, r.write_ns});
    } catch (const std::exception& e) {
      Error("task {}: recording the committed checkpoint: {}", t.rank, e.what());
    }
  }
  std::string verified;
  if (cfg.checkpoint.verify_after_write) {
    Status v;
    {
      AsUser as(id.uid, id.gid);
      std::unique_ptr<Image> image;
      v = Image::Open(path, &image);
      if (v.ok())
        v = image->VerifyPages();
    }
    verified = v.ok() ? ", verified" : ", VERIFY FAILED";
    if (c && row) {
      try {
        if (v.ok()) {
          c->mark_verified(row);
        } else {
          c->mark_corrupt(row, v.message());
        }
      } catch (const std::exception& e) {
        Error("task {}: recording the verification: {}", t.rank, e.what());
      }
    }
    if (!v.ok()) {
      Error("task {}: the image just written does not verify: {}", t.rank, v.message());
      o.ok = false;
      o.reason = "verification: " + v.message();
      if (!stop_note.empty()) {
        // Nothing to resume from: the task runs on, as after a failed checkpoint.
        std::lock_guard lock(mu);
        holds.erase(t.local_id);
        stop_note = ", released";
      }
    }
  }
  Info(
      "task {}: {} checkpoint {} -> {} ({} bytes; freeze {:.1f} ms, write {:.1f} ms, total {} "
      "ms{}{})",
      t.rank, cat::to_string(trigger), row, path, o.bytes, static_cast<double>(r.freeze_ns) / 1e6,
      static_cast<double>(r.write_ns) / 1e6, o.ms, verified, stop_note);
  if (o.ok)
    ApplyRetention(t.rank);
  return o;
}

bool Agent::Impl::AnyParked() {
  std::lock_guard lock(mu);
  return !holds.empty();
}

void Agent::Impl::KillParked() {
  std::lock_guard lock(mu);
  for (const auto& [local_id, hold] : holds) {
    // Through the hold: the task itself, even if it died and its pid was
    // reused before this poll saw it.
    Status st = KillHeld(hold.get());
    const Task* task = FindTask(local_id);
    std::uint32_t rank = task ? task->rank : local_id;
    if (st.ok())
      Info("task {}: killed after its preemption checkpoint as the job leaves the node", rank);
    else
      Error("task {}: {}", rank, st.message());
  }
  holds.clear();
}

// ---- requests ---------------------------------------------------------------------------

void Agent::Impl::SetUpSocket() {
  std::string why;
  if (!MakeDirs(site.spool_dir, 0755, &why)) {
    Error("step {}: no request socket ({}); on-demand checkpoints and restores are unavailable",
          StepName(id.step), why);
    return;
  }
  socket_path = slurm::SocketPath(site.spool_dir, id.job, id.step);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    Error("step {}: socket path {} too long", StepName(id.step), socket_path);
    socket_path.clear();
    return;
  }
  // Bound under a temporary name and renamed once connectable by everyone:
  // a task asking for its restore must never find the socket with the
  // umask's mode (EACCES) in between.
  std::string tmp = fmt::format("{}.tmp{}", socket_path, ::getpid());
  std::memcpy(addr.sun_path, tmp.c_str(), tmp.size() + 1);
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ::unlink(tmp.c_str());
  if (!s.valid() || ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::chmod(tmp.c_str(), 0666) != 0 || ::listen(s.get(), 64) != 0 ||
      ::rename(tmp.c_str(), socket_path.c_str()) != 0) {
    Error("step {}: cannot listen on {}: {}; on-demand checkpoints and restores are unavailable",
          StepName(id.step), socket_path, std::strerror(errno));
    ::unlink(tmp.c_str());
    socket_path.clear();
    return;
  }
  listener = std::move(s);
}

void Agent::Impl::AcceptClients() {
  for (;;) {
    int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      return;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(fd);
      continue;
    }
    // Other users may connect (to be told no) but must not crowd out the
    // job's owner, root and the job's own tasks: at the limit a stranger's
    // connection makes way.
    bool stranger = cred.uid != 0 && cred.uid != id.uid;
    if (clients.size() >= kMaxClients) {
      auto victim = std::find_if(clients.begin(), clients.end(),
                                 [&](const Client& c) { return c.uid != 0 && c.uid != id.uid; });
      if (stranger || victim == clients.end()) {
        ::close(fd);
        continue;
      }
      clients.erase(victim);
    }
    Client c;
    c.sock = slurm::LineSocket(fd);
    c.pid = cred.pid;
    c.uid = cred.uid;
    {
      std::lock_guard lock(mu);
      if (Task* t = FindTaskByPid(cred.pid))
        c.task = t->local_id;
    }
    clients.push_back(std::move(c));
  }
}

void Agent::Impl::ServeClients() {
  for (size_t i = 0; i < clients.size();) {
    std::vector<std::string> lines;
    bool open = clients[i].sock.Pump(&lines);
    for (const std::string& line : lines) {
      if (!Handle(clients[i], line))
        open = false;
    }
    if (!open) {
      // A task that announced a restore and hung up has either become the
      // restored program (its descriptors were replaced) or died trying.
      if (clients[i].task) {
        std::lock_guard lock(mu);
        if (Task* t = FindTask(*clients[i].task); t && t->restore_id)
          t->restore_awaiting = true;
      }
      clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      i++;
    }
  }
}

bool Agent::Impl::Handle(Client& c, const std::string& line) {
  slurm::Message m = slurm::ParseMessage(line);
  auto reply = [&](std::string_view verb,
                   const std::vector<std::pair<std::string, std::string>>& f) {
    (void)c.sock.Send(slurm::FormatMessage(verb, f));
  };
  if (m.verb == "checkpoint") {
    if (c.uid != 0 && c.uid != id.uid) {
      reply("error", {{"reason", fmt::format("permission denied: uid {} may not checkpoint job {} "
                                             "(only its owner and root)",
                                             c.uid, id.job)}});
      return false;
    }
    Info("step {}: checkpoint requested by uid {} (pid {})", StepName(id.step), c.uid, c.pid);
    int ok = 0, failed = 0;
    for (const Outcome& o : CheckpointAll(cat::Trigger::kManual, false)) {
      if (o.ok) {
        ok++;
        reply("ok", {{"task", std::to_string(o.rank)},
                     {"id", std::to_string(o.id)},
                     {"bytes", std::to_string(o.bytes)},
                     {"ms", std::to_string(o.ms)},
                     {"image", o.image}});
      } else {
        failed++;
        reply(
            "failed",
            {{"task", std::to_string(o.rank)}, {"id", std::to_string(o.id)}, {"reason", o.reason}});
      }
    }
    reply("done", {{"ok", std::to_string(ok)}, {"failed", std::to_string(failed)}});
    return true;
  }
  // Everything else comes from our own tasks, about their restore.
  if (!c.task) {
    reply("error", {{"reason", fmt::format("unknown request '{}'", m.verb)}});
    return false;
  }
  Task task;
  {
    std::lock_guard lock(mu);
    Task* p = FindTask(*c.task);
    if (!p)
      return false;
    task = *p;
  }
  if (m.verb == "restore-plan") {
    std::uint32_t restart =
        std::max<std::uint32_t>(have_snap ? snap.restart_cnt : 0,
                                static_cast<std::uint32_t>(m.GetInt("restart").value_or(0)));
    std::vector<cat::CheckpointRow> rows;
    std::string note;
    cat::Catalog* catalog_conn = Catalog();
    if (!catalog_conn) {
      note = "the catalog cannot be opened";
    } else {
      try {
        const RestartFrom& from = settings.restart_from;
        std::optional<cat::CheckpointRow> named;
        if (from.kind == RestartFrom::Kind::kId) {
          named = catalog_conn->get(from.id);
          if (!named) {
            note = fmt::format("--restart-from={}: no such checkpoint", from.id);
          } else if (named->info.uid != id.uid) {
            note = fmt::format("--restart-from={}: the checkpoint belongs to uid {}", from.id,
                               named->info.uid);
            named.reset();
          } else if (named->info.step_id != id.step || named->info.task != task.rank) {
            named.reset();  // names another task's image: this one follows "latest"
          } else if (!cat::is_good(named->state)) {
            note = fmt::format("--restart-from={}: the checkpoint is {}", from.id,
                               cat::to_string(named->state));
            named.reset();
          }
        }
        if (named) {
          // After a requeue the job's own checkpoints continue from the named
          // one and are newer: they come first, the named image last.
          if (restart > 0) {
            rows = catalog_conn->latest_good(id.job, id.step, task.rank);
            std::erase_if(rows, [&](const cat::CheckpointRow& r) { return r.id == named->id; });
          }
          rows.push_back(*named);
        } else if (note.empty() && restart > 0) {
          rows = catalog_conn->latest_good(id.job, id.step, task.rank);
          if (rows.empty())
            note = "no good checkpoint of this task in the catalog";
        } else if (note.empty()) {
          note = "first run";
        }
      } catch (const std::exception& e) {
        note = fmt::format("reading the catalog: {}", e.what());
      }
    }
    for (const auto& r : rows) {
      reply("candidate", {{"id", std::to_string(r.id)},
                          {"trigger", std::string(cat::to_string(r.info.trigger))},
                          {"image", r.info.image_path}});
    }
    reply("end", {{"reason", note}});
    if (rows.empty()) {
      Info("task {}: restart {}: cold start ({})", task.rank, restart, note);
    } else {
      Info("task {}: restart {}: restoring from checkpoint {} ({}){}", task.rank, restart,
           rows[0].id, cat::to_string(rows[0].info.trigger),
           rows.size() > 1 ? fmt::format(", {} older as fallbacks", rows.size() - 1) : "");
    }
    return true;
  }
  if (m.verb == "restore-try") {
    std::int64_t ckpt = m.GetInt("id").value_or(0);
    std::int64_t rid = 0;
    if (cat::Catalog* cc = Catalog()) {
      try {
        rid =
            cc->record_restore(ckpt ? std::optional<std::int64_t>(ckpt) : std::nullopt,
                               m.Get("image"), cat::RestoreOutcome::kStarted, "", id.node, id.uid);
      } catch (const std::exception& e) {
        Error("task {}: recording the restore: {}", task.rank, e.what());
      }
    }
    std::lock_guard lock(mu);
    if (Task* p = FindTask(*c.task)) {
      p->restore_id = rid;
      p->restore_checkpoint = ckpt;
      p->restore_polls = 0;
    }
    return true;
  }
  if (m.verb == "restore-failed") {
    std::int64_t ckpt = m.GetInt("id").value_or(0);
    std::string reason = m.Get("reason");
    bool corrupt = m.Get("corrupt") == "1";
    Error("task {}: restore from checkpoint {} failed: {}", task.rank, ckpt, reason);
    std::int64_t rid = 0;
    {
      std::lock_guard lock(mu);
      if (Task* p = FindTask(*c.task))
        rid = std::exchange(p->restore_id, 0);
    }
    if (cat::Catalog* cc = Catalog()) {
      try {
        if (rid)
          cc->finish_restore(rid, cat::RestoreOutcome::kFailed, reason);
        if (corrupt && ckpt) {
          auto row = cc->get(ckpt);
          if (row && cat::is_good(row->state))
            cc->mark_corrupt(ckpt, reason);
        }
      } catch (const std::exception& e) {
        Error("task {}: recording the failed restore: {}", task.rank, e.what());
      }
    }
    return true;
  }
  if (m.verb == "restore-cold") {
    std::string reason = m.Get("reason");
    Error("task {}: starting the program from the beginning: {}", task.rank, reason);
    return true;
  }
  reply("error", {{"reason", fmt::format("unknown request '{}'", m.verb)}});
  return false;
}

}  // namespace kcr::spank
