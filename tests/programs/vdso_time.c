/* Time through the vdso (clock_gettime, gettimeofday, time) keeps working. */
#include "kcr_test.h"
#include <sys/time.h>

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	struct timespec prev = { 0, 0 };

	for (int s = 0; s < steps; s++) {
		struct timespec now, rt;
		struct timeval tv;
		long calls = 0;

		do { /* busy-wait on the clock: lives in the vdso most of the time */
			clock_gettime(CLOCK_MONOTONIC, &now);
			calls++;
		} while (calls < 20000);
		clock_gettime(CLOCK_REALTIME, &rt);
		gettimeofday(&tv, NULL);
		if (now.tv_sec < prev.tv_sec ||
		    (now.tv_sec == prev.tv_sec && now.tv_nsec < prev.tv_nsec))
			kt_fail("monotonic clock went backwards at step %d", s);
		if (labs(tv.tv_sec - rt.tv_sec) > 1 || labs(time(NULL) - rt.tv_sec) > 1)
			kt_fail("clocks disagree at step %d", s);
		prev = now;
		kt_printf("step %d clocks ok\n", s);
		kt_sleep_ms(50);
	}
	kt_printf("done\n");
	return 0;
}
