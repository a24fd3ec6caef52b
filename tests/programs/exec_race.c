/*
 * The exec race: a process the caller may checkpoint starts a set-uid
 * program just as the checkpoint is asked for. The permission checks run in
 * the caller before the target stops, so an exec in between must abort the
 * checkpoint; it must never yield an image of the set-uid program.
 *
 *   exec_race SETUID_PROGRAM SECRET_FILE WORKDIR ROUNDS
 *
 * Each round forks a child that waits on a pipe and then execs
 * SETUID_PROGRAM with 1.5 MiB of arguments (a slow exec widens the
 * window); the parent releases it and checkpoints it through
 * kcr_checkpoint() a little later each round (0.25 ms more), so that the
 * rounds sweep across the exec. Prints one line per round and a summary; exits 1 if any
 * image holds the set-uid program (its comm), else 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <kcr/kcr.h>

#define NR_PAD 384 /* 1.5 MiB: an 8 MiB stack limit allows 2 MiB in all */
#define PAD_LEN 4096

int main(int argc, char **argv)
{
	static char pad[PAD_LEN];
	char **child_argv;
	int rounds, leaks = 0, images = 0, refused = 0;

	if (argc != 5)
		return fprintf(stderr, "usage: exec_race SETUID_PROGRAM SECRET WORKDIR ROUNDS\n"),
		       64;
	rounds = atoi(argv[4]);
	memset(pad, 'x', sizeof(pad) - 1);
	child_argv = calloc(NR_PAD + 6, sizeof(char *));
	for (int r = 0; r < rounds; r++) {
		char out[512], image[512];
		int p[2];
		pid_t child;
		kcr_error err = { 0 };
		kcr_image *img;
		kcr_image_summary sum;

		snprintf(out, sizeof(out), "%s/race-out.%d", argv[3], r);
		snprintf(image, sizeof(image), "%s/race.%d.kcr", argv[3], r);
		if (pipe(p))
			return perror("pipe"), 2;
		child = fork();
		if (child == 0) {
			char c;
			int n = 0;

			close(p[1]);
			if (read(p[0], &c, 1) != 1)
				_exit(3);
			close(p[0]); /* a pipe is no state kcr saves */
			child_argv[n++] = argv[1];
			child_argv[n++] = out;
			child_argv[n++] = argv[2];
			child_argv[n++] = "50";
			for (int i = 0; i < NR_PAD; i++)
				child_argv[n++] = pad;
			child_argv[n] = NULL;
			execv(argv[1], child_argv);
			_exit(4);
		}
		close(p[0]);
		/* Let it block in read() first, so the release is what starts the exec. */
		usleep(20000);
		if (write(p[1], "x", 1) != 1)
			return perror("write"), 2;
		close(p[1]);
		/* Later each round: one of them lands while the exec is under way. */
		usleep(r * 250);
		if (kcr_checkpoint(child, image, NULL, NULL, &err) != 0) {
			refused++;
			printf("round %d: refused: %s\n", r, err.message);
		} else {
			img = kcr_image_open(image, &err);
			if (!img || kcr_image_summary_get(img, &sum))
				return printf("round %d: cannot read image: %s\n", r, err.message),
				       2;
			images++;
			/* The child is still "exec_race" until its exec. */
			if (strcmp(sum.comm, "exec_race")) {
				leaks++;
				printf("round %d: LEAK: the image holds the set-uid program (%s, uid %u)\n",
				       r, sum.comm, sum.uid);
			} else {
				printf("round %d: image of the process before its exec (%s)\n", r,
				       sum.comm);
			}
			kcr_image_close(img);
		}
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	printf("exec race: %d rounds, %d images, %d refused, %d leaks\n", rounds, images, refused,
	       leaks);
	return leaks ? 1 : 0;
}
