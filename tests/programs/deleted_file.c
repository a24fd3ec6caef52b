/* A file deleted while open: its contents travel in the image. argv[3]: dir. */
#include "kcr_test.h"

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	char path[512], buf[32];
	int fd;

	snprintf(path, sizeof(path), "%s/kcr-deleted.tmp", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		kt_fail("open %s", path);
	unlink(path);
	for (int s = 0; s < steps; s++) {
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
