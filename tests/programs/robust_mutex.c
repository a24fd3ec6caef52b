/*
 * A robust mutex held across the checkpoint: its word holds the owner's
 * thread id and the kernel walks the owner's robust list when it exits, so
 * both must be the same after a restore. A worker holds the mutex while it
 * works; the main thread takes it in turn (a condition variable passes the
 * turn, so the output does not depend on timing); at the end the worker
 * exits holding it, and the main thread must get EOWNERDEAD, make it
 * consistent and use it again.
 *
 *   robust_mutex OUTPUT [STEPS]
 */
#include <pthread.h>
#include <sys/syscall.h>
#include "kcr_test.h"

static pthread_mutex_t m;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int steps, turn; /* 0: the worker's, 1: the main thread's */
static int shared_counter;

static void lock(void)
{
	if (pthread_mutex_lock(&m))
		kt_fail("lock");
}

static void *worker(void *arg)
{
	(void)arg;
	for (int s = 0; s < steps; s++) {
		lock();
		while (turn != 0)
			pthread_cond_wait(&changed, &m);
		shared_counter++;
		kt_sleep_ms(60); /* holds it: the checkpoint often lands here */
		turn = 1;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&m);
	}
	/* Once the main thread has printed its last step: dies holding it. */
	lock();
	while (turn != 0)
		pthread_cond_wait(&changed, &m);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_mutexattr_t a;
	pthread_t t;
	int rc;

	steps = kt_init(argc, argv, 60);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&m, &a);
	pthread_create(&t, NULL, worker, NULL);
	for (int s = 0; s < steps; s++) {
		lock();
		while (turn != 1)
			pthread_cond_wait(&changed, &m);
		kt_printf("step %d counter %d\n", s, shared_counter);
		turn = 0;
		pthread_cond_broadcast(&changed);
		pthread_mutex_unlock(&m);
		kt_sleep_ms(5);
	}
	pthread_join(t, NULL);
	rc = pthread_mutex_lock(&m);
	if (rc != EOWNERDEAD)
		kt_fail("the dead owner's robust mutex gave %d, not EOWNERDEAD", rc);
	pthread_mutex_consistent(&m);
	pthread_mutex_unlock(&m);
	if (pthread_mutex_lock(&m))
		kt_fail("lock after recovery");
	kt_printf("done: robust mutex recovered, counter %d\n", shared_counter);
	return 0;
}
