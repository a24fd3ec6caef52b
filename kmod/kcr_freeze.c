// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: stopping every thread of a process in its own context, and letting
 * them go.
 *
 * Each thread gets a task_work queued with TWA_SIGNAL: it runs kcr's callback
 * on its way back to user space — interrupting a blocking system call as a
 * signal would, with no signal, no ptrace, nothing it can observe — captures
 * its own state there (registers are only consistent in the thread's own
 * context) and parks, killable and outside the load average. New threads
 * may appear until every known one is parked (a thread inside clone() makes
 * one), so the caller looks again each time all have arrived, until no new
 * thread shows up: then none is running, and none can start. Only then does
 * one parked thread capture what the threads share (signal handlers, open
 * files, the working directory), so that no thread can change it meanwhile.
 *
 * A thread that exits before it parks is not part of the image. A parked
 * thread that is killed (SIGKILL reaches a parked thread; so does the group
 * exit of an exec in another thread) makes the checkpoint fail.
 */
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/wait.h>
#include <linux/jiffies.h>
#include "kcr_internal.h"

#define KCR_FREEZE_TIMEOUT (10 * HZ)

enum kcr_freeze_state {
	KCR_FREEZE_RUNNING, /* threads are asked to park */
	KCR_FREEZE_PROCESS, /* all parked: one captures what they share */
	KCR_FREEZE_PARKED, /* all captured: they wait to be let go */
	KCR_FREEZE_RESUME, /* states from here on let parked threads go */
	KCR_FREEZE_ABORTED,
};

struct kcr_freeze_slot {
	struct callback_head work;
	struct kcr_freeze *fz;
	struct task_struct *task;
	u32 index;
	int err;
	bool gone; /* it exited before it parked: not part of the image */
	struct kcr_reason why; /* its own: read by the caller only once it arrived */
};

void kcr_freeze_init(struct kcr_freeze *fz, struct task_struct *leader,
		     const struct kcr_freeze_ops *ops)
{
	memset(fz, 0, sizeof(*fz));
	fz->leader = leader;
	fz->ops = ops;
	atomic_set(&fz->state, KCR_FREEZE_RUNNING);
	init_waitqueue_head(&fz->target_wq);
	init_waitqueue_head(&fz->caller_wq);
}

void kcr_freeze_destroy(struct kcr_freeze *fz)
{
	u32 i;

	for (i = 0; i < fz->nr; i++) {
		put_task_struct(fz->slots[i]->task);
		kfree(fz->slots[i]);
	}
	kvfree(fz->slots);
	fz->slots = NULL;
	fz->nr = 0;
}

u32 kcr_freeze_threads(const struct kcr_freeze *fz)
{
	return fz->nr;
}

bool kcr_freeze_thread_gone(const struct kcr_freeze *fz, u32 index)
{
	return fz->slots[index]->gone;
}

/*
 * Waits, killable and outside the load average (a held process may wait for
 * minutes), until the threads may go; the one chosen captures what they
 * share when asked. (wait_event_state() would treat a constant
 * KILLABLE|NOLOAD state as uninterruptible.)
 */
static void kcr_freeze_wait(struct kcr_freeze_slot *slot)
{
	struct kcr_freeze *fz = slot->fz;
	DEFINE_WAIT(wait);
	int state;

	for (;;) {
		prepare_to_wait(&fz->target_wq, &wait, TASK_KILLABLE | TASK_NOLOAD);
		state = atomic_read(&fz->state);
		if (state >= KCR_FREEZE_RESUME || fatal_signal_pending(current))
			break;
		if (state == KCR_FREEZE_PROCESS && slot->index == 0 && !fz->process_done) {
			finish_wait(&fz->target_wq, &wait);
			fz->process_err = fz->ops->process(fz, &slot->why);
			/* The capture (and process_err) is seen before "done". */
			smp_store_release(&fz->process_done, true);
			wake_up_all(&fz->caller_wq);
			continue;
		}
		schedule();
	}
	finish_wait(&fz->target_wq, &wait);
	if (state < KCR_FREEZE_RESUME) {
		/* Killed while parked: the checkpoint cannot be one moment of it. */
		WRITE_ONCE(fz->died, true);
		wake_up_all(&fz->caller_wq);
	}
}

