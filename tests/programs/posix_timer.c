/*
 * posix_timer READY: holds an armed POSIX timer on the process's CPU-time
 * clock, which kcr cannot save and must refuse, then touches READY and waits.
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sigevent ev = { .sigev_notify = SIGEV_NONE };
	struct itimerspec in_a_minute = { .it_value = { 60, 0 } };
	timer_t t;
	FILE *ready;

	if (argc != 2 || timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t) ||
	    timer_settime(t, 0, &in_a_minute, NULL))
		return perror("timer"), 1;
	ready = fopen(argv[1], "w");
	if (ready)
		fclose(ready);
	sleep(60);
	return 0;
}
