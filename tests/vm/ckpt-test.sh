#!/usr/bin/env bash
# ckpt-test.sh: checkpoint a program at a random moment, restore it, and prove
# the restore by comparing its output with an uninterrupted (golden) run.
# Runs inside the guest (see kcr-vm); needs the kcr module loaded.
#
#   ckpt-test.sh [--mode kill|again|continue|stop|hold|hold_kill|hold_sigkill|twice|interrupted|
#                        target_sigkill|target_oom]
#                [--delay MIN_MS:MAX_MS]
#                [--restart-flag FLAG] [--ckpt-flag FLAG] -- PROGRAM ARG...
#
# In PROGRAM's arguments @OUT@ becomes its output file and @DIR@ a scratch
# directory; each run (golden, test) gets its own. Modes:
#   kill      checkpoint --kill, then restart: output must equal the golden run's
#   again     the same, then the same image restarted once more (--rollback-files):
#             golden again (an image is not used up by a restore)
#   continue  checkpoint and let the original finish (its output must be golden
#             too), then restart with --rollback-files: golden again
#   stop      checkpoint --stop: the original must be stopped and make no
#             progress; SIGCONT lets it finish (golden), then restart as above
#   hold      kcr_checkpoint_hold() (tests/programs/holder): the original is
#             held and makes no progress, even after a SIGCONT; closing the
#             hold lets it finish (golden), then restart as above
#   hold_kill the same, but a second checkpoint of the held original is
#             refused (EBUSY), and the holder kills it (kcr_hold_kill, what the
#             Slurm agent does at a requeue); then restart: golden
#   hold_sigkill  the same, but an outside SIGKILL ends the held original
#   twice     restart, checkpoint the restored process, restart again
#   interrupted  checkpoint (the program runs on), then a second checkpoint
#             whose caller is SIGKILLed mid-write: it ends at once, commits
#             nothing, the program runs on to a golden end; then restart the
#             first image with --rollback-files: golden
#   target_sigkill  checkpoint (the program runs on), then a second one to
#             the same name during whose write the program is SIGKILLed: the
#             image is still the moment it was stopped at; restart it: golden
#   target_oom  the same, but the OOM killer of the program's memory cgroup
#             kills it mid-write: no image is made (the OOM reaper takes a
#             victim's memory even while it is saved), the first one stays
#             byte for byte; restart it with --rollback-files: golden
# --restart-flag adds FLAG to every kcr restart (e.g. --no-prefill, so the
# module fills all memory itself); --ckpt-flag adds FLAG to every kcr
# checkpoint (e.g. --privileged, for a program that is not dumpable).
set -euo pipefail

mode=kill delay=300:2500 restart_flags=() ckpt_flags=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--mode) mode=$2; shift 2 ;;
	--delay) delay=$2; shift 2 ;;
	--restart-flag) restart_flags+=("$2"); shift 2 ;;
	--ckpt-flag) ckpt_flags+=("$2"); shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
: "${KCR:=kcr}"
work=$(mktemp -d /tmp/kcr-test.XXXXXX)
mkdir -p "$work/golden" "$work/run"

