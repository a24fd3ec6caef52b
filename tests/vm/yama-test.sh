#!/usr/bin/env bash
# kcr follows Yama's kernel.yama.ptrace_scope as ptrace does (docs/security.md):
#   0: a user may checkpoint its own dumpable processes
#   1: only a process's ancestors (or CAP_SYS_PTRACE) — so not a user's kcr
#      from another shell; root and the Slurm agent (an ancestor) may
#   2: only CAP_SYS_PTRACE (root)
#   3: nobody, not even root; and the setting cannot be lowered again
# Runs as root inside kcr-vm; scope 3 comes last, as it is for good.
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-yama.XXXXXX)
chmod 777 "$W"
scope=/proc/sys/kernel/yama/ptrace_scope
[[ -w $scope ]] || die "$scope is missing: the guest kernel has no Yama"

start_target() { # a process of nobody, started from this (root) shell
	touch "$W/out"
	chmod 666 "$W/out"
	"${as_nobody[@]}" "$KCR_PROGS/counter" "$W/out" 400 &
	target=$!
	sleep 0.5
}

echo 0 >"$scope"
start_target
"${as_nobody[@]}" "$KCR" checkpoint "$target" -o "$W/s0.kcr" --no-catalog &&
	pass "scope 0: nobody checkpoints its own process" || fail "scope 0: nobody could not"

echo 1 >"$scope"
expect_refused "scope 1: nobody, not an ancestor" "ptrace_scope is 1" \
	"${as_nobody[@]}" "$KCR" checkpoint "$target" -o "$W/s1.kcr" --no-catalog
$KCR checkpoint "$target" -o "$W/s1-root.kcr" --no-catalog && pass "scope 1: root may" ||
	fail "scope 1: root could not"

echo 2 >"$scope"
expect_refused "scope 2: nobody" "ptrace_scope is 2" \
	"${as_nobody[@]}" "$KCR" checkpoint "$target" -o "$W/s2.kcr" --no-catalog
$KCR checkpoint "$target" -o "$W/s2-root.kcr" --no-catalog && pass "scope 2: root may" ||
	fail "scope 2: root could not"

echo 3 >"$scope"
expect_refused "scope 3: root" "ptrace_scope is 3" \
	"$KCR" checkpoint "$target" -o "$W/s3.kcr" --no-catalog
kill -0 "$target" && pass "the process ran on through every refusal" || fail "the process died"
kill "$target"
rm -rf "$W"
finish "yama tests"
