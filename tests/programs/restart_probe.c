/*
 * Proves a refused restore leaves its caller untouched. The probe fills some
 * memory, opens a file, then asks for a restore that must fail:
 *   restart_probe lib IMAGE   through kcr_restart() (all of libkcr's checks)
 *   restart_probe raw IMAGE   straight to the RESTORE ioctl (the module alone
 *                             must refuse a bad image without harm)
 *   restart_probe dry IMAGE   the module's dry run alone (KCR_RST_VALIDATE_ONLY):
 *                             exits 0 only if it accepts the image
 *   restart_probe ranges GOOD_IMAGE
 *                             hostile prefilled-range arguments with a good
 *                             image: ignored by a dry run, refused (EFAULT,
 *                             EINVAL) by a real restore before any change
 * It then checks its memory, fds and cwd, prints the error, and exits 0 only
 * if the restore was refused and everything is intact. Any further arguments
 * are addresses (hex) where the image has mappings: none of them may be left
 * mapped in the caller (libkcr maps and fills memory before it verifies all
 * of it, and must take that back on a refusal).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <kcr/kcr.h>
#include <kcr_uapi.h>

#define WORDS (4 << 20)

static uint64_t sum(const uint64_t *w)
{
	uint64_t h = 7;

	for (size_t i = 0; i < WORDS; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

/* Restore arguments for IMAGE straight to the module, as libkcr would build them. */
static struct kcr_restore_args raw_args(const char *image, int *dev)
{
	struct kcr_restore_args a = { .size = sizeof(a) };

	*dev = open(KCR_DEVICE_PATH, O_RDWR);
	a.image_fd = open(image, O_RDONLY);
	a.device_fd = *dev;
	return a;
}

int main(int argc, char **argv)
{
	uint64_t *mem = malloc(WORDS * 8), before;
	char cwd_before[512], cwd_after[512];
	int fd = open("/proc/self/status", O_RDONLY), rc;

	if (argc < 3 || !mem || fd < 0)
		return fprintf(stderr, "usage: restart_probe lib|raw|ranges IMAGE\n"), 64;
	for (size_t i = 0; i < WORDS; i++)
		mem[i] = i * 0x9e3779b97f4a7c15ULL;
	before = sum(mem);
	getcwd(cwd_before, sizeof(cwd_before));
	if (!strcmp(argv[1], "dry")) {
		int dev;
		struct kcr_restore_args a = raw_args(argv[2], &dev);

		a.flags = KCR_RST_VALIDATE_ONLY;
		if (ioctl(dev, KCR_IOC_RESTORE, &a) != 0) {
			printf("refused by the dry run: %s (%s)\n", a.reason, strerror(errno));
			return 1;
		}
		printf("accepted by the module's dry run\n");
		return 0;
	}
	if (!strcmp(argv[1], "lib")) {
		kcr_error err = { 0 };

		rc = kcr_restart(argv[2], NULL, &err);
		printf("refused: %s\n", err.message);
	} else if (!strcmp(argv[1], "ranges")) {
		int dev;
		struct kcr_restore_args a = raw_args(argv[2], &dev);

		a.flags = KCR_RST_VALIDATE_ONLY;
		a.nr_prefilled = 3; /* with no array at all */
		if (ioctl(dev, KCR_IOC_RESTORE, &a) != 0) {
			printf("FAIL: dry run with ranges: %s (%s)\n", a.reason, strerror(errno));
			return 1;
		}
		a.flags = 0;
		a.prefilled = 1; /* not a readable address */
		if (ioctl(dev, KCR_IOC_RESTORE, &a) == 0 || errno != EFAULT) {
			printf("FAIL: a bad range pointer was not refused with EFAULT\n");
			return 1;
		}
		a.nr_prefilled = KCR_MAX_PREFILLED + 1;
		if (ioctl(dev, KCR_IOC_RESTORE, &a) == 0 || errno != EINVAL) {
			printf("FAIL: too many ranges were not refused with EINVAL\n");
			return 1;
		}
		printf("refused: bad ranges (EFAULT, EINVAL); dry run ignored them\n");
		rc = -1;
	} else {
		int dev;
		struct kcr_restore_args a = raw_args(argv[2], &dev);

		rc = ioctl(dev, KCR_IOC_RESTORE, &a);
		printf("refused: %s (%s)\n", a.reason, strerror(errno));
		if (rc == 0)
			rc = -1;
	}
	if (rc == 0) {
		printf("FAIL: restore reported success\n");
		return 1;
	}
	getcwd(cwd_after, sizeof(cwd_after));
	if (sum(mem) != before || strcmp(cwd_before, cwd_after) || fcntl(fd, F_GETFD) < 0) {
		printf("FAIL: the caller was changed by a refused restore\n");
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		unsigned long addr = strtoul(argv[i], NULL, 16);
		char line[512];
		FILE *maps = fopen("/proc/self/maps", "r");

		while (maps && fgets(line, sizeof(line), maps)) {
			unsigned long start, end;

			if (sscanf(line, "%lx-%lx", &start, &end) == 2 && addr >= start &&
			    addr < end) {
				printf("FAIL: the image's mapping at %lx is left in the caller: %s",
				       addr, line);
				return 1;
			}
		}
		if (maps)
			fclose(maps);
	}
	printf("caller intact\n");
	return 0;
}
