/*
 * seccomp_exec PROGRAM [ARG...]: runs PROGRAM under a seccomp filter that
 * allows everything, so a test can run a restorer that is "under seccomp"
 * (a restore must be refused there: the module's own mappings would escape
 * any filter).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };

	if (argc < 2)
		return fprintf(stderr, "usage: seccomp_exec PROGRAM [ARG...]\n"), 64;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		return fprintf(stderr, "seccomp: %s\n", strerror(errno)), 1;
	execvp(argv[1], argv + 1);
	return fprintf(stderr, "%s: %s\n", argv[1], strerror(errno)), 127;
}
