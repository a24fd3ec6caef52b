// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: restore orchestration.
 *
 * The calling process becomes the restored one (BLCR's overlay model). In
 * order:
 *   1. load the image and check everything — header, checksums, kernel build,
 *      CPU, registers, signals, mappings, mapped files, page table — while
 *      nothing of the caller has been touched; any problem returns an error
 *      and the caller carries on as before;
 *   2. point of no return: replace the address space, signal and thread
 *      state; a failure here kills the caller (no half-restored process may
 *      ever run);
 *   3. a helper kernel thread sets the registers; the ioctl then returns
 *      into the restored program.
 * Credentials are never taken from the image: the caller keeps its own.
 * Open files, cwd, umask and limits are restored by libkcr before this call.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/rseq.h>
#include <linux/cred.h>
#include <linux/sched/coredump.h>
#include <linux/bitops.h>
#include <linux/task_work.h>
#include <linux/sched/task_stack.h>
#include <linux/ptrace.h>
#include <asm/user.h>
#include "kcr_internal.h"

static int kcr_build_check(const struct kcr_image_header *h, struct kcr_reason *why)
{
	u64 ours = kcr_cpu_xfeatures();

	/* The vdso and the regset layouts are tied to the exact kernel build. */
	if (strcmp(h->release, utsname()->release) || strcmp(h->kversion, utsname()->version)) {
		kcr_set_reason(why, "image was taken on kernel %s (%s); this is %s (%s)",
			       h->release, h->kversion, utsname()->release, utsname()->version);
		return -EXDEV;
	}
	if ((h->xfeatures & ours) != h->xfeatures) {
		kcr_set_reason(why, "image uses CPU features %#llx this CPU lacks (has %#llx)",
			       h->xfeatures, ours);
		return -EXDEV;
	}
	return 0;
}

static int kcr_thread_check(struct kcr_image *img, struct kcr_reason *why)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_THREAD];
	const struct kcr_thread *th = s->data;

	if (!th || s->hdr.count != 1 || s->hdr.size < sizeof(*th) ||
	    s->hdr.size != sizeof(*th) + th->xstate_size) {
		kcr_set_reason(why, "image thread section is missing or malformed");
		return -EBADMSG;
	}
	if (th->rseq >= TASK_SIZE_MAX || th->clear_child_tid >= TASK_SIZE_MAX ||
	    th->robust_list >= TASK_SIZE_MAX || th->sas_ss_sp >= TASK_SIZE_MAX) {
		kcr_set_reason(why, "image thread state holds kernel addresses");
		return -EINVAL;
	}
	return kcr_cpu_validate(th, why);
}

/*
 * The ioctl syscall returns an int: a restored rax passed back as its return
 * value would lose its upper half (a program interrupted while rax held a
 * 64-bit value computes garbage). So the ioctl returns 0 and this task work,
 * which runs after the syscall stored its return value and before the return
 * to user space, puts the full rax back.
 */
struct kcr_rax_fixup {
	struct callback_head work;
	u64 ax;
};

static void kcr_rax_fixup_run(struct callback_head *work)
{
	struct kcr_rax_fixup *fix = container_of(work, struct kcr_rax_fixup, work);

	current_pt_regs()->ax = fix->ax;
	kfree(fix);
}

static int kcr_restorer_check(struct kcr_reason *why)
{
	if (get_nr_threads(current) != 1) {
		kcr_set_reason(why, "the restoring process must be single-threaded");
		return -EBUSY;
	}
	/*
	 * A vfork child shares its parent's memory, which a restore would
	 * replace. (mm_users is no test: /proc readers hold it transiently.)
	 */
	if (current->vfork_done) {
		kcr_set_reason(why, "the restoring process is a vfork child (shared memory)");
		return -EBUSY;
	}
	return 0;
}

static int kcr_restore_validate(struct kcr_image *img, struct file *f, bool dry_run,
				const struct kcr_range *prefilled, u32 nr_prefilled,
				struct kcr_reason *why)
{
	int err;

	err = kcr_image_load(img, f, why);
	img->prefilled = prefilled;
	img->nr_prefilled = nr_prefilled;
	if (!err)
		err = kcr_build_check(&img->hdr, why);
	if (!err)
		err = kcr_thread_check(img, why);
	if (!err)
		err = kcr_signal_validate(img, why);
	if (!err)
		err = kcr_mm_validate(img, dry_run, why);
	return err;
}

/* Per-thread kernel state that is plain fields of the task. */
static void kcr_thread_fields_restore(const struct kcr_thread *th)
{
	current->clear_child_tid = u64_to_user_ptr(th->clear_child_tid);
#ifdef CONFIG_FUTEX
	current->robust_list = u64_to_user_ptr(th->robust_list);
#endif
#ifdef CONFIG_RSEQ
	/* The restorer unregistered its own rseq area; the program's comes back. */
	current->rseq = u64_to_user_ptr(th->rseq);
	current->rseq_sig = th->rseq_sig;
	if (current->rseq)
		rseq_set_notify_resume(current);
#endif
	task_lock(current);
	strscpy_pad(current->comm, th->comm, sizeof(current->comm));
	task_unlock(current);
}

