// The line between spank_kcr.so and spank_kcr_backend.so.
//
// Slurm loads spank_kcr.so into every srun, sbatch, salloc and slurmstepd,
// for every job. So that jobs without checkpoints pay (almost) nothing, it
// needs only libc: it registers the options, remembers their text, and
// loads the backend (C++20, libkcr, the catalog; about 10 ms to load) only
// when a job asks for kcr, or when sbatch must check a value it cannot
// check alone. The backend resolves Slurm's spank_* and slurm_* functions
// from the process, like the front does.
#pragma once

#include <stddef.h>

extern "C" {

#include <slurm/spank.h>

// Bumped when this interface changes; the front refuses another backend.
#define KCR_SPANK_BACKEND_ABI 1

enum kcr_spank_option {
  KCR_OPT_CHECKPOINT = 0,  // --checkpoint
  KCR_OPT_DIR,             // --checkpoint-dir
  KCR_OPT_ON,              // --checkpoint-on
  KCR_OPT_RESTART_FROM,    // --restart-from
  KCR_OPT_COUNT
};

enum kcr_spank_callback {
  KCR_CB_POST_FORK = 0,  // slurm_spank_task_post_fork (slurmstepd, root)
  KCR_CB_TASK_INIT,      // slurm_spank_task_init (the task, as the user)
  KCR_CB_TASK_EXIT,      // slurm_spank_task_exit (slurmstepd)
  KCR_CB_EXIT,           // slurm_spank_exit (slurmstepd)
};

// What the front saw: plugstack.conf arguments and the options' text.
struct kcr_spank_raw {
  int argc;
  char** argv;
  const char* options[KCR_OPT_COUNT];  // NULL: not given
};

int kcr_spank_backend_abi(void);
// 0 when `value` is valid for `option`; otherwise -1 with a sentence in why.
int kcr_spank_backend_validate(int option, const char* value, char* why, size_t why_len);
// Runs one SPANK callback; always ESPANK_SUCCESS (kcr never fails a job).
int kcr_spank_backend_call(int callback, spank_t sp, const struct kcr_spank_raw* raw);
}
