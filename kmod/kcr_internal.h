/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kcr: declarations shared by the module's files.
 *
 * Each resource kind has one file with both directions (dump and restore):
 *   kcr_cpu.c (registers, xstate), kcr_thread.c (per-thread task fields),
 *   kcr_mm.c (address space), kcr_signal.c, kcr_files.c (fds, cwd, umask,
 *   rlimits). kcr_checkpoint.c and kcr_restore.c only orchestrate;
 *   kcr_image.c reads and writes sections; kcr_access.c decides who may
 *   checkpoint what; kcr_hold.c keeps a checkpointed process parked;
 *   kcr_reason.c words a refusal.
 */
#ifndef KCR_INTERNAL_H
#define KCR_INTERNAL_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/wait.h>
#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/sched.h>
#include <linux/xxhash.h>
#include "uapi/kcr_uapi.h"

struct file;
struct mm_struct;

/* Reasons are copied back to user space so the CLI can name the cause. */
struct kcr_reason {
	char text[KCR_REASON_LEN];
};

__printf(2, 3) void kcr_set_reason(struct kcr_reason *r, const char *fmt, ...);

/*
 * Copies a string that came from user space or an image (a path, a comm, a
 * reason naming either) for the kernel log, bytes outside printable ASCII
 * replaced by '?', so that no line can forge another or drive a terminal.
 */
void kcr_log_copy(char *dst, size_t size, const char *src);

/* The reason field of an ioctl's arguments (char[KCR_REASON_LEN]) as a struct kcr_reason. */
#define kcr_reason_of(text)                                              \
	({                                                               \
		BUILD_BUG_ON(sizeof(text) != sizeof(struct kcr_reason)); \
		(struct kcr_reason *)(text);                             \
	})

/* ---- image output (kcr_image.c) ---- */
struct kcr_writer {
	struct file *file;
	loff_t pos;
	u32 nr_sections;
	u32 sections_seen; /* bit per section type written */
	/* open section */
	loff_t sec_pos;
	struct kcr_section sec;
	bool hashing; /* the open section is checksummed */
	struct xxh64_state *hash;
	int err;
	/*
	 * Set when the caller is killed: the writer is a kernel thread, which
	 * no signal reaches, so it looks here between chunks and stops.
	 */
	const atomic_t *abort;
};

static inline bool kcr_writer_aborted(const struct kcr_writer *w)
{
	return w->abort && atomic_read(w->abort);
}

int kcr_writer_init(struct kcr_writer *w, struct file *file);
void kcr_writer_destroy(struct kcr_writer *w);
void kcr_section_begin(struct kcr_writer *w, u32 type, bool checksummed);
void kcr_section_write(struct kcr_writer *w, const void *data, size_t len);
void kcr_section_end(struct kcr_writer *w, u32 count);
/* data (NULL: zeros) and zeros up to the next 8 bytes */
void kcr_section_write_padded(struct kcr_writer *w, const void *data, size_t len);
/* KCR_FILE_COPY_BYTES of buf: size bytes of f from offset 0 */
#define KCR_FILE_COPY_BYTES (PAGE_SIZE * 16)
int kcr_section_write_file(struct kcr_writer *w, struct file *f, u64 size, void *buf);
/* Writes len bytes without hashing them into the section checksum. */
void kcr_write_raw(struct kcr_writer *w, const void *data, size_t len);

/* ---- image input (kcr_image.c) ---- */
struct kcr_loaded_section {
	struct kcr_section hdr;
	loff_t payload_pos; /* file offset of the payload */
	void *data; /* whole payload for metadata sections, NULL for PAGES */
};

struct kcr_loaded_image {
	struct file *file;
	loff_t size;
	struct kcr_image_header hdr;
	struct kcr_loaded_section sec[KCR_SEC_MAX];
	u64 meta_bytes; /* of the sections held in memory, against KCR_MAX_META_TOTAL */
	void *mm_plan; /* kcr_mm.c: checked mappings, opened files */
	/* Mappings the restorer filled itself (kcr_restore_args.prefilled). */
	const struct kcr_range *prefilled;
	u32 nr_prefilled;
	/* The memfds the restorer made (kcr_restore_args.memfds); none in a dry run. */
	struct file **memfds;
	s32 *memfd_fds; /* their numbers, to close once restored */
	u32 nr_memfds;
};

int kcr_image_load(struct kcr_loaded_image *img, struct file *file, struct kcr_reason *why);
void kcr_image_free(struct kcr_loaded_image *img);
u64 kcr_hash(const void *data, size_t len, u64 seed);

