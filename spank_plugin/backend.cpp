// spank_kcr: the Slurm SPANK plugin of kcr (docs/slurm.md).
//
//   sbatch --checkpoint=10m [--checkpoint-dir=DIR] [--checkpoint-on=preempt,timelimit]
//          [--restart-from=latest|ID|none] --open-mode=append job.sh
//
// Which callback does what (Slurm 22.05; see docs/slurm.md for the evidence):
//   slurm_spank_init            every context: options and plugstack.conf arguments
//   option callbacks            sbatch/salloc/srun: reject bad values; slurmstepd: remember them
//   slurm_spank_task_post_fork  slurmstepd, root: start the step's agent (agent.h), add the task
//   slurm_spank_task_init       the task process, as the user, before exec: restore (restore.h)
//   slurm_spank_task_exit       slurmstepd: tell the agent
//   slurm_spank_exit            slurmstepd: stop the agent
// A job without checkpoints costs one environment lookup per callback.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent.h"
#include "kcr/config/config.h"
#include "log.h"
#include "options.h"
#include "restore.h"

// Slurm 22.05's spank.h declares the slurm_spank_* callbacks outside its own
// extern "C" block: without this wrapper they would get C++ (mangled) names
// that Slurm's dlsym never finds.
extern "C" {
#include <slurm/slurm.h>
#include <slurm/spank.h>

// SPANK_PLUGIN defines these as namespace-scope consts, which C++ gives
// internal linkage; declared extern "C" first, the definitions are exported.
extern const char plugin_name[];
extern const char plugin_type[];
extern const unsigned int plugin_version;
extern const unsigned int spank_plugin_version;
SPANK_PLUGIN(kcr, 1);
}

namespace kcr::spank {

namespace {

struct PluginState {
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

enum OptionId { kOptCheckpoint = 1, kOptDir, kOptOn, kOptRestartFrom };

// The callback runs in sbatch/salloc/srun (remote == 0), where a bad value
// must fail the submission with a reason, and again in slurmstepd (remote ==
// 1; for srun steps twice), where it only records the value.
int OnOption(int val, const char* optarg, int remote) {
  std::string text = optarg ? optarg : "";
  std::string why;
  const char* name = "";
  JobOptions& job = State().job;
  bool ok = true;
  switch (val) {
    case kOptCheckpoint: {
      name = "--checkpoint";
      auto v = ParseInterval(text, &why);
      ok = v.has_value();
      if (ok)
        job.interval = *v;
      break;
    }
    case kOptDir:
      name = "--checkpoint-dir";
      ok = CheckDirPattern(text, &why);
      if (ok)
        job.dir = text;
      break;
    case kOptOn: {
      name = "--checkpoint-on";
      auto v = ParseTriggers(text, &why);
      ok = v.has_value();
      if (ok)
        job.on = *v;
      break;
    }
    case kOptRestartFrom: {
      name = "--restart-from";
      auto v = ParseRestartFrom(text, &why);
      ok = v.has_value();
      if (ok)
        job.restart_from = *v;
      break;
    }
    default:
      return 0;
  }
  if (ok)
    return 0;
  Error("{}: {}", name, why);
  // In slurmstepd a bad value (it passed sbatch, so someone edited the
  // environment) must not fail the job: it is ignored.
  return remote ? 0 : -1;
}

// spank_option_register keeps the pointers: the table lives forever.
char kNameCheckpoint[] = "checkpoint";
char kNameDir[] = "checkpoint-dir";
char kNameOn[] = "checkpoint-on";
char kNameRestartFrom[] = "restart-from";
char kArgInterval[] = "INTERVAL";
char kArgDir[] = "DIR";
char kArgList[] = "LIST";
char kArgFrom[] = "latest|ID|none";
char kUsageCheckpoint[] =
    "kcr: checkpoint the job's tasks every INTERVAL (e.g. 90s, 10m, 2h), auto (Young/Daly), none "
    "(only at preemption and time limit) or off. Use with --open-mode=append.";
char kUsageDir[] =
    "kcr: write checkpoint images into DIR ({job} {step} {task} {user} are filled in)";
char kUsageOn[] =
    "kcr: also checkpoint when the job is preempted and/or nears its time limit: "
    "preempt,timelimit (default), preempt, timelimit or none";
char kUsageRestartFrom[] =
    "kcr: when the job is requeued, restore its tasks from the latest good checkpoint (default), "
    "from checkpoint ID (also on a first run), or start afresh (none)";

spank_option g_options[] = {
    {kNameCheckpoint, kArgInterval, kUsageCheckpoint, 1, kOptCheckpoint, OnOption},
    {kNameDir, kArgDir, kUsageDir, 1, kOptDir, OnOption},
    {kNameOn, kArgList, kUsageOn, 1, kOptOn, OnOption},
    {kNameRestartFrom, kArgFrom, kUsageRestartFrom, 1, kOptRestartFrom, OnOption},
};

bool IsTaskStep(std::uint32_t step) {
  return step != SLURM_EXTERN_CONT && step != SLURM_INTERACTIVE_STEP;
}

std::string UserName(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
    return found->pw_name;
  return std::to_string(uid);
}

std::string NodeName() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string name = host;
  return name.substr(0, name.find('.'));  // as `kcr checkpoint` records it
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
  try {
    cfg = config::load(s.site.config_path);
  } catch (const std::exception& e) {
    Error("kcr configuration: {}; this job is not checkpointed", e.what());
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
  id.user = UserName(id.uid);
  id.node = NodeName();
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

}  // namespace

}  // namespace kcr::spank

using namespace kcr::spank;

extern "C" {

int slurm_spank_init(spank_t sp, int ac, char** av) {
  spank_context_t ctx = spank_context();
  if (ctx != S_CTX_ALLOCATOR && ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE)
    return ESPANK_SUCCESS;
  PluginState& s = State();
  for (spank_option& opt : g_options) {
    if (spank_option_register(sp, &opt) != ESPANK_SUCCESS) {
      Error("cannot register --{}", opt.name);
    }
  }
  std::vector<std::string> args(av, av + ac);
  std::string why;
  if (!ParseSiteArgs(args, &s.site, &why)) {
    // A broken plugstack.conf line disables kcr; it must not stop jobs.
    s.site_ok = false;
    if (ctx == S_CTX_REMOTE)
      Error("{}; kcr is disabled for this step", why);
  }
  return ESPANK_SUCCESS;
}

int slurm_spank_task_post_fork(spank_t sp, int, char**) {
  if (!spank_remote(sp))
    return ESPANK_SUCCESS;
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

int slurm_spank_task_init(spank_t sp, int, char**) {
  if (!spank_remote(sp))
    return ESPANK_SUCCESS;
  const PluginState& s = State();
  Settings settings = CurrentSettings();
  std::uint32_t step = StepId(sp);
  if (!s.site_ok || !settings.active() || !IsTaskStep(step))
    return ESPANK_SUCCESS;
  SetLogJob(JobId(sp));
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

int slurm_spank_task_exit(spank_t sp, int, char**) {
  if (!spank_remote(sp))
    return ESPANK_SUCCESS;
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

int slurm_spank_exit(spank_t sp, int, char**) {
  if (spank_context() != S_CTX_REMOTE)
    return ESPANK_SUCCESS;
  (void)sp;
  PluginState& s = State();
  if (s.agent && s.agent_owner == ::getpid()) {
    s.agent->Stop();
    s.agent.reset();
  }
  return ESPANK_SUCCESS;
}

}  // extern "C"
