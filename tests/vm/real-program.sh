#!/usr/bin/env bash
# Real programs kcr did not write, each doing a few seconds of computation and
# writing its results to OUT. The script execs the program, so the process a
# test checkpoints is the real program itself.
#   real-program.sh perl|awk|bc|python-threads|pipeline|bash-loop OUT
set -euo pipefail
out=${2:?usage: real-program.sh perl|awk|bc|python-threads OUT}
case $1 in
perl)
	exec /usr/bin/perl -e '
		open(my $o, ">", $ARGV[0]) or die "open: $!"; select($o); $| = 1;
		my $x = 1;
		for my $i (1 .. 120) {
			$x = ($x * 48271 + $i) % 2147483647 for 1 .. 60000;
			print "$i $x\n";
		}' "$out"
	;;
awk)
	exec /usr/bin/mawk -v out="$out" 'BEGIN {
		s = 0
		for (i = 1; i <= 130; i++) {
			for (j = 0; j < 40000; j++) s = (s * 31 + j) % 1000003
			print i, s > out; fflush(out)
		}
	}'
	;;
bc)
	# bc computes pi to 1800 digits in one long expression, then prints it.
	exec /usr/bin/bc -l <<<"scale=1800; 4*a(1)" >"$out"
	;;
python-threads)
	# Python's threading and queue: four workers and the main thread, the GIL
	# passed between them; each batch's results are written in order.
	exec /usr/bin/python3 -c '
import queue, sys, threading, time
tasks, results = queue.Queue(), queue.Queue()
def work():
    while True:
        n = tasks.get()
        if n is None:
            return
        x = n
        for _ in range(20000):
            x = (x * 48271 + 11) % 2147483647
        results.put((n, x))
workers = [threading.Thread(target=work) for _ in range(4)]
for w in workers:
    w.start()
with open(sys.argv[1], "w", buffering=1) as out:
    for batch in range(150):
        for i in range(4):
            tasks.put(batch * 4 + i)
        got = sorted(results.get() for _ in range(4))
        out.write("batch %d %s\n" % (batch, " ".join(str(x) for _, x in got)))
        time.sleep(0.02)
    for w in workers:
        tasks.put(None)
    for w in workers:
        w.join()
    out.write("done: %d threads joined\n" % len(workers))
' "$out"
	;;
pipeline)
	# A shell pipeline: the checkpointed process is the shell, with seq and
	# mawk as its children and a pipe between them, usually full.
	exec /bin/sh -c 'seq 1 3000000 | mawk "{ s = (s * 31 + \$1) % 1000003; if (NR % 30000 == 0) { print NR, s; fflush() } }" >"$1"' sh "$out"
	;;
bash-loop)
	# A bash script whose children come and go: each line is computed by a
	# short-lived pipeline, so a checkpoint may find bash alone, or with a
	# child starting, running or just ended. Its standard output is a file,
	# as in a batch job: bash keeps the one it had (here a terminal, which
	# kcr does not save beyond fd 0-2) at fd 10 while the loop's output is
	# redirected.
	exec /bin/bash -c 'for i in $(seq 1 200); do printf "%d %s\n" "$i" "$(echo "$i" | md5sum | cut -c1-16)"; done >"$1"' bash "$out" >"$out.stdout"
	;;
*) echo "unknown program $1" >&2; exit 64 ;;
esac
