/*
 * A file deleted while open: its contents travel in the image.
 *   deleted_file OUTPUT [STEPS [DIR [MIB]]]
 * MIB: megabytes more of the file, past its lines, checked at every step (a
 * large deleted file, beyond what the module reads into memory).
 */
#include "kcr_test.h"

#define BLOCK (1 << 20)

static void fill(char *block, int i)
{
	for (int k = 0; k < BLOCK; k += 8)
		memcpy(block + k, &(uint64_t){ (uint64_t)i * 1000003u + k }, 8);
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	int mib = argc > 4 ? atoi(argv[4]) : 0;
	char path[512], buf[32];
	static char block[BLOCK], got[BLOCK];
	int fd;

	snprintf(path, sizeof(path), "%s/kcr-deleted.tmp", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		kt_fail("open %s", path);
	unlink(path);
	for (int i = 0; i < mib; i++) {
		fill(block, i);
		if (pwrite(fd, block, BLOCK, (off_t)(i + 1) * BLOCK) != BLOCK)
			kt_fail("writing block %d: %s", i, strerror(errno));
	}
	for (int s = 0; s < steps; s++) {
		if (mib) {
			int i = s % mib;

			fill(block, i);
			if (pread(fd, got, BLOCK, (off_t)(i + 1) * BLOCK) != BLOCK ||
			    memcmp(got, block, BLOCK))
				kt_fail("deleted file block %d wrong at step %d", i, s);
		}
		dprintf(fd, "line%04d\n", s);
		off_t end = lseek(fd, 0, SEEK_CUR);

		for (int k = 0; k <= s; k++) {
			if (pread(fd, buf, 9, (off_t)k * 9) != 9 || atoi(buf + 4) != k)
				kt_fail("deleted file line %d wrong at step %d", k, s);
		}
		if (end != (off_t)(s + 1) * 9)
			kt_fail("deleted file offset %ld", (long)end);
		kt_printf("step %d deleted file holds %d lines\n", s, s + 1);
		kt_sleep_ms(80);
	}
	kt_printf("done\n");
	return 0;
}
