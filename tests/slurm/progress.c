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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TABLE_WORDS (512 * 1024)

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
	for (size_t i = 0; i < TABLE_WORDS; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		table[i] = x;
	}
	put(log, "start\n");
	for (int s = 0; s < steps; s++) {
		for (int r = 0; r < 200000; r++) {
			size_t i = (size_t)(x % TABLE_WORDS);
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			table[i] += x;
			f = f * 1.0000001 + (double)(table[i] & 0xff) / 1e6;
		}
		uint64_t sum = 0;
		for (size_t i = 0; i < TABLE_WORDS; i += 4096)
			sum += table[i];
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