/* task_work callback: runs in a thread of the target before it returns to user space. */
static void kcr_freeze_park(struct callback_head *work)
{
	struct kcr_freeze_slot *slot = container_of(work, struct kcr_freeze_slot, work);
	struct kcr_freeze *fz = slot->fz;

	if (atomic_read(&fz->state) == KCR_FREEZE_RUNNING && !(current->flags & PF_EXITING)) {
		atomic_inc(&fz->inside);
		slot->err = fz->ops->thread(fz, slot->index, &slot->why);
		smp_mb__before_atomic(); /* its capture is seen before it counts as arrived */
		atomic_inc(&fz->arrived);
		wake_up_all(&fz->caller_wq);
		kcr_freeze_wait(slot);
		/* Last: the caller may free the request once nothing is inside. */
		if (atomic_dec_and_test(&fz->inside))
			wake_up_all(&fz->caller_wq);
	} else {
		slot->gone = true;
		atomic_inc(&fz->arrived);
		wake_up_all(&fz->caller_wq);
	}
	fz->ops->put(fz);
	module_put(THIS_MODULE);
}

static bool kcr_freeze_has(const struct kcr_freeze *fz, struct task_struct *t)
{
	u32 i;

	for (i = 0; i < fz->nr; i++)
		if (fz->slots[i]->task == t)
			return true;
	return false;
}

static int kcr_freeze_queue(struct kcr_freeze *fz, struct task_struct *t)
{
	struct kcr_freeze_slot *slot = kzalloc(sizeof(*slot), GFP_KERNEL);

	if (!slot) {
		put_task_struct(t);
		return -ENOMEM;
	}
	slot->fz = fz;
	slot->task = t;
	slot->index = fz->nr;
	fz->slots[fz->nr++] = slot;
	init_task_work(&slot->work, kcr_freeze_park);
	fz->ops->get(fz);
	__module_get(THIS_MODULE);
	atomic_inc(&fz->queued);
	if (task_work_add(t, &slot->work, TWA_SIGNAL)) {
		/* Exiting, past running task works: it will not be in the image. */
		slot->gone = true;
		atomic_inc(&fz->arrived);
		fz->ops->put(fz);
		module_put(THIS_MODULE);
	}
	return 0;
}

/*
 * Queues the callback on every thread of the target not asked yet (the
 * leader first, so it is thread 0). Returns how many, or an error.
 */
static int kcr_freeze_add_threads(struct kcr_freeze *fz, struct kcr_reason *why)
{
	struct task_struct *t, **found;
	int cap, n = 0, i, err = 0;

	cap = get_nr_threads(fz->leader) + 8;
	if (fz->nr + cap > KCR_MAX_THREADS)
		cap = KCR_MAX_THREADS - fz->nr + 1;
	found = kmalloc_array(cap, sizeof(*found), GFP_KERNEL);
	if (!found)
		return -ENOMEM;
	if (!fz->nr) {
		get_task_struct(fz->leader);
		found[n++] = fz->leader;
	}
	rcu_read_lock();
	for_each_thread(fz->leader, t) {
		if (t == fz->leader || (t->flags & PF_EXITING) || kcr_freeze_has(fz, t))
			continue;
		if (n == cap)
			break; /* the rest next round */
		get_task_struct(t);
		found[n++] = t;
	}
	rcu_read_unlock();
	if (fz->nr + n > KCR_MAX_THREADS) {
		kcr_set_reason(why, "process has more than %d threads, more than kcr saves",
			       KCR_MAX_THREADS);
		err = -EOPNOTSUPP;
	}
	if (!err && !fz->slots) {
		fz->slots = kvcalloc(KCR_MAX_THREADS, sizeof(*fz->slots), GFP_KERNEL);
		if (!fz->slots)
			err = -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (err)
			put_task_struct(found[i]);
		else
			err = kcr_freeze_queue(fz, found[i]);
	}
	kfree(found);
	return err ? err : n;
}

