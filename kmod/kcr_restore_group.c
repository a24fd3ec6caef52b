// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: restoring a multi-threaded process — the restorer's threads meet.
 *
 * The restoring process has as many threads as the image (libkcr starts the
 * others, each with its image thread's id, in a pid namespace of its own).
 * Each other thread enters KCR_IOC_RESTORE_THREAD naming the record it will
 * become and waits there. The main thread's KCR_IOC_RESTORE checks the image,
 * then gathers them: exactly the image's threads, each with its record's
 * thread id, and no other thread — before the point of no return. Past it,
 * once the address space and what the threads share are restored, each
 * thread sets its own record (its registers from a helper kernel thread, as
 * for the main one) and returns to user space as that thread; the main
 * thread waits until all have taken their records (the image is its memory)
 * before it does the same. A refused restore sends the waiting threads back
 * with an error, and they exit.
 */
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include "kcr_internal.h"

/* How long the threads wait for their main thread, and it for them. */
#define KCR_GATHER_TIMEOUT (60 * HZ)

enum kcr_group_state { KCR_GROUP_WAITING, KCR_GROUP_GO, KCR_GROUP_CANCELLED };

struct kcr_restore_group {
	struct kref ref;
	struct list_head node; /* on kcr_groups while it gathers */
	struct signal_struct *signal; /* the restorer's thread group, an identity only */
	int state; /* under kcr_groups_lock */
	u32 nr_members;
	struct task_struct **member; /* by record index; [0] is unused */
	const struct kcr_loaded_image *img; /* at GO: the records to take */
	atomic_t taken; /* members done with their records */
	wait_queue_head_t wq;
};

static DEFINE_MUTEX(kcr_groups_lock);
static LIST_HEAD(kcr_groups);

static void kcr_group_free(struct kref *ref)
{
	struct kcr_restore_group *g = container_of(ref, struct kcr_restore_group, ref);

	kvfree(g->member);
	kfree(g);
}

static void kcr_group_put(struct kcr_restore_group *g)
{
	kref_put(&g->ref, kcr_group_free);
}

/* The gathering group of the caller's thread group, made if none; a reference. */
static struct kcr_restore_group *kcr_group_get(void)
{
	struct kcr_restore_group *g;

	mutex_lock(&kcr_groups_lock);
	list_for_each_entry(g, &kcr_groups, node) {
		if (g->signal == current->signal) {
			kref_get(&g->ref);
			goto out;
		}
	}
	g = kzalloc(sizeof(*g), GFP_KERNEL);
	if (g)
		g->member = kvcalloc(KCR_MAX_THREADS, sizeof(*g->member), GFP_KERNEL);
	if (!g || !g->member) {
		kfree(g);
		g = NULL;
		goto out;
	}
	kref_init(&g->ref); /* the list's */
	kref_get(&g->ref); /* the caller's */
	g->signal = current->signal;
	init_waitqueue_head(&g->wq);
	list_add(&g->node, &kcr_groups);
out:
	mutex_unlock(&kcr_groups_lock);
	return g;
}

/* Ends the gathering: no thread may join it any more. */
static void kcr_group_close(struct kcr_restore_group *g, int state)
{
	bool listed;

	mutex_lock(&kcr_groups_lock);
	g->state = state;
	listed = !list_empty(&g->node);
	list_del_init(&g->node);
	mutex_unlock(&kcr_groups_lock);
	wake_up_all(&g->wq);
	if (listed)
		kcr_group_put(g);
}

int kcr_restore_group_gather(const struct kcr_loaded_image *img, struct kcr_restore_group **out,
			     struct kcr_reason *why)
{
	u32 n = kcr_thread_count(img), i;
	struct kcr_restore_group *g;
	long left;

	*out = NULL;
	if (n == 1) {
		if (get_nr_threads(current) != 1) {
			kcr_set_reason(why, "the restoring process must be single-threaded");
			return -EBUSY;
		}
		return 0;
	}
	/* glibc keeps thread ids (mutex owners, pthread_kill): they must be the same. */
	if (task_pid_vnr(current) != img->hdr.pid) {
		kcr_set_reason(why,
			       "a multi-threaded image restores only with its own process and thread ids (pid %d, restorer %d); restore it with kcr restart, which makes a pid namespace for them",
			       img->hdr.pid, task_pid_vnr(current));
		return -EINVAL;
	}
	g = kcr_group_get();
	if (!g)
		return -ENOMEM;
	left = wait_event_killable_timeout(g->wq, READ_ONCE(g->nr_members) == n - 1,
					   KCR_GATHER_TIMEOUT);
	if (left <= 0) {
		kcr_set_reason(why, "only %u of the restorer's %u threads came to the restore",
			       g->nr_members + 1, n);
		goto refused;
	}
	kcr_group_close(g, KCR_GROUP_WAITING); /* full: taken off the list, not yet let go */
	if (get_nr_threads(current) != n) {
		kcr_set_reason(why, "the restoring process has %d threads, the image %u",
			       get_nr_threads(current), n);
		goto refused;
	}
	for (i = 1; i < n; i++) {
		pid_t tid;

		/* n - 1 members, one for each of records 1..n-1: none for another record. */
		if (!g->member[i]) {
			kcr_set_reason(why, "no restorer thread came for image thread %d",
				       kcr_thread_record(img, i)->tid);
			goto refused;
		}
		tid = task_pid_vnr(g->member[i]);
		if (tid != kcr_thread_record(img, i)->tid) {
			kcr_set_reason(why, "restorer thread %d stands for image thread %d", tid,
				       kcr_thread_record(img, i)->tid);
			goto refused;
		}
	}
	*out = g;
	return 0;
refused:
	kcr_group_close(g, KCR_GROUP_CANCELLED);
	kcr_group_put(g);
	return -EINVAL;
}

void kcr_restore_group_go(struct kcr_restore_group *g, const struct kcr_loaded_image *img)
{
	if (!g)
		return;
	g->img = img;
	kcr_group_close(g, KCR_GROUP_GO);
	/* The records are this thread's memory: every thread must be done with them. */
	wait_event(g->wq, atomic_read(&g->taken) == g->nr_members);
	kcr_group_put(g);
}

void kcr_restore_group_cancel(struct kcr_restore_group *g)
{
	if (!g)
		return;
	kcr_group_close(g, KCR_GROUP_CANCELLED);
	kcr_group_put(g);
}

/* A thread of the restorer: the record it takes once its main thread lets it. */
static int kcr_restore_thread_take(const struct kcr_thread *th, struct kcr_rax_fixup *fix,
				   struct kcr_reason *why)
{
	int err;

	kcr_thread_restore(th);
	kcr_signal_restore_thread(th);
	err = kcr_rax_fixup_queue(fix, th);
	if (!err)
		err = kcr_cpu_restore(th, th + 1);
	else
		kcr_rax_fixup_free(fix);
	if (err) {
		kcr_set_reason(why, "setting the registers of thread %d failed (%d)", th->tid, err);
		/* Past the point of no return: no half-restored program may run. */
		send_sig(SIGKILL, current, 1);
	}
	return err;
}

long kcr_ioctl_restore_thread(struct kcr_restore_thread_args __user *uarg)
{
	struct kcr_restore_thread_args a;
	struct kcr_reason *why;
	struct kcr_restore_group *g;
	struct kcr_rax_fixup *fix;
	bool give_up = false;
	long left;
	int err = 0;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.size != sizeof(a) || !a.index || a.index >= KCR_MAX_THREADS || a.pad || a.pad2)
		return -EINVAL;
	memset(a.reason, 0, sizeof(a.reason));
	why = kcr_reason_of(a.reason);
	if (thread_group_leader(current)) {
		kcr_set_reason(why, "the main thread restores with KCR_IOC_RESTORE");
		err = -EINVAL;
		goto out;
	}
	/* Allocated now: past the point of no return nothing may fail for want of memory. */
	fix = kcr_rax_fixup_alloc();
	g = kcr_group_get();
	if (!g || !fix) {
		kcr_rax_fixup_free(fix);
		if (g)
			kcr_group_put(g);
		return -ENOMEM;
	}
	mutex_lock(&kcr_groups_lock);
	if (g->state != KCR_GROUP_WAITING || list_empty(&g->node) || g->member[a.index]) {
		err = -EBUSY;
	} else {
		g->member[a.index] = current;
		g->nr_members++;
	}
	mutex_unlock(&kcr_groups_lock);
	if (err) {
		kcr_set_reason(why, "thread record %u is taken, or the restore is over", a.index);
		goto put;
	}
	wake_up_all(&g->wq);
	left = wait_event_killable_timeout(g->wq, READ_ONCE(g->state) != KCR_GROUP_WAITING,
					   KCR_GATHER_TIMEOUT);
	mutex_lock(&kcr_groups_lock);
	if (g->state == KCR_GROUP_WAITING && !list_empty(&g->node)) {
		/* Its main thread never gathered it: the whole restore is off. */
		g->member[a.index] = NULL;
		g->nr_members--;
		give_up = true;
	}
	mutex_unlock(&kcr_groups_lock);
	if (give_up)
		kcr_group_close(g, KCR_GROUP_CANCELLED);
	/* Gathered: the main thread decides, after its last checks. */
	wait_event(g->wq, READ_ONCE(g->state) != KCR_GROUP_WAITING);
	if (READ_ONCE(g->state) == KCR_GROUP_GO) {
		err = kcr_restore_thread_take(kcr_thread_record(g->img, a.index), fix, why);
		atomic_inc(&g->taken);
		wake_up_all(&g->wq);
		kcr_group_put(g);
		return err; /* rax itself comes from the fix-up task work */
	}
	kcr_set_reason(why, "%s",
		       give_up ? "the main thread did not come to the restore" :
				 "the restore was refused");
	err = give_up ? (left ? -EINTR : -ETIMEDOUT) : -ECANCELED;
put:
	kcr_rax_fixup_free(fix);
	kcr_group_put(g);
out:
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return err;
}
