// spank_kcr_backend.so: everything of the plugin that needs more than libc
// (backend.h): option checking, the per-step agent, restores. Loaded by the
// front (spank_kcr.cpp) only for jobs that use kcr.
#include "backend.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent.h"
#include "kcr/config/config.h"
#include "kcr/util/host.h"
#include "kcr/util/status_format.h"
#include "log.h"
#include "options.h"
#include "restore.h"

extern "C" {
#include <slurm/slurm.h>
}

namespace kcr::spank {

namespace {

struct PluginState {
  bool absorbed = false;  // the front's arguments and options were parsed
  SiteOptions site;
  bool site_ok = true;
  JobOptions job;
  std::unique_ptr<Agent> agent;
  pid_t agent_owner = 0;
  bool agent_failed = false;  // tried and gave up for this step: do not retry per task
};

// Never destroyed: slurmstepd's task children inherit this memory, and a
// child whose exec fails calls exit(), which must not run a destructor that
// joins a thread only the parent has.
PluginState& State() {
  static PluginState& state = *new PluginState;
  return state;
}

bool IsTaskStep(std::uint32_t step) {
  return step != SLURM_EXTERN_CONT && step != SLURM_INTERACTIVE_STEP;
}

std::uint32_t JobId(spank_t sp) {
  std::uint32_t job = 0;
  return spank_get_item(sp, S_JOB_ID, &job) == ESPANK_SUCCESS ? job : 0;
}

std::uint32_t StepId(spank_t sp) {
  std::uint32_t step = 0;
  return spank_get_item(sp, S_JOB_STEPID, &step) == ESPANK_SUCCESS ? step : SLURM_EXTERN_CONT;
}

// Starts the step's agent on the first task; false when the step has none.
bool EnsureAgent(spank_t sp) {
  PluginState& s = State();
  if (s.agent)
    return true;
  if (s.agent_failed)
    return false;
  s.agent_failed = true;  // until it is running
  std::uint32_t job = JobId(sp);
  SetLogJob(job);
  config::Config cfg;
  if (Status st = config::Load(s.site.config_path, &cfg); !st.ok()) {
    Error("kcr configuration: {}; this job is not checkpointed", st.message());
    return false;
  }
  Settings settings = Resolve(s.site, s.job, cfg.image_dir);
  StepIdentity id;
  id.job = job;
  id.step = StepId(sp);
  if (spank_get_item(sp, S_JOB_UID, &id.uid) != ESPANK_SUCCESS ||
      spank_get_item(sp, S_JOB_GID, &id.gid) != ESPANK_SUCCESS) {
    Error("cannot learn the job's user; this job is not checkpointed");
    return false;
  }
  id.user = util::UserName(id.uid);
  id.node = util::NodeName();
  // The groups the job's tasks run with: a checkpoint acts as the owner
  // with exactly these (a group-writable image directory, group-owned files).
  gid_t* gids = nullptr;
  int ngids = 0;
  if (spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &gids, &ngids) == ESPANK_SUCCESS && gids)
    id.groups.assign(gids, gids + ngids);
  else
    id.groups = {id.gid};
  try {
    s.agent = std::make_unique<Agent>(id, settings, s.site, cfg);
  } catch (const std::exception& e) {
    Error("cannot start the checkpoint agent: {}; this job is not checkpointed", e.what());
    return false;
  }
  s.agent_owner = ::getpid();
  s.agent_failed = false;
  return true;
}

Settings CurrentSettings() {
  const PluginState& s = State();
  return Resolve(s.site, s.job, "");
}

// Checks one option's text and sets it in *job; the message is the user's.
// Its value is left unset when the text is refused.
template <typename T>
Status ParseInto(Status (*parse)(std::string_view, T*), const char* text, std::optional<T>* out) {
  T value{};
  KCR_RETURN_IF_ERROR(parse(text, &value));
  *out = value;
  return Status::Ok();
}

Status ParseOption(int option, const char* text, JobOptions* job) {
  switch (option) {
    case KCR_OPT_CHECKPOINT:
      job->interval.reset();
      return ParseInto(ParseInterval, text, &job->interval);
    case KCR_OPT_DIR:
      KCR_RETURN_IF_ERROR(CheckDirPattern(text));
      job->dir = text;
      return Status::Ok();
    case KCR_OPT_ON:
      job->on.reset();
      return ParseInto(ParseTriggers, text, &job->on);
    case KCR_OPT_RESTART_FROM:
      job->restart_from.reset();
      return ParseInto(ParseRestartFrom, text, &job->restart_from);
    default:
      return Status::Error(EINVAL, "unknown option");
  }
}

// Takes in what the front saw, once per process (a forked task inherits it).
void Absorb(spank_t sp, const kcr_spank_raw* raw) {
  PluginState& s = State();
  if (s.absorbed)
    return;
  s.absorbed = true;
  SetLogJob(JobId(sp));
  std::vector<std::string> args(raw->argv, raw->argv + raw->argc);
  if (Status st = ParseSiteArgs(args, &s.site); !st.ok()) {
    // A broken plugstack.conf line disables kcr; it must not stop jobs.
    s.site_ok = false;
    Error("{}; kcr is disabled", st.message());
  }
  static constexpr const char* kNames[] = {"--checkpoint", "--checkpoint-dir", "--checkpoint-on",
                                           "--restart-from"};
  for (int i = 0; i < KCR_OPT_COUNT; i++) {
    if (!raw->options[i])
      continue;
    // A bad value passed sbatch only if someone edited the job's
    // environment; it is ignored rather than failing the job.
    if (Status st = ParseOption(i, raw->options[i], &s.job); !st.ok())
      Error("{}: {}; ignored", kNames[i], st.message());
  }
}

int PostFork(spank_t sp) {
  PluginState& s = State();
  Settings settings = CurrentSettings();
  if (!s.site_ok || !settings.active() || !IsTaskStep(StepId(sp)))
    return ESPANK_SUCCESS;
  if (!EnsureAgent(sp))
    return ESPANK_SUCCESS;
  int local_id = 0;
  std::uint32_t rank = 0;
  pid_t pid = 0;
  if (spank_get_item(sp, S_TASK_ID, &local_id) != ESPANK_SUCCESS ||
      spank_get_item(sp, S_TASK_GLOBAL_ID, &rank) != ESPANK_SUCCESS ||
      spank_get_item(sp, S_TASK_PID, &pid) != ESPANK_SUCCESS) {
    Error("cannot identify a task of the step; it is not checkpointed");
    return ESPANK_SUCCESS;
  }
  s.agent->AddTask(static_cast<std::uint32_t>(local_id), rank, pid);
  return ESPANK_SUCCESS;
}

int TaskInit(spank_t sp) {
  const PluginState& s = State();
  Settings settings = CurrentSettings();
  std::uint32_t step = StepId(sp);
  if (!s.site_ok || !settings.active() || !IsTaskStep(step))
    return ESPANK_SUCCESS;
  // srun steps get SIGTERM the moment a preemption's grace period starts,
  // before the agent (polling each second) can save them; ignored, the
  // signal cannot end the task before its checkpoint (docs/slurm.md).
  if (step != SLURM_BATCH_SCRIPT && settings.checkpoints() && settings.on.preempt &&
      s.site.srun_ignore_sigterm) {
    ::signal(SIGTERM, SIG_IGN);
  }
  RestoreContext ctx;
  ctx.job = JobId(sp);
  ctx.step = step;
  if (spank_get_item(sp, S_TASK_GLOBAL_ID, &ctx.rank) != ESPANK_SUCCESS)
    return ESPANK_SUCCESS;
  // S_SLURM_RESTART_COUNT is always 0 in 22.05; the job's environment has it.
  char count[32] = {};
  if (spank_getenv(sp, "SLURM_RESTART_COUNT", count, sizeof(count)) == ESPANK_SUCCESS) {
    ctx.restart_count = static_cast<std::uint32_t>(std::strtoul(count, nullptr, 10));
  }
  ctx.spool_dir = s.site.spool_dir;
  ctx.settings = settings;
  RestoreOrReturn(ctx);  // returns only to start the program from the beginning
  return ESPANK_SUCCESS;
}

int TaskExit(spank_t sp) {
  PluginState& s = State();
  if (!s.agent || s.agent_owner != ::getpid())
    return ESPANK_SUCCESS;
  int local_id = 0, status = 0;
  if (spank_get_item(sp, S_TASK_ID, &local_id) == ESPANK_SUCCESS &&
      spank_get_item(sp, S_TASK_EXIT_STATUS, &status) == ESPANK_SUCCESS) {
    s.agent->TaskExited(static_cast<std::uint32_t>(local_id), status);
  }
  return ESPANK_SUCCESS;
}

int Exit() {
  PluginState& s = State();
  if (s.agent && s.agent_owner == ::getpid()) {
    s.agent->Stop();
    s.agent.reset();
  }
  return ESPANK_SUCCESS;
}

}  // namespace

}  // namespace kcr::spank

