/*
 * File locks held across a checkpoint: a flock (write) through one open of
 * DIR/kcr-locks.dat, an OFD write lock on bytes 0-99 through a second open,
 * and POSIX locks of the process: read on 200-299 through a read-only open,
 * write from 300 to the end through the second. Every step it checks, from
 * /proc/self/fdinfo, that it still holds exactly these, each under the
 * descriptor it was taken through (which the kernel lists it under).
 * argv[3] is a scratch directory; the test also checks from outside that
 * the locks keep other processes out after a restore.
 */
#include "kcr_test.h"

#include <sys/file.h>

static int by_text(const void *x, const void *y)
{
	return strcmp((const char *)x, (const char *)y);
}

/* The lock lines of one descriptor, "KIND TYPE START END;" each, sorted. */
static void locks_of(int fd, char *out, size_t room)
{
	char path[64], line[256], kind[16], adv[16], type[16], end[32], found[8][128];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		kt_fail("open %s", path);
	while (fgets(line, sizeof(line), f)) {
		int id, pid;
		unsigned int maj, min;
		unsigned long ino;
		long long start;

		if (strncmp(line, "lock:", 5))
			continue;
		if (n == 8 || sscanf(line + 5, "%d: %15s %15s %15s %d %x:%x:%lu %lld %31s", &id,
				     kind, adv, type, &pid, &maj, &min, &ino, &start, end) != 10)
			kt_fail("fd %d: unexpected lock line: %s", fd, line);
		snprintf(found[n++], sizeof(found[0]), "%s %s %lld %s;", kind, type, start, end);
	}
	fclose(f);
	qsort(found, (size_t)n, sizeof(found[0]), by_text);
	out[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), room - strlen(out), "%s", found[i]);
}

static void expect_locks(int fd, const char *want)
{
	char have[1024];

	locks_of(fd, have, sizeof(have));
	if (strcmp(have, want))
		kt_fail("fd %d holds locks '%s', expected '%s'", fd, have, want);
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	struct flock ofd = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	struct flock rd = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 100 };
	struct flock wr = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 300, .l_len = 0 };
	char path[512];
	int a, b, r;

	snprintf(path, sizeof(path), "%s/kcr-locks.dat", dir);
	a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	b = open(path, O_RDWR);
	r = open(path, O_RDONLY);
	if (a < 0 || b < 0 || r < 0)
		kt_fail("open %s", path);
	if (flock(a, LOCK_EX | LOCK_NB) || fcntl(b, F_OFD_SETLK, &ofd) || fcntl(r, F_SETLK, &rd) ||
	    fcntl(b, F_SETLK, &wr))
		kt_fail("taking the locks: %s", strerror(errno));
	for (int s = 0; s < steps; s++) {
		expect_locks(a, "FLOCK WRITE 0 EOF;");
		expect_locks(b, "OFDLCK WRITE 0 99;POSIX WRITE 300 EOF;");
		expect_locks(r, "POSIX READ 200 299;");
		if (pwrite(b, &s, sizeof(s), 400 + (off_t)s * sizeof(s)) != sizeof(s))
			kt_fail("write under the lock");
		kt_printf("step %d locks held\n", s);
		kt_sleep_ms(80);
	}
	kt_printf("done\n");
	return 0;
}
