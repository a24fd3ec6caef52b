#!/usr/bin/env bash
# File locks across a restore, as other processes see them: a restored
# flock, POSIX or OFD lock keeps them out as the original did, and a lock
# another process took meanwhile refuses the restore, naming it, before
# anything of the restorer changes. (vm.ckpt.file_locks checks from inside
# that the program holds exactly its locks, each through its descriptor.)
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-locks.XXXXXX)
F=$W/locked.dat

# free MODE: may another process take a conflicting lock on bytes 0-9 now?
free() {
	if [[ $1 == flock ]]; then
		flock -n -x "$F" true
	else
		python3 -c "import fcntl, os; fcntl.lockf(os.open('$F', os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)"
	fi 2>/dev/null
}

# A holder of MODE's lock, checkpointed and killed: its image in $W/MODE.kcr.
saved_holder() {
	rm -f "$W/ready" "$F"
	"$KCR_PROGS/lock_holder" "$1" "$W" "$W/ready" &
	local pid=$!
	for _ in $(seq 100); do [[ -e $W/ready ]] && break; sleep 0.1; done
	[[ -e $W/ready ]] || die "$1: the holder did not start"
	sleep 0.2
	free "$1" && die "$1: the lock is not held before the checkpoint"
	"$KCR" checkpoint "$pid" -o "$W/$1.kcr" --no-catalog --kill -q || die "$1: checkpoint failed"
	wait "$pid" 2>/dev/null
}

for mode in flock posix ofd; do
	saved_holder "$mode"
	free "$mode" && pass "$mode: the lock went with the killed process" ||
		fail "$mode: the lock outlived its process"
	"$KCR" restart --no-catalog -q "$W/$mode.kcr" 2>"$W/restart.err" &
	r=$!
	for _ in $(seq 100); do
		[[ $(cat "/proc/$r/comm" 2>/dev/null) == lock_holder ]] && break
		sleep 0.05
	done
	if free "$mode"; then
		fail "$mode: the restored program (pid $r, $(cat "/proc/$r/comm" 2>/dev/null || echo gone)) does not hold its lock: $(cat "$W/restart.err")"
	else
		pass "$mode: the restored program holds its lock: another process is kept out"
	fi
	kill "$r" 2>/dev/null
	wait "$r" 2>/dev/null
done

# Someone else holds a conflicting lock: the restore is refused, naming it.
for mode in flock posix; do
	saved_holder "$mode"
	# One process that holds the lock itself (killing it frees the lock).
	if [[ $mode == flock ]]; then
		python3 -c "import fcntl, os, time; fcntl.flock(os.open('$F', os.O_RDWR), fcntl.LOCK_EX); time.sleep(30)" &
	else
		python3 -c "import fcntl, os, time; fcntl.lockf(os.open('$F', os.O_RDWR), fcntl.LOCK_EX, 0, 0); time.sleep(30)" &
	fi
	other=$!
	for _ in $(seq 100); do ! free "$mode" && break; sleep 0.05; done
	expect_refused "$mode: restore while another process holds the lock" \
		"holds a lock that conflicts with the program's" "$KCR" restart --no-catalog -q "$W/$mode.kcr"
	kill "$other" 2>/dev/null
	wait "$other" 2>/dev/null
done

rm -rf "$W"
finish "lock tests"
