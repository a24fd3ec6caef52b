/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kcr: kernel checkpoint/restart, the ABI shared by kcr.ko and user space.
 *
 * Two things live here and only here:
 *   1. the ioctl interface of /dev/kcr;
 *   2. the on-disk image format (v2), described in docs/image-format.md.
 *
 * Every structure has fixed-width fields and explicit padding so that the
 * kernel and user space agree on the layout; the module validates every
 * field it reads from user space or from an image.
 */
#ifndef KCR_UAPI_H
#define KCR_UAPI_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#else
#include <linux/types.h>
#include <sys/ioctl.h>
#endif

/* Bumped on any incompatible change of the ioctls below. */
#define KCR_ABI_VERSION 7
/*
 * Image format versions this kcr reads: 2; 3, which is 2 with a LOCKS
 * section; 4, a member of a process tree, which has a TREE section (and
 * may have LOCKS); 5, a process with POSIX timers or memfds, which has a
 * TIMERS or MEMFD section (and may have the others). It writes 3 only for
 * a process that holds file locks, 4 only for a tree's member and 5 only
 * for a process with timers or memfds, so an older kcr refuses those
 * images as unsupported (it cannot take the locks again, restore the tree,
 * make the timers or the memfds) and reads every other one. 6 has a
 * FILE_IDS section (a process that maps a file): a kcr older than it
 * would check a mapped file by its inode alone, which another node's
 * copy of the same file does not share.
 */
#define KCR_IMAGE_VERSION 6
#define KCR_IMAGE_VERSION_MIN 2
#define KCR_IMAGE_VERSION_LOCKS 3
#define KCR_IMAGE_VERSION_TREE 4
#define KCR_IMAGE_VERSION_TIMERS 5
#define KCR_IMAGE_VERSION_MEMFD 5
#define KCR_IMAGE_VERSION_FILE_IDS 6

#define KCR_DEVICE_PATH "/dev/kcr"
#define KCR_IOC_MAGIC 0xC7

/* Room for a human-readable reason the module gives when it refuses. */
#define KCR_REASON_LEN 192
#define KCR_UTS_LEN 65

struct kcr_version {
	__u32 abi_version;
	__u32 image_version;
	__u32 xstate_size; /* bytes of the UABI XSAVE area on this CPU */
	__u32 regs_size; /* sizeof(struct user_regs_struct) */
	__u64 xfeatures; /* XCR0: features the kernel enables */
	char release[KCR_UTS_LEN]; /* utsname()->release */
	char kversion[KCR_UTS_LEN]; /* utsname()->version (the build) */
	__u8 pad[6];
};

/* kcr_checkpoint_args.flags */
/* (1U << 0) was KCR_CKPT_KILL until ABI 3; libkcr kills after publishing instead. */
#define KCR_CKPT_SELF (1U << 1) /* pid is the caller: checkpoint self, see kcr_checkpoint_self() */
/* Leave the target stopped, as by SIGSTOP, before it runs another instruction. */
#define KCR_CKPT_STOP (1U << 2)
/*
 * Keep the target parked in the kernel once its image is written. On success
 * the ioctl returns a new descriptor (close-on-exec) instead of 0: the target
 * runs on when the last copy of it is closed (also by its holder's exit).
 * Meanwhile only SIGKILL reaches it (see KCR_IOC_HOLD_KILL): a SIGCONT cannot
 * resume it, as it would a stopped one, and a later checkpoint of it is
 * refused (EBUSY). A held process cannot be frozen (cgroup freezer, system
 * suspend). Not with STOP or SELF. (ABI 4.)
 */
#define KCR_CKPT_HOLD (1U << 3)
/*
 * Checkpoint a process its own user could not attach to with ptrace: one
 * that is not dumpable (a set-id program, prctl(PR_SET_DUMPABLE, 0)), runs
 * with mixed ids or holds capabilities. Its memory may hold what that user
 * may not read, so the image must stay the caller's: the result does not
 * carry KCR_CKPT_OWNER_MAY_READ. Needs CAP_SYS_PTRACE over the target, as
 * ptrace does. (ABI 5.)
 */
