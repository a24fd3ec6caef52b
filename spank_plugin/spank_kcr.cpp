// spank_kcr: the Slurm SPANK plugin of kcr (docs/slurm.md).
//
//   sbatch --checkpoint=10m [--checkpoint-dir=DIR] [--checkpoint-on=preempt,timelimit]
//          [--restart-from=latest|ID|none] --open-mode=append job.sh
//
// This is the front that Slurm loads into every sbatch, salloc, srun and
// slurmstepd. It uses libc only, so a job that does not checkpoint pays for
// loading a small library and registering four options, no more (the
// budget is 10 ms per step launch; docs/performance-slurm.md). Everything
// else lives in spank_kcr_backend.so (backend.h), loaded only when needed:
//   - sbatch/salloc/srun: to check an option value the front cannot judge;
//   - slurmstepd: before the tasks fork, when the job asks for kcr.
// Which callback does what (Slurm 22.05):
//   slurm_spank_init            every context: register the options
//   option callbacks            remember the text; reject bad values in sbatch/srun
//   slurm_spank_init_post_opt   slurmstepd: load the backend if the job uses kcr
//   slurm_spank_task_post_fork  slurmstepd, root: start the step's agent (agent.h)
//   slurm_spank_task_init       the task process, as the user, before exec: restore (restore.h)
//   slurm_spank_task_exit       slurmstepd: tell the agent
//   slurm_spank_exit            slurmstepd: stop the agent
//
// Written in C-style C++ on purpose: no exceptions, no RTTI, no standard
// library beyond libc's headers, so the linker pulls in no libstdc++ (whose
// loading alone costs 3-5 ms per process).
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

// Slurm 22.05's spank.h declares the callbacks outside its own extern "C"
// block; defining them inside one (below) gives them the C names Slurm's
// dlsym looks for. SPANK_PLUGIN defines namespace-scope consts, which C++
// gives internal linkage; declared extern "C" first, they are exported.
extern "C" {
extern const char plugin_name[];
extern const char plugin_type[];
extern const unsigned int plugin_version;
extern const unsigned int spank_plugin_version;
SPANK_PLUGIN(kcr, 1);
}

namespace {

constexpr size_t kMaxValue = 4096;
constexpr const char* kBackendName = "spank_kcr_backend.so";

// Plain data, zero-initialised: no constructor or destructor runs, ever.
struct Front {
  char values[KCR_OPT_COUNT][kMaxValue];
  bool given[KCR_OPT_COUNT];
  int argc;
  char** argv;
  const char* site_default;  // default= of plugstack.conf; NULL: off
  const char* backend_path;  // backend= of plugstack.conf; NULL: beside this file
  void* backend;
  bool backend_failed;
  int (*validate)(int, const char*, char*, size_t);
  int (*call)(int, spank_t, const kcr_spank_raw*);
};
Front g;

const char* const kNames[KCR_OPT_COUNT] = {"checkpoint", "checkpoint-dir", "checkpoint-on",
                                           "restart-from"};

bool LoadBackend() {
  if (g.backend)
    return true;
  if (g.backend_failed)
    return false;
  g.backend_failed = true;
  char path[4096];
  if (g.backend_path) {
    snprintf(path, sizeof(path), "%s", g.backend_path);
  } else {
    // The backend is installed beside this plugin.
    Dl_info info;
    if (!dladdr(reinterpret_cast<void*>(&LoadBackend), &info) || !info.dli_fname) {
      slurm_error("spank_kcr: cannot locate spank_kcr.so; kcr is off");
      return false;
    }
    const char* slash = strrchr(info.dli_fname, '/');
    int dir_len = slash ? static_cast<int>(slash - info.dli_fname) : 1;
    snprintf(path, sizeof(path), "%.*s/%s", dir_len, slash ? info.dli_fname : ".", kBackendName);
  }
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    slurm_error("spank_kcr: cannot load %s: %s; kcr is off", path, dlerror());
    return false;
  }
  auto abi = reinterpret_cast<int (*)()>(dlsym(h, "kcr_spank_backend_abi"));
  g.validate = reinterpret_cast<int (*)(int, const char*, char*, size_t)>(
      dlsym(h, "kcr_spank_backend_validate"));
  g.call = reinterpret_cast<int (*)(int, spank_t, const kcr_spank_raw*)>(
      dlsym(h, "kcr_spank_backend_call"));
  if (!abi || !g.validate || !g.call || abi() != KCR_SPANK_BACKEND_ABI) {
    slurm_error("spank_kcr: %s is not the backend of this spank_kcr.so (interface %d); kcr is off",
                path, abi ? abi() : -1);
    dlclose(h);
    return false;
  }
  g.backend = h;
  g.backend_failed = false;
  return true;
}

bool Is(const char* value, const char* word) {
  return value && strcmp(value, word) == 0;
}

// Whether the job uses kcr at all: it checkpoints (its --checkpoint, else
// the site's default, is not off) or names an image to restore from.
bool Active() {
  const char* interval = g.given[KCR_OPT_CHECKPOINT] ? g.values[KCR_OPT_CHECKPOINT]
                                                     : (g.site_default ? g.site_default : "off");
  const char* from = g.given[KCR_OPT_RESTART_FROM] ? g.values[KCR_OPT_RESTART_FROM] : "latest";
  return !Is(interval, "off") || (!Is(from, "latest") && !Is(from, "none"));
}

