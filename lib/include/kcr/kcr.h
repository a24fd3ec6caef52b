/*
 * kcr.h — the C API of libkcr, kernel-level checkpoint/restart.
 *
 * Calls are composable building blocks: checkpoint a process, checkpoint
 * yourself, restart from an image, read and verify an image, and register
 * callbacks that run around a self-checkpoint (BLCR's libcr model). A
 * scheduler or an application builds its own checkpoint policy from them.
 *
 * Every call returns 0 (or a documented non-negative value) on success and a
 * negative errno-style code on failure; when `err` is non-NULL it receives
 * the code and a message that names the cause and, where there is one, the
 * fix. The library is thread-safe except where a call says otherwise.
 */
#ifndef KCR_KCR_H
#define KCR_KCR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KCR_ERROR_MESSAGE_LEN 512

typedef struct kcr_error {
  int code; /* negative errno value */
  char message[KCR_ERROR_MESSAGE_LEN];
} kcr_error;

/* ---- the module ---- */

typedef struct kcr_module_info {
  uint32_t abi_version;   /* of the loaded module */
  uint32_t image_version; /* image format it writes */
  uint32_t xstate_size;   /* bytes of XSAVE state on this CPU */
  uint64_t xfeatures;     /* XCR0 */
  char release[65];       /* running kernel */
  char kversion[65];
} kcr_module_info;

/* Fails with a clear message when /dev/kcr is missing or its ABI differs. */
int kcr_module_query(kcr_module_info* info, kcr_error* err);

/* ---- checkpoint ---- */

typedef void (*kcr_progress_fn)(uint64_t done_bytes, uint64_t total_bytes, void* arg);

/* Zero-initialise (= {0}) and set what you need: fields are added over time. */
typedef struct kcr_checkpoint_options {
  int kill;                 /* non-zero: SIGKILL the target once the image is safe. It is
                               held in the kernel from its checkpoint on, and a failed
                               checkpoint leaves it running */
  int stop;                 /* non-zero: leave it stopped (SIGSTOP) instead; not with kill */
  kcr_progress_fn progress; /* optional; called from a helper thread while writing */
  void* progress_arg;
  int privileged; /* non-zero: also a process its own user could not attach to
                     (not dumpable, set-id, capabilities); needs CAP_SYS_PTRACE
                     over it, and the image stays the caller's */
} kcr_checkpoint_options;

typedef struct kcr_checkpoint_result {
  uint64_t image_bytes;
  uint64_t pages_saved;
  uint64_t freeze_ns;      /* request until the target was parked */
  uint64_t write_ns;       /* image write by the module's kernel thread */
  uint64_t sync_ns;        /* fsync + rename */
  uint64_t image_checksum; /* xxh64 of the header: identifies the image */
} kcr_checkpoint_result;

/*
 * Checkpoints process `pid` into `path`. Only a caller that could attach to
 * the process with ptrace may (ptrace's rule, Yama and other LSMs included).
 * The image is written under a temporary name, synced and renamed only when
 * complete, so `path` is either the previous file or a whole new image. Mode
 * 0600, owned by the process's owner when that user could attach to it, else
 * by the caller. `options` and `result` may be NULL.
 */
int kcr_checkpoint(pid_t pid, const char* path, const kcr_checkpoint_options* options,
                   kcr_checkpoint_result* result, kcr_error* err);

/*
 * Like kcr_checkpoint(), but the process stays parked in the kernel once its
 * image is published, and *hold_fd receives a descriptor (close-on-exec).
 * Closing its last copy (dup, fork, or the holder's exit count too) lets the
 * process run on. Until then only SIGKILL reaches the process: a SIGCONT
 * does not resume it, as it would a stopped one, another checkpoint of it is
 * refused (-EBUSY), and it cannot be frozen (cgroup freezer). What a
 * scheduler uses to keep a preempted task from running past its checkpoint.
 * `options` may not ask to kill or stop. On error *hold_fd is -1 and the
 * process runs on.
 */
int kcr_checkpoint_hold(pid_t pid, const char* path, const kcr_checkpoint_options* options,
                        kcr_checkpoint_result* result, int* hold_fd, kcr_error* err);

/*
 * SIGKILLs the process `hold_fd` (from kcr_checkpoint_hold) holds: that very
 * process, even if it died meanwhile and its pid was reused. Close hold_fd
 * afterwards.
 */
int kcr_hold_kill(int hold_fd, kcr_error* err);

/* ---- self-checkpoint and callbacks ---- */

typedef enum kcr_event {
  KCR_EVENT_BEFORE_CHECKPOINT = 1, /* about to checkpoint: flush, quiesce */
  KCR_EVENT_AFTER_CONTINUE = 2,    /* checkpoint done, same process goes on */
  KCR_EVENT_AFTER_RESTART = 4,     /* running again, restored from an image */
} kcr_event;

/* A callback's non-zero return before a checkpoint cancels it (-ECANCELED). */
typedef int (*kcr_callback_fn)(kcr_event event, void* arg);

/* Registers fn for the events in the `events` mask; returns an id >= 0. */
int kcr_register_callback(unsigned events, kcr_callback_fn fn, void* arg, kcr_error* err);
int kcr_unregister_callback(int id);

/*
 * The calling process checkpoints itself into `path`. Returns 0 when it
 * continues after the checkpoint, 1 when it runs again restored from the
 * image, negative on error. The process must be single-threaded.
 */
int kcr_checkpoint_self(const char* path, kcr_checkpoint_result* result, kcr_error* err);

/* ---- restart ---- */

typedef struct kcr_restart_options {
  int rollback_files; /* truncate files that grew since the checkpoint back to their size */
  int skip_verify;    /* do not re-read page checksums (the kernel still checks structure) */
} kcr_restart_options;

/*
 * Replaces the calling process with the one in the image and continues it.
 * Does not return on success. Before anything of the caller changes, the
 * whole image is verified and every problem is reported here instead.
 * The caller must be single-threaded. Credentials are the caller's own.
 */
int kcr_restart(const char* path, const kcr_restart_options* options, kcr_error* err);

/* ---- images ---- */

typedef struct kcr_image kcr_image;

typedef struct kcr_image_summary {
  uint32_t version;
  int32_t pid;
  uint32_t uid;
  uint32_t gid;
  char comm[16];
  char release[65];
  char kversion[65];
  uint64_t created_ns;
  uint64_t image_bytes;
  uint64_t pages_saved;
  uint32_t nr_vmas;
  uint32_t nr_files;
  uint64_t header_checksum;
} kcr_image_summary;

kcr_image* kcr_image_open(const char* path, kcr_error* err);
void kcr_image_close(kcr_image* image);
int kcr_image_summary_get(const kcr_image* image, kcr_image_summary* out);
/* Re-reads every checksum; 0 only when all hold. */
int kcr_image_verify(const kcr_image* image, kcr_error* err);
/* A JSON description (header, VMAs, threads, fds, sizes); free() the result. */
char* kcr_image_describe_json(const kcr_image* image);

/* Human-readable text for a negative code returned by this library. */
const char* kcr_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* KCR_KCR_H */
