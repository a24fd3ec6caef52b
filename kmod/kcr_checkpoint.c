// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: checkpoint orchestration.
 *
 * 1. The caller's ioctl queues a task_work on the target with TWA_SIGNAL:
 *    the target runs kcr_park() in its own context on its way back to user
 *    space (no ptrace, no library inside it, nothing it can observe), where
 *    it captures its CPU, signal and file state and then parks.
 * 2. A kernel thread ("kcr-write/PID") writes the image while it is parked.
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
#include <linux/task_work.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/wait.h>
#include <linux/kref.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/ktime.h>
#include <linux/cred.h>
#include <linux/seccomp.h>
#include <linux/timekeeping.h>
#include <asm/fpu/types.h>
#include "kcr_internal.h"

#define KCR_PARK_TIMEOUT (10 * HZ)

enum kcr_req_state {
	KCR_REQ_FREEZING,
	KCR_REQ_PARKED,
	KCR_REQ_RESUME, /* states from here on release the parked target */
	KCR_REQ_ABORTED,
};

struct kcr_ckpt_req {
	struct kref ref;
	struct callback_head work;
	struct task_struct *task;
	struct file *out;
	struct file *access; /* the caller's proof (kcr_access.c); NULL for a self-checkpoint */
	u32 flags; /* KCR_CKPT_* */
	bool owner_may_read; /* decided in the target: its user may have the image */
	kuid_t owner_uid;
	kgid_t owner_gid;
	struct kcr_thread *thread;
	void *xstate;
	struct kcr_signal_state *signals;
	struct kcr_files_state *files;
	atomic_t state;
	wait_queue_head_t resume_wq;
	struct completion parked;
	struct completion written;
	struct completion left;
	int capture_err;
	int write_err;
	bool self;
	u64 pages_saved;
	u64 image_bytes;
	u64 freeze_ns;
	u64 write_ns;
	struct kcr_reason why; /* the caller's and the writer's */
	/* The target's own, while it parks: the caller reads it only once it parked. */
	struct kcr_reason park_why;
	struct kcr_hold hold; /* KCR_CKPT_HOLD: the target stays parked while its file is open */
};

/*
 * What the capture and the writer needed. Dropped once the image is written:
 * a held target's files (pipes, locks, deleted files) must not stay open on
 * its behalf after it dies, until someone closes the hold.
 */
static void kcr_req_drop_capture(struct kcr_ckpt_req *req)
{
	kcr_files_state_free(req->files);
	req->files = NULL;
	kcr_signal_state_free(req->signals);
	req->signals = NULL;
	kfree(req->xstate);
	req->xstate = NULL;
	kfree(req->thread);
	req->thread = NULL;
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
	put_task_struct(req->task);
	kfree(req);
}

static void kcr_req_put(struct kcr_ckpt_req *req)
{
	kref_put(&req->ref, kcr_req_release);
}

/* Everything the target must capture about itself, in its own context. */
static int kcr_capture_current(struct kcr_ckpt_req *req)
{
	int err;

	err = kcr_cpu_capture(req->thread, req->xstate, req->self);
	if (err)
		return err;
	kcr_signal_capture(req->signals, req->thread);
	kcr_thread_capture(req->thread);
	return kcr_files_capture(req->files, req->out, req->self);
}

/*
 * Killable, so SIGKILL always gets through, and not counted in the load
 * average, as a held target may wait here for minutes. (wait_event_state()
 * would treat a constant KILLABLE|NOLOAD state as uninterruptible.)
 */
static void kcr_wait_released(struct kcr_ckpt_req *req)
{
	DEFINE_WAIT(wait);

	for (;;) {
		prepare_to_wait(&req->resume_wq, &wait, TASK_KILLABLE | TASK_NOLOAD);
		if (atomic_read(&req->state) >= KCR_REQ_RESUME || fatal_signal_pending(current))
			break;
		schedule();
	}
	finish_wait(&req->resume_wq, &wait);
}

static int kcr_target_check(struct task_struct *t, struct kcr_reason *why);

/*
 * The caller's checks ran before the target stopped; in its own context,
 * where nothing of it can change any more, the target checks again what may
 * have changed since: the program it runs (an exec of a set-id program
 * replaces the address space the caller proved access to), its threads,
 * tracer and seccomp filters, and whether its user may have the image.
 */
static int kcr_recheck_current(struct kcr_ckpt_req *req)
{
	const struct cred *c = current_cred();
	int err;

	if (req->access && !kcr_access_current(req->access)) {
		kcr_set_reason(&req->park_why,
			       "process %d started a new program (exec) during the checkpoint; retry",
			       task_pid_vnr(current));
		return -EAGAIN;
	}
	err = kcr_target_check(current, &req->park_why);
	if (err)
		return err;
	req->owner_may_read = kcr_owner_may_attach();
	req->owner_uid = c->uid;
	req->owner_gid = c->gid;
	if (!req->owner_may_read && !req->self && !(req->flags & KCR_CKPT_PRIVILEGED)) {
		kcr_set_reason(&req->park_why,
			       "process %d is not dumpable by its user (set-id, prctl(PR_SET_DUMPABLE, 0) or capabilities): it may hold what the user may not read; fix: --privileged (image stays yours)",
			       task_pid_vnr(current));
		return -EPERM;
	}
	return 0;
}

