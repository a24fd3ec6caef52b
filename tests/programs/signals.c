/*
 * Signal state: a handler with SA_RESTART and a mask, a blocked signal that is
 * pending at checkpoint time (delivered only when unblocked at the end), an
 * ignored signal, and the alternate stack a SA_ONSTACK handler must run on.
 */
#include "kcr_test.h"
#include <signal.h>

static volatile sig_atomic_t usr1_count, usr2_count, on_altstack;
static char altstack[65536];

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static void on_usr2(int sig)
{
	char here;

	(void)sig;
	usr2_count++;
	on_altstack = (&here >= altstack && &here < altstack + sizeof(altstack));
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	struct sigaction sa1 = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct sigaction sa2 = { .sa_handler = on_usr2, .sa_flags = SA_ONSTACK };
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	sigset_t block, pending;

	sigaddset(&sa1.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa1, NULL);
	sigaction(SIGUSR2, &sa2, NULL);
	signal(SIGHUP, SIG_IGN);
	sigaltstack(&ss, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	/* Pending for the whole run: the restore must keep it queued and blocked. */
	kill(getpid(), SIGUSR2);
	for (int s = 0; s < steps; s++) {
		struct sigaction cur;
		sigset_t mask;

		kill(getpid(), SIGUSR1); /* kill+getpid: raise() would use a cached tid */
		kill(getpid(), SIGHUP);
		sigpending(&pending);
		sigprocmask(SIG_BLOCK, NULL, &mask);
		sigaction(SIGUSR1, NULL, &cur);
		if (usr1_count != s + 1 || usr2_count != 0)
			kt_fail("handler counts %d/%d at step %d", usr1_count, usr2_count, s);
		if (!sigismember(&pending, SIGUSR2) || !sigismember(&mask, SIGUSR2))
			kt_fail("SIGUSR2 no longer pending+blocked at step %d", s);
		if (cur.sa_handler != on_usr1 || !(cur.sa_flags & SA_RESTART) ||
		    !sigismember(&cur.sa_mask, SIGUSR2))
			kt_fail("SIGUSR1 action changed at step %d", s);
		kt_printf("step %d signals ok\n", s);
		kt_sleep_ms(80);
	}
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	if (usr2_count != 1 || !on_altstack)
		kt_fail("pending SIGUSR2 delivered %d times, on altstack %d", usr2_count,
			on_altstack);
	kt_printf("pending signal delivered on the alternate stack\ndone\n");
	return 0;
}