/* ---- who may checkpoint what (kcr_access.c) ---- */
struct file *kcr_access_proof(int fd, struct task_struct *t, struct kcr_reason *why);
bool kcr_access_current(struct file *proof);
bool kcr_access_privileged(struct file *proof);
bool kcr_owner_may_attach(void);

/* ---- per-thread task fields (kcr_thread.c) ---- */
void kcr_thread_capture(struct kcr_thread *th);
int kcr_thread_validate(struct kcr_loaded_image *img, struct kcr_reason *why);
u32 kcr_thread_count(const struct kcr_loaded_image *img);
const struct kcr_thread *kcr_thread_record(const struct kcr_loaded_image *img, u32 i);
void kcr_thread_restore(const struct kcr_thread *th);
struct kcr_rax_fixup;
struct kcr_rax_fixup *kcr_rax_fixup_alloc(void);
int kcr_rax_fixup_queue(struct kcr_rax_fixup *fix, const struct kcr_thread *th);
void kcr_rax_fixup_free(struct kcr_rax_fixup *fix);

/* ---- CPU state (kcr_cpu.c) ---- */
int kcr_cpu_xstate_size(struct task_struct *t);
u64 kcr_cpu_xfeatures(void);
/* Runs in the target, parked: captures registers and xstate. */
int kcr_cpu_capture(struct kcr_thread *th, void *xstate, bool self);
int kcr_cpu_validate(const struct kcr_thread *th, struct kcr_reason *why);
/* Sets registers of current (the restorer) through a helper kernel thread. */
int kcr_cpu_restore(const struct kcr_thread *th, const void *xstate);

/* ---- address space (kcr_mm.c) ---- */
struct kcr_memfds;
/* memfds: where mapped memfds are recorded; NULL refuses them (a tree's member) */
int kcr_mm_dump(struct kcr_writer *w, struct task_struct *t, struct mm_struct *mm,
		struct kcr_memfds *memfds, u64 *pages_saved, struct kcr_reason *why);
/* kcr_file_identity.c: what a mapped file is, recorded and checked. */
/* Bytes a dump reads to checksum mapped files, at most; beyond, inodes only. */
#define KCR_FILE_HASH_BUDGET (256ULL << 20)
bool kcr_file_identity_writes(const struct kcr_vma *v);
int kcr_file_identity_dump(const struct kcr_writer *w, struct file *f, const struct kcr_vma *v,
			   u64 *budget, struct kcr_file_identity *id);
int kcr_file_identity_valid(const struct kcr_file_identity *id);
int kcr_file_identity_check(struct file *f, const char *path, const struct kcr_vma *v,
			    const struct kcr_file_identity *id, struct kcr_reason *why);
int kcr_mm_validate(struct kcr_loaded_image *img, bool dry_run, struct kcr_reason *why);
int kcr_mm_restore(struct kcr_loaded_image *img, struct kcr_reason *why);
void kcr_mm_plan_free(struct kcr_loaded_image *img);

/* ---- signals (kcr_signal.c) ---- */
struct kcr_signal_state;
struct kcr_signal_state *kcr_signal_state_alloc(void);
void kcr_signal_state_free(struct kcr_signal_state *st);
void kcr_signal_capture_thread(struct kcr_signal_state *st, struct kcr_thread *th, u32 index);
int kcr_signal_capture_process(struct kcr_signal_state *st, struct kcr_reason *why);
void kcr_signal_dump(struct kcr_writer *w, struct kcr_signal_state *st, const u32 *record_of,
		     u32 nr_threads);
int kcr_signal_validate(struct kcr_loaded_image *img, struct kcr_reason *why);
void kcr_signal_restore_process(struct kcr_loaded_image *img);
void kcr_signal_restore_thread(const struct kcr_thread *th);

/* ---- files, cwd, umask, rlimits (kcr_files.c) ---- */
struct kcr_files_state;
struct kcr_files_state *kcr_files_state_alloc(bool tree);
void kcr_files_state_free(struct kcr_files_state *st);
int kcr_files_capture(struct kcr_files_state *st, const struct file *skip, bool self);