extern "C" {

__attribute__((visibility("default"))) int kcr_spank_backend_abi(void) {
  return KCR_SPANK_BACKEND_ABI;
}

__attribute__((visibility("default"))) int kcr_spank_backend_validate(int option, const char* value,
                                                                      char* why, size_t why_len) {
  using namespace kcr::spank;
  JobOptions job;
  kcr::Status st = ParseOption(option, value ? value : "", &job);
  if (st.ok())
    return 0;
  const std::string& reason = st.message();
  if (why && why_len) {
    size_t n = std::min(reason.size(), why_len - 1);
    std::memcpy(why, reason.data(), n);
    why[n] = '\0';
  }
  return -1;
}

__attribute__((visibility("default"))) int kcr_spank_backend_call(int callback, spank_t sp,
                                                                  const kcr_spank_raw* raw) {
  using namespace kcr::spank;
  // Nothing of kcr's may take a job down: whatever escapes is logged.
  try {
    if (!spank_remote(sp))
      return ESPANK_SUCCESS;
    Absorb(sp, raw);
    switch (callback) {
      case KCR_CB_POST_FORK:
        return PostFork(sp);
      case KCR_CB_TASK_INIT:
        return TaskInit(sp);
      case KCR_CB_TASK_EXIT:
        return TaskExit(sp);
      case KCR_CB_EXIT:
        return Exit();
      default:
        return ESPANK_SUCCESS;
    }
  } catch (const std::exception& e) {
    Error("internal error: {}; the job runs on without kcr", e.what());
  } catch (...) {
    Error("internal error; the job runs on without kcr");
  }
  return ESPANK_SUCCESS;
}

}  // extern "C"