/*
 * Like exec, a restore starts a new program: it is dumpable (checkpointable,
 * ptraceable by its owner) when its credentials are ordinary, whatever a
 * credential change of the restorer (slurmstepd's setuid to the job's user)
 * had left. Same rule as begin_new_exec().
 */
static void kcr_dumpable_restore(void)
{
	const struct cred *cred = current_cred();

	if (uid_eq(cred->euid, cred->uid) && gid_eq(cred->egid, cred->gid))
		set_mask_bits(&current->mm->flags, MMF_DUMPABLE_MASK, SUID_DUMP_USER);
}

static int kcr_restore_image(struct kcr_restore_args *a, struct file *f,
			     const struct kcr_range *prefilled)
{
	struct kcr_reason *why = (struct kcr_reason *)a->reason;
	struct kcr_rax_fixup *fix = NULL;
	struct kcr_image img;
	const struct kcr_thread *th;
	const void *xstate;
	int err;

	/* A dry run copies no ranges (prefilled is NULL): it must see none. */
	err = kcr_restore_validate(&img, f, a->flags & KCR_RST_VALIDATE_ONLY, prefilled,
				   prefilled ? a->nr_prefilled : 0, why);
	if (err || (a->flags & KCR_RST_VALIDATE_ONLY))
		goto out;
	th = img.sec[KCR_SEC_THREAD].data;
	xstate = th + 1;
	fix = kmalloc(sizeof(*fix), GFP_KERNEL);
	if (!fix) {
		err = -ENOMEM;
		goto out;
	}
	fix->ax = ((const struct user_regs_struct *)th->regs)->ax;
	init_task_work(&fix->work, kcr_rax_fixup_run);

	/* ---- point of no return ---- */
	err = kcr_mm_restore(&img, why);
	if (err)
		goto die;
	kcr_signal_restore(&img, th);
	kcr_thread_fields_restore(th);
	kcr_dumpable_restore();
	/* The restored program never had these descriptors. */
	close_fd(a->image_fd);
	if (a->device_fd != a->image_fd)
		close_fd(a->device_fd);
	/* Queued after the deferred fputs above, so it runs first (LIFO). */
	if (task_work_add(current, &fix->work, TWA_RESUME)) {
		err = -ESRCH;
		goto die;
	}
	fix = NULL;
	err = kcr_cpu_restore(th, xstate);
	if (err) {
		kcr_set_reason(why, "setting the registers failed (%d)", err);
		goto die;
	}
	pr_debug("kcr: restored %s (pid %d in the image) as pid %d\n", th->comm, img.hdr.pid,
		 task_pid_nr(current));
	kcr_mm_plan_free(&img);
	kcr_image_free(&img);
	return 0;
die:
	pr_err("kcr: restore of pid %d failed after the point of no return: %s\n",
	       task_pid_nr(current), why->text);
	send_sig(SIGKILL, current, 1);
out:
	kfree(fix);
	kcr_mm_plan_free(&img);
	kcr_image_free(&img);
	return err;
}

static struct kcr_range *kcr_prefilled_copy(const struct kcr_restore_args *a)
{
	struct kcr_range *r;

	if (!a->nr_prefilled || (a->flags & KCR_RST_VALIDATE_ONLY))
		return NULL;
	r = kvmalloc_array(a->nr_prefilled, sizeof(*r), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(r, u64_to_user_ptr(a->prefilled),
			   array_size(a->nr_prefilled, sizeof(*r)))) {
		kvfree(r);
		return ERR_PTR(-EFAULT);
	}
	return r;
}

long kcr_restore(struct kcr_restore_args __user *uarg)
{
	struct kcr_restore_args a;
	struct kcr_range *prefilled;
	struct kcr_reason *why;
	struct file *f;
	int err;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.size != sizeof(a) || (a.flags & ~KCR_RST_FLAGS_ALL) || a.pad ||
	    a.nr_prefilled > KCR_MAX_PREFILLED)
		return -EINVAL;
	memset(a.reason, 0, sizeof(a.reason));
	why = (struct kcr_reason *)a.reason;
	err = kcr_restorer_check(why);
	if (err)
		goto refused;
	f = fget(a.image_fd);
	if (!f || !(f->f_mode & FMODE_READ) || !S_ISREG(file_inode(f)->i_mode)) {
		kcr_set_reason(why, "image descriptor is not a readable regular file");
		if (f)
			fput(f);
		err = -EBADF;
		goto refused;
	}
	prefilled = kcr_prefilled_copy(&a);
	if (IS_ERR(prefilled)) {
		fput(f);
		return PTR_ERR(prefilled);
	}
	err = kcr_restore_image(&a, f, prefilled);
	kvfree(prefilled);
	fput(f);
	if (!err)
		return 0; /* rax itself is restored by kcr_rax_fixup_run() */
	/* Past the point of no return the caller is being killed; its memory is gone. */
	if (fatal_signal_pending(current))
		return err;
refused:
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return err;
}
