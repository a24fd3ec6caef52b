/*
 * The physical floor: the same number of bytes written to a file on the same
 * filesystem (then fsync'd) and read back, by a plain program.
 *   floor_io MIB FILE  -> prints "write_s read_s"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t bytes = (size_t)atoi(argv[1]) << 20, chunk = 1 << 20;
	uint64_t *mem = malloc(bytes), x = 88172645463325252ULL;
	double t0, t1, t2;
	int fd;

	if (argc < 3 || !mem)
		return 64;
	for (size_t i = 0; i < bytes / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
	}
	t0 = now();
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (size_t off = 0; off < bytes; off += chunk)
		if (write(fd, (char *)mem + off, chunk) != (ssize_t)chunk)
			return 1;
	fsync(fd);
	close(fd);
	t1 = now();
	fd = open(argv[2], O_RDONLY);
	for (size_t off = 0; off < bytes; off += chunk)
		if (read(fd, (char *)mem + off, chunk) != (ssize_t)chunk)
			return 1;
	close(fd);
	t2 = now();
	printf("%.3f %.3f\n", t1 - t0, t2 - t1);
	return 0;
}
