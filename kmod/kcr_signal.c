// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: signal state — handlers, blocked mask, pending signals, altstack.
 *
 * Dump: captured by the target itself while parked (current == target), so
 * the sighand lock can be taken without the unexported lock_task_sighand().
 * Restore: written into the restoring task (current) before it returns to
 * user space, where the restored pending signals are then delivered.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/signal_types.h>
#include <linux/hrtimer.h>
#include <linux/posix-timers.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "kcr_internal.h"

#define KCR_MAX_PENDING 1024

struct kcr_signal_state {
	struct kcr_signals sig;
	struct kcr_pending_signal pending[KCR_MAX_PENDING];
	struct kcr_posix_timer *timers;
	u32 nr_timers;
	bool pending_overflow; /* more signals pending than pending[] holds */
};

struct kcr_signal_state *kcr_signal_state_alloc(void)
{
	return kvzalloc(sizeof(struct kcr_signal_state), GFP_KERNEL);
}

void kcr_signal_state_free(struct kcr_signal_state *st)
{
	if (st)
		kvfree(st->timers);
	kvfree(st);
}

static void kcr_pending_collect(struct kcr_signal_state *st, struct sigpending *queue, u32 thread)
{
	struct sigqueue *q;

	BUILD_BUG_ON(sizeof(kernel_siginfo_t) > sizeof(st->pending[0].info));
	list_for_each_entry(q, &queue->list, list) {
		struct kcr_pending_signal *p;

		/* A POSIX timer's own signal: saved with its timer (kcr_timer_capture). */
		if ((q->flags & SIGQUEUE_PREALLOC) && q->info.si_code == SI_TIMER)
			continue;
		if (st->sig.nr_pending >= KCR_MAX_PENDING) {
			st->pending_overflow = true;
			return;
		}
		p = &st->pending[st->sig.nr_pending++];
		p->signo = q->info.si_signo;
		p->thread = thread;
		memcpy(p->info, &q->info, sizeof(q->info));
	}
}

/* Runs in each parked thread: its mask, its own pending signals, its altstack. */
void kcr_signal_capture_thread(struct kcr_signal_state *st, struct kcr_thread *th, u32 index)
{
	struct sighand_struct *sighand = current->sighand;

	/* The handlers' lock is the whole process's: threads take turns appending. */
	spin_lock_irq(&sighand->siglock);
	kcr_pending_collect(st, &current->pending, index);
	/* Inside sigsuspend()/ppoll() the mask to come back to is the saved one. */
	th->blocked = current->restore_sigmask ? current->saved_sigmask.sig[0] :
						 current->blocked.sig[0];
	spin_unlock_irq(&sighand->siglock);

	th->sas_ss_sp = current->sas_ss_sp;
	th->sas_ss_size = current->sas_ss_size;
	th->sas_ss_flags = current->sas_ss_flags;
}

/*
 * The process's interval timers: ITIMER_REAL (alarm, setitimer) is saved;
 * the CPU-time ones are refused rather than dropped.
 */
static int kcr_itimers_capture(struct kcr_signal_state *st, struct kcr_reason *why)
{
	struct signal_struct *sig = current->signal;
	ktime_t left;

	if (sig->it[CPUCLOCK_PROF].expires || sig->it[CPUCLOCK_VIRT].expires) {
		kcr_set_reason(why,
			       "process has an ITIMER_VIRTUAL or ITIMER_PROF timer (setitimer), which kcr cannot save");
		return -EOPNOTSUPP;
	}
	if (hrtimer_active(&sig->real_timer)) {
		left = hrtimer_get_remaining(&sig->real_timer);
		/* Due this instant: the restored program gets it at once. */
		st->sig.itimer_real_left_ns = max_t(s64, ktime_to_ns(left), 1);
		st->sig.itimer_real_interval_ns = ktime_to_ns(sig->it_real_incr);
	}
	return 0;
}

#ifdef CONFIG_POSIX_TIMERS
/* The clocks hrtimers serve; CPU-time and alarm clocks are refused. */
static bool kcr_timer_clock_saved(clockid_t clock)
{
	return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME ||
	       clock == CLOCK_TAI;
}