#define KCR_CKPT_PRIVILEGED (1U << 4)
/*
 * The target is one process of a tree that libkcr checkpoints whole
 * (holding each one): it may have children, its pipes are recorded
 * (KCR_FD_PIPE) instead of refused, and the image has a TREE section with
 * what libkcr needs to join the members again. Only with HOLD. (ABI 6.)
 */
#define KCR_CKPT_TREE (1U << 5)
#define KCR_CKPT_FLAGS_ALL \
	(KCR_CKPT_SELF | KCR_CKPT_STOP | KCR_CKPT_HOLD | KCR_CKPT_PRIVILEGED | KCR_CKPT_TREE)

/* kcr_checkpoint_args.result_flags */
/* The target's own user could attach to it: the image may be given to target_uid/gid. */
#define KCR_CKPT_OWNER_MAY_READ (1U << 0)

/* Value the restored caller of a self-checkpoint sees as the ioctl's result. */
#define KCR_SELF_RESTARTED 1

struct kcr_checkpoint_args {
	__u32 size; /* sizeof(struct kcr_checkpoint_args) */
	__s32 pid; /* target, in the caller's pid namespace */
	__s32 out_fd; /* image file, open for writing, empty */
	__u32 flags;
	/*
	 * The target's /proc/PID/mem, opened by the caller: its open ran the
	 * kernel's whole ptrace attach check (ids, dumpability, capabilities
	 * in the target's user namespace, Yama and every other LSM), which a
	 * module cannot call. Ignored with KCR_CKPT_SELF. (ABI 5.)
	 */
	__s32 access_fd;
	__u32 result_flags; /* filled: KCR_CKPT_OWNER_MAY_READ */
	/* filled by the module */
	__u64 freeze_ns; /* from request to target parked */
	__u64 write_ns; /* image write by the kernel thread */
	__u64 image_bytes;
	__u64 pages_saved;
	__u32 target_uid; /* the target's user, in the caller's user namespace */
	__u32 target_gid;
	char reason[KCR_REASON_LEN];
};

/* kcr_restore_args.flags */
#define KCR_RST_ROLLBACK_FILES (1U << 0) /* lib handled grown files; informational */
#define KCR_RST_VALIDATE_ONLY (1U << 1) /* check the image, change nothing, return 0 */
#define KCR_RST_FLAGS_ALL (KCR_RST_ROLLBACK_FILES | KCR_RST_VALIDATE_ONLY)

/* An address range [start, end). */
struct kcr_range {
	__u64 start;
	__u64 end;
};

#define KCR_MAX_PREFILLED 65536

struct kcr_restore_args {
	__u32 size; /* sizeof(struct kcr_restore_args) */
	__s32 image_fd; /* image file, open for reading; closed by a successful restore */
	__u32 flags;
	__s32 device_fd; /* the /dev/kcr fd this ioctl is issued on; closed likewise */
	/*
	 * Optional: nr_prefilled struct kcr_range at user address prefilled,
	 * naming writable private anonymous mappings of the image that the
	 * caller has already mapped at their addresses and filled with their
	 * verified pages (libkcr does this on every core before the point of no
	 * return). The module keeps such a mapping only when it matches the
	 * image's exactly, and maps and fills everything else itself.
	 */
	__u64 prefilled;
	__u32 nr_prefilled;
	__u32 pad;
	/*
	 * The memfds of the image's MEMFD section, made again by the caller
	 * (libkcr): nr_memfds descriptors (__s32) at user address memfds,
	 * record i's at index i. Mappings of memfds map these; a successful
	 * restore closes them, as the program never had them there.
	 */
	__u64 memfds;
	__u32 nr_memfds;
	__u32 pad2;
	char reason[KCR_REASON_LEN];
};

/*
 * Each thread but the main one of a process restoring a multi-threaded image
 * calls KCR_IOC_RESTORE_THREAD with the index of the thread record it is to
 * become (1..count-1), and waits there; the main thread's KCR_IOC_RESTORE
 * gathers them (exactly the image's threads, with its thread ids) and, past
 * the point of no return, lets each take its record. On success it returns
 * in that thread of the restored program; a refused restore returns an error
 * (ECANCELED) and the thread should exit. (ABI 5.)
 */
