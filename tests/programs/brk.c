/* The heap keeps growing by brk after the restore; old blocks stay intact. */
#include "kcr_test.h"

#define MAX_BLOCKS 64

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 60);
	char *blocks[MAX_BLOCKS];
	void *start = sbrk(0);

	if (steps > MAX_BLOCKS)
		steps = MAX_BLOCKS;
	for (int s = 0; s < steps; s++) {
		char *b = sbrk(40000);

		if (b == (void *)-1)
			kt_fail("sbrk failed at step %d: %s", s, strerror(errno));
		memset(b, 'a' + s % 26, 40000);
		blocks[s] = b;
		for (int k = 0; k <= s; k++)
			for (int i = 0; i < 40000; i += 997)
				if (blocks[k][i] != 'a' + k % 26)
					kt_fail("block %d corrupt at step %d", k, s);
		kt_printf("step %d brk +%ld\n", s, (long)((char *)sbrk(0) - (char *)start));
		kt_sleep_ms(60);
	}
	kt_printf("done\n");
	return 0;
}
