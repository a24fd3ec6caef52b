/*
 * Time through the vdso (clock_gettime, gettimeofday, time) keeps working,
 * and CLOCK_MONOTONIC and CLOCK_BOOTTIME never run backwards nor leap: a
 * restore after a reboot, on another node or out of a time namespace
 * continues them (restored on the boot it was saved on, the program sees
 * the time it spent saved pass, which a test keeps under a minute).
 */
#include "kcr_test.h"
#include <sys/time.h>

#define MAX_STEP_GAP_NS (60LL * 1000000000LL)

static long long ns_of(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static void check_step(const char *clock, long long prev, long long now, int step)
{
	if (!prev)
		return;
	if (now < prev)
		kt_fail("%s clock went backwards by %lld ns at step %d", clock, prev - now, step);
	if (now - prev > MAX_STEP_GAP_NS)
		kt_fail("%s clock leapt %lld s forward at step %d", clock,
			(now - prev) / 1000000000LL, step);
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	long long prev_mono = 0, prev_boot = 0;

	for (int s = 0; s < steps; s++) {
		struct timespec now, boot, rt;
		struct timeval tv;
		long calls = 0;

		do { /* busy-wait on the clock: lives in the vdso most of the time */
			clock_gettime(CLOCK_MONOTONIC, &now);
			calls++;
		} while (calls < 20000);
		clock_gettime(CLOCK_BOOTTIME, &boot);
		clock_gettime(CLOCK_REALTIME, &rt);
		gettimeofday(&tv, NULL);
		check_step("monotonic", prev_mono, ns_of(&now), s);
		check_step("boottime", prev_boot, ns_of(&boot), s);
		if (labs(tv.tv_sec - rt.tv_sec) > 1 || labs(time(NULL) - rt.tv_sec) > 1)
			kt_fail("clocks disagree at step %d", s);
		prev_mono = ns_of(&now);
		prev_boot = ns_of(&boot);
		kt_printf("step %d clocks ok\n", s);
		kt_sleep_ms(50);
	}
	kt_printf("done\n");
	return 0;
}
