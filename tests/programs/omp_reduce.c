/*
 * An OpenMP program as HPC codes are: parallel reductions, step after step,
 * with libgomp's worker threads spinning and sleeping between them.
 *
 *   omp_reduce OUTPUT [STEPS]      (OMP_NUM_THREADS chooses the threads)
 */
#include <omp.h>
#include "kcr_test.h"

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 80);
	double total = 0;

	for (int s = 0; s < steps; s++) {
		double sum = 0;

#pragma omp parallel for reduction(+ : sum) schedule(static)
		for (long i = 0; i < 400000; i++)
			sum += 1.0 / (double)((i + s) * 2 + 1) * ((i & 1) ? -1.0 : 1.0);
		total += sum;
		kt_printf("step %d threads %d sum %.12f total %.12f\n", s, omp_get_max_threads(),
			  sum, total);
		kt_sleep_ms(40);
	}
	kt_printf("done\n");
	return 0;
}