expand() { # DIR ARG...: substitutes @OUT@ and @DIR@
	local dir=$1; shift
	local a
	for a in "$@"; do
		a=${a//@OUT@/$dir/out}
		printf '%s\0' "${a//@DIR@/$dir}"
	done
}
mapfile -d '' golden_cmd < <(expand "$work/golden" "$@")
mapfile -d '' run_cmd < <(expand "$work/run" "$@")

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
random_delay() {
	local lo=${delay%:*} hi=${delay#*:}
	# Never later than 60% into the program's uninterrupted run time, so the
	# checkpoint lands while it runs however fast this machine is.
	((hi > golden_ms * 6 / 10)) && hi=$((golden_ms * 6 / 10))
	((lo > hi / 2)) && lo=$((hi / 2))
	local ms=$((lo + RANDOM % (hi - lo + 1)))
	echo "checkpoint after ${ms} ms" >&2
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}
compare() { # what
	if ! cmp -s "$work/golden/out" "$work/run/out"; then
		echo "--- golden"; tail -n 5 "$work/golden/out"
		echo "--- $1"; tail -n 5 "$work/run/out"
		diff "$work/golden/out" "$work/run/out" | head -n 10 || true
		die "$1: output differs from the uninterrupted run"
	fi
	echo "ok: $1 output identical to the uninterrupted run ($(wc -l <"$work/run/out") lines)"
}
# Bytes of the output file the image recorded: where the program was.
saved_size() { # IMAGE
	$KCR inspect --json "$1" | python3 -c '
import json, sys
print(next(f["size"] for f in json.load(sys.stdin)["fds"] if f.get("path", "").endswith("/run/out")))'
}
# Not one instruction after the capture: a second later the output is still
# exactly as long as the image says it was.
check_no_progress() { # IMAGE
	local saved
	saved=$(saved_size "$1")
	sleep 1
	[[ $(stat -c %s "$work/run/out") -eq $saved ]] ||
		die "the process ran on after its checkpoint: output is $(stat -c %s "$work/run/out") bytes, the image says $saved"
	echo "ok: no progress after the checkpoint (output stays at the image's $saved bytes)"
}
# hold_checkpoint PID IMAGE: checkpoint with a hold kept by a coprocess.
hold_checkpoint() {
	coproc HOLDER { "$KCR_PROGS/holder" "$2" "$1"; }
	local line=""
	read -r -u "${HOLDER[0]}" line || true
	[[ $line == held* ]] || die "checkpoint with a hold failed: ${line:-holder exited}"
	echo "checkpoint: $line"
	$KCR verify "$2" >/dev/null || die "fresh image $2 does not verify"
	local state
	state=$(proc_state "$1")
	# Parked in the kernel, where only SIGKILL wakes it; not counted in the
	# load average, so ps shows it idle (I), not D.
	[[ $state == I ]] || die "held process is in state $state, not I"
	kill -CONT "$1"
	check_no_progress "$2"
	[[ $(proc_state "$1") == I ]] || die "a SIGCONT resumed the held process"
	echo "ok: held (state I); a SIGCONT did not resume it"
}
release_hold() { # [release|kill]
	echo "${1:-release}" >&"${HOLDER[1]}"
	wait "$HOLDER_PID" || die "holder failed (rc $?)"
}

checkpoint() { # PID IMAGE [--kill|--stop]
	local t0
	t0=$(date +%s%N)
	# shellcheck disable=SC2086 # $3 is one optional flag or nothing
	$KCR checkpoint "$1" -o "$2" ${3:-} "${ckpt_flags[@]}" --no-catalog || die "checkpoint of $1 failed"
	echo "checkpoint took $((($(date +%s%N) - t0) / 1000000)) ms"
	$KCR verify "$2" >/dev/null || die "fresh image $2 does not verify"
}

t0=$(date +%s%N)
"${golden_cmd[@]}" || die "the uninterrupted run failed (rc $?)"
golden_ms=$((($(date +%s%N) - t0) / 1000000))
echo "uninterrupted run took ${golden_ms} ms"

if [[ $mode == target_oom ]]; then
	# In a memory cgroup of its own, whose limit the test lowers to OOM-kill it.
	cg=/sys/fs/cgroup/kcr-oom-$$
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control
	mkdir "$cg" || die "cannot make a memory cgroup for the program"
	trap 'rmdir "$cg" 2>/dev/null || true' EXIT
	# shellcheck disable=SC2016 # expanded by the inner shell
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' run "$cg" "${run_cmd[@]}" &
else
	"${run_cmd[@]}" &
fi
pid=$!
[[ $mode == twice ]] && golden_ms=$((golden_ms / 2))
random_delay
kill -0 "$pid" 2>/dev/null || die "program finished before the checkpoint; lengthen it"
case $mode in
kill | again)
	checkpoint "$pid" "$work/image" --kill
	rc=0; wait "$pid" || rc=$?
	[[ $rc -eq 137 ]] || die "checkpointed process was not killed (rc $rc)"
	$KCR restart "${restart_flags[@]}" "$work/image" || die "restored program failed (rc $?)"
	compare restored
	if [[ $mode == again ]]; then
		$KCR restart "${restart_flags[@]}" --rollback-files "$work/image" ||
			die "the second restore of the same image failed (rc $?)"
		compare "the same image restored again"
	fi
	;;
interrupted)
	# A good image first; then a second checkpoint whose caller is SIGKILLed
	# while the module writes: it must end at once (not when the write would
	# have), leave the program running unharmed and the first image usable.
	t0=$(date +%s%N)
	checkpoint "$pid" "$work/image"
	full_ms=$((($(date +%s%N) - t0) / 1000000))
	((full_ms >= 600)) || die "a whole checkpoint took ${full_ms} ms: too short to interrupt; give the program more memory"
	$KCR checkpoint "$pid" -o "$work/image2" --no-catalog &
	ckpt=$!
	for _ in $(seq 100); do
		compgen -G "$work/image2.tmp-*" >/dev/null && break
		sleep 0.01
	done
	sleep 0.2
	compgen -G "$work/image2.tmp-*" >/dev/null || die "the second checkpoint never started writing"
	t_kill=$(date +%s%N)
	kill -KILL "$ckpt"
	wait "$ckpt" 2>/dev/null || true
	ended_ms=$((($(date +%s%N) - t_kill) / 1000000))
	if ((ended_ms <= full_ms / 3)); then
		pass "the killed checkpoint ended ${ended_ms} ms after its SIGKILL (a whole one takes ${full_ms} ms)"
	else
		fail "the killed checkpoint took ${ended_ms} ms to end (a whole one takes ${full_ms} ms): the write ran on"
	fi
	[[ ! -e $work/image2 ]] || fail "an image was committed by a killed checkpoint"
	# The module's own log: the write was stopped (EINTR), not finished.
	if dmesg | grep -q "into $work/image2.tmp-.* refused (-4)"; then
		pass "the module stopped the write (refused -4, EINTR)"
	else
		fail "the module's log does not show the write stopped: $(dmesg | grep 'image2' | tail -n 2)"
	fi
	kill -0 "$pid" 2>/dev/null || die "the program died with the killed checkpoint"
	[[ $(proc_state "$pid") != [ITt] ]] || fail "the program is left parked or stopped ($(proc_state "$pid"))"
	wait "$pid" || die "original failed after the interrupted checkpoint (rc $?)"
	compare "run on after an interrupted checkpoint"
	$KCR restart "${restart_flags[@]}" --rollback-files "$work/image" || die "restored program failed (rc $?)"
	compare "restored from the image before the interrupted one"
	;;
