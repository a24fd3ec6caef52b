/*
 * Self-checkpoint through libkcr's C API, with callbacks. At step argv[4]
 * (default 10) the program checkpoints itself into argv[3]. Callbacks report
 * on stderr which way the program came back; the output file is the same
 * either way, so a restored run can be compared with the original.
 */
#include "kcr_test.h"
#include <kcr/kcr.h>

static int on_event(kcr_event event, void *arg)
{
	(void)arg;
	dprintf(2, "callback: %s\n",
		event == KCR_EVENT_BEFORE_CHECKPOINT ? "before-checkpoint" :
		event == KCR_EVENT_AFTER_CONTINUE    ? "after-continue" :
						       "after-restart");
	return 0;
}

int main(int argc, char **argv)
{
	int steps = kt_init(argc, argv, 20);
	const char *image = argc > 3 ? argv[3] : "/tmp/self.kcr";
	int at = argc > 4 ? atoi(argv[4]) : 10;
	uint64_t acc = 1;
	kcr_error err;

	kcr_register_callback(KCR_EVENT_BEFORE_CHECKPOINT | KCR_EVENT_AFTER_CONTINUE |
				      KCR_EVENT_AFTER_RESTART,
			      on_event, NULL, NULL);
	for (int s = 0; s < steps; s++) {
		for (long i = 0; i < 1000000; i++)
			acc = acc * 2862933555777941757ULL + 3037000493ULL;
		if (s == at) {
			int rc = kcr_checkpoint_self(image, NULL, &err);

			if (rc < 0)
				kt_fail("kcr_checkpoint_self: %s", err.message);
			dprintf(2, "self-checkpoint returned %d (%s)\n", rc,
				rc ? "restarted" : "continued");
		}
		kt_printf("step %d acc %016llx\n", s, (unsigned long long)acc);
		kt_sleep_ms(30);
	}
	kt_printf("done\n");
	return 0;
}
