/*
 * Blocked in the kernel at checkpoint time: relative nanosleep (comes back as
 * EINTR with the remaining time), absolute clock_nanosleep (re-executed),
 * select with a timeout and read on a pipe it feeds itself. argv[3] picks one:
 * rel, abs, select, pause-free default "mix".
 */
#include "kcr_test.h"
#include <sys/select.h>

static void wait_abs(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += ms * 1000000L;
	while (t.tv_nsec >= 1000000000L) {
		t.tv_nsec -= 1000000000L;
		t.tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

static void wait_select(long ms)
{
	struct timeval tv = { 0, ms * 1000 };

	/* Linux updates tv with the time left; an EINTR resumes with that. */
	while (select(0, NULL, NULL, NULL, &tv) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 35);
	const char *mode = argc > 3 ? argv[3] : "mix";

	for (int s = 0; s < steps; s++) {
		const char *m = mode;

		if (!strcmp(mode, "mix"))
			m = (s % 3 == 0) ? "rel" : (s % 3 == 1) ? "abs" : "select";
		if (!strcmp(m, "rel"))
			kt_sleep_ms(120);
		else if (!strcmp(m, "abs"))
			wait_abs(120);
		else
			wait_select(120);
		kt_printf("step %d slept (%s)\n", s, m);
	}
	kt_printf("done\n");
	return 0;
}
