/*
 * Per-process state beyond memory and registers: working directory, umask,
 * resource limits, close-on-exec flags, /dev/null and /dev/zero descriptors
 * at chosen numbers, the process name, and transparent huge pages turned off
 * by prctl. argv[3] is a scratch directory.
 */
#include "kcr_test.h"
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	char sub[512], cwd[512], name[16], zeros[64];
	struct rlimit lim = { 1000, 2000 }, got;
	int null_fd, zero_fd, keep_fd;

	snprintf(sub, sizeof(sub), "%s/workdir", dir);
	mkdir(sub, 0755);
	if (chdir(sub))
		kt_fail("chdir %s", sub);
	umask(027);
	setrlimit(RLIMIT_NOFILE, &lim);
	prctl(PR_SET_NAME, "kcr-state");
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	null_fd = open("/dev/null", O_WRONLY);
	zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	keep_fd = open("relative.txt", O_RDWR | O_CREAT | O_TRUNC, 0666);
	if (dup2(null_fd, 40) < 0 || dup2(zero_fd, 41) < 0 || keep_fd < 0)
		kt_fail("set up descriptors");
	fcntl(41, F_SETFD, FD_CLOEXEC);
	for (int s = 0; s < steps; s++) {
		mode_t m = umask(027);

		umask(m);
		getrlimit(RLIMIT_NOFILE, &got);
		prctl(PR_GET_NAME, name);
		if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, sub))
			kt_fail("cwd is %s, expected %s", cwd, sub);
		if (m != 027)
			kt_fail("umask %03o", m);
		if (got.rlim_cur != 1000 || got.rlim_max != 2000)
			kt_fail("RLIMIT_NOFILE %ld/%ld", (long)got.rlim_cur, (long)got.rlim_max);
		if (strcmp(name, "kcr-state"))
			kt_fail("process name %s", name);
		if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1)
			kt_fail("transparent huge pages are no longer disabled");
		if (write(40, "x", 1) != 1)
			kt_fail("fd 40 (/dev/null) not writable");
		memset(zeros, 1, sizeof(zeros));
		if (read(41, zeros, sizeof(zeros)) != sizeof(zeros) ||
		    memchr(zeros, 1, sizeof(zeros)))
			kt_fail("fd 41 (/dev/zero) does not read zeros");
		if (fcntl(41, F_GETFD) != FD_CLOEXEC || fcntl(40, F_GETFD) != 0 ||
		    fcntl(zero_fd, F_GETFD) != FD_CLOEXEC)
			kt_fail("close-on-exec flags changed");
		dprintf(keep_fd, "%d\n", s); /* a file opened by a relative path */
		kt_printf("step %d state ok\n", s);
		kt_sleep_ms(80);
	}
	kt_printf("done\n");
	return 0;
}
