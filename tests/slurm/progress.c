/*
 * progress: the long computation the Slurm tests checkpoint, preempt, requeue
 * and restore.
 *
 *   progress LOG STEPS [MS_PER_STEP]
 *
 * Each step mixes integer and floating-point work over a 4 MiB heap table and
 * prints one deterministic line to stdout (the job's output file). It also
 * appends to LOG: "start" once when the program starts, then "step N" as each
 * step completes. A restored run continues where the checkpoint was taken, so
 * LOG says "start" once and never repeats a step; a run that started over
 * would say "start" again and repeat steps. MS_PER_STEP (default 250) is
 * slept per step so the tests can preempt it mid-way; 0 gives the same
 * output at full speed (the uninterrupted reference run).
 *
 * Built with -fopenmp it is omp_progress: each step's work is split into
 * CHUNKS pieces over the OpenMP threads (OMP_NUM_THREADS), each piece with
 * its own part of the table and its own random stream, so the output does
 * not depend on the thread count or the schedule. It also checks, every
 * step, that what a restore must keep is kept: the team has as many
 * threads as at the start, each keeps its thread id (libgomp reuses its
 * threads), glibc's cached id of each thread is the kernel's
 * (pthread_kill() on itself), and the process id is the same. A failed
 * check ends it with status 3 and says which.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TABLE_WORDS (512 * 1024)
#define ROUNDS 200000
#define CHUNKS 8

static void die(const char *what)
{
	dprintf(2, "progress: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void put(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(fd, buf, (size_t)n) != n)
		die("write");
}


static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dprintf(2, "%s: %s\n", program_invocation_short_name, buf);
	_exit(3);
}

/*
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME never run backwards, restored on
 * whatever boot or node. A gap between two steps longer than a second
 * beyond the step's sleep goes to LOG ("clock gap MS before step N"), for
 * the tests to bound: a restore on another boot continues the clocks from
 * the checkpoint, so the gap is the restore's time, not the requeue's.
 */
static void check_clocks(int log, int step, long ms_per_step)
{
	static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_BOOTTIME };
	static const char *const names[] = { "monotonic", "boottime" };
	static long long last[2];

	for (int i = 0; i < 2; i++) {
		struct timespec ts;
		long long now;

		clock_gettime(clocks[i], &ts);
		now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
		if (last[i] && now < last[i])
			fail("CLOCK_%s went back %lld ms before step %d", names[i],
			     (last[i] - now) / 1000000, step);
		if (i == 0 && last[i] && (now - last[i]) / 1000000 > ms_per_step + 1000)
			put(log, "clock gap %lld ms before step %d\n", (now - last[i]) / 1000000,
			    step);
		last[i] = now;
	}
}

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static uint64_t table_sum(const uint64_t *table)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < TABLE_WORDS; i += 4096)
		sum += table[i];
	return sum;
}

#ifndef _OPENMP
/* One step: ROUNDS random updates of the table, in one stream. */
static uint64_t work(uint64_t *table, uint64_t *x, double *f)
{
	for (int r = 0; r < ROUNDS; r++) {
		size_t i = (size_t)(*x % TABLE_WORDS);

		table[i] += next(x);
		*f = *f * 1.0000001 + (double)(table[i] & 0xff) / 1e6;
	}
	return table_sum(table);
}

static void check_ids(void)
{
}
#else
#include <omp.h>
#include <sys/syscall.h>

static pid_t first_pid;
#define MAX_THREADS 64

static pid_t first_tid[MAX_THREADS];
static int first_team;

static int team_size(void)
{
	int n = 0;

#pragma omp parallel
#pragma omp single
	n = omp_get_num_threads();
	return n;
}

/*
 * One step: CHUNKS independent pieces, each ROUNDS / CHUNKS updates of its
 * own slice of the table from its own stream; the results are combined in
 * chunk order, so any thread may do any piece.
 */
static uint64_t work(uint64_t *table, uint64_t *x, double *f)
{
	const size_t slice = TABLE_WORDS / CHUNKS;
	uint64_t seed = next(x);
	uint64_t bytes[CHUNKS];

#pragma omp parallel for schedule(dynamic, 1)
	for (int c = 0; c < CHUNKS; c++) {
		uint64_t y = seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(c + 1));
		uint64_t acc = 0;

		for (int r = 0; r < ROUNDS / CHUNKS; r++) {
			size_t i = (size_t)c * slice + (size_t)(next(&y) % slice);

			table[i] += y;
			acc += table[i] & 0xff;
		}
		bytes[c] = acc;
	}
	for (int c = 0; c < CHUNKS; c++)
		*f = *f * 1.0000001 + (double)bytes[c] / 1e9;
	return table_sum(table);
}

/* What a restore must keep of every thread's identity. */
static void check_ids(void)
{
	int team = 0;

	if (!first_pid)
		first_pid = getpid();
	if (getpid() != first_pid)
		fail("the process id changed from %d to %d", first_pid, getpid());
#pragma omp parallel
	{
		int me = omp_get_thread_num();
		pid_t tid = (pid_t)syscall(SYS_gettid);
		int err = pthread_kill(pthread_self(), 0);

#pragma omp single
		team = omp_get_num_threads();
		if (err)
			fail("thread %d (tid %d): pthread_kill on itself: %s", me, tid, strerror(err));
		if (me < MAX_THREADS) {
			if (!first_tid[me])
				first_tid[me] = tid;
			else if (first_tid[me] != tid)
				fail("thread %d's id changed from %d to %d", me, first_tid[me], tid);
		}
	}
	if (!first_team)
		first_team = team;
	if (team != first_team)
		fail("the team has %d threads, not %d", team, first_team);
}
#endif

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s LOG STEPS [MS_PER_STEP]\n", argv[0]);
		return 64;
	}
	int log = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log < 0)
		die(argv[1]);
	int steps = atoi(argv[2]);
	long ms = argc > 3 ? atol(argv[3]) : 250;
	uint64_t *table = malloc(TABLE_WORDS * sizeof(*table));
	uint64_t x = 88172645463325252ULL;
	double f = 1.0;

	if (!table)
		die("malloc");
	for (size_t i = 0; i < TABLE_WORDS; i++)
		table[i] = next(&x);
	put(log, "start\n");
#ifdef _OPENMP
	put(1, "threads %d\n", team_size());
#endif
	for (int s = 0; s < steps; s++) {
		uint64_t sum = work(table, &x, &f);

		check_ids();
		check_clocks(log, s, ms);
		put(1, "step %d sum %016llx f %.9f\n", s, (unsigned long long)sum, f);
		put(log, "step %d\n", s);
		if (ms > 0) {
			struct timespec d = { ms / 1000, (ms % 1000) * 1000000L }, rem;

			while (nanosleep(&d, &rem) != 0 && errno == EINTR)
				d = rem;
		}
	}
	put(1, "done\n");
	return 0;
}
