/*
 * State a process shares with itself, which a restore must keep shared:
 * two descriptors of one open file (dup: one offset), beside a second,
 * independent open of the same file (its own offset); and its memory's
 * mlock() and madvise() settings. Each step writes through both dup'd
 * descriptors and checks their offset is one, and prints the mappings'
 * flags as /proc/self/smaps shows them.
 *
 *   shared_state OUTPUT [STEPS] DIR
 */
#include <sys/mman.h>
#include "kcr_test.h"

#define MIB (1UL << 20)

static char *region(size_t len, int advice)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		kt_fail("mmap: %s", strerror(errno));
	if (advice >= 0 && madvise(p, len, advice))
		kt_fail("madvise %d: %s", advice, strerror(errno));
	memset(p, 0x5a, len);
	return p;
}

/* The VmFlags line of the mapping at addr, as the kernel shows it. */
static void flags_of(const void *addr, char *out, size_t size)
{
	char line[512];
	unsigned long want = (unsigned long)addr, start, end;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = want >= start && want < end;
		else if (in && !strncmp(line, "VmFlags:", 8))
			snprintf(out, size, "%.255s", line + 9);
	}
	if (f)
		fclose(f);
	out[strcspn(out, "\n")] = 0;
}

static void show(const char *name, const void *addr, const char *want)
{
	char flags[256];
	flags_of(addr, flags, sizeof(flags));
	if (!strstr(flags, want))
		kt_fail("%s lost its %s flag: %s", name, want, flags);
	kt_printf("%s has %s\n", name, want);
}

static void check_own_stat(int fd)
{
	char buf[64] = { 0 };

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		kt_fail("reading /proc/self/stat: %s", strerror(errno));
	if (atoi(buf) != getpid())
		kt_fail("/proc/self/stat held open names pid %d, not this process (%d)", atoi(buf),
			getpid());
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	char path[512];
	int a, b, other, self_stat;
	char *locked, *nofork, *nodump, *huge, *nohuge;

	if (argc < 4)
		kt_fail("usage: shared_state OUTPUT STEPS DIR");
	snprintf(path, sizeof(path), "%s/shared.dat", argv[3]);
	a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	b = dup(a);
	other = open(path, O_RDONLY);
	/* Held open across the checkpoint: must still be this process's own. */
	self_stat = open("/proc/self/stat", O_RDONLY);
	if (a < 0 || b < 0 || other < 0 || self_stat < 0)
		kt_fail("open: %s", strerror(errno));
	locked = region(MIB, -1);
	if (mlock(locked, MIB))
		kt_fail("mlock: %s", strerror(errno));
	nofork = region(MIB, MADV_DONTFORK);
	nodump = region(MIB, MADV_DONTDUMP);
	huge = region(4 * MIB, MADV_HUGEPAGE);
	nohuge = region(MIB, MADV_NOHUGEPAGE);
	for (int s = 0; s < steps; s++) {
		off_t before = lseek(a, 0, SEEK_CUR), after_b;

		if (write(a, "AAAA", 4) != 4 || write(b, "BBBB", 4) != 4)
			kt_fail("write: %s", strerror(errno));
		after_b = lseek(b, 0, SEEK_CUR);
		if (after_b != before + 8 || lseek(a, 0, SEEK_CUR) != after_b)
			kt_fail("step %d: dup'd offsets no longer one: %ld and %ld", s,
				(long)lseek(a, 0, SEEK_CUR), (long)after_b);
		if (lseek(other, 0, SEEK_CUR) != 0)
			kt_fail("step %d: the independent open moved", s);
		kt_printf("step %d offset %ld\n", s, (long)after_b);
		check_own_stat(self_stat);
		show("locked", locked, "lo");
		show("nofork", nofork, "dc");
		show("nodump", nodump, "dd");
		show("huge", huge, "hg");
		show("nohuge", nohuge, "nh");
		kt_sleep_ms(60);
	}
	kt_printf("done\n");
	return 0;
}