struct kcr_restore_thread_args {
	__u32 size; /* sizeof(struct kcr_restore_thread_args) */
	__u32 index;
	__u32 pad;
	char reason[KCR_REASON_LEN];
	__u32 pad2;
};

#define KCR_IOC_VERSION _IOR(KCR_IOC_MAGIC, 0, struct kcr_version)
#define KCR_IOC_CHECKPOINT _IOWR(KCR_IOC_MAGIC, 1, struct kcr_checkpoint_args)
#define KCR_IOC_RESTORE _IOWR(KCR_IOC_MAGIC, 2, struct kcr_restore_args)
/*
 * On a hold descriptor (KCR_CKPT_HOLD), not on /dev/kcr: SIGKILL the held
 * process. It reaches that very process even if it died and its pid was
 * reused meanwhile. (ABI 4.)
 */
#define KCR_IOC_HOLD_KILL _IO(KCR_IOC_MAGIC, 3)
/*
 * On a hold descriptor: how many open files each end of the pipe at `fd` of
 * the held process has now (its TREE section's counts are from its own
 * checkpoint; another process of the tree may have ended since). (ABI 6.)
 */
struct kcr_hold_pipe {
	__s32 fd;
	__u32 readers; /* filled */
	__u32 writers; /* filled */
	__u32 pad;
};

#define KCR_IOC_HOLD_PIPE _IOWR(KCR_IOC_MAGIC, 5, struct kcr_hold_pipe)
#define KCR_IOC_RESTORE_THREAD _IOWR(KCR_IOC_MAGIC, 4, struct kcr_restore_thread_args)
/* Only in modules built with KCR_TEST_HOOKS: fires a WARN to prove the harness catches it. */
#define KCR_IOC_TEST_WARN _IO(KCR_IOC_MAGIC, 0x7f)

/*
 * Image format v2 to v5 (v3: v2 with a LOCKS section; v4: with a TREE section;
 * v5: with a TIMERS or a MEMFD section).
 *
 *   struct kcr_image_header               (offset 0, KCR_HEADER_SIZE bytes)
 *   section*                              (each: struct kcr_section + payload,
 *                                          payload padded to 8 bytes)
 *   KCR_SEC_END section                   (empty payload; closes the image)
 *
 * All integers are little-endian. Metadata sections carry an xxh64 (seed 0)
 * of their payload. The PAGES section's payload is a sequence of chunks,
 * each with its own checksum, so a reader verifies memory block by block.
 */

#define KCR_IMAGE_MAGIC "KCRIMG\r\n" /* 8 bytes, no NUL; \r\n catches text-mode damage */
#define KCR_HEADER_SIZE 512
#define KCR_ARCH_X86_64 62 /* EM_X86_64 */

struct kcr_image_header {
	char magic[8];
	__u32 version; /* KCR_IMAGE_VERSION */
	__u32 header_size; /* KCR_HEADER_SIZE */
	__u32 arch; /* KCR_ARCH_X86_64 */
	__u32 nr_sections; /* including END */
	__u64 image_bytes; /* total file size */
	__u64 created_ns; /* CLOCK_REALTIME at checkpoint */
	__s32 pid; /* target's pid at checkpoint */
	__u32 uid; /* target's real uid at checkpoint (informational) */
	__u32 gid;
	__u32 xstate_size;
	__u64 xfeatures; /* XCR0 of the checkpointing kernel */
	__u64 pages_saved;
	__u64 freeze_ns;
	__u64 write_ns;
	char release[KCR_UTS_LEN];
	char kversion[KCR_UTS_LEN];
	char comm[16];
	__u8 pad[6]; /* zero; aligns the clocks */
	/*
	 * The program's CLOCK_MONOTONIC, CLOCK_BOOTTIME and CLOCK_REALTIME as
	 * it saw them (in its time namespace) when it was parked, read
	 * together: a restore after a reboot or on another node continues the
	 * first two from here. 0 in older images.
	 */
	__u64 monotonic_ns;
	__u64 boottime_ns;
	__u64 realtime_ns;
	__u8 reserved[KCR_HEADER_SIZE - 8 * 11 - 2 * KCR_UTS_LEN - 16 - 6 - 8 * 3 - 8];
	__u64 checksum; /* xxh64 of the header with this field zero */
};

