/*
 * A process tree: a parent in a session of its own, workers that each send
 * their results through a pipe of their own, a zombie, and two idle
 * children for a group signal. The parent reads the pipes slowly, one line
 * from each worker in turn, so they hold unread data at any moment and the
 * output is deterministic. The workers' pipes are one page (F_SETPIPE_SZ),
 * so the workers block on them most of the time. Every process checks its own pid, parent and
 * group against what it saw at its start; the parent also checks the
 * zombie's exit status and that kill(-pgid) reaches the whole group, and
 * worker 0 writes its last line through the output file it shares with the
 * parent (one open file, one offset). Each worker also notes the round it
 * is at in anonymous memory it shares with the parent (MAP_SHARED before
 * the fork): the parent, reading round r of a worker, must see at least r
 * there, which holds only while the memory is still shared.
 *
 *   process_tree OUT [ROUNDS] [WORKERS]
 */
#include "kcr_test.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MAX_WORKERS 16

static void check_ids(pid_t pid, pid_t ppid, pid_t pgid, pid_t sid, const char *who)
{
	if (getpid() != pid || getppid() != ppid || getpgrp() != pgid || getsid(0) != sid)
		kt_fail("%s: ids changed: pid %d/%d ppid %d/%d pgid %d/%d sid %d/%d", who, getpid(),
			pid, getppid(), ppid, getpgrp(), pgid, getsid(0), sid);
}

static uint64_t work(int worker, int round)
{
	uint64_t x = (uint64_t)worker * 1000003u + (uint64_t)round;

	for (int i = 0; i < 20000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

static volatile int *progress; /* per worker, shared: the round it sent last */

static void run_worker(int w, int rounds, int out_fd, int token_fd, pid_t parent, pid_t pgid,
		       pid_t sid)
{
	pid_t me = getpid();
	char line[128];

	for (int r = 0; r < rounds; r++) {
		int n = snprintf(line, sizeof(line), "w%d r%d %016llx\n", w, r,
				 (unsigned long long)work(w, r));

		progress[w] = r;
		if (write(out_fd, line, (size_t)n) != n)
			kt_fail("worker %d: write: %s", w, strerror(errno));
		check_ids(me, parent, pgid, sid, "worker");
	}
	close(out_fd);
	if (w == 0) {
		/* The last line of the output, once the parent says so. */
		char t;

		if (read(token_fd, &t, 1) != 1)
			kt_fail("worker 0: no token");
		kt_printf("worker 0 writes last through the shared file\n");
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	int rounds = kt_init(argc, argv, 300);
	int workers = argc > 3 ? atoi(argv[3]) : 3;
	int from[MAX_WORKERS], token[2];
	pid_t worker_pid[MAX_WORKERS], idle[2], zombie;
	uint64_t sum = 0;
	FILE *in[MAX_WORKERS];

	if (workers < 1 || workers > MAX_WORKERS)
		kt_fail("1 to %d workers", MAX_WORKERS);
	if (setsid() < 0)
		kt_fail("setsid: %s", strerror(errno));
	pid_t me = getpid(), pgid = getpgrp(), sid = getsid(0);

	signal(SIGTERM, SIG_IGN);
	progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (progress == MAP_FAILED)
		kt_fail("mmap: %s", strerror(errno));
	/* With an madvise() flag: shared again after the restore, and flagged. */
	if (madvise((void *)progress, 4096, MADV_DONTDUMP) != 0)
		kt_fail("madvise: %s", strerror(errno));
	if (pipe(token) != 0)
		kt_fail("pipe: %s", strerror(errno));
	zombie = fork();
	if (zombie == 0)
		_exit(7);
	for (int i = 0; i < 2; i++) {
		idle[i] = fork();
		if (idle[i] == 0) {
			signal(SIGTERM, SIG_DFL);
			for (;;)
				pause();
		}
	}
	for (int w = 0; w < workers; w++) {
		int p[2];

		if (pipe(p) != 0)
			kt_fail("pipe: %s", strerror(errno));
		/* One page: the workers block on a full pipe most of the time. */
		if (fcntl(p[0], F_SETPIPE_SZ, 4096) != 4096)
			kt_fail("F_SETPIPE_SZ: %s", strerror(errno));
		worker_pid[w] = fork();
		if (worker_pid[w] == 0) {
			close(p[0]);
			run_worker(w, rounds, p[1], token[0], me, pgid, sid);
		}
		close(p[1]);
		from[w] = p[0];
		in[w] = fdopen(p[0], "r");
	}
	kt_printf("tree of %d workers, %d rounds\n", workers, rounds);
	for (int r = 0; r < rounds; r++) {
		for (int w = 0; w < workers; w++) {
			char line[128], want[128];

			if (!fgets(line, sizeof(line), in[w]))
				kt_fail("worker %d ended early at round %d", w, r);
			snprintf(want, sizeof(want), "w%d r%d %016llx\n", w, r,
				 (unsigned long long)work(w, r));
			if (strcmp(line, want))
				kt_fail("worker %d round %d sent %s", w, r, line);
			if (progress[w] < r)
				kt_fail("worker %d sent round %d but its shared note says %d: the memory is no longer shared",
					w, r, progress[w]);
			sum += strtoull(line + strlen(line) - 17, NULL, 16);
		}
		for (int w = 0; w < workers; w++) {
			if (fcntl(from[w], F_GETPIPE_SZ) != 4096)
				kt_fail("pipe %d holds %d bytes, not 4096", w,
					fcntl(from[w], F_GETPIPE_SZ));
		}
		if (r % 20 == 0)
			kt_printf("round %d sum %016llx\n", r, (unsigned long long)sum);
		check_ids(me, getppid(), pgid, sid, "parent");
		usleep(2000); /* slower than the workers: the pipes fill */
	}
	if (write(token[1], "t", 1) != 1)
		kt_fail("token: %s", strerror(errno));
	for (int w = 0; w < workers; w++) {
		int st;

		if (waitpid(worker_pid[w], &st, 0) != worker_pid[w] || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			kt_fail("worker %d ended badly (%#x)", w, st);
	}
	int st;

	if (waitpid(zombie, &st, 0) != zombie || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		kt_fail("the zombie's status is %#x, not exit 7", st);
	kt_printf("zombie reaped: exit %d\n", WEXITSTATUS(st));
	if (kill(-pgid, SIGTERM) != 0)
		kt_fail("kill(-%d): %s", pgid, strerror(errno));
	for (int i = 0; i < 2; i++) {
		if (waitpid(idle[i], &st, 0) != idle[i] || !WIFSIGNALED(st) ||
		    WTERMSIG(st) != SIGTERM)
			kt_fail("idle child %d: %#x, not ended by the group's SIGTERM", i, st);
	}
	kt_printf("group signal reached both idle children\n");
	kt_printf("done: sum %016llx\n", (unsigned long long)sum);
	return 0;
}
