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
#include <linux/sched/prio.h>
#include <linux/cpumask.h>
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

/* The thread's policy, priority, niceness and CPUs (on more CPUs than the image holds: all). */
static void kcr_sched_capture(struct kcr_thread *th)
{
	const struct cpumask *cpus = current->cpus_ptr;
	unsigned int cpu;

	th->sched_policy = current->policy;
	th->sched_priority = current->rt_priority;
	th->nice = task_nice(current);
	for_each_cpu(cpu, cpus)
		if (cpu < KCR_CPU_WORDS * 64)
			th->cpus[cpu / 64] |= 1ULL << (cpu % 64);
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
	kcr_sched_capture(th);
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

/* Bytes of one thread record: the struct and its XSAVE area. */
static size_t kcr_thread_record_size(const struct kcr_loaded_image *img)
{
	return sizeof(struct kcr_thread) + img->hdr.xstate_size;
}

u32 kcr_thread_count(const struct kcr_loaded_image *img)
{
	return img->sec[KCR_SEC_THREAD].hdr.count;
}

const struct kcr_thread *kcr_thread_record(const struct kcr_loaded_image *img, u32 i)
{
	return img->sec[KCR_SEC_THREAD].data + i * kcr_thread_record_size(img);
}

static int kcr_thread_record_check(const struct kcr_loaded_image *img, u32 i,
				   struct kcr_reason *why)
{
	const struct kcr_thread *th = kcr_thread_record(img, i);
	u32 j;

	if (th->xstate_size != img->hdr.xstate_size || th->tid <= 0 || th->pad || th->pad2 ||
	    th->sched_policy > SCHED_IDLE || th->sched_policy == 4 /* unused */ ||
	    th->sched_priority > MAX_RT_PRIO - 1 || th->nice < MIN_NICE || th->nice > MAX_NICE) {
		kcr_set_reason(why, "image thread record %u is malformed", i);
		return -EBADMSG;
	}
	if (i == 0 && th->tid != img->hdr.pid) {
		kcr_set_reason(why, "image's first thread (%d) is not its process (%d)", th->tid,
			       img->hdr.pid);
		return -EBADMSG;
	}
	for (j = 0; j < i; j++) {
		if (kcr_thread_record(img, j)->tid == th->tid) {
			kcr_set_reason(why, "image has thread %d twice", th->tid);
			return -EBADMSG;
		}
	}
	if (th->rseq >= TASK_SIZE_MAX || th->clear_child_tid >= TASK_SIZE_MAX ||
	    th->robust_list >= TASK_SIZE_MAX || th->sas_ss_sp >= TASK_SIZE_MAX) {
		kcr_set_reason(why, "image thread %d holds kernel addresses", th->tid);
		return -EINVAL;
	}
	return kcr_task_flags_check(th->task_flags, why);
}

/* Every record: the section's shape, then each thread's fields and registers. */
int kcr_thread_validate(struct kcr_loaded_image *img, struct kcr_reason *why)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_THREAD];
	u32 i, n = s->hdr.count;
	int err;

	if (!s->data || !n || n > KCR_MAX_THREADS ||
	    s->hdr.size != (u64)n * kcr_thread_record_size(img)) {
		kcr_set_reason(why, "image thread section is missing or malformed");
		return -EBADMSG;
	}
	for (i = 0; i < n; i++) {
		err = kcr_thread_record_check(img, i, why);
		if (!err)
			err = kcr_cpu_validate(kcr_thread_record(img, i), why);
		if (err)
			return err;
	}
	return 0;
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

/* Allocated before the point of no return, where nothing may fail for want of memory. */
struct kcr_rax_fixup *kcr_rax_fixup_alloc(void)
{
	struct kcr_rax_fixup *fix = kmalloc(sizeof(*fix), GFP_KERNEL);

	if (fix)
		init_task_work(&fix->work, kcr_rax_fixup_run);
	return fix;
}

/* Queue after the deferred fputs of the restore, so it runs first (LIFO). */
int kcr_rax_fixup_queue(struct kcr_rax_fixup *fix, const struct kcr_thread *th)
{
	fix->ax = ((const struct user_regs_struct *)th->regs)->ax;
	return task_work_add(current, &fix->work, TWA_RESUME);
}

void kcr_rax_fixup_free(struct kcr_rax_fixup *fix)
{
	kfree(fix);
}
