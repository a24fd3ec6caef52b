// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: checkpoint orchestration.
 *
 * 1. Every thread of the target stops in its own context on its way back to
 *    user space (kcr_freeze.c: no ptrace, no library inside it, nothing it
 *    can observe), captures its registers and signal state there and
 *    parks; once all are parked, the leader captures what they share.
 * 2. A kernel thread ("kcr-write/PID") writes the image while they are parked.
 * 3. The target resumes, is left stopped (KCR_CKPT_STOP), or stays parked
 *    until the caller closes the hold descriptor it gets (KCR_CKPT_HOLD):
 *    libkcr kills a held target only once its image is published, so a
 *    checkpoint that fails late never costs the process.
 * A self-checkpoint captures in the ioctl itself; the caller is the target.
 */
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/sched/signal.h>
#include <linux/sched/coredump.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/kref.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/fs_struct.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/ktime.h>
#include <linux/cred.h>
#include <linux/seccomp.h>
#include <linux/timekeeping.h>
#include <linux/time_namespace.h>
#include <linux/nsproxy.h>
#include <linux/oom.h>
#include <asm/fpu/types.h>
#include "kcr_internal.h"

struct kcr_ckpt_req {
	struct kref ref;
	struct kcr_freeze freeze; /* every thread of the target, parked (kcr_freeze.c) */
	struct task_struct *task; /* the target's leader */
	struct file *out;
	struct file *access; /* the caller's proof (kcr_access.c); NULL for a self-checkpoint */
	u32 flags; /* KCR_CKPT_* */
	bool self;
	bool owner_may_read; /* decided in the target: its user may have the image */
	atomic_t not_owner; /* a thread its user could not attach to */
	kuid_t owner_uid;
	kgid_t owner_gid;
	u32 xstate_size;
	pid_t image_pid;
	/* By thread (kcr_freeze's index): its record, followed by its XSAVE area. */
	struct kcr_thread **threads;
	struct kcr_signal_state *signals;
	struct kcr_files_state *files;
	/* Its memory, held from the freeze until the image is written: a kill takes none */
	struct mm_struct *mm;
	/* The memfds the dump found, open or mapped; NULL for a tree's member */
	struct kcr_memfds *memfds;
	struct completion written;
	int write_err;
	atomic_t abort; /* the caller was killed: the writer stops (kcr_writer.abort) */
	unsigned long fsize_limit; /* the caller's RLIMIT_FSIZE, which the writer takes on */
	u64 pages_saved;
	u64 image_bytes;
	u64 freeze_ns;
	u64 write_ns;
	u64 monotonic_ns; /* the program's clocks when it was parked */
	u64 boottime_ns;
	u64 realtime_ns;
	struct kcr_reason why;
	struct kcr_hold hold; /* KCR_CKPT_HOLD: the target stays parked while its file is open */
};

/*
 * What the capture and the writer needed. Dropped once the image is written:
 * a held target's files (pipes, locks, deleted files) must not stay open on
 * its behalf after it dies, until someone closes the hold.
 */
static void kcr_req_drop_capture(struct kcr_ckpt_req *req)
{
	u32 i;

	kcr_files_state_free(req->files);
	req->files = NULL;
	if (req->mm)
		mmput(req->mm);
	req->mm = NULL;
	kcr_memfds_free(req->memfds);
	req->memfds = NULL;
	kcr_signal_state_free(req->signals);
	req->signals = NULL;
	if (req->threads) {
		for (i = 0; i < KCR_MAX_THREADS; i++)
			kfree(req->threads[i]);
		kvfree(req->threads);
		req->threads = NULL;
	}
	if (req->out)
		fput(req->out);
	req->out = NULL;
	if (req->access)
		fput(req->access);
	req->access = NULL;
}

static void kcr_req_release(struct kref *ref)
{
	struct kcr_ckpt_req *req = container_of(ref, struct kcr_ckpt_req, ref);

	kcr_req_drop_capture(req);
	kcr_freeze_destroy(&req->freeze);
	put_task_struct(req->task);
	kfree(req);
}

static void kcr_req_put(struct kcr_ckpt_req *req)
{
	kref_put(&req->ref, kcr_req_release);
}

