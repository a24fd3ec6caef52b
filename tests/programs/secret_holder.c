/*
 * A set-uid-root program as a site has them (ssh-keysign, ...): it reads a
 * file only root may read, then drops to its caller's ids for good, which
 * makes it non-dumpable, and keeps the secret in memory while it works.
 *
 *   secret_holder OUTPUT SECRET_FILE [STEPS [IGNORED...]]
 *
 * Installed set-uid root by the security test. Extra arguments are ignored:
 * the exec race test passes megabytes of them so that its exec is slow.
 */
#include "kcr_test.h"

static char secret[4096];

int main(int argc, char **argv)
{
	int fd, steps;
	ssize_t n;

	if (argc < 3)
		return fprintf(stderr, "usage: secret_holder OUTPUT SECRET_FILE [STEPS]\n"), 64;
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return perror(argv[2]), 1;
	n = read(fd, secret, sizeof(secret) - 1);
	close(fd);
	if (n <= 0)
		return perror("read"), 1;
	if (setresgid(getgid(), getgid(), getgid()) || setresuid(getuid(), getuid(), getuid()))
		return perror("dropping privileges"), 1;
	steps = kt_init(2, argv, 600);
	if (argc > 3)
		steps = atoi(argv[3]);
	for (int s = 0; s < steps; s++) {
		kt_printf("step %d holds %zu secret bytes\n", s, strlen(secret));
		kt_sleep_ms(100);
	}
	return 0;
}
