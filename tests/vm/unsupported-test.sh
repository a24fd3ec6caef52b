#!/usr/bin/env bash
# What kcr cannot save makes the checkpoint fail with the resource named, and
# the process carries on unharmed. Never a silent partial image.
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-unsup.XXXXXX)
PY=/usr/bin/python3

# expect_checkpoint_refused NAME PATTERN -- COMMAND...: COMMAND's checkpoint
# must fail naming PATTERN, leave nothing behind, and the process run on.
expect_checkpoint_refused() {
	local name=$1 pattern=$2; shift 3
	rm -f "$W/ready"
	"$@" &
	local pid=$!
	# The program touches $W/ready once its resource exists (python starts slowly).
	for _ in $(seq 200); do [[ -e $W/ready ]] && break; sleep 0.1; done
	expect_refused "$name" "$pattern" "$KCR" checkpoint "$pid" -o "$W/$name.kcr" --no-catalog
	[[ ! -e $W/$name.kcr ]] || fail "$name: partial image left behind"
	compgen -G "$W/*tmp-*" >/dev/null && fail "$name: temporary image left behind"
	kill -0 "$pid" 2>/dev/null && pass "$name: process still running" || fail "$name: process died"
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
}

ready="open('$W/ready', 'w').close()"
# The module writes the image for its caller, within the caller's file size limit.
"$KCR_PROGS/heap" "$W/heap.out" 600 16 &
heap=$!
sleep 1
expect_refused fsize-limit "larger than the caller's file size limit \(ulimit -f: 1048576 bytes\)" \
	bash -c "ulimit -f 1024; exec \"\$0\" checkpoint $heap -o $W/fsize.kcr --no-catalog" "$KCR"
[[ ! -e $W/fsize.kcr ]] || fail "fsize-limit: partial image left behind"
compgen -G "$W/*tmp-*" >/dev/null && fail "fsize-limit: temporary image left behind"
kill -0 "$heap" 2>/dev/null && pass "fsize-limit: process still running" || fail "fsize-limit: process died"
kill "$heap" 2>/dev/null; wait "$heap" 2>/dev/null
expect_checkpoint_refused socket "fd [0-9]+ is a socket" -- $PY -c "import socket,time; s=socket.socket(); $ready; time.sleep(60)"
expect_checkpoint_refused pipe "fd [0-9]+ is a pipe" -- $PY -c "import os,time; r,w=os.pipe(); $ready; time.sleep(60)"
# Descriptors of anonymous inodes are refused, each named as what it is.
expect_checkpoint_refused eventfd "fd [0-9]+ is an eventfd descriptor" -- $PY -c "import os,time; e=os.eventfd(0); $ready; time.sleep(60)"
for kind in timerfd signalfd inotify epoll; do
	expect_checkpoint_refused "$kind" "fd [0-9]+ is an? $kind descriptor" -- "$KCR_PROGS/lock_holder" "$kind" "$W" "$W/ready"
done
# Timers kcr cannot save are refused, never dropped (ITIMER_REAL is saved).
expect_checkpoint_refused itimer-virtual "ITIMER_VIRTUAL or ITIMER_PROF" -- $PY -c "import signal,time; signal.setitimer(signal.ITIMER_VIRTUAL, 600); $ready; time.sleep(60)"
expect_checkpoint_refused posix-timer "a CPU-time or alarm clock" -- "$KCR_PROGS/posix_timer" "$W/ready"
# More pending signals than an image holds: refused, never cut short.
expect_checkpoint_refused many-signals "more than 1024 signals pending" -- $PY -c "
import os, resource, signal, time
resource.setrlimit(resource.RLIMIT_SIGPENDING, (4096, 4096))
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
for _ in range(1100): os.kill(os.getpid(), signal.SIGRTMIN)
$ready; time.sleep(60)"
# File locks are saved (vm.ckpt.file_locks), except a lease and a lock on a
# deleted file, which are refused; SysV shared memory too.
expect_checkpoint_refused lease "holds a lease" -- "$KCR_PROGS/lock_holder" lease "$W" "$W/ready"
expect_checkpoint_refused deleted-flock "holds a file lock on a file kcr does not reopen" -- "$KCR_PROGS/lock_holder" deleted-flock "$W" "$W/ready"
# memfds are saved (vm.ckpt.memfd), except a huge-page one, one mapped
# writable and then sealed against writes, and one in a process tree.
expect_checkpoint_refused memfd-hugetlb "memfd:kcr-test is a huge-page memfd" -- "$KCR_PROGS/lock_holder" memfd-hugetlb "$W" "$W/ready"
expect_checkpoint_refused memfd-future-write "memfd:kcr-test is mapped shared but sealed against writes" -- "$KCR_PROGS/lock_holder" memfd-future-write "$W" "$W/ready"
expect_checkpoint_refused memfd-tree "fd [0-9]+ is a memfd \\(memfd_create\\) in a process tree" -- \
	sh -c "'$KCR_PROGS/lock_holder' memfd '$W' '$W/ready'; true"
