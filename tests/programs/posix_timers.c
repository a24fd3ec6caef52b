/*
 * A program paced by POSIX timers (timer_create) that checks, at every tick,
 * that each of its timers is still the one it made:
 *   A  CLOCK_MONOTONIC, every 100 ms, SIGRTMIN to the process, value 111:
 *      paces the main thread, which checks each signal's timer id and value;
 *   B  CLOCK_REALTIME, every 70 ms, SIGRTMIN+1 to one worker thread
 *      (SIGEV_THREAD_ID), value 222: the worker counts its ticks, and the main
 *      thread waits for them to go on every 10 ticks;
 *   C  CLOCK_BOOTTIME, SIGEV_NONE, one shot an hour away: its time left only
 *      ever falls;
 *   G  CLOCK_MONOTONIC, every 150 ms, SIGEV_THREAD: glibc runs its function
 *      on a new thread each time, told by a helper thread of its own that a
 *      kernel timer signals; the main thread waits for it as for B;
 *   E  a one-shot and F an interval timer whose signals (SIGRTMIN+2, +3) stay
 *      blocked until the end, so that a checkpoint finds them queued; at the
 *      end E's signal is there once and F's comes again after it is taken.
 * The first timer made is deleted, so that the ids have a gap. A timer lost,
 * renumbered or aimed elsewhere ends the program with an error (a lost A
 * leaves it waiting for ever).
 *
 *   posix_timers OUTPUT [TICKS]
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include "kcr_test.h"

static timer_t made_a, made_b;
static atomic_int worker_tid, worker_ticks, thread_ticks;

static void on_thread_timer(union sigval v)
{
	if (v.sival_int != 555)
		kt_fail("SIGEV_THREAD timer called with value %d", v.sival_int);
	atomic_fetch_add(&thread_ticks, 1);
}

static int timer_id(timer_t t)
{
	return (int)(intptr_t)t;
}

static void check_signal(const siginfo_t *si, int signo, timer_t t, int value)
{
	if (si->si_signo != signo || si->si_code != SI_TIMER || si->si_timerid != timer_id(t) ||
	    si->si_value.sival_int != value)
		kt_fail("signal %d: code %d, timer %d, value %d; want timer %d, value %d",
			si->si_signo, si->si_code, si->si_timerid, si->si_value.sival_int,
			timer_id(t), value);
}

static void *worker(void *arg)
{
	sigset_t b;
	siginfo_t si;

	(void)arg;
	sigemptyset(&b);
	sigaddset(&b, SIGRTMIN + 1);
	atomic_store(&worker_tid, (int)syscall(SYS_gettid));
	for (;;) {
		if (sigwaitinfo(&b, &si) < 0) {
			if (errno == EINTR)
				continue;
			kt_fail("worker sigwaitinfo: %s", strerror(errno));
		}
		check_signal(&si, SIGRTMIN + 1, made_b, 222);
		atomic_fetch_add(&worker_ticks, 1);
	}
	return NULL;
}

static timer_t make_timer(clockid_t clock, int notify, int signo, int value, long first_ms,
			  long every_ms)
{
	struct sigevent ev = { .sigev_notify = notify, .sigev_signo = signo };
	struct itimerspec when = {
		.it_value = { first_ms / 1000, first_ms % 1000 * 1000000L },
		.it_interval = { every_ms / 1000, every_ms % 1000 * 1000000L },
	};
	timer_t t;

	ev.sigev_value.sival_int = value;
	if (notify == SIGEV_THREAD)
		ev.sigev_notify_function = on_thread_timer;
	if (notify == SIGEV_THREAD_ID)
		ev._sigev_un._tid = atomic_load(&worker_tid);
	if (timer_create(clock, &ev, &t) || timer_settime(t, 0, &when, NULL))
		kt_fail("timer: %s", strerror(errno));
	return t;
}

/* Waits for a counter another thread keeps to pass what it was. */
static int wait_past(atomic_int *ticks, int seen, const char *whose)
{
	for (int waited = 0; atomic_load(ticks) <= seen; waited++) {
		if (waited > 60000)
			kt_fail("%s timer stopped at %d ticks", whose, seen);
		kt_sleep_ms(1);
	}
	return atomic_load(ticks);
}

static void take(int signo, timer_t t, int value)
{
	struct timespec wait = { 30, 0 };
	siginfo_t si;
	sigset_t one;

	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigtimedwait(&one, &si, &wait) < 0)
		kt_fail("no signal %d from timer %d: %s", signo, timer_id(t), strerror(errno));
	check_signal(&si, signo, t, value);
}

int main(int argc, char **argv)
{
	int want = kt_init(argc, argv, 60);
	struct itimerspec left, last = { .it_value = { 3601, 0 } };
	timer_t gap, made_c, made_e, made_f;
	sigset_t blocked, pace;
	pthread_t th;
	siginfo_t si;
	int seen_worker = 0, seen_thread = 0;

	sigemptyset(&blocked);
	for (int s = SIGRTMIN; s <= SIGRTMIN + 3; s++)
		sigaddset(&blocked, s);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	if (pthread_create(&th, NULL, worker, NULL))
		kt_fail("pthread_create");
	while (!atomic_load(&worker_tid))
		kt_sleep_ms(1);

	gap = make_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 1000, 0);
	made_a = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN, 111, 100, 100);
	made_b = make_timer(CLOCK_REALTIME, SIGEV_THREAD_ID, SIGRTMIN + 1, 222, 70, 70);
	made_c = make_timer(CLOCK_BOOTTIME, SIGEV_NONE, 0, 0, 3600 * 1000, 0);
	made_e = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 2, 333, 10, 0);
	made_f = make_timer(CLOCK_MONOTONIC, SIGEV_SIGNAL, SIGRTMIN + 3, 444, 20, 50);
	make_timer(CLOCK_MONOTONIC, SIGEV_THREAD, 0, 555, 150, 150);
	timer_delete(gap);

	sigemptyset(&pace);
	sigaddset(&pace, SIGRTMIN);
	for (int tick = 0; tick < want;) {
		if (sigwaitinfo(&pace, &si) < 0) {
			if (errno == EINTR)
				continue;
			kt_fail("sigwaitinfo: %s", strerror(errno));
		}
		check_signal(&si, SIGRTMIN, made_a, 111);
		if (timer_gettime(made_c, &left))
			kt_fail("timer_gettime: %s", strerror(errno));
		if (left.it_value.tv_sec <= 0 || left.it_interval.tv_sec ||
		    left.it_value.tv_sec > last.it_value.tv_sec)
			kt_fail("timer C has %ld s left, before %ld s", (long)left.it_value.tv_sec,
				(long)last.it_value.tv_sec);
		last = left;
		kt_printf("tick %d\n", tick++);
		if (tick % 10)
			continue;
		seen_worker = wait_past(&worker_ticks, seen_worker, "the worker's");
		seen_thread = wait_past(&thread_ticks, seen_thread, "the SIGEV_THREAD");
	}
	take(SIGRTMIN + 2, made_e, 333);
	take(SIGRTMIN + 3, made_f, 444);
	take(SIGRTMIN + 3, made_f, 444);
	kt_printf("done\n");
	return 0;
}
