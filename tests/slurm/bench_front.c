/*
 * bench_front: the cost of spank_kcr.so for a job that does not checkpoint,
 * measured without Slurm's own noise (docs/performance-slurm.md).
 *
 *   bench_front PATH/spank_kcr.so [ROUNDS]
 *
 * Plays slurmstepd: in a fresh child process per round it dlopen()s the
 * plugin and runs the callbacks a step launch runs (init, init_post_opt,
 * task_post_fork, task_init, task_exit, exit), with stub spank_* functions,
 * then reports the median and p90 per launch. srun runs only init (and
 * exit) of the same file. A benchmark, not a test.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slurm/spank.h>

/* What Slurm provides to a plugin, as stubs: a remote (slurmstepd) context
 * and a job without kcr options. */
spank_context_t spank_context(void) { return S_CTX_REMOTE; }
int spank_remote(spank_t sp) { (void)sp; return 1; }
spank_err_t spank_option_register(spank_t sp, struct spank_option *opt)
{
	(void)sp, (void)opt;
	return ESPANK_SUCCESS;
}
void slurm_error(const char *fmt, ...) { (void)fmt; }

typedef int (*callback_fn)(spank_t, int, char **);

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_front spank_kcr.so [ROUNDS]\n");
		return 64;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 200;
	double *us = calloc(rounds, sizeof(*us));
	char *args[] = { "config=/etc/kcr/kcr.yaml", NULL };
	const char *names[] = { "slurm_spank_init", "slurm_spank_init_post_opt",
				"slurm_spank_task_post_fork", "slurm_spank_task_init",
				"slurm_spank_task_exit", "slurm_spank_exit" };
	for (int r = 0; r < rounds; r++) {
		int pipefd[2];
		if (pipe(pipefd))
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			double t0 = now_us();
			void *h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
			if (!h) {
				fprintf(stderr, "%s\n", dlerror());
				_exit(1);
			}
			for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
				callback_fn f = (callback_fn)dlsym(h, names[i]);
				if (f && f(NULL, 1, args) != 0)
					_exit(2);
			}
			double d = now_us() - t0;
			if (write(pipefd[1], &d, sizeof(d)) != sizeof(d))
				_exit(3);
			_exit(0);
		}
		int status;
		close(pipefd[1]);
		if (read(pipefd[0], &us[r], sizeof(us[r])) != sizeof(us[r]))
			return 1;
		close(pipefd[0]);
		waitpid(pid, &status, 0);
	}
	qsort(us, rounds, sizeof(*us), cmp);
	printf("%s: dlopen + the callbacks of one step launch (no --checkpoint), %d rounds:\n"
	       "  median %.0f us, p90 %.0f us, max %.0f us\n",
	       argv[1], rounds, us[rounds / 2], us[rounds * 9 / 10], us[rounds - 1]);
	return 0;
}
