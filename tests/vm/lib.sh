# Shared helpers of the guest test scripts (sourced, inside kcr-vm).
#
# A script records each check with pass/fail, which counts failures and goes
# on, and ends with `finish NAME`, which prints the count and exits non-zero
# if any check failed. `die` is for a broken precondition: it stops at once.
# shellcheck shell=bash

: "${KCR:=kcr}"
kcr_failures=0

pass() { echo "ok: $*"; }
fail() {
	echo "FAIL: $*"
	kcr_failures=$((kcr_failures + 1))
}
die() {
	echo "FAIL: $*"
	exit 1
}
finish() { # NAME
	echo "$1: $kcr_failures failed"
	exit $((kcr_failures > 0))
}

# An array, not a function: "${as_nobody[@]}" cmd & must leave $! the real process.
# shellcheck disable=SC2034
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env --)

# The restored program under a `kcr restart` started as PID: PID itself, or,
# for a multi-threaded program (restored in a pid namespace of its own),
# PID's great-grandchild (PID waits; its child makes the namespace, whose
# init is the next), once it runs (no longer named kcr-restore).
program_of() { # PID
	local p
	for _ in $(seq 600); do # 30 s: a slow guest's restore in a user namespace
		p=$1
		for _ in 1 2 3; do p=${p:+$(pgrep -P "$p" | head -n 1)}; done
		[[ -n $p && $(cat "/proc/$p/comm" 2>/dev/null) != kcr-restore ]] && { echo "$p"; return; }
		[[ $(cat "/proc/$1/comm" 2>/dev/null) != kcr ]] && { echo "$1"; return; }
		sleep 0.05
	done
	echo "$1"
}
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
proc_state() { sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat"; }

# wait_for_file FILE [TRIES]: until FILE exists and is not empty (0.1 s steps).
wait_for_file() {
	local i
	for ((i = 0; i < ${2:-100}; i++)); do
		[[ -s $1 ]] && return 0
		sleep 0.1
	done
	return 1
}

# expect_refused NAME PATTERN COMMAND...: COMMAND must fail and say PATTERN (grep -E).
expect_refused() {
	local name=$1 pattern=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		fail "$name: succeeded: $out"
	elif grep -qE "$pattern" <<<"$out"; then
		pass "$name refused: $(head -n 1 <<<"$out")"
	else
		fail "$name: refused without naming the cause (/$pattern/): $out"
	fi
}