/* task_work callback: runs in the target before it returns to user space. */
static void kcr_park(struct callback_head *work)
{
	struct kcr_ckpt_req *req = container_of(work, struct kcr_ckpt_req, work);

	if (atomic_read(&req->state) == KCR_REQ_FREEZING && !(current->flags & PF_EXITING)) {
		req->capture_err = kcr_recheck_current(req);
		if (!req->capture_err)
			req->capture_err = kcr_capture_current(req);
		/* The caller may have given up meanwhile: then run on, never park for good. */
		if (atomic_cmpxchg(&req->state, KCR_REQ_FREEZING, KCR_REQ_PARKED) ==
		    KCR_REQ_FREEZING) {
			complete(&req->parked);
			kcr_wait_released(req);
		} else {
			complete(&req->parked);
		}
	} else {
		req->capture_err = -ESRCH;
		complete(&req->parked);
	}
	complete(&req->left);
	kcr_req_put(req);
	module_put(THIS_MODULE);
}

static void kcr_header_fill(struct kcr_ckpt_req *req, struct kcr_image_header *h,
			    u32 nr_sections, u64 bytes)
{
	const struct cred *cred;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, KCR_IMAGE_MAGIC, sizeof(h->magic));
	h->version = KCR_IMAGE_VERSION;
	h->header_size = KCR_HEADER_SIZE;
	h->arch = KCR_ARCH_X86_64;
	h->nr_sections = nr_sections;
	h->image_bytes = bytes;
	h->created_ns = ktime_get_real_ns();
	h->pid = task_tgid_vnr(req->task);
	rcu_read_lock();
	cred = __task_cred(req->task);
	h->uid = from_kuid_munged(current_user_ns(), cred->uid);
	h->gid = from_kgid_munged(current_user_ns(), cred->gid);
	rcu_read_unlock();
	h->xstate_size = req->thread->xstate_size;
	h->xfeatures = kcr_cpu_xfeatures();
	h->pages_saved = req->pages_saved;
	h->freeze_ns = req->freeze_ns;
	strscpy(h->release, utsname()->release, sizeof(h->release));
	strscpy(h->kversion, utsname()->version, sizeof(h->kversion));
	memcpy(h->comm, req->thread->comm, sizeof(h->comm));
	h->checksum = kcr_hash(h, sizeof(*h), 0);
}

static int kcr_image_write(struct kcr_ckpt_req *req, struct kcr_writer *w)
{
	struct kcr_image_header h;
	struct mm_struct *mm;
	loff_t pos = 0;
	int err;

	kcr_section_begin(w, KCR_SEC_THREAD, true);
	kcr_section_write(w, req->thread, sizeof(*req->thread));
	kcr_section_write(w, req->xstate, req->thread->xstate_size);
	kcr_section_end(w, 1);

	mm = get_task_mm(req->task);
	if (!mm)
		return -ESRCH;
	err = kcr_mm_dump(w, req->task, mm, &req->pages_saved, &req->why);
	mmput(mm);
	if (err)
		return err;
	kcr_signal_dump(w, req->signals);
	err = kcr_files_dump(w, req->files, &req->why);
	if (!err)
		err = kcr_fs_dump(w, req->files, &req->why);
	if (err)
		return err;
	kcr_section_begin(w, KCR_SEC_END, true);
	kcr_section_end(w, 0);
	if (w->err)
		return w->err;
	/* The header goes last: an image without a valid header is never mistaken for whole. */
	req->image_bytes = w->pos;
	kcr_header_fill(req, &h, w->nr_sections, w->pos);
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
	err = kcr_writer_init(&w, req->out);
	if (!err) {
		err = kcr_image_write(req, &w);
		kcr_writer_destroy(&w);
	}
	revert_creds(kthread_cred);
	if (err == -ENOSPC)
		kcr_set_reason(&req->why, "no space left for the image");
	else if (err)
		kcr_set_reason(&req->why, "writing the image failed (error %d)", err);
	req->write_ns = ktime_get_ns() - t0;
	req->write_err = err;
	complete(&req->written);
	kcr_req_put(req);
	return 0;
}

