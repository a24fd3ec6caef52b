/*
 * The module's own check of the caller's proof of ptrace access, without
 * libkcr (which opens the proof itself and refuses first):
 *
 *   checkpoint_probe none PID         no proof (access_fd -1)
 *   checkpoint_probe self PID         the caller's own /proc/self/mem
 *   checkpoint_probe other PID OTHER  /proc/OTHER/mem, a process the caller may attach to
 *   checkpoint_probe environ PID      /proc/PID/environ: procfs, not "mem"
 *   checkpoint_probe file PID DIR     a regular file DIR/mem
 *   checkpoint_probe stale PID        /proc/PID/mem, then PID is told (SIGUSR1) to exec
 *                                     and the proof is used after that
 *   checkpoint_probe fd PID FD        descriptor FD, inherited from whoever opened it
 *   checkpoint_probe good PID         /proc/PID/mem opened here: must succeed
 *
 * Prints "refused: REASON (ERRNO)" or "checkpointed"; the image goes to a
 * scratch file that is removed. Exit 0 when the outcome is the expected one
 * (refused for all but "good"), 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <kcr_uapi.h>

static int open_proc(const char *pid, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%s/%s", pid, what);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int main(int argc, char **argv)
{
	struct kcr_checkpoint_args a = { .size = sizeof(a) };
	char image[] = "/tmp/kcr-probe.XXXXXX";
	const char *mode = argc > 2 ? argv[1] : "";
	int dev = open(KCR_DEVICE_PATH, O_RDWR | O_CLOEXEC), proof = -1, rc, e;

	if (argc < 3 || dev < 0)
		return fprintf(stderr, "usage: checkpoint_probe MODE PID [ARG] (and /dev/kcr)\n"),
		       64;
	a.pid = atoi(argv[2]);
	if (!strcmp(mode, "self")) {
		proof = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	} else if (!strcmp(mode, "other") && argc > 3) {
		proof = open_proc(argv[3], "mem");
	} else if (!strcmp(mode, "environ")) {
		proof = open_proc(argv[2], "environ");
	} else if (!strcmp(mode, "file") && argc > 3) {
		char path[512];

		snprintf(path, sizeof(path), "%s/mem", argv[3]);
		proof = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	} else if (!strcmp(mode, "stale")) {
		proof = open_proc(argv[2], "mem");
		kill(a.pid, SIGUSR1);
		sleep(2);
	} else if (!strcmp(mode, "fd") && argc > 3) {
		proof = atoi(argv[3]);
	} else if (!strcmp(mode, "good")) {
		proof = open_proc(argv[2], "mem");
	} else if (strcmp(mode, "none")) {
		return fprintf(stderr, "unknown mode %s\n", mode), 64;
	}
	if (strcmp(mode, "none") && proof < 0)
		return fprintf(stderr, "opening the proof failed: %s\n", strerror(errno)), 2;
	a.access_fd = proof;
	a.out_fd = mkstemp(image);
	rc = ioctl(dev, KCR_IOC_CHECKPOINT, &a);
	e = errno;
	unlink(image);
	if (rc == 0) {
		printf("checkpointed\n");
		return strcmp(mode, "good") ? 1 : 0;
	}
	printf("refused: %s (%s)\n", a.reason, strerror(e));
	return strcmp(mode, "good") ? 0 : 1;
}
