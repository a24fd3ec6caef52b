#!/usr/bin/env bash
# The demo the README's first command runs inside the guest.
set -euo pipefail
: "${KCR:=kcr}" "${KCR_PROGS:?}"
W=$(mktemp -d /tmp/kcr-demo.XXXXXX)
say() { printf '\n== %s\n' "$*"; }

say "kcr check"
$KCR check
say "an uninterrupted run of a program that keeps AVX state and a 64 MiB heap"
"$KCR_PROGS/heap" "$W/golden.out" 40 64
tail -n 2 "$W/golden.out"
say "the same program, checkpointed after 2 s and killed"
"$KCR_PROGS/heap" "$W/run.out" 40 64 &
pid=$!
sleep 2
$KCR checkpoint "$pid" -o "$W/heap.kcr" --kill --no-catalog
wait "$pid" || echo "(process $pid was killed after the checkpoint, as asked)"
echo "its output so far: $(wc -l <"$W/run.out") lines"
say "kcr inspect"
$KCR inspect "$W/heap.kcr" | head -n 12
say "kcr restart: this shell's child becomes the program and finishes it"
$KCR restart "$W/heap.kcr"
say "output check"
if cmp "$W/golden.out" "$W/run.out"; then
	echo "restored output is byte-identical to the uninterrupted run ($(wc -l <"$W/run.out") lines)"
else
	echo "FAIL: outputs differ"
	exit 1
fi