static int kcr_target_check(struct task_struct *t, struct kcr_reason *why)
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
	if (get_nr_threads(t) != 1) {
		kcr_set_reason(why, "process has %d threads; kcr saves single-threaded ones",
			       get_nr_threads(t));
		return -EOPNOTSUPP;
	}
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
	/* Its tile state needs a larger XSAVE buffer than a restorer could be given. */
	if (READ_ONCE(t->group_leader->thread.fpu.perm.__state_perm) & XFEATURE_MASK_XTILE_DATA) {
		kcr_set_reason(why,
			       "process has asked for AMX (arch_prctl ARCH_REQ_XCOMP_PERM), which kcr cannot restore");
		return -EOPNOTSUPP;
	}
	if (test_tsk_thread_flag(t, TIF_ADDR32)) {
		kcr_set_reason(why, "process is 32-bit; kcr supports x86-64 processes");
		return -EOPNOTSUPP;
	}
	return 0;
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
	req->task = t;
	req->out = out;
	req->access = access;
	req->flags = flags;
	req->self = flags & KCR_CKPT_SELF;
	atomic_set(&req->state, KCR_REQ_FREEZING);
	init_waitqueue_head(&req->resume_wq);
	init_completion(&req->parked);
	init_completion(&req->written);
	init_completion(&req->left);
	INIT_LIST_HEAD(&req->hold.node);
	req->hold.task = t;
	req->hold.ops = &kcr_req_hold_ops;
	req->thread = kzalloc(sizeof(*req->thread), GFP_KERNEL);
	req->xstate = kzalloc(xsize, GFP_KERNEL);
	req->signals = kcr_signal_state_alloc();
	req->files = kcr_files_state_alloc();
	if (!req->thread || !req->xstate || !req->signals || !req->files || xsize <= 0) {
		req->task = NULL;
		req->out = NULL;
		req->access = NULL;
		kcr_files_state_free(req->files);
		kcr_signal_state_free(req->signals);
		kfree(req->xstate);
		kfree(req->thread);
		kfree(req);
		return NULL;
	}
	req->thread->xstate_size = xsize;
	return req;
}

/* Stops the target in kcr_park(); on success it is parked until released. */
static int kcr_freeze(struct kcr_ckpt_req *req)
{
	long left;
	int err;

	if (req->self) {
		atomic_set(&req->state, KCR_REQ_PARKED);
		req->capture_err = kcr_recheck_current(req);
		if (!req->capture_err)
			req->capture_err = kcr_capture_current(req);
		return 0;
	}
	__module_get(THIS_MODULE);
	kref_get(&req->ref);
	init_task_work(&req->work, kcr_park);
	err = task_work_add(req->task, &req->work, TWA_SIGNAL);
	if (err) {
		kcr_req_put(req);
		module_put(THIS_MODULE);
		kcr_set_reason(&req->why, "process is exiting");
		return -ESRCH;
	}
	left = wait_for_completion_killable_timeout(&req->parked, KCR_PARK_TIMEOUT);
	if (left <= 0) {
		/* The queued work cannot be cancelled; it will see ABORTED and return. */
		if (atomic_cmpxchg(&req->state, KCR_REQ_FREEZING, KCR_REQ_ABORTED) ==
		    KCR_REQ_FREEZING) {
			kcr_set_reason(&req->why,
				       "process did not stop within %d s (stopped by SIGSTOP, or in uninterruptible sleep?)",
				       KCR_PARK_TIMEOUT / HZ);
			return left ? -EINTR : -ETIMEDOUT;
		}
		/* It parked just now. */
		wait_for_completion(&req->parked);
	}
	return 0;
}

static void kcr_release_target(struct kcr_ckpt_req *req, bool stop)
{
	if (req->self)
		return;
	/*
	 * Queued while the target is parked, after its signals were captured:
	 * not part of the image, and taken on its way out of kcr_park(), before
	 * it returns to user space. A SIGCONT resumes it as from any SIGSTOP.
	 */
	if (stop)
		send_sig(SIGSTOP, req->task, 1);
	atomic_set(&req->state, KCR_REQ_RESUME);
	wake_up_all(&req->resume_wq);
	/* Return only once the target has left kcr's code. */
	wait_for_completion(&req->left);
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
	k = kthread_run(kcr_writer_thread, req, "kcr-write/%d", task_pid_nr(req->task));
	if (IS_ERR(k)) {
		kcr_req_put(req);
		return PTR_ERR(k);
	}
	wait_for_completion(&req->written);
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
	err = kcr_target_check(t, why);
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
	err = kcr_freeze(req);
	req->freeze_ns = ktime_get_ns() - t0;
	if (err)
		goto out;
	err = req->capture_err;
	if (err && req->park_why.text[0])
		kcr_set_reason(&req->why, "%s", req->park_why.text);
	if (err == -EMFILE)
		kcr_set_reason(&req->why, "process has more open files than kcr saves");
	else if (err)
		kcr_set_reason(&req->why, "capturing the process state failed (error %d)", err);
	if (!err)
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
	    ((a.flags & KCR_CKPT_HOLD) && (a.flags & KCR_CKPT_STOP)))
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