expect_checkpoint_refused sysv-shm "SysV shared memory" -- "$KCR_PROGS/lock_holder" sysv-shm "$W" "$W/ready"

# What a tree's processes share that kcr cannot make again is refused, named.
expect_checkpoint_refused clone-files "shares its descriptor table with another process" -- "$KCR_PROGS/lock_holder" clone-files "$W" "$W/ready"
expect_checkpoint_refused clone-signal "to signal its end to its parent with signal 10" -- "$KCR_PROGS/lock_holder" clone-signal "$W" "$W/ready"
expect_checkpoint_refused pipe-rdwr "opens a pipe for reading and writing at once" -- "$KCR_PROGS/lock_holder" pipe-rdwr "$W" "$W/ready"
# A process that left the tree by a double fork, but not its session, is
# named: never a tree saved without it.
expect_checkpoint_refused double-fork "process [0-9]+ \\(sleep\\) is in the session of process [0-9]+ but not below it" -- \
	setsid sh -c "(sleep 60 &); touch '$W/ready'; sleep 60; true"

# A tree is saved whole or not at all: a socket in one grandchild refuses
# the whole checkpoint, naming the process and the fd, even with --kill; no
# image or temporary directory is left, and every process runs on.
cat >"$W/grandchild.sh" <<EOF
$PY -c "import socket,time; s=socket.socket(); $ready; time.sleep(60)"
true
EOF
rm -f "$W/ready"
sh -c "sh '$W/grandchild.sh' & wait; true" &
root=$!
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
for _ in $(seq 200); do [[ -e $W/ready ]] && break; sleep 0.1; done
mapfile -t tree < <(descendants "$root")
((${#tree[@]} == 2)) || fail "the test tree is not root, child, grandchild: ${tree[*]}"
expect_refused "a tree with a socket in a grandchild" \
	"process ${tree[1]} of the tree of process $root cannot be saved, so none is: .*fd [0-9]+ is a socket" \
	"$KCR" checkpoint "$root" -o "$W/tree" --no-catalog --kill
[[ ! -e $W/tree ]] || fail "a refused tree checkpoint left $W/tree"
compgen -G "$W/tree.tmp-*" >/dev/null && fail "a refused tree checkpoint left its temporary directory"
alive=1
for p in "$root" "${tree[@]}"; do kill -0 "$p" 2>/dev/null || alive=0; done
((alive)) && pass "the root, its child and grandchild (${tree[*]}) all run on" || fail "a process of the tree died"
kill "$root" "${tree[@]}" 2>/dev/null
wait "$root" 2>/dev/null

# A stopped process cannot park: a bounded wait and a clear message.
sleep 60 &
pid=$!
kill -STOP $pid
out=$($KCR checkpoint $pid -o "$W/stopped.kcr" --no-catalog 2>&1) && fail "stopped: succeeded" ||
	{ grep -q "did not stop within" <<<"$out" && pass "stopped: $out" || fail "stopped: $out"; }
kill -CONT $pid
sleep 0.5
kill -0 $pid 2>/dev/null && pass "stopped process resumed fine" || fail "stopped process died"
kill $pid; wait $pid 2>/dev/null

out=$($KCR checkpoint 999999 -o "$W/none.kcr" --no-catalog 2>&1)
grep -q "no process 999999" <<<"$out" && pass "missing pid named: $out" || fail "missing pid message: $out"

rm -rf "$W"
finish "unsupported tests"