/* The first failing thread's reason, once every thread arrived. */
static int kcr_freeze_thread_error(struct kcr_freeze *fz, struct kcr_reason *why)
{
	u32 i;

	for (i = 0; i < fz->nr; i++) {
		struct kcr_freeze_slot *slot = fz->slots[i];

		if (!slot->gone && slot->err) {
			if (slot->why.text[0])
				kcr_set_reason(why, "%s", slot->why.text);
			return slot->err;
		}
	}
	return 0;
}

static bool kcr_freeze_all_arrived(struct kcr_freeze *fz)
{
	return atomic_read(&fz->arrived) == atomic_read(&fz->queued) || READ_ONCE(fz->died);
}

/* Lets every parked thread go and waits until none is inside kcr's code. */
static void kcr_freeze_let_go(struct kcr_freeze *fz, int state)
{
	atomic_set(&fz->state, state);
	wake_up_all(&fz->target_wq);
	wait_event(fz->caller_wq, atomic_read(&fz->inside) == 0);
}

int kcr_freeze_stop(struct kcr_freeze *fz, struct kcr_reason *why)
{
	long left;
	int n, err;

	do {
		n = kcr_freeze_add_threads(fz, why);
		if (n < 0) {
			err = n;
			goto abort;
		}
		left = wait_event_killable_timeout(fz->caller_wq, kcr_freeze_all_arrived(fz),
						   KCR_FREEZE_TIMEOUT);
		if (left <= 0) {
			kcr_set_reason(why,
				       "process did not stop within %d s (stopped by SIGSTOP, or in uninterruptible sleep?)",
				       KCR_FREEZE_TIMEOUT / HZ);
			err = left ? -EINTR : -ETIMEDOUT;
			goto abort;
		}
		smp_rmb(); /* pairs with the barrier before each thread's arrival */
		err = kcr_freeze_thread_error(fz, why);
		if (err)
			goto abort;
		if (READ_ONCE(fz->died) || fz->slots[0]->gone) {
			kcr_set_reason(why, "process exited or was killed during the checkpoint");
			err = -ESRCH;
			goto abort;
		}
	} while (n);

	/* Every thread is parked and none can start another: capture what they share. */
	atomic_set(&fz->state, KCR_FREEZE_PROCESS);
	wake_up_all(&fz->target_wq);
	/* Acquire: pairs with the leader's release of process_done. */
	wait_event(fz->caller_wq, smp_load_acquire(&fz->process_done) || READ_ONCE(fz->died));
	if (!smp_load_acquire(&fz->process_done)) { /* as above */
		kcr_set_reason(why, "process was killed during the checkpoint");
		err = -ESRCH;
		goto abort;
	}
	if (fz->process_err) {
		err = fz->process_err;
		if (fz->slots[0]->why.text[0])
			kcr_set_reason(why, "%s", fz->slots[0]->why.text);
		goto abort;
	}
	atomic_set(&fz->state, KCR_FREEZE_PARKED);
	return 0;
abort:
	kcr_freeze_let_go(fz, KCR_FREEZE_ABORTED);
	return err;
}

void kcr_freeze_release(struct kcr_freeze *fz, bool stop)
{
	/*
	 * Queued while every thread is parked, after their signals were
	 * captured: not part of the image, and taken on the way out, before
	 * any thread returns to user space. A SIGCONT resumes the process as
	 * from any SIGSTOP.
	 */
	if (stop)
		send_sig(SIGSTOP, fz->leader, 1);
	kcr_freeze_let_go(fz, KCR_FREEZE_RESUME);
}