enum kcr_section_type {
	KCR_SEC_END = 0,
	KCR_SEC_THREAD = 1, /* count x (struct kcr_thread + xstate_size bytes), the leader first */
	KCR_SEC_MM = 2, /* struct kcr_mm */
	KCR_SEC_VMAS = 3, /* count x (struct kcr_vma + path, padded to 8) */
	KCR_SEC_SIGNALS = 4, /* struct kcr_signals + count x struct kcr_pending_signal */
	KCR_SEC_FILES = 5, /* count x (struct kcr_fd + path, padded to 8) */
	KCR_SEC_FS = 6, /* struct kcr_fs + cwd path */
	KCR_SEC_GHOST = 7, /* count x (struct kcr_ghost + contents, padded to 8) */
	KCR_SEC_PAGES = 8, /* chunks: struct kcr_page_chunk + nr_pages * 4096 */
	KCR_SEC_LOCKS = 9, /* count x struct kcr_file_lock; only when the process holds locks */
	/* struct kcr_tree_process + count x struct kcr_tree_fd; a tree's members only */
	KCR_SEC_TREE = 10,
	KCR_SEC_TIMERS = 11, /* count x struct kcr_posix_timer; only when the process has some */
	/* count x (struct kcr_memfd + name + contents, each padded to 8); only with memfds */
	KCR_SEC_MEMFD = 12,
	/* count x struct kcr_file_identity; only when the process maps a file */
	KCR_SEC_FILE_IDS = 13,
	KCR_SEC_MAX
};

struct kcr_section {
	__u32 type;
	__u32 count; /* records in the payload, meaning depends on type */
	__u64 size; /* payload bytes, excluding this header and padding */
	__u64 checksum; /* xxh64 of the payload (0 for PAGES: chunks carry theirs) */
};

#define KCR_NR_SIGNALS 64
#define KCR_CPU_WORDS 16 /* an affinity mask of up to 1024 CPUs */
#define KCR_REGS_WORDS 27 /* struct user_regs_struct on x86-64 */

struct kcr_thread {
	__s32 tid;
	__u32 xstate_size;
	__u64 regs[KCR_REGS_WORDS]; /* struct user_regs_struct, syscall-restart fixed up */
	__u64 blocked; /* signal mask */
	__u64 sas_ss_sp;
	__u64 sas_ss_size;
	__u32 sas_ss_flags;
	__u32 rseq_sig;
	__u64 rseq;
	__u64 clear_child_tid;
	__u64 robust_list;
	__u64 robust_list_len;
	char comm[16];
	__u32 task_flags; /* KCR_TASK_* */
	__u32 pad;
	/* Scheduling, put back by the restorer for each thread (libkcr). */
	__u32 sched_policy; /* SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR */
	__u32 sched_priority; /* for SCHED_FIFO and SCHED_RR */
	__s32 nice;
	__u32 pad2;
	__u64 cpus[KCR_CPU_WORDS]; /* affinity: bit n is CPU n */
	/* followed by xstate_size bytes of UABI XSAVE (NT_X86_XSTATE) */
};

/*
 * kcr_thread.task_flags: restrictions a thread placed on itself. A restore
 * puts each back or is refused: it never sheds one.
 */
#define KCR_TASK_NO_NEW_PRIVS (1U << 0) /* prctl(PR_SET_NO_NEW_PRIVS) */
/* prctl(PR_SET_SPECULATION_CTRL): the restorer must have set the same first. */
#define KCR_TASK_SSB_DISABLE (1U << 1)
#define KCR_TASK_SSB_FORCE_DISABLE (1U << 2)
#define KCR_TASK_SSB_NOEXEC (1U << 3)
#define KCR_TASK_IB_DISABLE (1U << 4)
#define KCR_TASK_IB_FORCE_DISABLE (1U << 5)
#define KCR_TASK_SPEC_ALL                                                          \
	(KCR_TASK_SSB_DISABLE | KCR_TASK_SSB_FORCE_DISABLE | KCR_TASK_SSB_NOEXEC | \
	 KCR_TASK_IB_DISABLE | KCR_TASK_IB_FORCE_DISABLE)
