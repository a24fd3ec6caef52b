#!/usr/bin/env bash
# A restored program's memory is filled in small pages (huge pages are off
# while kcr fills it), yet it must not stay that way: khugepaged, sped up
# here, merges it into huge pages while the program runs, and the program's
# own checksums and its output (against an uninterrupted run) prove the
# merge changed nothing.
set -uo pipefail
: "${KCR:=kcr}" "${KCR_PROGS:?}"
W=$(mktemp -d /tmp/kcr-thp.XXXXXX)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
thp=/sys/kernel/mm/transparent_hugepage
[[ $(cat $thp/enabled) == *"[always]"* ]] || die "THP is not 'always' in the guest: $(cat $thp/enabled)"
echo 100 >$thp/khugepaged/scan_sleep_millisecs
echo 10 >$thp/khugepaged/alloc_sleep_millisecs
echo 65536 >$thp/khugepaged/pages_to_scan
anon_huge_kb() { awk '/^AnonHugePages:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }

"$KCR_PROGS/heap" "$W/golden" 150 64 || die "uninterrupted run failed"
"$KCR_PROGS/heap" "$W/out" 150 64 &
pid=$!
sleep 3
$KCR checkpoint "$pid" -o "$W/img" --kill --no-catalog -q || die "checkpoint failed"
wait "$pid" 2>/dev/null
$KCR restart "$W/img" &
rpid=$!
merged=0
for _ in $(seq 300); do
	kb=$(anon_huge_kb "$rpid")
	[[ -z $kb ]] && break # finished
	((kb > 0)) && { merged=$kb; break; }
	sleep 0.1
done
wait "$rpid" || die "restored program failed (rc $?)"
((merged > 0)) || die "the restored program's memory was never merged into huge pages"
echo "ok: khugepaged merged ${merged} KiB of the restored program into huge pages"
cmp -s "$W/golden" "$W/out" || die "output differs from the uninterrupted run"
echo "ok: output identical to the uninterrupted run ($(wc -l <"$W/out") lines)"
rm -rf "$W"
