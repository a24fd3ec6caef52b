/* A CPU-bound loop: counter and accumulator in registers, printed each step. */
#include "kcr_test.h"

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);
	uint64_t acc = 7;

	for (int s = 0; s < steps; s++) {
		for (long i = 0; i < 4000000; i++)
			acc = acc * 6364136223846793005ULL + 1442695040888963407ULL;
		kt_printf("step %d acc %016llx\n", s, (unsigned long long)acc);
		kt_sleep_ms(60);
	}
	kt_printf("done\n");
	return 0;
}