#define KCR_TASK_FLAGS_ALL (KCR_TASK_NO_NEW_PRIVS | KCR_TASK_SPEC_ALL)

struct kcr_mm {
	__u64 start_code, end_code, start_data, end_data;
	__u64 start_brk, brk, start_stack;
	__u64 arg_start, arg_end, env_start, env_end;
	__u64 mmap_base;
	__u64 vdso_start, vdso_end; /* [vdso] */
	__u64 vvar_start, vvar_end; /* [vvar], just below the vdso */
	__u64 saved_auxv[48]; /* key/value pairs up to an AT_NULL key */
	__u32 nr_vmas;
	__u32 flags; /* KCR_MM_* */
	__u32 dumpable; /* SUID_DUMP_*: 0 not dumpable, 1 dumpable, 2 only by root */
	__u32 pad;
};

/* kcr_mm.flags */
#define KCR_MM_THP_DISABLED (1U << 0) /* prctl(PR_SET_THP_DISABLE) was in effect */
#define KCR_MM_FLAGS_ALL KCR_MM_THP_DISABLED

/* kcr_vma.kind */
enum kcr_vma_kind {
	KCR_VMA_ANON = 0, /* private anonymous: pages saved if non-zero */
	KCR_VMA_FILE_PRIVATE = 1, /* private file mapping: file by reference + COW'd pages */
	KCR_VMA_SHARED_ANON = 2, /* MAP_SHARED|MAP_ANONYMOUS: pages saved */
	KCR_VMA_FILE_SHARED = 3, /* MAP_SHARED file: by reference, contents live in the file */
	KCR_VMA_MEMFD_PRIVATE = 4, /* private mapping of a memfd of MEMFD + COW'd pages */
	KCR_VMA_MEMFD_SHARED = 5, /* MAP_SHARED memfd: contents in its MEMFD record */
};

/* Bits of kcr_vma.vm_flags (the kernel's VM_* values; the module checks they agree). */
#define KCR_VM_READ 0x1ULL
#define KCR_VM_WRITE 0x2ULL
#define KCR_VM_EXEC 0x4ULL
#define KCR_VM_SHARED 0x8ULL
#define KCR_VM_GROWSDOWN 0x100ULL
#define KCR_VM_NORESERVE 0x200000ULL
/* mlock() and madvise() flags, put back on the mapping by a restore. */
#define KCR_VM_LOCKED 0x2000ULL /* mlock: mapped again with MAP_LOCKED */
#define KCR_VM_DONTCOPY 0x20000ULL /* MADV_DONTFORK */
#define KCR_VM_WIPEONFORK 0x2000000ULL /* MADV_WIPEONFORK */
#define KCR_VM_DONTDUMP 0x4000000ULL /* MADV_DONTDUMP */
#define KCR_VM_HUGEPAGE 0x20000000ULL /* MADV_HUGEPAGE */
#define KCR_VM_NOHUGEPAGE 0x40000000ULL /* MADV_NOHUGEPAGE */

struct kcr_vma {
	__u64 start, end;
	__u64 vm_flags; /* the target's vm_flags: KCR_VM_* and others */
	__u64 pgoff; /* in pages */
	__u32 kind;
	__u32 path_len; /* bytes of path following, no NUL; 0 for anonymous */
	__u64 ino; /* identity of a mapped file, checked at restore */
	__u64 file_size;
	__u32 dev;
	__u32 memfd_id; /* KCR_VMA_MEMFD_*: the memfd's record in MEMFD */
};

/*
 * What a mapped file is, beyond its inode (kcr_vma.ino), which another
 * node's copy of the same file does not share: its modification time, and
 * its GNU build-id or, for a file without one, a checksum of its contents
 * (whole up to KCR_FILE_CHECKSUM_MAX bytes; of KCR_FILE_SAMPLES evenly
 * spaced pieces of KCR_FILE_SAMPLE_BYTES beyond). None for a file the
 * program maps shared and writable (its data), or one the checkpoint could
 * not read within its budget. One per file mapping of VMAS, in its order.
 */