/* ---- memfds (kcr_memfd.c) ---- */
struct kcr_memfds *kcr_memfds_alloc(void);
void kcr_memfds_free(struct kcr_memfds *m);
bool kcr_is_memfd(const struct file *f);
int kcr_memfd_check(const struct file *f, struct kcr_reason *why);
int kcr_memfd_ref(struct kcr_memfds *m, struct file *f, u32 *id, struct kcr_reason *why);
int kcr_memfd_vma_check(const struct file *f, bool shared, bool writable, struct kcr_reason *why);
int kcr_memfds_dump(struct kcr_writer *w, const struct kcr_memfds *m, struct kcr_reason *why);
int kcr_memfd_take(struct file *const *memfds, u32 nr, const struct kcr_vma *v, struct file **out,
		   struct kcr_reason *why);
int kcr_files_check(const struct kcr_files_state *st, struct kcr_reason *why);
int kcr_files_dump(struct kcr_writer *w, const struct kcr_files_state *st,
		   struct kcr_memfds *memfds, struct kcr_reason *why);
int kcr_fs_dump(struct kcr_writer *w, const struct kcr_files_state *st, struct kcr_reason *why);
int kcr_file_sync(const struct kcr_writer *w, struct file *f, struct kcr_reason *why);
int kcr_files_sync(const struct kcr_writer *w, const struct kcr_files_state *st,
		   struct kcr_reason *why);
int kcr_tree_dump(struct kcr_writer *w, const struct kcr_files_state *st);
int kcr_task_pipe_counts(struct task_struct *t, int fd, u32 *readers, u32 *writers);

/* ---- stopping every thread of a target, and letting them go (kcr_freeze.c) ---- */
#define KCR_MAX_THREADS 1024
struct kcr_freeze;

struct kcr_freeze_ops {
	/* In each thread, in its own context, before it parks; index 0 is the leader. */
	int (*thread)(struct kcr_freeze *fz, u32 index, struct kcr_reason *why);
	/* In the leader, once every thread is parked: what the threads share. */
	int (*process)(struct kcr_freeze *fz, struct kcr_reason *why);
	void (*get)(struct kcr_freeze *fz); /* the owner's reference, for each queued thread */
	void (*put)(struct kcr_freeze *fz);
};

struct kcr_freeze_slot;
struct kcr_freeze {
	const struct kcr_freeze_ops *ops;
	struct task_struct *leader;
	struct kcr_freeze_slot **slots;
	u32 nr;
	atomic_t state, queued, arrived, inside;
	wait_queue_head_t target_wq; /* parked threads wait here */
	wait_queue_head_t caller_wq; /* the caller waits here */
	bool process_done, died;
	int process_err;
};

void kcr_freeze_init(struct kcr_freeze *fz, struct task_struct *leader,
		     const struct kcr_freeze_ops *ops);
/* Parks every thread and has them capture their state; on error all run on. */
int kcr_freeze_stop(struct kcr_freeze *fz, struct kcr_reason *why);
/* Lets every parked thread run on (stopped, as by SIGSTOP, if asked). */
void kcr_freeze_release(struct kcr_freeze *fz, bool stop);
/* Frees the slots, once no callback can run any more (the owner's last reference). */
void kcr_freeze_destroy(struct kcr_freeze *fz);
u32 kcr_freeze_threads(const struct kcr_freeze *fz);
bool kcr_freeze_thread_gone(const struct kcr_freeze *fz, u32 index);

/* ---- holding a checkpointed process parked (kcr_hold.c) ---- */
struct kcr_hold;

struct kcr_hold_ops {
	void (*get)(struct kcr_hold *h); /* keep what the hold needs */
	void (*put)(struct kcr_hold *h); /* undo get() (the hold was never made) */
	void (*release)(struct kcr_hold *h); /* let the process run on, then put() */
};

struct kcr_hold {
	struct list_head node; /* on the held list while the file is open */
	struct task_struct *task; /* the held process */
	const struct kcr_hold_ops *ops;
};

bool kcr_is_held(struct task_struct *t);
struct file *kcr_hold_file(struct kcr_hold *h);

/* ---- restoring a multi-threaded process: its threads meet (kcr_restore_group.c) ---- */
struct kcr_restore_group;
int kcr_restore_group_gather(const struct kcr_loaded_image *img, struct kcr_restore_group **out,
			     struct kcr_reason *why);
void kcr_restore_group_go(struct kcr_restore_group *g, const struct kcr_loaded_image *img);
void kcr_restore_group_cancel(struct kcr_restore_group *g);
long kcr_ioctl_restore_thread(struct kcr_restore_thread_args __user *uarg);

/* ---- orchestration: the ioctls ---- */
long kcr_ioctl_checkpoint(struct kcr_checkpoint_args __user *uarg);
long kcr_ioctl_restore(struct kcr_restore_args __user *uarg);

#endif /* KCR_INTERNAL_H */
