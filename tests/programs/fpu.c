/*
 * FPU/SSE/AVX state live across the checkpoint: ymm accumulators stay in
 * registers through a long loop, MXCSR and the x87 control word are set to
 * non-default values, and every step re-derives the expected values.
 */
#include "kcr_test.h"
#include <fenv.h>
#include <immintrin.h>

__attribute__((target("avx"))) static void run_avx(int steps)
{
	__m256d a = _mm256_set_pd(1.0, 2.0, 3.0, 4.0);
	__m256d m = _mm256_set1_pd(1.0000001), c = _mm256_set1_pd(1e-9);

	for (int s = 0; s < steps; s++) {
		double out[4];

		/* The loop keeps a, m and c in ymm registers the whole time. */
		for (long i = 0; i < 3000000; i++)
			a = _mm256_add_pd(_mm256_mul_pd(a, m), c);
		_mm256_storeu_pd(out, a);
		kt_printf("step %d ymm %.17g %.17g %.17g %.17g\n", s, out[0], out[1], out[2],
			  out[3]);
		if (fegetround() != FE_TOWARDZERO)
			kt_fail("rounding mode lost at step %d", s);
		unsigned short cw;

		__asm__ volatile("fnstcw %0" : "=m"(cw));
		if ((cw & 0x0c00) != 0x0c00)
			kt_fail("x87 control word lost at step %d (%#x)", s, cw);
	}
}

static void run_sse(int steps)
{
	__m128d a = _mm_set_pd(1.0, 2.0), m = _mm_set1_pd(1.0000001), c = _mm_set1_pd(1e-9);

	for (int s = 0; s < steps; s++) {
		double out[2];

		for (long i = 0; i < 3000000; i++)
			a = _mm_add_pd(_mm_mul_pd(a, m), c);
		_mm_storeu_pd(out, a);
		kt_printf("step %d xmm %.17g %.17g\n", s, out[0], out[1]);
	}
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 30);
	unsigned short cw;

	fesetround(FE_TOWARDZERO); /* MXCSR and x87 rounding: towards zero */
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	cw |= 0x0c00;
	__asm__ volatile("fldcw %0" : : "m"(cw));
	if (__builtin_cpu_supports("avx"))
		run_avx(steps);
	else
		run_sse(steps);
	kt_printf("done\n");
	return 0;
}