#define KCR_BUILD_ID_MAX 20
#define KCR_FILE_CHECKSUM_MAX (64ULL << 20)
#define KCR_FILE_SAMPLES 64
#define KCR_FILE_SAMPLE_BYTES (64U << 10)
#define KCR_FILE_ID_BUILD_ID (1U << 0) /* build_id holds the ELF note's build-id */
#define KCR_FILE_ID_CHECKSUM (1U << 1) /* checksum: xxh64 (seed 0) of the whole file */
#define KCR_FILE_ID_SAMPLED (1U << 2) /* checksum: xxh64 (seed 0) of the samples, in order */

struct kcr_file_identity {
	__u32 vma; /* index of its mapping in VMAS */
	__u32 flags; /* KCR_FILE_ID_*: at most one; none for a large file without a build-id */
	__s64 mtime_ns;
	__u64 checksum;
	__u32 build_id_len;
	__u8 build_id[KCR_BUILD_ID_MAX];
};

/* kcr_pending_signal.thread of a signal pending for the whole process */
#define KCR_PENDING_PROCESS 0xffffffffU

struct kcr_pending_signal {
	__u32 signo;
	__u32 thread; /* KCR_PENDING_PROCESS, or the index of the thread record it is for */
	__u8 info[48]; /* kernel_siginfo */
};

struct kcr_sigaction {
	__u64 handler;
	__u64 flags;
	__u64 restorer;
	__u64 mask;
};

struct kcr_signals {
	struct kcr_sigaction action[KCR_NR_SIGNALS];
	__u32 nr_pending;
	__u32 pad;
	/*
	 * ITIMER_REAL (setitimer, alarm): time left and interval, 0 when not
	 * armed; the restorer arms it again (libkcr). ITIMER_VIRTUAL and
	 * ITIMER_PROF are refused at checkpoint; POSIX timers are in the
	 * TIMERS section.
	 */
	__u64 itimer_real_left_ns;
	__u64 itimer_real_interval_ns;
	/* followed by nr_pending x struct kcr_pending_signal */
};

/*
 * Bounds on the timers of one image: the restorer makes timers in id order
 * until it reaches each saved id, so a larger id is refused at checkpoint.
 */
#define KCR_MAX_TIMERS 4096
#define KCR_TIMER_ID_MAX 1048575

/* kcr_posix_timer.flags: its signal was queued, not yet taken (saved as due at once) */
#define KCR_TIMER_SIGNAL_QUEUED 1U

/*
 * A POSIX timer (timer_create) on CLOCK_REALTIME, _MONOTONIC, _BOOTTIME or
 * _TAI. The restorer makes it again with the same id and event and arms it
 * with the time it had left (libkcr), as it does ITIMER_REAL.
 */
struct kcr_posix_timer {
	__s32 id; /* timer_create()'s id, which si_timerid reports */
	__s32 clock;
	__s32 notify; /* sigev_notify: SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID */
	__s32 signo;
	__s32 thread; /* SIGEV_THREAD_ID: the thread's id, as the process sees it */
	__u32 flags; /* KCR_TIMER_* */
	__u64 value; /* sigev_value */
	__u64 left_ns; /* time to the next expiry; 0 when disarmed */
	__u64 interval_ns;
};

/* kcr_fd.kind */
enum kcr_fd_kind {
	KCR_FD_REG = 0, /* regular file, reopened by path */
	KCR_FD_DEVNULL = 1, /* /dev/null */
	KCR_FD_DEVZERO = 2, /* /dev/zero */
	KCR_FD_GHOST = 3, /* deleted regular file; contents in a GHOST record */
	KCR_FD_INHERIT = 4, /* fd 0-2 of a kind kcr cannot save: taken from the restarter */
	/* The same open file as an earlier fd (dup, fork): one offset, shared again. */
	KCR_FD_SAME = 5,
	/*
	 * An end of an anonymous pipe (ino: the pipe's), in a tree's member
	 * only: the tree's restore makes the pipe, with the data that was in it.
	 */
	KCR_FD_PIPE = 6,
	KCR_FD_MEMFD = 7, /* a memfd (memfd_create); the file in its MEMFD record */
};

#define KCR_FD_CLOEXEC 1U

