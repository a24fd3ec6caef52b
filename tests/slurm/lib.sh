# shellcheck shell=bash
# lib.sh: what the Slurm scenarios (slurm-test.sh) and the demo (demo.sh)
# share: the cluster with spank_kcr.so loaded, the job helpers and the checks.
# Sourced inside the kcr-vm guest, as root; needs KCR_BUILD_DIR.
: "${KCR_BUILD_DIR:?KCR_BUILD_DIR must name the build tree}"
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

PLUGIN=$KCR_BUILD_DIR/spank_plugin/spank_kcr.so
PROGRESS=$KCR_BUILD_DIR/tests/slurm/progress
DUMP=$KCR_BUILD_DIR/tests/slurm/catalog_dump
KCR=${KCR_CLI:-$KCR_BUILD_DIR/tools/kcr}
JOBCKPT=$KCR_BUILD_DIR/tests/slurm/job_checkpoint
D=${KCR_SLURM_DIR:-/tmp/kcr-slurm}
W=$D/work
CATALOG=$D/catalog/catalog.db
SPOOL=$D/run/kcr
STEPS=${KCR_SLURM_STEPS:-60}
USER_NAME=nobody

T0=$(date +%s.%N)
say() { printf '[%5.1fs] %s\n' "$(awk "BEGIN { print $(date +%s.%N) - $T0 }")" "$*"; }
fail() {
	say "FAIL: $*"
	exit 1
}

dump_logs() {
	echo "---- spank_kcr lines in slurmd.log"
	grep -a 'spank_kcr' "$D/log/slurmd.log" 2>/dev/null | tail -n 60 || true
	echo "---- slurmd.log (last 40 lines)"
	tail -n 40 "$D/log/slurmd.log" 2>/dev/null || true
	echo "---- slurmctld.log (last 25 lines)"
	tail -n 25 "$D/log/slurmctld.log" 2>/dev/null || true
	echo "---- catalog"
	local j
	for j in $(seq 1 8); do rows "$j"; done
	echo "---- squeue"
	squeue -a -o '%.5i %.9P %.8T %.10r %.6M' 2>/dev/null || true
	# What a rollback or a restore would have used: each image's files, and
	# how big the job's files are now.
	echo "---- files: the work directory, and each image's fds"
	ls -l "$W" 2>/dev/null || true
	local img
	for img in $(find "$D/images" -name '*.kcr' 2>/dev/null | sort); do
		echo "$img:"
		"$KCR" inspect --json "$img" 2>&1 | tr -d '\n' | grep -o '"fds": *\[[^]]*\]' | sed 's/^/    /' || true
	done
}
finish() {
	local rc=$?
	if [ $rc -ne 0 ]; then
		dump_logs
	fi
	cluster_down "$D" || true
	exit $rc
}
trap finish EXIT

as_user() { runuser -u "$USER_NAME" -- env SLURM_CONF="$SLURM_CONF" "$@"; }

# job_field JOB FIELD: one field of `scontrol show job`.
job_field() {
	scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.3 s.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local end=$(($(date +%s) + secs))
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || fail "timed out after ${secs}s waiting for: $what"
		sleep 0.3
	done
}

job_state_is() { [ "$(job_field "$1" JobState)" = "$2" ]; }
restarts_are() { [ "$(job_field "$1" Restarts)" = "$2" ]; }
rows() { "$DUMP" "$CATALOG" "$1" 2>/dev/null; }
# has_row JOB PATTERN...: a catalog line matching every pattern exists.
has_row() {
	local job=$1
	shift
	local line p ok
	while read -r line; do
		ok=1
		for p in "$@"; do [[ $line == *"$p"* ]] || ok=0; done
		((ok)) && return 0
	done < <(rows "$job")
	return 1
}
count_rows() {
	local job=$1
	shift
	local n=0 line p ok
	while read -r line; do
		ok=1
		for p in "$@"; do [[ $line == *"$p"* ]] || ok=0; done
		((ok)) && n=$((n + 1))
	done < <(rows "$job")
	echo $n
}
row_field() { # row_field LINE KEY
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"
}
# kcr catalog list for one job (docs/catalog.md), when this kcr has it.
catalog_list() { # catalog_list JOB [FORMAT]
	"$KCR" catalog list --catalog "$CATALOG" --job "$1" --format "${2:-table}"
}
# kcr checkpoint --job JOB through the kcr command line once it has --job,
# else through the test client of the same request library.
job_checkpoint() { # job_checkpoint JOB[.STEP]
	if "$KCR" checkpoint --help 2>/dev/null | grep -q -- --job; then
		"$KCR" checkpoint --job "$1" --spool "$SPOOL"
	else
		"$JOBCKPT" "$SPOOL" "$1"
	fi
}
kcr_log() { grep -a "spank_kcr: job $1:" "$D/log/slurmd.log" || true; }

