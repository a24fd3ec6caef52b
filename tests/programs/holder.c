/*
 * holder IMAGE PID: checkpoints PID into IMAGE through kcr_checkpoint_hold()
 * (the C API a scheduler uses to keep a preempted task from running past its
 * checkpoint) and keeps the process held until told otherwise.
 *
 * Prints "held" (or "error: MESSAGE" and exits 1) on stdout, then reads
 * stdin: "release" closes the hold, so the process runs on; end of input does
 * the same; "kill" kills it through the hold (kcr_hold_kill) first. Exits 0
 * once the hold is closed. The test (ckpt-test.sh --mode hold|hold_kill|
 * hold_sigkill) checks meanwhile that the process makes no progress, even
 * after a SIGCONT, and that a kill still ends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kcr/kcr.h>

int main(int argc, char **argv)
{
	kcr_checkpoint_result result;
	kcr_error err;
	char line[64];
	int hold = -1;

	if (argc != 3)
		return fprintf(stderr, "usage: holder IMAGE PID\n"), 64;
	if (kcr_checkpoint_hold((pid_t)atoi(argv[2]), argv[1], NULL, &result, &hold, &err) != 0) {
		printf("error: %s\n", err.message);
		return 1;
	}
	if (hold < 0)
		return printf("error: no hold descriptor\n"), 1;
	printf("held (%llu bytes)\n", (unsigned long long)result.image_bytes);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) && strcmp(line, "release\n") != 0) {
		if (strcmp(line, "kill\n") != 0)
			continue;
		if (kcr_hold_kill(hold, &err) != 0) {
			printf("error: %s\n", err.message);
			return 1;
		}
		break;
	}
	close(hold);
	return 0;
}
