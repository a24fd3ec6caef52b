/*
 * Files at offsets: reads an input file a record per step (its offset must
 * survive), appends to a log opened O_APPEND, and writes a data file through
 * lseek+write at a moving offset. argv[3] is a scratch directory.
 */
#include "kcr_test.h"

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	char path[512], rec[16];
	int in, log, data;

	snprintf(path, sizeof(path), "%s/kcr-input.txt", dir);
	in = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; i < 100; i++)
		dprintf(in, "record%09d\n", i); /* 15 characters + newline = 16 bytes */
	lseek(in, 0, SEEK_SET);
	snprintf(path, sizeof(path), "%s/kcr-append.log", dir);
	log = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	snprintf(path, sizeof(path), "%s/kcr-data.bin", dir);
	data = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || log < 0 || data < 0)
		kt_fail("open files in %s", dir);
	for (int s = 0; s < steps; s++) {
		off_t expect = (off_t)s * 16;

		if (lseek(in, 0, SEEK_CUR) != expect)
			kt_fail("input offset %ld, expected %ld", (long)lseek(in, 0, SEEK_CUR),
				(long)expect);
		if (read(in, rec, 16) != 16 || memcmp(rec, "record", 6) || atoi(rec + 6) != s)
			kt_fail("input record %d wrong", s);
		dprintf(log, "log %d\n", s);
		lseek(data, (off_t)s * 1000, SEEK_SET);
		dprintf(data, "data%d", s);
		kt_printf("step %d read %.14s\n", s, rec);
		kt_sleep_ms(80);
	}
	/* Check what the files hold, as a whole. */
	char buf[64];

	for (int s = 0; s < steps; s++) {
		int n = (int)pread(data, buf, 8, (off_t)s * 1000);

		if (n < 5 || memcmp(buf, "data", 4) || atoi(buf + 4) != s)
			kt_fail("data file wrong at record %d", s);
	}
	kt_printf("log size %ld\ndone\n", (long)lseek(log, 0, SEEK_END));
	return 0;
}