/* What each thread of the target must still be, checked in its own context. */
static int kcr_thread_check(struct task_struct *t, struct kcr_reason *why)
{
	if (t->ptrace) {
		kcr_set_reason(why, "process is being traced (ptrace), which kcr cannot save");
		return -EOPNOTSUPP;
	}
	if (READ_ONCE(t->seccomp.mode) != SECCOMP_MODE_DISABLED) {
		kcr_set_reason(why, "process uses seccomp, which kcr cannot save");
		return -EOPNOTSUPP;
	}
#ifdef CONFIG_IO_URING
	if (READ_ONCE(t->io_uring)) {
		kcr_set_reason(why, "process uses io_uring, which kcr cannot save");
		return -EOPNOTSUPP;
	}
#endif
	if (test_tsk_thread_flag(t, TIF_ADDR32)) {
		kcr_set_reason(why, "process is 32-bit; kcr supports x86-64 processes");
		return -EOPNOTSUPP;
	}
	if (t->policy == SCHED_DEADLINE) {
		kcr_set_reason(why, "thread %d runs under SCHED_DEADLINE, which kcr cannot save",
			       task_pid_vnr(t));
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * The caller's checks ran before the target stopped; in each thread's own
 * context, where nothing of it can change any more, it checks again what
 * may have changed since: the program it runs (an exec of a set-id program
 * replaces the address space the caller proved access to), its tracer and
 * seccomp filters, and whether its user could attach to it.
 */
static int kcr_capture_thread(struct kcr_freeze *fz, u32 index, struct kcr_reason *why)
{
	struct kcr_ckpt_req *req = container_of(fz, struct kcr_ckpt_req, freeze);
	struct kcr_thread *th;
	int err;

	if (req->access && !kcr_access_current(req->access)) {
		kcr_set_reason(why,
			       "process %d started a new program (exec) during the checkpoint; retry",
			       task_tgid_vnr(current));
		return -EAGAIN;
	}
	err = kcr_thread_check(current, why);
	if (err)
		return err;
	if (!kcr_owner_may_attach())
		atomic_set(&req->not_owner, 1);
	th = kzalloc(sizeof(*th) + req->xstate_size, GFP_KERNEL);
	if (!th)
		return -ENOMEM;
	req->threads[index] = th;
	th->xstate_size = req->xstate_size;
	err = kcr_cpu_capture(th, th + 1, req->self);
	if (err) {
		kcr_set_reason(why, "capturing the registers of thread %d failed (error %d)",
			       task_pid_vnr(current), err);
		return err;
	}
	kcr_signal_capture_thread(req->signals, th, index);
	kcr_thread_capture(th);
	return 0;
}

/*
 * Children (running or zombie) of any thread. Only a hint when the process
 * runs; final in its parked leader, where no thread can fork any more.
 */
static bool kcr_has_children(struct task_struct *leader)
{
	struct task_struct *t;
	bool any = false;

	rcu_read_lock();
	for_each_thread(leader, t)
		any |= !list_empty(&t->children);
	rcu_read_unlock();
	return any;
}

/*
 * The descriptor table, and cwd and umask, are this process's own: another
 * process sharing them (clone() with CLONE_FILES or CLONE_FS but not
 * CLONE_THREAD) would keep using them while the image is written, and a
 * restore cannot share them again. Every thread is parked: t->files and
 * t->fs of each are stable.
 */
static int kcr_check_unshared(struct kcr_reason *why)
{
	struct files_struct *files = current->files;
	struct fs_struct *fs = current->fs;
	struct task_struct *t;
	int files_threads = 0, fs_threads = 0, fs_users;

	rcu_read_lock();
	/* A thread inside do_exit() may have let go of them but not yet dropped its count. */
	for_each_thread(current, t) {
		files_threads += t->files == files || (t->flags & PF_EXITING);
		fs_threads += t->fs == fs || (t->flags & PF_EXITING);
	}
	rcu_read_unlock();
	if (atomic_read(&files->count) > files_threads) {
		kcr_set_reason(why,
			       "process %d shares its descriptor table with another process (clone with CLONE_FILES), which kcr cannot save",
			       task_tgid_vnr(current));
		return -EOPNOTSUPP;
	}
	spin_lock(&fs->lock);
	fs_users = fs->users;
	spin_unlock(&fs->lock);
	if (fs_users > fs_threads) {
		kcr_set_reason(why,
			       "process %d shares its working directory and umask with another process (clone with CLONE_FS), which kcr cannot save",
			       task_tgid_vnr(current));
		return -EOPNOTSUPP;
	}
	return 0;
}

/* In the leader, every thread parked: what the threads share. */
static int kcr_capture_process(struct kcr_freeze *fz, struct kcr_reason *why)
{
	struct kcr_ckpt_req *req = container_of(fz, struct kcr_ckpt_req, freeze);
	const struct cred *c = current_cred();
	int err;

	/* As the process itself sees it, as its threads' ids are: in its pid namespace. */
	req->image_pid = task_tgid_vnr(current);
	req->owner_may_read = !atomic_read(&req->not_owner);
	req->owner_uid = c->uid;
	req->owner_gid = c->gid;
	if (!req->owner_may_read && !req->self && !(req->flags & KCR_CKPT_PRIVILEGED)) {
		kcr_set_reason(why,
			       "process %d is not dumpable by its user (set-id, prctl(PR_SET_DUMPABLE, 0) or capabilities): it may hold what the user may not read; fix: --privileged (image stays yours)",
			       task_tgid_vnr(current));
		return -EPERM;
	}
	/* A tree's member: libkcr holds its children and saves them too. */
	if (!(req->flags & KCR_CKPT_TREE) && kcr_has_children(current)) {
		kcr_set_reason(why,
			       "process %d has child processes: they are saved with it only by a whole-tree checkpoint (kcr checkpoint), never in part",
			       task_tgid_vnr(current));
		return -EOPNOTSUPP;
	}
	err = kcr_check_unshared(why);
	if (err)
		return err;
	err = kcr_signal_capture_process(req->signals, why);
	if (err)
		return err;
	err = kcr_files_capture(req->files, req->out, req->self);
	if (err == -EMFILE)
		kcr_set_reason(why, "process has more open files than kcr saves");
	return err;
}

static void kcr_req_freeze_get(struct kcr_freeze *fz)
{
	kref_get(&container_of(fz, struct kcr_ckpt_req, freeze)->ref);
}

static void kcr_req_freeze_put(struct kcr_freeze *fz)
{
	kcr_req_put(container_of(fz, struct kcr_ckpt_req, freeze));
}

static const struct kcr_freeze_ops kcr_req_freeze_ops = {
	.thread = kcr_capture_thread,
	.process = kcr_capture_process,
	.get = kcr_req_freeze_get,
	.put = kcr_req_freeze_put,
};

/* A self-checkpoint captures in the ioctl itself: the caller is the target. */
static int kcr_capture_self(struct kcr_ckpt_req *req, struct kcr_reason *why)
{
	int err;

	if (get_nr_threads(current) != 1) {
		kcr_set_reason(why, "a process checkpoints itself only while single-threaded");
		return -EOPNOTSUPP;
	}
	err = kcr_capture_thread(&req->freeze, 0, why);
	if (!err)
		err = kcr_capture_process(&req->freeze, why);
	return err;
}

/* Thread records in image order: threads that exited before they parked have none. */
static u32 kcr_image_threads(struct kcr_ckpt_req *req, u32 *record_of)
{
	u32 i, n = 0, nr = req->self ? 1 : kcr_freeze_threads(&req->freeze);

	for (i = 0; i < nr; i++) {
		if (!req->self && kcr_freeze_thread_gone(&req->freeze, i))
			record_of[i] = KCR_PENDING_PROCESS;
		else
			record_of[i] = n++;
	}
	return n;
}

/*
 * The program's clocks as it reads them: the kernel's plus the offsets of
 * its time namespace (a program restored earlier may be in one). Read once
 * it is parked, so that they are the clocks of the moment it stopped.
 */
#ifdef CONFIG_TIME_NS
static void kcr_time_ns_offsets(struct task_struct *t, struct timespec64 *mono,
				struct timespec64 *boot)
{
	task_lock(t);
	if (t->nsproxy) {
		*mono = t->nsproxy->time_ns->offsets.monotonic;
		*boot = t->nsproxy->time_ns->offsets.boottime;
	}
	task_unlock(t);
}
#else
static void kcr_time_ns_offsets(struct task_struct *t, struct timespec64 *mono,
				struct timespec64 *boot)
{
}
#endif

static void kcr_program_clocks(struct kcr_ckpt_req *req)
{
	struct timespec64 mono_off = {}, boot_off = {};

	kcr_time_ns_offsets(req->task, &mono_off, &boot_off);
	req->realtime_ns = ktime_get_real_ns();
	req->monotonic_ns = ktime_get_ns() + timespec64_to_ns(&mono_off);
	req->boottime_ns = ktime_get_boottime_ns() + timespec64_to_ns(&boot_off);
}

static void kcr_header_fill(struct kcr_ckpt_req *req, struct kcr_image_header *h, u32 nr_sections,
			    u32 sections, u64 bytes)
{
	const struct cred *cred;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, KCR_IMAGE_MAGIC, sizeof(h->magic));
	if (sections & BIT(KCR_SEC_FILE_IDS))
		h->version = KCR_IMAGE_VERSION_FILE_IDS;
	else if (sections & BIT(KCR_SEC_MEMFD))
		h->version = KCR_IMAGE_VERSION_MEMFD;
	else if (sections & BIT(KCR_SEC_TIMERS))
		h->version = KCR_IMAGE_VERSION_TIMERS;
	else if (sections & BIT(KCR_SEC_TREE))
		h->version = KCR_IMAGE_VERSION_TREE;
	else if (sections & BIT(KCR_SEC_LOCKS))
		h->version = KCR_IMAGE_VERSION_LOCKS;
	else
		h->version = KCR_IMAGE_VERSION_MIN;
	h->header_size = KCR_HEADER_SIZE;
	h->arch = KCR_ARCH_X86_64;
	h->nr_sections = nr_sections;
	h->image_bytes = bytes;
	h->created_ns = ktime_get_real_ns();
	h->pid = req->image_pid;
	rcu_read_lock();
	cred = __task_cred(req->task);
	h->uid = from_kuid_munged(current_user_ns(), cred->uid);
	h->gid = from_kgid_munged(current_user_ns(), cred->gid);
	rcu_read_unlock();
	h->xstate_size = req->xstate_size;
	h->xfeatures = kcr_cpu_xfeatures();
	h->pages_saved = req->pages_saved;
	h->freeze_ns = req->freeze_ns;
	h->monotonic_ns = req->monotonic_ns;
	h->boottime_ns = req->boottime_ns;
	h->realtime_ns = req->realtime_ns;
	strscpy(h->release, utsname()->release, sizeof(h->release));
	strscpy(h->kversion, utsname()->version, sizeof(h->kversion));
	memcpy(h->comm, req->threads[0]->comm, sizeof(h->comm));
	h->checksum = kcr_hash(h, sizeof(*h), 0);
}

/*
 * A target killed while it is written still gives the moment it was
 * stopped at: the writer holds its memory. Not when the OOM killer chose
 * it: the OOM reaper takes the memory of a victim even while it is held,
 * and what the dump read of it may then be holes, not the program's pages.
 * Asked once the pages are written: a victim chosen later cost nothing.
 */
static bool kcr_mm_reaped(struct task_struct *t, struct mm_struct *mm)
{
	return tsk_is_oom_victim(t) || test_bit(MMF_UNSTABLE, &mm->flags);
}

static int kcr_image_write(struct kcr_ckpt_req *req, struct kcr_writer *w)
{
	struct kcr_image_header h;
	struct mm_struct *mm;
	loff_t pos = 0;
	int err;

	u32 *record_of, nr, i, n;

	record_of = kvmalloc_array(KCR_MAX_THREADS, sizeof(*record_of), GFP_KERNEL);
	if (!record_of)
		return -ENOMEM;
	n = kcr_image_threads(req, record_of);
	nr = req->self ? 1 : kcr_freeze_threads(&req->freeze);
	/* The leader first: the restore makes thread 0 the process. */
	kcr_section_begin(w, KCR_SEC_THREAD, true);
	for (i = 0; i < nr; i++)
		if (record_of[i] != KCR_PENDING_PROCESS)
			kcr_section_write(w, req->threads[i],
					  sizeof(*req->threads[i]) + req->xstate_size);
	kcr_section_end(w, n);
	kcr_signal_dump(w, req->signals, record_of, nr);
	kvfree(record_of);

	/* Synced before the mapped files' times are read, which writeback may change (NFS). */
	err = kcr_files_sync(w, req->files, &req->why);
	if (err)
		return err;
	mm = req->mm;
	err = kcr_mm_dump(w, req->task, mm, req->memfds, &req->pages_saved, &req->why);
	if (!err && kcr_mm_reaped(req->task, mm)) {
		kcr_set_reason(&req->why,
			       "process was killed by the OOM killer while it was saved, and its memory reclaimed; no image (give the job more memory)");
		err = -ENOMEM;
	}
	if (err)
		return err;
	err = kcr_files_dump(w, req->files, req->memfds, &req->why);
	if (!err)
		err = kcr_memfds_dump(w, req->memfds, &req->why);
	if (!err)
		err = kcr_fs_dump(w, req->files, &req->why);
	if (!err && (req->flags & KCR_CKPT_TREE))
		err = kcr_tree_dump(w, req->files);
	if (err)
		return err;
	kcr_section_begin(w, KCR_SEC_END, true);
	kcr_section_end(w, 0);
	if (w->err)
		return w->err;
	/* The header goes last: an image without a valid header is never mistaken for whole. */
	req->image_bytes = w->pos;
	kcr_header_fill(req, &h, w->nr_sections, w->sections_seen, w->pos);
	if (kernel_write(w->file, &h, sizeof(h), &pos) != sizeof(h))
		return -EIO;
	return 0;
}

/* The kernel thread that does the image I/O. */
static int kcr_writer_thread(void *data)
{
	struct kcr_ckpt_req *req = data;
	const struct cred *kthread_cred;
	struct kcr_writer w;
	u64 t0 = ktime_get_ns();
	int err;

	/*
	 * With the rights of who opened the image, not a kernel thread's:
	 * a write that checks the writer's capabilities (a pseudo-file) must
	 * see the caller's.
	 */
	kthread_cred = override_creds(req->out->f_cred);
	/*
	 * The caller's file size limit, as if it wrote the image itself (this
	 * thread's own limits are kthreadd's). A write past it fails with
	 * EFBIG; the SIGXFSZ it sends goes to this thread, which ignores it.
	 */
	task_lock(current->group_leader);
	current->signal->rlim[RLIMIT_FSIZE].rlim_cur = req->fsize_limit;
	task_unlock(current->group_leader);
	err = kcr_writer_init(&w, req->out);
	w.abort = &req->abort;
	if (!err) {
		err = kcr_image_write(req, &w);
		kcr_writer_destroy(&w);
	}
	revert_creds(kthread_cred);
	/* A short write at the limit is the limit's, not the disk's. */
	if ((err == -EFBIG || err == -ENOSPC) && req->fsize_limit != RLIM_INFINITY &&
	    w.pos + KCR_CHUNK_MAX_PAGES * PAGE_SIZE >= req->fsize_limit) {
		err = -EFBIG;
		kcr_set_reason(&req->why,
			       "the image is larger than the caller's file size limit (ulimit -f: %lu bytes)",
			       req->fsize_limit);
	} else if (err == -ENOSPC) {
		kcr_set_reason(&req->why, "no space left for the image");
	} else if (err) {
		kcr_set_reason(&req->why, "writing the image failed (error %d)", err);
	}
	req->write_ns = ktime_get_ns() - t0;
	req->write_err = err;
	complete(&req->written);
	kcr_req_put(req);
	/*
	 * Once complete() lets the caller return, the module may be unloaded:
	 * this thread's own module reference ends it outside the module's text.
	 */
	module_put_and_kthread_exit(0);
}

/* What the process must be; each thread's own state is checked as it parks. */
static int kcr_target_check(struct task_struct *t, u32 flags, struct kcr_reason *why)
{
	if (t->flags & (PF_KTHREAD | PF_EXITING)) {
		kcr_set_reason(why, "process is a kernel thread or exiting");
		return -ESRCH;
	}
	if (!thread_group_leader(t)) {
		kcr_set_reason(why, "%d is a thread, not a process; give the process id",
			       task_pid_vnr(t));
		return -EINVAL;
	}
	if (t->exit_state) {
		kcr_set_reason(why,
			       "the main thread of process %d has exited (pthread_exit() in main), which kcr cannot save",
			       task_pid_vnr(t));
		return -EOPNOTSUPP;
	}
	/*
	 * Another process shares its memory (clone(CLONE_VM) without
	 * CLONE_THREAD, a vfork parent): it would run on while the image is
	 * written, so the image would not be one moment of the program.
	 */
	if (t->mm && test_bit(MMF_MULTIPROCESS, &t->mm->flags)) {
		kcr_set_reason(why,
			       "process shares its memory with another process (clone with CLONE_VM, vfork), which kcr cannot save");
		return -EOPNOTSUPP;
	}
	if (!(flags & KCR_CKPT_TREE) && kcr_has_children(t)) {
		kcr_set_reason(why,
			       "process %d has child processes: they are saved with it only by a whole-tree checkpoint (kcr checkpoint), never in part",
			       task_pid_vnr(t));
		return -EOPNOTSUPP;
	}
	/* Its tile state needs a larger XSAVE buffer than a restorer could be given. */
	if (READ_ONCE(t->thread.fpu.perm.__state_perm) & XFEATURE_MASK_XTILE_DATA) {
		kcr_set_reason(why,
			       "process has asked for AMX (arch_prctl ARCH_REQ_XCOMP_PERM), which kcr cannot restore");
		return -EOPNOTSUPP;
	}
	return kcr_thread_check(t, why);
}

static const struct kcr_hold_ops kcr_req_hold_ops;

static struct kcr_ckpt_req *kcr_req_alloc(struct task_struct *t, struct file *out,
					  struct file *access, u32 flags)
{
	struct kcr_ckpt_req *req = kzalloc(sizeof(*req), GFP_KERNEL);
	int xsize = kcr_cpu_xstate_size(t);

	if (!req)
		return NULL;
	kref_init(&req->ref);
	kcr_freeze_init(&req->freeze, t, &kcr_req_freeze_ops);
	req->task = t;
	req->out = out;
	req->access = access;
	req->flags = flags;
	req->self = flags & KCR_CKPT_SELF;
	req->xstate_size = xsize;
	req->fsize_limit = rlimit(RLIMIT_FSIZE);
	init_completion(&req->written);
	INIT_LIST_HEAD(&req->hold.node);
	req->hold.task = t;
	req->hold.ops = &kcr_req_hold_ops;
	req->threads = kvcalloc(KCR_MAX_THREADS, sizeof(*req->threads), GFP_KERNEL);
	req->signals = kcr_signal_state_alloc();
	req->files = kcr_files_state_alloc(flags & KCR_CKPT_TREE);
	req->memfds = (flags & KCR_CKPT_TREE) ? NULL : kcr_memfds_alloc();
	if (!req->threads || !req->signals || !req->files || xsize <= 0 ||
	    (!(flags & KCR_CKPT_TREE) && !req->memfds)) {
		req->task = NULL;
		req->out = NULL;
		req->access = NULL;
		kcr_req_drop_capture(req);
		kfree(req);
		return NULL;
	}
	return req;
}

/* Stops every thread of the target; on success they stay parked until released. */
static int kcr_stop_target(struct kcr_ckpt_req *req)
{
	if (req->self)
		return kcr_capture_self(req, &req->why);
	return kcr_freeze_stop(&req->freeze, &req->why);
}

static void kcr_release_target(struct kcr_ckpt_req *req, bool stop)
{
	if (!req->self)
		kcr_freeze_release(&req->freeze, stop);
}

/* What a hold (kcr_hold.c) does with the request: keep it, and let the target run on. */
static void kcr_req_hold_get(struct kcr_hold *h)
{
	kref_get(&container_of(h, struct kcr_ckpt_req, hold)->ref);
}

static void kcr_req_hold_put(struct kcr_hold *h)
{
	kcr_req_put(container_of(h, struct kcr_ckpt_req, hold));
}

static void kcr_req_hold_release(struct kcr_hold *h)
{
	struct kcr_ckpt_req *req = container_of(h, struct kcr_ckpt_req, hold);

	kcr_release_target(req, false);
	kcr_req_put(req);
}

static const struct kcr_hold_ops kcr_req_hold_ops = {
	.get = kcr_req_hold_get,
	.put = kcr_req_hold_put,
	.release = kcr_req_hold_release,
};

static int kcr_run_writer(struct kcr_ckpt_req *req)
{
	struct task_struct *k;

	kref_get(&req->ref);
	__module_get(THIS_MODULE); /* the writer's, which it drops as it exits */
	k = kthread_run(kcr_writer_thread, req, "kcr-write/%d", task_pid_nr(req->task));
	if (IS_ERR(k)) {
		module_put(THIS_MODULE);
		kcr_req_put(req);
		return PTR_ERR(k);
	}
	/*
	 * Killable, so that the caller's SIGKILL ends a long write (and the
	 * hung-task check leaves the wait alone). The writer then stops at its
	 * next chunk and the target runs on; the wait for that is short.
	 */
	if (wait_for_completion_killable(&req->written)) {
		atomic_set(&req->abort, 1);
		wait_for_completion(&req->written);
	}
	return req->write_err;
}

static struct file *kcr_output_get(int fd, struct kcr_reason *why)
{
	struct file *out = fget(fd);

	if (!out) {
		kcr_set_reason(why, "image descriptor %d is not open", fd);
		return ERR_PTR(-EBADF);
	}
	if (!(out->f_mode & FMODE_WRITE) || !S_ISREG(file_inode(out)->i_mode) ||
	    i_size_read(file_inode(out)) != 0 || (out->f_flags & O_APPEND)) {
		fput(out);
		kcr_set_reason(why, "image must be an empty regular file open for writing");
		return ERR_PTR(-EINVAL);
	}
	return out;
}

/*
 * Every checkpoint, refused or not, is logged for the admin: who asked, which
 * process, which image. Ids are the initial namespaces' so lines compare.
 */
static void kcr_log_checkpoint(struct kcr_ckpt_req *req, char *image, int err)
{
	char comm[TASK_COMM_LEN], why[KCR_REASON_LEN];
	const struct cred *tc;
	uid_t uid;

	rcu_read_lock();
	tc = __task_cred(req->task);
	uid = from_kuid(&init_user_ns, tc->uid);
	rcu_read_unlock();
	get_task_comm(comm, req->task);
	kcr_log_copy(comm, sizeof(comm), comm);
	kcr_log_copy(image, strlen(image) + 1, image);
	kcr_log_copy(why, sizeof(why), req->why.text);
	if (err)
		pr_info_ratelimited("kcr: checkpoint of pid %d (%s, uid %u) by pid %d (uid %u) into %s refused (%d): %s\n",
				    task_pid_nr(req->task), comm, uid, task_pid_nr(current),
				    from_kuid(&init_user_ns, current_uid()), image, err, why);
	else
		pr_info("kcr: checkpoint of pid %d (%s, uid %u) by pid %d (uid %u) into %s: %llu bytes%s\n",
			task_pid_nr(req->task), comm, uid, task_pid_nr(current),
			from_kuid(&init_user_ns, current_uid()), image, req->image_bytes,
			req->owner_may_read ? "" : ", private to the caller");
}

/*
 * The caller's checks, before the target is asked to stop: cheap, clear
 * refusals. Access first: what the target is (threads, tracer, io_uring...)
 * is told only to who may attach to it.
 */
static int kcr_checkpoint_allowed(const struct kcr_checkpoint_args *a, struct task_struct *t,
				  struct file **access, struct kcr_reason *why)
{
	bool self = same_thread_group(t, current);
	int err;

	*access = NULL;
	if (self != !!(a->flags & KCR_CKPT_SELF) ||
	    (self && (a->flags & (KCR_CKPT_STOP | KCR_CKPT_HOLD)))) {
		kcr_set_reason(why, "%s",
			       self ? "a process checkpoints itself with kcr_checkpoint_self()" :
				      "KCR_CKPT_SELF given for another process");
		return -EINVAL;
	}
	if (!self) {
		*access = kcr_access_proof(a->access_fd, t, why);
		if (IS_ERR(*access)) {
			err = PTR_ERR(*access);
			*access = NULL;
			return err;
		}
		if ((a->flags & KCR_CKPT_PRIVILEGED) && !kcr_access_privileged(*access)) {
			kcr_set_reason(why,
				       "--privileged needs CAP_SYS_PTRACE over the process, as ptrace has to attach to it");
			err = -EPERM;
			goto refused;
		}
	}
	err = kcr_target_check(t, a->flags, why);
	if (err)
		goto refused;
	if (kcr_is_held(t)) {
		kcr_set_reason(why,
			       "process is held after an earlier checkpoint; it runs on (or dies) when that hold is closed (or it is killed)");
		err = -EBUSY;
		goto refused;
	}
	return 0;
refused:
	if (*access)
		fput(*access);
	*access = NULL;
	return err;
}

/* With KCR_CKPT_HOLD, *hold receives the hold file of a successful checkpoint. */
static long kcr_checkpoint_task(struct kcr_checkpoint_args *a, struct task_struct *t,
				struct file **hold)
{
	struct kcr_reason *why = kcr_reason_of(a->reason);
	char pathbuf_why[KCR_REASON_LEN];
	struct kcr_ckpt_req *req;
	struct file *out, *access;
	char unnamed[] = "(unnamed)";
	char *pathbuf, *image = unnamed;
	u64 t0;
	int err;

	err = kcr_checkpoint_allowed(a, t, &access, why);
	if (err)
		goto refused;
	out = kcr_output_get(a->out_fd, why);
	if (IS_ERR(out)) {
		err = PTR_ERR(out);
		if (access)
			fput(access);
		goto refused;
	}
	get_task_struct(t);
	req = kcr_req_alloc(t, out, access, a->flags);
	if (!req) {
		put_task_struct(t);
		fput(out);
		if (access)
			fput(access);
		return -ENOMEM;
	}
	pathbuf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (pathbuf) {
		image = file_path(out, pathbuf, PATH_MAX);
		if (IS_ERR(image))
			image = unnamed;
	}
	t0 = ktime_get_ns();
	err = kcr_stop_target(req);
	req->freeze_ns = ktime_get_ns() - t0;
	if (!err) {
		kcr_program_clocks(req);
		req->mm = get_task_mm(t);
		if (!req->mm) {
			kcr_set_reason(&req->why, "process was killed as it was stopped");
			err = -ESRCH;
			kcr_release_target(req, false);
		}
	}
	if (err) {
		kcr_set_reason(&req->why, "capturing the process state failed (error %d)", err);
		goto out;
	}
	err = kcr_files_check(req->files, &req->why);
	if (!err)
		err = kcr_run_writer(req);
	if (!err)
		kcr_req_drop_capture(req);
	if (!err && hold) {
		*hold = kcr_hold_file(&req->hold);
		if (IS_ERR(*hold)) {
			err = PTR_ERR(*hold);
			*hold = NULL;
			kcr_set_reason(&req->why, "no descriptor to hold the process with");
		}
	}
	if (!hold || !*hold)
		kcr_release_target(req, !err && (a->flags & KCR_CKPT_STOP));
	a->freeze_ns = req->freeze_ns;
	a->write_ns = req->write_ns;
	a->image_bytes = req->image_bytes;
	a->pages_saved = req->pages_saved;
	if (!err) {
		/* An id the caller's namespace cannot name is no owner to give the image to. */
		a->target_uid = from_kuid_munged(current_user_ns(), req->owner_uid);
		a->target_gid = from_kgid_munged(current_user_ns(), req->owner_gid);
		if (req->owner_may_read && kuid_has_mapping(current_user_ns(), req->owner_uid) &&
		    kgid_has_mapping(current_user_ns(), req->owner_gid))
			a->result_flags |= KCR_CKPT_OWNER_MAY_READ;
	}
out:
	memcpy(a->reason, req->why.text, sizeof(a->reason));
	kcr_log_checkpoint(req, image, err);
	kfree(pathbuf);
	kcr_req_put(req);
	return err;
refused:
	kcr_log_copy(pathbuf_why, sizeof(pathbuf_why), why->text);
	pr_info_ratelimited("kcr: checkpoint of pid %d by pid %d (uid %u) refused (%d): %s\n",
			    task_pid_nr(t), task_pid_nr(current),
			    from_kuid(&init_user_ns, current_uid()), err, pathbuf_why);
	return err;
}

long kcr_ioctl_checkpoint(struct kcr_checkpoint_args __user *uarg)
{
	struct kcr_checkpoint_args a;
	struct task_struct *t;
	struct file *hold = NULL;
	int hold_fd = -1;
	long ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.size != sizeof(a) || (a.flags & ~KCR_CKPT_FLAGS_ALL) ||
	    ((a.flags & KCR_CKPT_HOLD) && (a.flags & KCR_CKPT_STOP)) ||
	    ((a.flags & KCR_CKPT_TREE) && !(a.flags & KCR_CKPT_HOLD)))
		return -EINVAL;
	memset(a.reason, 0, sizeof(a.reason));
	a.result_flags = 0;
	a.target_uid = 0;
	a.target_gid = 0;
	rcu_read_lock();
	t = pid_task(find_vpid(a.pid), PIDTYPE_PID);
	if (t)
		get_task_struct(t);
	rcu_read_unlock();
	if (!t) {
		kcr_set_reason(kcr_reason_of(a.reason), "no process %d", a.pid);
		ret = -ESRCH;
	} else {
		ret = 0;
		/* Reserved first: once the target is held, nothing may fail but the copy out. */
		if (a.flags & KCR_CKPT_HOLD) {
			hold_fd = get_unused_fd_flags(O_CLOEXEC);
			if (hold_fd < 0) {
				ret = hold_fd;
				kcr_set_reason(kcr_reason_of(a.reason),
					       "the caller has no free descriptor for the hold");
			}
		}
		if (!ret)
			ret = kcr_checkpoint_task(&a, t, hold_fd >= 0 ? &hold : NULL);
		put_task_struct(t);
	}
	if (copy_to_user(uarg, &a, sizeof(a)))
		ret = -EFAULT;
	if (hold && !ret) {
		fd_install(hold_fd, hold);
		return hold_fd;
	}
	if (hold)
		fput(hold); /* the copy out failed: the target runs on */
	if (hold_fd >= 0)
		put_unused_fd(hold_fd);
	return ret;
}