/*
 * Time to a POSIX timer's next expiry as timer_gettime() reports it, without
 * moving the timer forward as timer_gettime() does. A timer whose signal is
 * queued and not yet taken is due at once: the restorer's timer then queues
 * it again as the timer's own signal, which re-arms an interval timer when it
 * is taken, as the kernel does, where a plain copy of the signal would not.
 */
static u64 kcr_timer_left(struct k_itimer *timr, bool queued)
{
	s64 iv = ktime_to_ns(timr->it_interval);
	s64 rem;
	u64 late;

	if (queued)
		return 1;
	rem = ktime_to_ns(hrtimer_get_remaining(&timr->it.real.timer));
	if (timr->it_active)
		return max_t(s64, rem, 1);
	/* SIGEV_NONE never fires, and an interval timer between its signal and its re-arm. */
	if (iv > 0) {
		if (rem > 0)
			return rem;
		div64_u64_rem(-rem, iv, &late);
		return iv - late;
	}
	if (timr->it_sigev_notify == SIGEV_NONE && rem > 0)
		return rem;
	return 0;
}

static int kcr_timer_capture(struct k_itimer *timr, struct kcr_posix_timer *out,
			     struct kcr_reason *why)
{
	unsigned long flags;
	bool queued, gone;

	if (!kcr_timer_clock_saved(timr->it_clock)) {
		kcr_set_reason(why,
			       "process has a POSIX timer (timer_create, id %d) on clock %d, a CPU-time or alarm clock, which kcr cannot save",
			       timr->it_id, timr->it_clock);
		return -EOPNOTSUPP;
	}
	if (timr->it_id > KCR_TIMER_ID_MAX) {
		kcr_set_reason(why,
			       "POSIX timer id %d is beyond %d, the last a restore makes again in reasonable time",
			       timr->it_id, KCR_TIMER_ID_MAX);
		return -EOPNOTSUPP;
	}
	if (timr->it_sigev_notify & SIGEV_THREAD_ID) {
		rcu_read_lock();
		gone = !pid_task(timr->it_pid, PIDTYPE_PID);
		rcu_read_unlock();
		/* No restore can aim a timer at a thread that does not exist. */
		if (gone) {
			kcr_set_reason(why,
				       "POSIX timer %d signals thread %d, which has exited; kcr cannot save it",
				       timr->it_id, pid_vnr(timr->it_pid));
			return -EOPNOTSUPP;
		}
	}
	/* posix_timer_fn()'s order: the timer's lock, then the signal lock. */
	spin_lock_irqsave(&timr->it_lock, flags);
	spin_lock(&current->sighand->siglock);
	queued = !list_empty(&timr->sigq->list);
	spin_unlock(&current->sighand->siglock);
	out->id = timr->it_id;
	out->clock = timr->it_clock;
	out->notify = timr->it_sigev_notify;
	out->signo = timr->sigq->info.si_signo;
	memcpy(&out->value, &timr->sigq->info.si_value, sizeof(timr->sigq->info.si_value));
	out->interval_ns = ktime_to_ns(timr->it_interval);
	out->left_ns = kcr_timer_left(timr, queued);
	out->flags = queued ? KCR_TIMER_SIGNAL_QUEUED : 0;
	if (timr->it_sigev_notify & SIGEV_THREAD_ID)
		out->thread = pid_vnr(timr->it_pid);
	spin_unlock_irqrestore(&timr->it_lock, flags);
	return 0;
}

/*
 * POSIX timers (timer_create). Only the process's own threads add or delete
 * them, and every one is parked: the list holds still without the signal
 * lock, which must not be held across a timer's lock.
 */
