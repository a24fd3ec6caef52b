/*
 * N threads pass a token around a ring (mutex + condition variable), each
 * adding to its own counter; thread 0 prints one line per round. After a
 * restore everything must go on as before: the same threads (gettid() as
 * glibc cached it), their state, the mutex and condition variable, and at
 * the end pthread_join() of each and pthread_kill() of a thread still there.
 *
 *   thread_ring OUTPUT [ROUNDS [THREADS]]
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include "kcr_test.h"

#define MAX_THREADS 128

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static int nthreads, rounds, token;
static uint64_t acc[MAX_THREADS];
static pid_t tids[MAX_THREADS];
static volatile sig_atomic_t poked;

static void on_usr1(int sig)
{
	(void)sig;
	poked = 1;
}

static void *member(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (me + 1);

	tids[me] = (pid_t)syscall(SYS_gettid);
	for (int r = 0; r < rounds; r++) {
		pthread_mutex_lock(&lock);
		while (token != me)
			pthread_cond_wait(&turn, &lock);
		for (int i = 0; i < 20000; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		acc[me] += x >> 40;
		if (me == 0)
			kt_printf("round %d acc0 %016llx\n", r, (unsigned long long)acc[0]);
		if ((pid_t)syscall(SYS_gettid) != tids[me])
			kt_fail("thread %d: gettid() changed from %d", me, tids[me]);
		token = (token + 1) % nthreads;
		pthread_cond_broadcast(&turn);
		pthread_mutex_unlock(&lock);
		if (me == 0)
			kt_sleep_ms(30);
	}
	return (void *)(intptr_t)me;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	uint64_t sum = 0;

	rounds = kt_init(argc, argv, 60);
	nthreads = argc > 3 ? atoi(argv[3]) : 4;
	if (nthreads < 2 || nthreads > MAX_THREADS)
		kt_fail("threads: 2..%d", MAX_THREADS);
	signal(SIGUSR1, on_usr1);
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, member, (void *)(intptr_t)i))
			kt_fail("pthread_create");
	member((void *)0);
	/* Every thread still known to glibc by its own id. */
	for (int i = 1; i < nthreads; i++) {
		void *ret;

		if (pthread_join(th[i], &ret) || (intptr_t)ret != i)
			kt_fail("pthread_join of thread %d", i);
	}
	for (int i = 0; i < nthreads; i++)
		sum += acc[i];
	if (pthread_kill(pthread_self(), SIGUSR1) || !poked)
		kt_fail("pthread_kill on itself did not arrive");
	kt_printf("done: %d threads, %d rounds, sum %016llx\n", nthreads, rounds,
		  (unsigned long long)sum);
	return 0;
}
