/*
 * PROT_NONE guard pages around a buffer, and a read-only region filled before
 * mprotect: both must come back with their protections and contents. The
 * program probes the guard with a SIGSEGV handler after every step.
 */
#include "kcr_test.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#define PG 4096
static sigjmp_buf probe_env;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(probe_env, 1);
}

static int faults(volatile char *p)
{
	if (sigsetjmp(probe_env, 1))
		return 1;
	(void)*p;
	return 0;
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	char *area = mmap(NULL, 6 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { .sa_handler = on_segv };

	if (area == MAP_FAILED || ro == MAP_FAILED)
		kt_fail("mmap");
	for (int i = 0; i < 4 * PG; i++)
		ro[i] = (char)(i * 7);
	mprotect(ro, 4 * PG, PROT_READ);
	/* [guard][buf x4][guard] */
	mprotect(area, PG, PROT_NONE);
	mprotect(area + 5 * PG, PG, PROT_NONE);
	sigaction(SIGSEGV, &sa, NULL);
	for (int s = 0; s < steps; s++) {
		char *buf = area + PG;

		buf[s * 100] = (char)s;
		if (!faults(area) || !faults(area + 5 * PG))
			kt_fail("guard page readable at step %d", s);
		if (faults(buf + s * 100))
			kt_fail("buffer unreadable at step %d", s);
		for (int i = 0; i < 4 * PG; i += 511)
			if (ro[i] != (char)(i * 7))
				kt_fail("read-only data wrong at %d", i);
		kt_printf("step %d guards hold\n", s);
		kt_sleep_ms(80);
	}
	kt_printf("done\n");
	return 0;
}
