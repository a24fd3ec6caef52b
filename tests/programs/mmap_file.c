/*
 * File mappings: a private mapping whose pages the program changes (saved as
 * copied-on-write pages), a shared file mapping whose changes live in the file,
 * and a shared anonymous mapping. argv[3] is a scratch directory.
 */
#include "kcr_test.h"
#include <sys/mman.h>

#define PAGES 64
#define PG 4096

static char *map_file(const char *dir, const char *name, int shared, int fill)
{
	char path[512];
	int fd;
	char *p;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, PAGES * PG))
		kt_fail("create %s", path);
	for (int i = 0; i < PAGES * PG; i += PG) {
		char c = (char)(fill + i / PG);

		if (pwrite(fd, &c, 1, i) != 1)
			kt_fail("fill %s", path);
	}
	p = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd,
		 0);
	if (p == MAP_FAILED)
		kt_fail("mmap %s", path);
	close(fd); /* the mapping keeps the file */
	return p;
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	char *priv = map_file(dir, "kcr-private.dat", 0, 1);
	char *shared = map_file(dir, "kcr-shared.dat", 1, 100);
	char *anon =
		mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (anon == MAP_FAILED)
		kt_fail("mmap shared anon");
	for (int s = 0; s < steps; s++) {
		int pg = s % PAGES;

		priv[pg * PG + 7] = (char)(s + 1);
		shared[pg * PG + 9] = (char)(s + 2);
		anon[pg * PG + 11] = (char)(s + 3);
		for (int k = 0; k <= s && k < PAGES; k++) {
			if (priv[k * PG] != (char)(1 + k) || priv[k * PG + 7] != (char)(k + 1))
				kt_fail("private page %d wrong at step %d", k, s);
			if (shared[k * PG] != (char)(100 + k) ||
			    shared[k * PG + 9] != (char)(k + 2))
				kt_fail("shared page %d wrong at step %d", k, s);
			if (anon[k * PG + 11] != (char)(k + 3))
				kt_fail("shared anon page %d wrong at step %d", k, s);
		}
		kt_printf("step %d mappings ok\n", s);
		kt_sleep_ms(80);
	}
	msync(shared, PAGES * PG, MS_SYNC);
	kt_printf("done\n");
	return 0;
}
