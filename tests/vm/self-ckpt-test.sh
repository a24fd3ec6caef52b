#!/usr/bin/env bash
# A program checkpoints itself through libkcr; restarted from that image it
# learns it was restarted (callbacks say so) and finishes with the same output.
set -euo pipefail
: "${KCR:=kcr}" "${KCR_PROGS:?}"
W=$(mktemp -d /tmp/kcr-self.XXXXXX)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$KCR_PROGS/self_ckpt" "$W/golden" 20 "$W/golden.kcr" 10 2>"$W/golden.err" || die "golden run"
grep -q "self-checkpoint returned 0 (continued)" "$W/golden.err" || die "no continue: $(cat "$W/golden.err")"
grep -q "callback: before-checkpoint" "$W/golden.err" || die "before-checkpoint callback missing"
grep -q "callback: after-continue" "$W/golden.err" || die "after-continue callback missing"

"$KCR_PROGS/self_ckpt" "$W/out" 20 "$W/self.kcr" 10 2>"$W/run.err" || die "run"
cmp "$W/golden" "$W/out" || die "a self-checkpoint changed the program's output"
$KCR verify "$W/self.kcr" || die "self image does not verify"
# The output file grew after the checkpoint: restart rolls it back, then the
# restored run writes the rest again, identically.
$KCR restart --rollback-files "$W/self.kcr" 2>"$W/restart.err" || die "restart rc $?: $(cat "$W/restart.err")"
# The restored program's stderr is its original one (run.err), reopened and
# rolled back to its size at the checkpoint.
grep -q "self-checkpoint returned 1 (restarted)" "$W/run.err" || die "restored run did not learn it was restarted: $(cat "$W/run.err" "$W/restart.err")"
grep -q "callback: after-restart" "$W/run.err" || die "after-restart callback missing"
grep -q "after-continue" "$W/run.err" && die "rollback left the original run's later stderr in place"
cmp "$W/golden" "$W/out" || die "restored output differs from the uninterrupted run"
echo "ok: self-checkpoint continued and restarted with identical output"
rm -rf "$W"