// Values the front can accept without the backend.
bool ObviouslyValid(int option, const char* value) {
  switch (option) {
    case KCR_OPT_CHECKPOINT:
      return Is(value, "off");
    case KCR_OPT_ON:
      return Is(value, "preempt,timelimit") || Is(value, "preempt") || Is(value, "timelimit") ||
             Is(value, "none");
    case KCR_OPT_RESTART_FROM:
      return Is(value, "latest") || Is(value, "none");
    default:
      return false;
  }
}

// Runs in sbatch/salloc/srun (remote == 0), where a bad value must fail the
// submission with a reason, and again in slurmstepd (remote == 1; twice for
// srun steps), where it only remembers the value.
int OnOption(int val, const char* optarg, int remote) {
  int option = val - 1;
  if (option < 0 || option >= KCR_OPT_COUNT)
    return 0;
  const char* value = optarg ? optarg : "";
  if (strlen(value) >= kMaxValue) {
    slurm_error("spank_kcr: --%s: the value is longer than %zu bytes", kNames[option],
                kMaxValue - 1);
    return remote ? 0 : -1;
  }
  snprintf(g.values[option], kMaxValue, "%s", value);
  g.given[option] = true;
  if (remote || ObviouslyValid(option, value))
    return 0;
  // Without the backend sbatch cannot judge the value; slurmstepd will,
  // and log it, so the submission goes ahead.
  if (!LoadBackend())
    return 0;
  char why[512];
  if (g.validate(option, value, why, sizeof(why)) == 0)
    return 0;
  slurm_error("spank_kcr: --%s: %s", kNames[option], why);
  return -1;
}

// spank_option_register keeps these pointers: the table lives forever.
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
    "kcr: checkpoint when the job is preempted and/or nears its time limit: preempt,timelimit "
    "(default), preempt, timelimit or none";
char kUsageRestartFrom[] =
    "kcr: when the job is requeued, restore its tasks from the latest good checkpoint (default), "
    "from checkpoint ID (also on a first run), or start afresh (none)";

spank_option g_options[] = {
    {const_cast<char*>(kNames[0]), kArgInterval, kUsageCheckpoint, 1, 1 + KCR_OPT_CHECKPOINT,
     OnOption},
    {const_cast<char*>(kNames[1]), kArgDir, kUsageDir, 1, 1 + KCR_OPT_DIR, OnOption},
    {const_cast<char*>(kNames[2]), kArgList, kUsageOn, 1, 1 + KCR_OPT_ON, OnOption},
    {const_cast<char*>(kNames[3]), kArgFrom, kUsageRestartFrom, 1, 1 + KCR_OPT_RESTART_FROM,
     OnOption},
};

int Forward(int callback, spank_t sp) {
  if (!g.backend)
    return ESPANK_SUCCESS;
  kcr_spank_raw raw;
  raw.argc = g.argc;
  raw.argv = g.argv;
  for (int i = 0; i < KCR_OPT_COUNT; i++)
    raw.options[i] = g.given[i] ? g.values[i] : nullptr;
  return g.call(callback, sp, &raw);
}

}  // namespace

extern "C" {

int slurm_spank_init(spank_t sp, int ac, char** av) {
  spank_context_t ctx = spank_context();
  if (ctx != S_CTX_ALLOCATOR && ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE)
    return ESPANK_SUCCESS;
  for (spank_option& opt : g_options) {
    if (spank_option_register(sp, &opt) != ESPANK_SUCCESS) {
      slurm_error("spank_kcr: cannot register --%s", opt.name);
    }
  }
  // Slurm keeps the arguments for the plugin's lifetime.
  g.argc = ac;
  g.argv = av;
  for (int i = 0; i < ac; i++) {
    if (strncmp(av[i], "default=", 8) == 0)
      g.site_default = av[i] + 8;
    if (strncmp(av[i], "backend=", 8) == 0)
      g.backend_path = av[i] + 8;
  }
  return ESPANK_SUCCESS;
}

int slurm_spank_init_post_opt(spank_t, int, char**) {
  // Loaded here, in slurmstepd before it forks the tasks: a task process (a
  // child of a multithreaded process) should not run the dynamic loader.
  if (spank_context() == S_CTX_REMOTE && Active())
    LoadBackend();
  return ESPANK_SUCCESS;
}

int slurm_spank_task_post_fork(spank_t sp, int, char**) {
  return Forward(KCR_CB_POST_FORK, sp);
}
int slurm_spank_task_init(spank_t sp, int, char**) {
  return Forward(KCR_CB_TASK_INIT, sp);
}
int slurm_spank_task_exit(spank_t sp, int, char**) {
  return Forward(KCR_CB_TASK_EXIT, sp);
}

int slurm_spank_exit(spank_t sp, int, char**) {
  if (spank_context() != S_CTX_REMOTE)
    return ESPANK_SUCCESS;
  return Forward(KCR_CB_EXIT, sp);
}

}  // extern "C"
