// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: CPU state — general registers, FS/GS base and the full XSAVE area.
 *
 * Dump: the target captures its own state through the regset API while it
 * is parked in kcr's task_work callback (or in the ioctl, for a
 * self-checkpoint), so the FPU registers are synced to memory first.
 *
 * Restore: the regset ->set() hooks must not be called on current (Debian's
 * CONFIG_X86_DEBUG_FPU turns that into a WARN, and fs_base writes WARN too).
 * So a helper kernel thread sets them on the restoring task while it sleeps
 * off-CPU inside the ioctl — exactly what ptrace's SETREGSET does.
 */
#include <linux/regset.h>
#include <linux/elf.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/errno.h>
#include <asm/ptrace.h>
#include <asm/user.h>
#include <asm/fpu/xcr.h>
#include <asm/fpu/types.h>
#include <asm/fpu/api.h>
#include <asm/segment.h>
#include <asm/cpufeature.h>
#include "kcr_internal.h"

static const struct user_regset *kcr_find_regset(struct task_struct *t, unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(t);
	int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

int kcr_cpu_xstate_size(struct task_struct *t)
{
	const struct user_regset *rs = kcr_find_regset(t, NT_X86_XSTATE);

	return rs ? rs->n * rs->size : 0;
}

u64 kcr_cpu_xfeatures(void)
{
	return boot_cpu_has(X86_FEATURE_OSXSAVE) ? xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
}

/*
 * A syscall interrupted by the checkpoint must behave after restore as it
 * would after a signal whose handler asked for restart: re-execute it, or
 * return -EINTR where the kernel would use a restart block (CRIU's rule).
 */
static void kcr_fixup_syscall_restart(struct user_regs_struct *regs)
{
	if ((long)regs->orig_ax < 0)
		return;
	switch ((long)regs->ax) {
	case -ERESTARTNOHAND:
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
		regs->ax = regs->orig_ax;
		regs->ip -= 2; /* length of the syscall instruction */
		break;
	case -ERESTART_RESTARTBLOCK:
		regs->ax = -EINTR;
		break;
	}
}

int kcr_cpu_capture(struct kcr_thread *th, void *xstate, bool self)
{
	struct user_regs_struct *regs = (struct user_regs_struct *)th->regs;
	const struct user_regset *rs;
	int n;

	BUILD_BUG_ON(sizeof(th->regs) != sizeof(struct user_regs_struct));
	rs = kcr_find_regset(current, NT_PRSTATUS);
	if (!rs)
		return -EOPNOTSUPP;
	n = regset_get(current, rs, sizeof(*regs), regs);
	if (n != sizeof(*regs))
		return n < 0 ? n : -EIO;
	rs = kcr_find_regset(current, NT_X86_XSTATE);
	if (!rs || rs->n * rs->size != th->xstate_size)
		return -EOPNOTSUPP;
	n = regset_get(current, rs, th->xstate_size, xstate);
	if (n != th->xstate_size)
		return n < 0 ? n : -EIO;
	if (self) {
		/* The restored caller sees its checkpoint ioctl return "restarted". */
		regs->ax = KCR_SELF_RESTARTED;
		regs->orig_ax = -1;
	} else {
		kcr_fixup_syscall_restart(regs);
	}
	th->tid = task_pid_vnr(current);
	return 0;
}

/* Exported by arch/x86/kernel/fpu/init.c; its declaration is in a private header. */
extern u32 mxcsr_feature_mask;

/* What putreg() accepts for a data segment selector of a 64-bit task. */
static bool kcr_user_selector(u64 sel)
{
	return sel == 0 || (sel <= 0xffff && (sel & SEGMENT_RPL_MASK) == USER_RPL);
}

/*
 * What xstateregs_set() would refuse, checked before the point of no
 * return: features beyond what this task's buffer holds (AMX tiles without
 * the permission and the larger buffer, anything this CPU lacks), a
 * compacted or reserved header, MXCSR bits the CPU rejects.
 */
static int kcr_xstate_validate(const struct kcr_thread *th, struct kcr_reason *why)
{
	const u8 *x = (const u8 *)(th + 1);
	const struct xstate_header *hdr = (const void *)(x + offsetof(struct xregs_state, header));
	u64 allowed = current->thread.fpu.fpstate->user_xfeatures;
	u32 mxcsr;

	if (th->xstate_size < sizeof(struct xregs_state)) {
		kcr_set_reason(why, "image XSAVE area is too small");
		return -EINVAL;
	}
	if (hdr->xfeatures & ~allowed) {
		kcr_set_reason(why,
			       "image XSAVE state has features %#llx this process may not use (has %#llx; AMX needs a permission kcr cannot restore)",
			       hdr->xfeatures & ~allowed, allowed);
		return -EINVAL;
	}
	if (hdr->xcomp_bv || memchr_inv(hdr->reserved, 0, sizeof(hdr->reserved))) {
		kcr_set_reason(why, "image XSAVE header is compacted or has reserved bits set");
		return -EINVAL;
	}
	memcpy(&mxcsr, x + offsetof(struct fxregs_state, mxcsr), sizeof(mxcsr));
	if ((hdr->xfeatures & (XFEATURE_MASK_FP | XFEATURE_MASK_SSE | XFEATURE_MASK_YMM)) &&
	    (mxcsr & ~mxcsr_feature_mask)) {
		kcr_set_reason(why, "image MXCSR %#x has bits this CPU rejects", mxcsr);
		return -EINVAL;
	}
	return 0;
}

/* Everything the register setters would refuse after the point of no return. */
int kcr_cpu_validate(const struct kcr_thread *th, struct kcr_reason *why)
{
	const struct user_regs_struct *regs = (const struct user_regs_struct *)th->regs;

	if (th->xstate_size != kcr_cpu_xstate_size(current)) {
		kcr_set_reason(why, "image XSAVE area is %u bytes, this CPU's %d (other CPU model)",
			       th->xstate_size, kcr_cpu_xstate_size(current));
		return -EINVAL;
	}
	if (regs->cs != __USER_CS || regs->ss != __USER_DS) {
		kcr_set_reason(why, "image registers are not those of a 64-bit user process");
		return -EINVAL;
	}
	if (!kcr_user_selector(regs->ds) || !kcr_user_selector(regs->es) ||
	    !kcr_user_selector(regs->fs) || !kcr_user_selector(regs->gs)) {
		kcr_set_reason(why, "image segment selectors are not user selectors");
		return -EINVAL;
	}
	if (regs->ip >= TASK_SIZE_MAX || regs->sp >= TASK_SIZE_MAX ||
	    regs->fs_base >= TASK_SIZE_MAX || regs->gs_base >= TASK_SIZE_MAX) {
		kcr_set_reason(why, "image registers hold kernel addresses");
		return -EINVAL;
	}
	return kcr_xstate_validate(th, why);
}

struct kcr_regs_helper {
	struct task_struct *target;
	const struct kcr_thread *th;
	const void *xstate;
	struct completion done;
	int err;
};

static int kcr_regs_helper_fn(void *data)
{
	struct kcr_regs_helper *h = data;
	struct user_regs_struct regs;
	const struct user_regset *rs;
	int err;

	/* Wait until the restorer is asleep and off-CPU: its registers are in memory. */
	while (READ_ONCE(h->target->__state) == TASK_RUNNING || READ_ONCE(h->target->on_cpu))
		cond_resched();

	memcpy(&regs, h->th->regs, sizeof(regs));
	regs.orig_ax = -1; /* no syscall-restart processing on the way out */
	rs = kcr_find_regset(h->target, NT_PRSTATUS);
	err = rs ? rs->set(h->target, rs, 0, sizeof(regs), &regs, NULL) : -EOPNOTSUPP;
	if (!err) {
		rs = kcr_find_regset(h->target, NT_X86_XSTATE);
		err = rs ? rs->set(h->target, rs, 0, h->th->xstate_size, h->xstate, NULL) :
			   -EOPNOTSUPP;
	}
	h->err = err;
	complete(&h->done);
	return 0;
}

int kcr_cpu_restore(const struct kcr_thread *th, const void *xstate)
{
	struct kcr_regs_helper h = {
		.target = current,
		.th = th,
		.xstate = xstate,
	};
	struct task_struct *k;

	init_completion(&h.done);
	k = kthread_run(kcr_regs_helper_fn, &h, "kcr-regs/%d", task_pid_nr(current));
	if (IS_ERR(k))
		return PTR_ERR(k);
	/* Uninterruptible: the helper must not see us wake before it is done. */
	wait_for_completion(&h.done);
	return h.err;
}
