/*
 * The process both tools checkpoint: MIB of touched, incompressible memory,
 * spread over THREADS threads (default 1, the main thread alone), each of
 * which fills its own share; then all idle until TRIGGER exists. Then every
 * thread checks in, and the main thread writes the time (CLOCK_REALTIME,
 * seconds) into TRIGGER.resumed once all of them run — the moment a restore
 * is done, taken by the program itself so the harness need not poll — checks
 * its memory and exits.
 *   bench_target MIB TRIGGER READY_FILE [THREADS | pPROCESSES]
 * With pN, a tree of N single-threaded processes instead: the first forks
 * N-1 children, each fills its own share of MIB, and each checks in to the
 * first through a pipe once it runs after TRIGGER.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

struct share {
	pthread_t thread;
	uint64_t *mem;
	size_t words;
	uint64_t seed, sum;
};

static const char *trigger;
static atomic_int filled, running;

static void wait_for_trigger(void)
{
	struct timespec tick = { 0, 2000000 };

	while (access(trigger, F_OK) != 0)
		nanosleep(&tick, NULL);
}

static uint64_t fill(struct share *s)
{
	uint64_t x = s->seed, sum = 0;

	for (size_t i = 0; i < s->words; i++) {
		x ^= x << 13; /* xorshift: incompressible */
		x ^= x >> 7;
		x ^= x << 17;
		s->mem[i] = x;
		sum += x;
	}
	return sum;
}

static void *worker(void *arg)
{
	struct share *s = arg;

	s->sum = fill(s);
	atomic_fetch_add(&filled, 1);
	wait_for_trigger();
	atomic_fetch_add(&running, 1);
	return NULL;
}

static uint64_t xorshift_sum(uint64_t *mem, size_t words, uint64_t seed)
{
	struct share s = { .mem = mem, .words = words, .seed = seed };

	return fill(&s);
}

static void write_time(const char *trigger_path)
{
	char resumed[4096];
	struct timespec now;
	FILE *f;

	snprintf(resumed, sizeof(resumed), "%s.resumed", trigger_path);
	clock_gettime(CLOCK_REALTIME, &now);
	f = fopen(resumed, "w");
	fprintf(f, "%lld.%09ld\n", (long long)now.tv_sec, now.tv_nsec);
	fclose(f);
}

/* N processes, each with its share of the memory, checking in through pipes. */
static int tree(size_t words, int procs, const char *ready_path)
{
	int filled_pipe[2], running_pipe[2];
	size_t share = words / (size_t)procs;
	char b;

	if (procs < 1 || pipe(filled_pipe) || pipe(running_pipe))
		return 64;
	for (int p = 1; p < procs; p++) {
		pid_t child = fork();

		if (child < 0)
			return 65;
		if (child == 0) {
			uint64_t *mem = malloc(share * 8), sum, check = 0;

			if (!mem)
				_exit(64);
			sum = xorshift_sum(mem, share, 88172645463325252ULL + (uint64_t)p);
			if (write(filled_pipe[1], "f", 1) != 1)
				_exit(66);
			wait_for_trigger();
			if (write(running_pipe[1], "r", 1) != 1)
				_exit(66);
			for (size_t i = 0; i < share; i++)
				check += mem[i];
			_exit(check == sum ? 0 : 3);
		}
	}
	uint64_t *mem = malloc(share * 8), sum, check = 0;
	FILE *ready;
	int status, bad = 0;

	if (!mem)
		return 64;
	sum = xorshift_sum(mem, share, 88172645463325252ULL);
	for (int p = 1; p < procs; p++)
		if (read(filled_pipe[0], &b, 1) != 1)
			return 66;
	ready = fopen(ready_path, "w");
	fprintf(ready, "%d\n", getpid());
	fclose(ready);
	wait_for_trigger();
	for (int p = 1; p < procs; p++)
		if (read(running_pipe[0], &b, 1) != 1)
			return 66;
	write_time(trigger);
	for (size_t i = 0; i < share; i++)
		check += mem[i];
	while (wait(&status) > 0)
		bad |= !WIFEXITED(status) || WEXITSTATUS(status);
	return check == sum && !bad ? 0 : 3;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 64;
	if (argc > 4 && argv[4][0] == 'p') {
		trigger = argv[2];
		return tree((size_t)atoi(argv[1]) << 17, atoi(argv[4] + 1), argv[3]);
	}
	size_t words = (size_t)atoi(argv[1]) << 17;
	int threads = argc > 4 ? atoi(argv[4]) : 1;
	uint64_t *mem = malloc(words * 8), sum = 0, check = 0;
	struct share *shares = calloc((size_t)(threads > 0 ? threads : 1), sizeof(*shares));
	struct timespec now;
	FILE *ready;

	if (!mem || !shares || threads < 1)
		return 64;
	trigger = argv[2];
	for (int t = 0; t < threads; t++) {
		shares[t].mem = mem + words / threads * t;
		shares[t].words = t == threads - 1 ? words - words / threads * t : words / threads;
		shares[t].seed = 88172645463325252ULL + (uint64_t)t;
	}
	for (int t = 1; t < threads; t++) {
		if (pthread_create(&shares[t].thread, NULL, worker, &shares[t]))
			return 65;
	}
	shares[0].sum = fill(&shares[0]);
	while (atomic_load(&filled) < threads - 1)
		usleep(1000);
	ready = fopen(argv[3], "w");
	fprintf(ready, "%d\n", getpid());
	fclose(ready);
	char resumed[4096];

	snprintf(resumed, sizeof(resumed), "%s.resumed", argv[2]);
	wait_for_trigger();
	while (atomic_load(&running) < threads - 1)
		sched_yield();
	clock_gettime(CLOCK_REALTIME, &now);
	ready = fopen(resumed, "w");
	fprintf(ready, "%lld.%09ld\n", (long long)now.tv_sec, now.tv_nsec);
	fclose(ready);
	for (int t = 1; t < threads; t++)
		pthread_join(shares[t].thread, NULL);
	for (int t = 0; t < threads; t++)
		sum += shares[t].sum;
	for (size_t i = 0; i < words; i++)
		check += mem[i];
	return check == sum ? 0 : 3;
}
