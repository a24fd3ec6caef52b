/*
 * Helpers for kcr's test programs. Each program writes its progress to an
 * output file (argv[1]); the test compares that file, after a checkpoint and
 * restart at a random moment, with the file an uninterrupted run wrote. Each
 * program also checks its own state and exits non-zero on any mismatch.
 */
#ifndef KCR_TEST_H
#define KCR_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int kt_out = -1;

static inline void kt_fail(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dprintf(2, "FAIL: %s\n", buf);
	if (kt_out >= 0)
		dprintf(kt_out, "FAIL: %s\n", buf);
	_exit(2);
}

static inline void kt_printf(const char *fmt, ...)
{
	va_list ap;
	char buf[1024];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(kt_out, buf, (size_t)n) != n)
		kt_fail("write output: %s", strerror(errno));
}

/* Opens argv[1] as the output file; returns the number of steps (argv[2] or def). */
static inline int kt_init(int argc, char **argv, int def_steps)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OUTPUT [STEPS]\n", argv[0]);
		exit(64);
	}
	kt_out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (kt_out < 0)
		kt_fail("open %s: %s", argv[1], strerror(errno));
	return argc > 2 ? atoi(argv[2]) : def_steps;
}

/* Sleeps about ms milliseconds, resuming after interruptions. */
static inline void kt_sleep_ms(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000L }, rem;

	while (nanosleep(&d, &rem) != 0 && errno == EINTR)
		d = rem;
}

static inline uint64_t kt_hash(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;
	size_t i;

	if (!h)
		h = 1469598103934665603ULL;
	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Fast 64-bit-word hash for big buffers. */
static inline uint64_t kt_hash64(const uint64_t *w, size_t n, uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL + (h >> 29);
	return h;
}

#endif