target_sigkill | target_oom)
	# A good image first; then a second one to the same name, during whose
	# write the program is killed.
	checkpoint "$pid" "$work/image"
	first=$(md5sum <"$work/image")
	full=$(stat -c %s "$work/image")
	$KCR checkpoint "$pid" -o "$work/image" --no-catalog >"$work/second.log" 2>&1 &
	ckpt=$!
	# A quarter of the image written: the program is frozen, its memory
	# being saved.
	written=0
	for _ in $(seq 1000); do
		tmp=$(compgen -G "$work/image.tmp-*" | head -n 1 || true)
		written=$(stat -c %s "$tmp" 2>/dev/null || echo 0)
		((written >= full / 4)) && break
		sleep 0.01
	done
	# Mid-write: the writer still runs, the checkpoint has not returned.
	pgrep "^kcr-write/$pid\$" >/dev/null && kill -0 "$ckpt" 2>/dev/null ||
		die "the second checkpoint was not writing when the program was to be killed ($written of $full bytes)"
	echo "killing the program with $written of about $full bytes of its image written"
	if [[ $mode == target_sigkill ]]; then
		kill -KILL "$pid"
	else
		# Below what it uses, with no swap: the cgroup's OOM killer runs.
		echo 1M >"$cg/memory.max" &
		lower=$!
	fi
	rc=0; wait "$ckpt" || rc=$?
	cat "$work/second.log"
	prc=0; wait "$pid" || prc=$?
	[[ $prc -eq 137 ]] || die "the program was not killed mid-checkpoint (rc $prc)"
	[[ $mode == target_oom ]] && { wait "$lower" || true; }
	for _ in $(seq 100); do
		pgrep '^kcr-write/' >/dev/null || break
		sleep 0.05
	done
	! pgrep -l '^kcr-write/' || fail "a kcr writer thread is left behind"
	! compgen -G "$work/image.tmp-*" >/dev/null || fail "a partial image is left behind"
	if [[ $mode == target_sigkill ]]; then
		((rc == 0)) || die "the checkpoint of a program SIGKILLed mid-write failed (rc $rc)"
		[[ $(md5sum <"$work/image") != "$first" ]] || die "the second image did not replace the first"
		$KCR verify "$work/image" >/dev/null || die "the image of the killed program does not verify"
		pass "SIGKILLed mid-write: the image holds the moment it was stopped at"
		$KCR restart "${restart_flags[@]}" "$work/image" || die "restored program failed (rc $?)"
		compare "restored from the image its SIGKILL interrupted"
	else
		((rc != 0)) || die "the checkpoint of an OOM-killed program succeeded: its memory may be holes"
		grep -q "OOM killer" "$work/second.log" || fail "the refusal does not name the OOM killer"
		[[ $(md5sum <"$work/image") == "$first" ]] || die "the first image was changed"
		grep -q "oom-kill" <(dmesg) || fail "the kernel log shows no OOM kill"
		pass "OOM-killed mid-write: refused, the first image kept"
		$KCR restart "${restart_flags[@]}" --rollback-files "$work/image" || die "restored program failed (rc $?)"
		compare "restored from the image before the OOM kill"
	fi
	;;