static int kcr_timers_capture(struct kcr_signal_state *st, struct kcr_reason *why)
{
	struct signal_struct *sig = current->signal;
	struct k_itimer *timr;
	u32 n = 0;
	int err;

	kvfree(st->timers);
	st->timers = NULL;
	st->nr_timers = 0;
	list_for_each_entry(timr, &sig->posix_timers, list)
		n++;
	if (!n)
		return 0;
	if (n > KCR_MAX_TIMERS) {
		kcr_set_reason(why, "process has %u POSIX timers; kcr saves at most %u", n,
			       KCR_MAX_TIMERS);
		return -EOPNOTSUPP;
	}
	st->timers = kvcalloc(n, sizeof(*st->timers), GFP_KERNEL);
	if (!st->timers)
		return -ENOMEM;
	list_for_each_entry(timr, &sig->posix_timers, list) {
		err = kcr_timer_capture(timr, &st->timers[st->nr_timers], why);
		if (err)
			return err;
		st->nr_timers++;
	}
	return 0;
}
#else
static int kcr_timers_capture(struct kcr_signal_state *st, struct kcr_reason *why)
{
	return 0;
}
#endif

/* Runs in the leader once every thread is parked: handlers, shared queue, timers. */
int kcr_signal_capture_process(struct kcr_signal_state *st, struct kcr_reason *why)
{
	struct sighand_struct *sighand = current->sighand;
	int i, err;

	err = kcr_timers_capture(st, why);
	if (err)
		return err;
	spin_lock_irq(&sighand->siglock);
	err = kcr_itimers_capture(st, why);
	if (err) {
		spin_unlock_irq(&sighand->siglock);
		return err;
	}
	for (i = 0; i < KCR_NR_SIGNALS; i++) {
		const struct sigaction *sa = &sighand->action[i].sa;

		st->sig.action[i].handler = (u64)(unsigned long)sa->sa_handler;
		/* Not kernel-internal bits such as SA_IMMUTABLE: the restore refuses those. */
		st->sig.action[i].flags = sa->sa_flags & UAPI_SA_FLAGS;
		st->sig.action[i].restorer = (u64)(unsigned long)sa->sa_restorer;
		st->sig.action[i].mask = sa->sa_mask.sig[0];
	}
	kcr_pending_collect(st, &current->signal->shared_pending, KCR_PENDING_PROCESS);
	spin_unlock_irq(&sighand->siglock);
	/* Never an image that lost some of them. */
	if (st->pending_overflow) {
		kcr_set_reason(why,
			       "the process has more than %d signals pending; kcr saves at most %d",
			       KCR_MAX_PENDING, KCR_MAX_PENDING);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* record_of maps a thread's capture index to its record in the image. */
void kcr_signal_dump(struct kcr_writer *w, struct kcr_signal_state *st, const u32 *record_of,
		     u32 nr_threads)
{
	u32 i;

	for (i = 0; i < st->sig.nr_pending; i++) {
		u32 t = st->pending[i].thread;

		if (t != KCR_PENDING_PROCESS)
			st->pending[i].thread = t < nr_threads ? record_of[t] : KCR_PENDING_PROCESS;
	}
	kcr_section_begin(w, KCR_SEC_SIGNALS, true);
	kcr_section_write(w, &st->sig, sizeof(st->sig));
	kcr_section_write(w, st->pending, st->sig.nr_pending * sizeof(st->pending[0]));
	kcr_section_end(w, st->sig.nr_pending);
	if (st->nr_timers) {
		kcr_section_begin(w, KCR_SEC_TIMERS, true);
		kcr_section_write(w, st->timers, st->nr_timers * sizeof(st->timers[0]));
		kcr_section_end(w, st->nr_timers);
	}
}

int kcr_signal_validate(struct kcr_loaded_image *img, struct kcr_reason *why)
{
	struct kcr_loaded_section *s = &img->sec[KCR_SEC_SIGNALS];
	const struct kcr_signals *sig = s->data;
	const struct kcr_pending_signal *p;
	const struct kcr_thread *th;
	u32 i;

	if (!sig || s->hdr.size < sizeof(*sig) || sig->nr_pending > KCR_MAX_PENDING ||
	    s->hdr.size != sizeof(*sig) + sig->nr_pending * sizeof(*p) || sig->pad) {
		kcr_set_reason(why, "image signal section is missing or malformed");
		return -EBADMSG;
	}
	for (i = 0; i < KCR_NR_SIGNALS; i++) {
		const struct kcr_sigaction *a = &sig->action[i];

		if (a->handler >= TASK_SIZE_MAX || a->restorer >= TASK_SIZE_MAX) {
			kcr_set_reason(why, "image signal handler %u is outside user space", i + 1);
			return -EINVAL;
		}
		/* What sigaction() lets a program set; the rest is the kernel's own. */
		if (a->flags & ~(u64)UAPI_SA_FLAGS) {
			kcr_set_reason(why, "image signal %u has flags %#llx no program can set",
				       i + 1, a->flags & ~(u64)UAPI_SA_FLAGS);
			return -EINVAL;
		}
	}
	/* What sigaltstack() stores: a mode (0, SS_ONSTACK, SS_DISABLE) and SS_FLAG_BITS. */
	for (i = 0; i < kcr_thread_count(img); i++) {
		u32 mode;

		th = kcr_thread_record(img, i);
		mode = th->sas_ss_flags & ~SS_FLAG_BITS;
		if (mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE) {
			kcr_set_reason(why, "image alternate signal stack has unknown flags %#x",
				       th->sas_ss_flags);
			return -EINVAL;
		}
	}
	p = (const void *)(sig + 1);
	for (i = 0; i < sig->nr_pending; i++) {
		if (!valid_signal(p[i].signo) || !p[i].signo || p[i].signo == SIGKILL ||
		    p[i].signo == SIGSTOP) {
			kcr_set_reason(why, "image has an invalid pending signal %u", p[i].signo);
			return -EINVAL;
		}
		if (p[i].thread != KCR_PENDING_PROCESS && p[i].thread >= kcr_thread_count(img)) {
			kcr_set_reason(why,
				       "image has a signal pending for thread %u, which it lacks",
				       p[i].thread);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Runs in the restoring process's main thread after its memory is replaced;
 * cannot fail: the handlers, and the signals pending for the whole process.
 * A thread's own pending signals are queued by that thread of the restorer
 * itself, to itself, before the restore (libkcr): no exported call queues a
 * signal on one thread's private queue.
 */
void kcr_signal_restore_process(struct kcr_loaded_image *img)
{
	const struct kcr_signals *sig = img->sec[KCR_SEC_SIGNALS].data;
	const struct kcr_pending_signal *p = (const void *)(sig + 1);
	struct sighand_struct *sighand = current->sighand;
	u32 i;

	spin_lock_irq(&sighand->siglock);
	for (i = 0; i < KCR_NR_SIGNALS; i++) {
		struct sigaction *sa = &sighand->action[i].sa;
		int signo = i + 1;

		if (signo == SIGKILL || signo == SIGSTOP)
			continue;
		sa->sa_handler = (__sighandler_t)(unsigned long)sig->action[i].handler;
		sa->sa_flags = sig->action[i].flags;
		sa->sa_restorer = (__sigrestore_t)(unsigned long)sig->action[i].restorer;
		sa->sa_mask.sig[0] = sig->action[i].mask;
		sigdelsetmask(&sa->sa_mask, sigmask(SIGKILL) | sigmask(SIGSTOP));
	}
	spin_unlock_irq(&sighand->siglock);

	for (i = 0; i < sig->nr_pending; i++) {
		kernel_siginfo_t info;

		if (p[i].thread != KCR_PENDING_PROCESS)
			continue;
		memcpy(&info, p[i].info, sizeof(info));
		info.si_signo = p[i].signo;
		send_sig_info(p[i].signo, &info, current);
	}
}

/* Runs in each restoring thread for itself: its altstack and its mask. */
void kcr_signal_restore_thread(const struct kcr_thread *th)
{
	sigset_t blocked;

	current->sas_ss_sp = th->sas_ss_sp;
	current->sas_ss_size = th->sas_ss_size;
	current->sas_ss_flags = th->sas_ss_flags;

	blocked.sig[0] = th->blocked;
	sigdelsetmask(&blocked, sigmask(SIGKILL) | sigmask(SIGSTOP));
	sigprocmask(SIG_SETMASK, &blocked, NULL);
}
