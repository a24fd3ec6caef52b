/*
 * The process both tools checkpoint: MIB of touched, incompressible memory,
 * then idle until TRIGGER exists; then it writes the time (CLOCK_REALTIME,
 * seconds) into TRIGGER.resumed — the moment a restore is done, taken by the
 * program itself so the harness need not poll — checks its memory and exits.
 *   bench_target MIB TRIGGER READY_FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t words = (size_t)atoi(argv[1]) << 17;
	uint64_t *mem = malloc(words * 8), x = 88172645463325252ULL, sum = 0, check = 0;
	struct timespec tick = { 0, 2000000 }, now;
	FILE *ready;

	if (argc < 4 || !mem)
		return 64;
	for (size_t i = 0; i < words; i++) {
		x ^= x << 13; /* xorshift: incompressible */
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
		sum += x;
	}
	ready = fopen(argv[3], "w");
	fprintf(ready, "%d\n", getpid());
	fclose(ready);
	char resumed[4096];

	snprintf(resumed, sizeof(resumed), "%s.resumed", argv[2]);
	while (access(argv[2], F_OK) != 0)
		nanosleep(&tick, NULL);
	clock_gettime(CLOCK_REALTIME, &now);
	ready = fopen(resumed, "w");
	fprintf(ready, "%lld.%09ld\n", (long long)now.tv_sec, now.tv_nsec);
	fclose(ready);
	for (size_t i = 0; i < words; i++)
		check += mem[i];
	return check == sum ? 0 : 3;
}
