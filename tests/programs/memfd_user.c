/*
 * A program that keeps its state in memfds (memfd_create) and checks them at
 * every step, so that a restore that lost a name, seal, size, offset, byte or
 * sharing ends it with an error:
 *   M  "kcr-state", sealing allowed, 1 MiB + 100 bytes, size sealed
 *      (F_SEAL_SHRINK | F_SEAL_GROW): open, dup'd (one offset), and mapped
 *      shared over its first MiB; each step writes through the mapping and
 *      reads back through the fd, and the other way round, and appends a
 *      line through the fd;
 *   P  "kcr-private", sealing not allowed (F_SEAL_SEAL): open and mapped
 *      private; each step changes one page of the mapping, which must not
 *      reach the memfd; its last page is written with zeros, which must stay
 *      zeros (not the memfd's bytes);
 *   Q  "kcr-mapped-only": mapped shared, its fd closed at once.
 * It also checks that its descriptors are exactly the ones it had (none
 * left over from a restore).
 *
 *   memfd_user OUTPUT [STEPS]
 */
#include "kcr_test.h"
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define MIB (1024 * 1024)
#define PAGES 64

static void expect_name(int fd, const char *want)
{
	char link[64], got[256];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, got, sizeof(got) - 1);
	if (n < 0)
		kt_fail("readlink %s: %s", link, strerror(errno));
	got[n] = 0;
	if (strcmp(got, want))
		kt_fail("fd %d is %s, not %s", fd, got, want);
}

/* How many descriptors are open (the listing's own left out). */
static int open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!dir)
		kt_fail("opendir /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.' && atoi(e->d_name) != dirfd(dir);
	closedir(dir);
	return n;
}

static void expect_seals(int fd, int want)
{
	int got = fcntl(fd, F_GET_SEALS);

	if (got != want)
		kt_fail("fd %d has seals %#x, not %#x", fd, got, want);
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 60);
	int fds = open_fds();
	int m, d, p, q;
	uint64_t *map_m, *map_q, v;
	char *map_p, byte;
	struct stat st;

	m = memfd_create("kcr-state", MFD_ALLOW_SEALING);
	p = memfd_create("kcr-private", 0);
	q = memfd_create("kcr-mapped-only", 0);
	if (m < 0 || p < 0 || q < 0 || ftruncate(m, MIB + 100) || ftruncate(p, PAGES * 4096) ||
	    ftruncate(q, 2 * 4096))
		kt_fail("memfd: %s", strerror(errno));
	map_m = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	map_p = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, p, 0);
	map_q = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, q, 0);
	if (map_m == MAP_FAILED || map_p == MAP_FAILED || map_q == MAP_FAILED)
		kt_fail("mmap: %s", strerror(errno));
	close(q);
	for (int i = 0; i < PAGES * 4096; i += 4096)
		if (pwrite(p, "p", 1, i) != 1)
			kt_fail("pwrite: %s", strerror(errno));
	memset((char *)map_q + 4096, 'q', 4096);
	memset(map_p + (PAGES - 1) * 4096, 0, 4096);
	if (fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) || lseek(m, MIB / 2, SEEK_SET) < 0)
		kt_fail("seal: %s", strerror(errno));
	d = dup(m);
	fds += 3; /* m, its dup d, p */

	for (int step = 0; step < steps; step++) {
		off_t at;

		if (open_fds() != fds)
			kt_fail("%d descriptors are open, not %d", open_fds(), fds);
		expect_name(m, "/memfd:kcr-state (deleted)");
		expect_name(p, "/memfd:kcr-private (deleted)");
		expect_seals(m, F_SEAL_SHRINK | F_SEAL_GROW);
		expect_seals(p, F_SEAL_SEAL);
		if (fstat(m, &st) || st.st_size != MIB + 100 || !ftruncate(m, MIB))
			kt_fail("memfd M has %ld bytes or shrank", (long)st.st_size);
		/* Mapping to fd and fd to mapping: one memfd. */
		map_m[0] = step;
		if (pread(m, &v, 8, 0) != 8 || v != (uint64_t)step)
			kt_fail("memfd M reads %lu through the fd, %d through the mapping", v,
				step);
		v = step * 7;
		if (pwrite(m, &v, 8, 8) != 8 || map_m[1] != v)
			kt_fail("memfd M's mapping missed a write through the fd");
		for (int s = 0; s < step; s++)
			if (map_m[2 + s] != (uint64_t)s * 3)
				kt_fail("memfd M lost word %d", s);
		map_m[2 + step] = step * 3;
		/* One offset for M and its dup. */
		at = lseek(d, 0, SEEK_CUR);
		if (at != lseek(m, 0, SEEK_CUR))
			kt_fail("fd %d and its dup %d have different offsets", m, d);
		if (dprintf(d, "step %d\n", step) < 0)
			kt_fail("write: %s", strerror(errno));
		/* P: private changes stay private. */
		for (int s = 0; s < PAGES; s++) {
			char want = s == PAGES - 1 ? 0 : s < step ? 'a' + s % 26 : 'p';

			if (map_p[s * 4096] != want)
				kt_fail("memfd P's private page %d holds %c, not %c", s,
					map_p[s * 4096], want);
		}
		if (step < PAGES - 1)
			map_p[step * 4096] = 'a' + step % 26;
		if (pread(p, &byte, 1, (step % PAGES) * 4096) != 1 || byte != 'p')
			kt_fail("memfd P took a private change");
		for (int i = 0; i < 4096; i++)
			if (map_p[(PAGES - 1) * 4096 + i])
				kt_fail("memfd P's zeroed private page holds %c",
					map_p[(PAGES - 1) * 4096 + i]);
		/* Q: only mapped. */
		if (map_q[0] != (uint64_t)step * 11 % 1000 && step)
			kt_fail("memfd Q holds %lu", map_q[0]);
		map_q[0] = (uint64_t)(step + 1) * 11 % 1000;
		for (int i = 0; i < 4096; i++)
			if (((char *)map_q)[4096 + i] != 'q')
				kt_fail("memfd Q lost its second page");
		kt_printf("step %d at %ld\n", step, (long)at);
		kt_sleep_ms(100);
	}
	kt_printf("done\n");
	return 0;
}
