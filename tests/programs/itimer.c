/*
 * A program paced by its interval timer (setitimer(ITIMER_REAL), as alarm()
 * is): it sleeps in sigsuspend() until each SIGALRM and prints a line per
 * tick. If a restore lost the timer, it would wait for ever.
 *
 *   itimer OUTPUT [TICKS]
 */
#include <signal.h>
#include <sys/time.h>
#include "kcr_test.h"

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

int main(int argc, char **argv)
{
	int want = kt_init(argc, argv, 60);
	struct itimerval every = { { 0, 100000 }, { 0, 100000 } };
	sigset_t alarm, none;

	signal(SIGALRM, on_alarm);
	sigemptyset(&alarm);
	sigaddset(&alarm, SIGALRM);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &alarm, NULL);
	if (setitimer(ITIMER_REAL, &every, NULL))
		kt_fail("setitimer: %s", strerror(errno));
	for (int seen = 0; seen < want;) {
		sigsuspend(&none);
		while (seen < ticks && seen < want)
			kt_printf("tick %d\n", seen++);
	}
	kt_printf("done\n");
	return 0;
}
