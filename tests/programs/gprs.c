/*
 * Every general-purpose register holds a live 64-bit value across the
 * checkpoint: a long assembly loop keeps 14 of them busy (rcx counts). Any
 * register the restore gets wrong — even only its upper half — changes the
 * printed sums.
 */
#include "kcr_test.h"

static void spin(uint64_t v[14], uint64_t iterations)
{
	__asm__ volatile("push %%rbp\n\t"
			 "push %%rbx\n\t"
			 "push %%r12\n\t"
			 "push %%r13\n\t"
			 "push %%r14\n\t"
			 "push %%r15\n\t"
			 "push %%rdi\n\t" /* v */
			 "mov 0(%%rdi), %%rax\n\t"
			 "mov 8(%%rdi), %%rbx\n\t"
			 "mov 16(%%rdi), %%rdx\n\t"
			 "mov 24(%%rdi), %%rsi\n\t"
			 "mov 32(%%rdi), %%rbp\n\t"
			 "mov 40(%%rdi), %%r8\n\t"
			 "mov 48(%%rdi), %%r9\n\t"
			 "mov 56(%%rdi), %%r10\n\t"
			 "mov 64(%%rdi), %%r11\n\t"
			 "mov 72(%%rdi), %%r12\n\t"
			 "mov 80(%%rdi), %%r13\n\t"
			 "mov 88(%%rdi), %%r14\n\t"
			 "mov 96(%%rdi), %%r15\n\t"
			 "mov 104(%%rdi), %%rdi\n\t"
			 "1:\n\t"
			 "add %%r15, %%rax\n\t"
			 "xor %%rax, %%rbx\n\t"
			 "add %%rbx, %%rdx\n\t"
			 "rol $7, %%rsi\n\t"
			 "add %%rdx, %%rsi\n\t"
			 "xor %%rsi, %%rbp\n\t"
			 "add %%rbp, %%r8\n\t"
			 "rol $13, %%r9\n\t"
			 "xor %%r8, %%r9\n\t"
			 "add %%r9, %%r10\n\t"
			 "xor %%r10, %%r11\n\t"
			 "add %%r11, %%r12\n\t"
			 "rol $17, %%r13\n\t"
			 "add %%r12, %%r13\n\t"
			 "xor %%r13, %%r14\n\t"
			 "add %%r14, %%r15\n\t"
			 "add %%r15, %%rdi\n\t"
			 "dec %%rcx\n\t"
			 "jnz 1b\n\t"
			 "xchg %%rdi, (%%rsp)\n\t" /* rdi = v, stack slot = last value */
			 "mov %%rax, 0(%%rdi)\n\t"
			 "mov %%rbx, 8(%%rdi)\n\t"
			 "mov %%rdx, 16(%%rdi)\n\t"
			 "mov %%rsi, 24(%%rdi)\n\t"
			 "mov %%rbp, 32(%%rdi)\n\t"
			 "mov %%r8, 40(%%rdi)\n\t"
			 "mov %%r9, 48(%%rdi)\n\t"
			 "mov %%r10, 56(%%rdi)\n\t"
			 "mov %%r11, 64(%%rdi)\n\t"
			 "mov %%r12, 72(%%rdi)\n\t"
			 "mov %%r13, 80(%%rdi)\n\t"
			 "mov %%r14, 88(%%rdi)\n\t"
			 "mov %%r15, 96(%%rdi)\n\t"
			 "pop %%rax\n\t"
			 "mov %%rax, 104(%%rdi)\n\t"
			 "pop %%r15\n\t"
			 "pop %%r14\n\t"
			 "pop %%r13\n\t"
			 "pop %%r12\n\t"
			 "pop %%rbx\n\t"
			 "pop %%rbp\n\t"
			 : "+D"(v), "+c"(iterations)
			 :
			 : "rax", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc");
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 60);
	uint64_t v[14];

	for (int i = 0; i < 14; i++)
		v[i] = 0x0123456789abcdefULL * (uint64_t)(i + 1) ^ (0xfedcba9876543210ULL >> i);
	for (int s = 0; s < steps; s++) {
		spin(v, 3000000);
		kt_printf("step %d", s);
		for (int i = 0; i < 14; i++)
			kt_printf(" %016llx", (unsigned long long)v[i]);
		kt_printf("\n");
		kt_sleep_ms(60);
	}
	kt_printf("done\n");
	return 0;
}
