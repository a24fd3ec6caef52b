/*
 * A large patterned heap (MiB in argv[3], default 256) checked every step,
 * and transparent huge pages still allowed (the restorer turns them off
 * while it fills memory, and must not leave them off).
 */
#include "kcr_test.h"
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 30);
	size_t mib = argc > 3 ? (size_t)atoi(argv[3]) : 256;
	size_t words = mib << 17;
	uint64_t *heap = malloc(words * 8);
	uint64_t expect = 0;

	if (!heap)
		kt_fail("malloc %zu MiB", mib);
	for (size_t i = 0; i < words; i++)
		heap[i] = i * 0x9e3779b97f4a7c15ULL ^ (i >> 7);
	expect = kt_hash64(heap, words, 1);
	for (int s = 0; s < steps; s++) {
		/* Touch one slice per step so the image changes over time. */
		size_t slice = words / (size_t)steps, lo = slice * (size_t)s;

		for (size_t i = lo; i < lo + slice; i += 512)
			heap[i] ^= 0x5555;
		for (size_t i = lo; i < lo + slice; i += 512)
			heap[i] ^= 0x5555;
		if (kt_hash64(heap, words, 1) != expect) {
			size_t bad = 0, first = words;

			for (size_t i = 0; i < words; i++) {
				if (heap[i] != (i * 0x9e3779b97f4a7c15ULL ^ (i >> 7))) {
					if (first == words)
						first = i;
					bad++;
				}
			}
			if (!bad)
				kt_fail("heap checksum changed at step %d, yet every word is right "
					"(the hash itself went wrong)",
					s);
			kt_fail("heap checksum changed at step %d: %zu words wrong, first at %p "
				"(word %zu: %#llx)",
				s, bad, (void *)&heap[first], first,
				(unsigned long long)heap[first]);
		}
		if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 0)
			kt_fail("transparent huge pages are disabled at step %d", s);
		kt_printf("step %d heap %zu MiB ok %016llx\n", s, mib, (unsigned long long)expect);
		kt_sleep_ms(50);
	}
	kt_printf("done\n");
	return 0;
}