struct kcr_fd {
	__s32 fd;
	__u32 kind;
	__u32 f_flags; /* O_* as in /proc/pid/fdinfo */
	__u32 fd_flags; /* KCR_FD_CLOEXEC */
	__u64 pos;
	__u64 size; /* file size at checkpoint (regular and ghost files) */
	__u64 ino;
	__u32 dev;
	__u32 ghost_id; /* KCR_FD_GHOST: its GHOST record; KCR_FD_MEMFD: its MEMFD record */
	__u32 mode; /* i_mode */
	__u32 path_len;
	__s32 same_as; /* KCR_FD_SAME: the earlier fd of the same open file */
	__u32 pad;
	/* followed by path_len bytes of path, padded to 8 */
};

/* kcr_file_lock.kind */
enum kcr_lock_kind {
	KCR_LOCK_FLOCK = 1, /* flock(2): of the open file */
	KCR_LOCK_POSIX = 2, /* fcntl F_SETLK: of the process, on the file */
	KCR_LOCK_OFD = 3, /* fcntl F_OFD_SETLK: of the open file */
};

/* kcr_file_lock.type */
#define KCR_LOCK_READ 1U
#define KCR_LOCK_WRITE 2U

/*
 * A file lock the process held, taken again through `fd` (a regular file of
 * the FILES section, not KCR_FD_SAME) before the restore: flock and OFD
 * locks on the open file of that fd, POSIX locks on its file.
 */
struct kcr_file_lock {
	__s32 fd;
	__u32 kind; /* enum kcr_lock_kind */
	__u32 type; /* KCR_LOCK_READ or KCR_LOCK_WRITE */
	__u32 pad;
	__u64 start; /* byte range (flock: 0, 0) */
	__u64 len; /* 0: to the end of the file, however long it grows */
};

/*
 * A tree member's place in its tree, as its own pid namespace shows it: 0
 * for a process outside that namespace.
 */
struct kcr_tree_process {
	__s32 ppid;
	__s32 pgid;
	__s32 sid;
	__u32 pad;
};

/*
 * Per fd of the FILES section, in the same order: which open file it is,
 * to find the same open file in the tree's other members, and for a pipe
 * how many open files each end has in the whole system, to tell a pipe
 * wholly inside the tree from one to a process outside it.
 */
struct kcr_tree_fd {
	__s32 fd;
	__u32 pipe_readers;
	__u32 pipe_writers;
	__u32 pad;
	__u64 file_id; /* the same for the same open file, in one boot of the module */
};

/* More memfds than one process keeps; the restorer makes each again. */
#define KCR_MAX_MEMFDS 64
/* memfd_create()'s longest name */
#define KCR_MEMFD_NAME_MAX 249

/*
 * A memfd: its name (without the "memfd:" the kernel shows), size, seals
 * (F_SEAL_*, F_SEAL_SEAL when sealing is not allowed) and whole contents.
 */
struct kcr_memfd {
	__u64 size; /* bytes of contents, after the name */
	__u32 id; /* its index in the section */
	__u32 seals;
	__u32 name_len;
	__u32 pad;
	/* followed by name_len bytes of name, padded to 8, then size bytes, padded to 8 */
};

struct kcr_ghost {
	__u64 size; /* bytes of contents following, padded to 8 */
	__u32 mode;
	__u32 id;
};

struct kcr_rlimit {
	__u64 cur, max;
};

#define KCR_NR_RLIMITS 16

struct kcr_fs {
	__u32 umask;
	__u32 cwd_len;
	struct kcr_rlimit rlim[KCR_NR_RLIMITS];
	/* followed by cwd_len bytes of path, padded to 8 */
};

/* At most this many pages per chunk: a chunk is the unit of checksum and I/O. */
#define KCR_CHUNK_MAX_PAGES 1024

struct kcr_page_chunk {
	__u64 addr; /* page-aligned start */
	__u32 nr_pages; /* consecutive pages that follow, 1..KCR_CHUNK_MAX_PAGES */
	__u32 pad;
	__u64 checksum; /* xxh64 of the pages' bytes, seed = addr */
};

#define KCR_PAGE_SIZE 4096

#endif /* KCR_UAPI_H */
