// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: per-thread state that is plain fields of the task — rseq, robust
 * futex list, clear_child_tid, comm, and the restrictions a thread placed on
 * itself (no_new_privs, speculation controls). Registers and the XSAVE area
 * are kcr_cpu.c's; signal state is kcr_signal.c's.
 *
 * Capture runs in the parked target (current is the target); restore runs
 * in the restoring task past the point of no return, so everything the
 * restore will set is checked first by kcr_thread_validate().
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/futex.h>
#include <linux/rseq.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/ptrace.h>
#include <asm/user.h>
#include "kcr_internal.h"

/* Each restriction kcr saves, and how a task shows it. */
static const struct {
	u32 flag;
	bool (*test)(struct task_struct *t);
	const char *name;
} kcr_task_flags[] = {
	{ KCR_TASK_NO_NEW_PRIVS, task_no_new_privs, "no_new_privs" },
	{ KCR_TASK_SSB_DISABLE, task_spec_ssb_disable, "speculative store bypass disabled" },
	{ KCR_TASK_SSB_FORCE_DISABLE, task_spec_ssb_force_disable,
	  "speculative store bypass force-disabled" },
	{ KCR_TASK_SSB_NOEXEC, task_spec_ssb_noexec,
	  "speculative store bypass disabled until exec" },
	{ KCR_TASK_IB_DISABLE, task_spec_ib_disable, "indirect branch speculation disabled" },
	{ KCR_TASK_IB_FORCE_DISABLE, task_spec_ib_force_disable,
	  "indirect branch speculation force-disabled" },
};

static u32 kcr_task_flags_of(struct task_struct *t)
{
	u32 flags = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(kcr_task_flags); i++)
		if (kcr_task_flags[i].test(t))
			flags |= kcr_task_flags[i].flag;
	return flags;
}

void kcr_thread_capture(struct kcr_thread *th)
{
	th->rseq = (u64)(unsigned long)current->rseq;
	th->rseq_sig = current->rseq_sig;
	th->clear_child_tid = (u64)(unsigned long)current->clear_child_tid;
	th->robust_list = (u64)(unsigned long)current->robust_list;
	th->robust_list_len = sizeof(struct robust_list_head);
	th->task_flags = kcr_task_flags_of(current);
	get_task_comm(th->comm, current);
}

/*
 * The speculation controls need the architecture's prctl code to take
 * effect, which modules cannot call, and a kernel that forces a mitigation
 * for everyone sets no task flag at all: so the restorer (libkcr) sets them
 * on itself and checks the kernel reports them in force before the restore
 * (docs/security.md). The module checks only that it knows every flag.
 * no_new_privs is a plain task flag the module sets itself.
 */
static int kcr_task_flags_check(u32 flags, struct kcr_reason *why)
{
	if (flags & ~KCR_TASK_FLAGS_ALL) {
		kcr_set_reason(why, "image thread has restrictions this module does not know (%#x)",
			       flags & ~KCR_TASK_FLAGS_ALL);
		return -EINVAL;
	}
	return 0;
}

int kcr_thread_validate(struct kcr_loaded_image *img, struct kcr_reason *why)
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
	return kcr_task_flags_check(th->task_flags, why);
}

/* Past the point of no return; checked by kcr_thread_validate(). */
void kcr_thread_restore(const struct kcr_thread *th)
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
	/* Never cleared: a restorer's own no_new_privs stays, as after exec. */
	if (th->task_flags & KCR_TASK_NO_NEW_PRIVS)
		task_set_no_new_privs(current);
	task_lock(current);
	strscpy_pad(current->comm, th->comm, sizeof(current->comm));
	task_unlock(current);
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

struct kcr_rax_fixup *kcr_rax_fixup_alloc(const struct kcr_thread *th)
{
	struct kcr_rax_fixup *fix = kmalloc(sizeof(*fix), GFP_KERNEL);

	if (!fix)
		return NULL;
	fix->ax = ((const struct user_regs_struct *)th->regs)->ax;
	init_task_work(&fix->work, kcr_rax_fixup_run);
	return fix;
}

/* Queue after the deferred fputs of the restore, so it runs first (LIFO). */
int kcr_rax_fixup_queue(struct kcr_rax_fixup *fix)
{
	return task_work_add(current, &fix->work, TWA_RESUME);
}

void kcr_rax_fixup_free(struct kcr_rax_fixup *fix)
{
	kfree(fix);
}
