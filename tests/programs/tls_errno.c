/* Thread-local storage (through fs_base) and errno survive a restore. */
#include "kcr_test.h"

static __thread uint64_t tls_counter = 11;
static __thread char tls_name[32] = "tls-initial";

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 50);

	snprintf(tls_name, sizeof(tls_name), "tls-%d", 42);
	for (int s = 0; s < steps; s++) {
		tls_counter = tls_counter * 3 + 1;
		errno = 1000 + s; /* an errno value no syscall would set */
		for (volatile long i = 0; i < 2000000; i++)
			;
		if (errno != 1000 + s)
			kt_fail("errno changed to %d at step %d", errno, s);
		if (strcmp(tls_name, "tls-42"))
			kt_fail("TLS string lost: %s", tls_name);
		kt_printf("step %d tls %llu %s\n", s, (unsigned long long)tls_counter, tls_name);
		kt_sleep_ms(70);
	}
	kt_printf("done\n");
	return 0;
}