continue)
	checkpoint "$pid" "$work/image"
	wait "$pid" || die "original failed after a checkpoint it should not notice (rc $?)"
	compare "checkpointed-and-continued"
	$KCR restart "${restart_flags[@]}" --rollback-files "$work/image" || die "restored program failed (rc $?)"
	compare "restored (after rollback of grown files)"
	;;
stop)
	trap 'kill -KILL "$pid" 2>/dev/null || true' EXIT # never leave a stopped orphan behind
	checkpoint "$pid" "$work/image" --stop
	for _ in $(seq 50); do
		state=$(sed -E 's/.*\) (.).*/\1/' "/proc/$pid/stat")
		[[ $state == T ]] && break
		sleep 0.02
	done
	[[ $state == T ]] || die "checkpointed process is not stopped (state $state)"
	check_no_progress "$work/image"
	kill -CONT "$pid"
	wait "$pid" || die "original failed after SIGCONT (rc $?)"
	compare "stopped, then continued"
	$KCR restart "${restart_flags[@]}" --rollback-files "$work/image" || die "restored program failed (rc $?)"
	compare "restored (after rollback of grown files)"
	;;
hold)
	trap 'kill -KILL "$pid" 2>/dev/null || true' EXIT
	hold_checkpoint "$pid" "$work/image"
	release_hold
	wait "$pid" || die "original failed after its hold was closed (rc $?)"
	compare "held, then released"
	$KCR restart "${restart_flags[@]}" --rollback-files "$work/image" || die "restored program failed (rc $?)"
	compare "restored (after rollback of grown files)"
	;;
hold_kill | hold_sigkill)
	trap 'kill -KILL "$pid" 2>/dev/null || true' EXIT
	hold_checkpoint "$pid" "$work/image"
	if [[ $mode == hold_kill ]]; then
		out=$($KCR checkpoint "$pid" -o "$work/again" --no-catalog 2>&1) &&
			die "a second checkpoint of the held process succeeded"
		grep -q "held after an earlier checkpoint" <<<"$out" || die "no reason for the refusal: $out"
		[[ ! -e $work/again ]] || die "the refused checkpoint left $work/again"
		echo "ok: a second checkpoint is refused: $out"
		release_hold kill
	else
		kill -KILL "$pid"
	fi
	rc=0; wait "$pid" || rc=$?
	[[ $rc -eq 137 ]] || die "the kill did not end the held process (rc $rc)"
	echo "ok: the kill ended the held process"
	[[ $mode == hold_kill ]] || release_hold
	$KCR restart "${restart_flags[@]}" "$work/image" || die "restored program failed (rc $?)"
	compare restored
	;;
twice)
	checkpoint "$pid" "$work/image1" --kill
	wait "$pid" || true
	$KCR restart "${restart_flags[@]}" "$work/image1" &
	pid2=$!
	random_delay
	kill -0 "$pid2" 2>/dev/null || die "restored program ended before the second checkpoint"
	checkpoint "$(program_of "$pid2")" "$work/image2" --kill
	wait "$pid2" || true
	$KCR restart "${restart_flags[@]}" "$work/image2" || die "second-generation restore failed (rc $?)"
	compare "restored twice"
	;;
*) die "unknown mode $mode" ;;
esac
((kcr_failures == 0)) || die "$kcr_failures check(s) failed"
rm -rf "$work"
