/*
 * Holds a file lock, or what kcr cannot save, touches READY, and waits (60 s),
 * so that a test can check the lock is kept across a restore, or the
 * checkpoint is refused naming what it cannot save and the process runs on:
 *
 *   lock_holder MODE DIR READY
 *
 * MODE: flock, posix, ofd, lease, deleted-flock, memfd, memfd-hugetlb,
 * memfd-future-write (mapped writable, then sealed), sysv-shm,
 * timerfd, signalfd, inotify, epoll; and, with a child (a process tree):
 * clone-files (the child shares the descriptor table), clone-signal (the
 * child ends with SIGUSR1 to its parent, not SIGCHLD), pipe-rdwr (a pipe
 * open for reading and writing).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static void wait_a_minute(void)
{
	/* A sleep a restore interrupts (EINTR) goes on: the program must outlive it. */
	for (time_t end = time(NULL) + 60; time(NULL) < end;)
		sleep(1);
}

/* A child made by clone(2) with FLAGS, which waits a minute. */
static int child(unsigned long flags)
{
	long pid = syscall(SYS_clone, flags, NULL, NULL, NULL, 0);

	if (pid == 0) {
		wait_a_minute();
		_exit(0);
	}
	return pid < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	char path[512];
	int fd = -1;
	FILE *ready;

	if (argc != 4)
		return fprintf(stderr, "usage: lock_holder MODE DIR READY\n"), 64;
	snprintf(path, sizeof(path), "%s/locked.dat", argv[2]);
	if (!strcmp(argv[1], "flock") || !strcmp(argv[1], "posix") || !strcmp(argv[1], "ofd")) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };

		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 ||
		    (!strcmp(argv[1], "flock") ?
			     flock(fd, LOCK_EX) :
			     fcntl(fd, !strcmp(argv[1], "posix") ? F_SETLK : F_OFD_SETLK, &fl)))
			return perror("lock"), 1;
	} else if (!strcmp(argv[1], "lease")) {
		fd = open(path, O_RDONLY | O_CREAT, 0644);
		if (fd < 0 || fcntl(fd, F_SETLEASE, F_RDLCK))
			return perror("lease"), 1;
	} else if (!strcmp(argv[1], "deleted-flock")) {
		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || flock(fd, LOCK_EX) || unlink(path))
			return perror("deleted-flock"), 1;
	} else if (!strcmp(argv[1], "memfd")) {
		fd = memfd_create("kcr-test", 0);
		if (fd < 0 || ftruncate(fd, 4096))
			return perror("memfd"), 1;
	} else if (!strcmp(argv[1], "memfd-hugetlb")) {
		fd = memfd_create("kcr-test", MFD_HUGETLB);
		if (fd < 0)
			return perror("memfd"), 1;
	} else if (!strcmp(argv[1], "memfd-future-write")) {
		/* Mapped writable, then sealed: no mapping like it can be made again. */
		fd = memfd_create("kcr-test", MFD_ALLOW_SEALING);
		if (fd < 0 || ftruncate(fd, 4096) ||
		    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE))
			return perror("memfd"), 1;
	} else if (!strcmp(argv[1], "timerfd")) {
		struct itimerspec in_a_minute = { .it_value = { .tv_sec = 60 } };

		fd = timerfd_create(CLOCK_MONOTONIC, 0);
		if (fd < 0 || timerfd_settime(fd, 0, &in_a_minute, NULL))
			return perror("timerfd"), 1;
	} else if (!strcmp(argv[1], "signalfd")) {
		sigset_t usr1;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		if (signalfd(-1, &usr1, 0) < 0)
			return perror("signalfd"), 1;
	} else if (!strcmp(argv[1], "inotify")) {
		fd = inotify_init1(0);
		if (fd < 0 || inotify_add_watch(fd, argv[2], IN_CREATE) < 0)
			return perror("inotify"), 1;
	} else if (!strcmp(argv[1], "epoll")) {
		if (epoll_create1(0) < 0)
			return perror("epoll"), 1;
	} else if (!strcmp(argv[1], "sysv-shm")) {
		int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);

		if (id < 0 || shmat(id, NULL, 0) == (void *)-1)
			return perror("shm"), 1;
		shmctl(id, IPC_RMID, NULL);
	} else if (!strcmp(argv[1], "clone-files")) {
		if (child(CLONE_FILES | SIGCHLD))
			return perror("clone"), 1;
	} else if (!strcmp(argv[1], "clone-signal")) {
		if (child(SIGUSR1))
			return perror("clone"), 1;
	} else if (!strcmp(argv[1], "pipe-rdwr")) {
		int p[2];
		char self[64];

		if (pipe(p) || child(SIGCHLD))
			return perror("pipe"), 1;
		snprintf(self, sizeof(self), "/proc/self/fd/%d", p[0]);
		if (open(self, O_RDWR) < 0)
			return perror("pipe-rdwr"), 1;
	} else {
		return fprintf(stderr, "unknown mode %s\n", argv[1]), 64;
	}
	ready = fopen(argv[3], "w");
	if (ready)
		fclose(ready);
	wait_a_minute();
	return 0;
}