# The reference: the same program, never interrupted, at full speed.
golden() { # golden NAME [LAUNCH...]
	local name=$1
	shift
	"$@" "$PROGRESS" "$W/$name.golden.log" "$STEPS" 0 >"$W/$name.golden.out"
}

# check_resumed NAME [OUTPUT]: output (default $W/NAME.out) identical to the
# uninterrupted run, and the progress log shows one start and every step
# exactly once, in order.
check_resumed() {
	local name=$1 out=${2:-$W/$1.out}
	if ! cmp -s "$W/$name.golden.out" "$out"; then
		diff "$W/$name.golden.out" "$out" | head -n 10 || true
		fail "$name: job output differs from the uninterrupted run"
	fi
	say "ok: job output is byte-identical to the uninterrupted run ($(wc -l <"$out") lines)"
	local starts
	starts=$(grep -c '^start$' "$W/$name.log" || true)
	[ "$starts" = 1 ] || fail "$name: the program started $starts times (it was recomputed, not resumed)"
	local expect
	expect=$(seq 0 $((STEPS - 1)) | sed 's/^/step /')
	if [ "$(grep '^step' "$W/$name.log")" != "$expect" ]; then
		grep '^step' "$W/$name.log" | uniq -d | head -n 5
		fail "$name: the progress log repeats or misses steps"
	fi
	say "ok: progress log: one start, steps 0..$((STEPS - 1)) each exactly once (resumed, never recomputed)"
}

# submit NAME SBATCH-ARGS... -- PROGRAM-ARGS: a batch job that execs PROGRAM.
write_job() { # write_job NAME COMMAND...
	local name=$1
	shift
	printf '#!/bin/sh\n%s\n' "$*" >"$W/$name.sh"
	chmod 0755 "$W/$name.sh"
}
submit() { # submit NAME SBATCH-ARGS...
	local name=$1
	shift
	as_user sbatch --parsable -J "$name" -o "$W/$name.out" -e "$W/$name.err" "$@" "$W/$name.sh"
}

# preempt_now: a high-priority job that needs the whole node.
preempt_now() {
	as_user sbatch --parsable -J high -p high -c 2 -o /dev/null --wrap 'sleep 1'
}

log_lines() { wc -l 2>/dev/null <"$W/$1.log" || echo 0; }

# check_held NAME: after its preemption checkpoint the task runs no further:
# its progress log stands still, and while it waits for the requeue it is
# held in the kernel (state I), where Slurm's SIGCONT cannot resume it.
check_held() {
	local before pid state
	before=$(log_lines "$1")
	pid=$(pgrep -u "$USER_NAME" -x "$(basename "$PROGRESS")" | head -n 1 || true)
	sleep 1
	[ "$(log_lines "$1")" = "$before" ] || fail "$1: the task ran on after its preemption checkpoint"
	if [ -n "$pid" ] && state=$(sed -E 's/.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null); then
		[ "$state" = I ] || [ "$state" = Z ] ||
			fail "$1: the preempted task (pid $pid) is in state $state, not held (I)"
	fi
	say "ok: the preempted task is held: no progress since its checkpoint${state:+ (state $state)}"
}

setup() {
	rm -rf "$D"
	mkdir -p "$D/etc" "$W" "$D/catalog"
	chmod 1777 "$W"
	cat >"$D/etc/kcr.yaml" <<-YAML
		image_dir: $D/images/{user}/{job}
		catalog_path: $CATALOG
		checkpoint:
		  grace_margin: ${KCR_GRACE_MARGIN:-5m}
		  verify_after_write: true
		retention:
		  keep_last: 4
		slurm:
		  mtbf: 60s
	YAML
	export CLUSTER_PLUGSTACK="required $PLUGIN config=$D/etc/kcr.yaml spool=$SPOOL min_interval=2s"
	say "starting munged, slurmctld and slurmd (plugstack: $CLUSTER_PLUGSTACK)"
	cluster_up "$D" || fail "the cluster did not start"
	say "cluster up"
}

