/*
 * A program that restricts itself, as sandboxed services do, and checks at
 * every step that the restrictions still hold; a restore must never shed them.
 *
 *   sandboxed OUTPUT STEPS [nnp] [nodump] [report]
 *
 * nnp: prctl(PR_SET_NO_NEW_PRIVS) (what an unprivileged seccomp or Landlock
 * sandbox needs first); nodump: prctl(PR_SET_DUMPABLE, 0). Each step prints
 * both settings, so the output of a restored run equals an uninterrupted one
 * only if they survived; a lost one also fails the program itself.
 * report: print the settings, never fail on them (a test reads what a
 * restore made of them).
 */
#include <sys/prctl.h>
#include "kcr_test.h"

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 40);
	int nnp = 0, dumpable = 1, report = 0;

	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "nnp"))
			nnp = 1;
		else if (!strcmp(argv[i], "nodump"))
			dumpable = 0;
		else if (!strcmp(argv[i], "report"))
			report = 1;
	}
	if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		kt_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (!dumpable && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		kt_fail("PR_SET_DUMPABLE: %s", strerror(errno));
	for (int s = 0; s < steps; s++) {
		int now_nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
		int now_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

		kt_printf("step %d no_new_privs %d dumpable %d\n", s, now_nnp, now_dumpable);
		if (!report && (now_nnp != nnp || now_dumpable != dumpable))
			kt_fail("restrictions changed: no_new_privs %d (want %d), dumpable %d (want %d)",
				now_nnp, nnp, now_dumpable, dumpable);
		kt_sleep_ms(80);
	}
	kt_printf("done\n");
	return 0;
}
