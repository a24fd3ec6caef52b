#!/usr/bin/env bash
# The catalog with real checkpoints: three `kcr checkpoint` runs of a live
# process are listed, `verify --all` passes, a flipped byte in one image makes
# `verify` mark it CORRUPT and `latest` skip it; a restore is recorded; prune
# removes the corrupt image and, past retention.keep_history, forgets its row.
set -uo pipefail
: "${KCR:=kcr}" "${KCR_PROGS:?}"
W=$(mktemp -d /tmp/kcr-catalog.XXXXXX)
export KCR_CONFIG=$W/kcr.yaml
printf 'catalog_path: %s/catalog.db\nimage_dir: %s/images\n' "$W" "$W" >"$KCR_CONFIG"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
json_count() { grep -oE "\"$1\": ?\"$2\"" <<<"$3" | wc -l; }

"$KCR_PROGS/counter" "$W/out" 400 &
pid=$!
sleep 0.5
for n in 1 2 3; do
	$KCR checkpoint "$pid" -o "$W/ckpt$n.kcr" -q || fail "checkpoint $n"
	sleep 0.3
done
kill "$pid"; wait "$pid" 2>/dev/null

list=$($KCR catalog list --format json)
echo "$list" | head -c 600; echo
[[ $(json_count state COMMITTED "$list") -eq 3 ]] && pass "three COMMITTED rows" || fail "rows: $list"
[[ $(json_count trigger manual "$list") -eq 3 ]] && pass "trigger manual" || fail "triggers: $list"
for n in 1 2 3; do
	grep -q "ckpt$n.kcr" <<<"$list" || fail "image ckpt$n.kcr not listed"
done

$KCR catalog verify --all && pass "verify --all passes" || fail "verify --all failed on good images"
list=$($KCR catalog list --format json)
[[ $(json_count state VERIFIED "$list") -eq 3 ]] && pass "three VERIFIED rows" || fail "after verify: $list"

latest=$($KCR catalog latest --job manual --format json)
grep -q "ckpt3.kcr" <<<"$(head -c 400 <<<"$latest")" && pass "latest is ckpt3" || fail "latest: $latest"

off=$("$KCR_PROGS/image_tool" page-offset "$W/ckpt3.kcr")
"$KCR_PROGS/image_tool" flip "$W/ckpt3.kcr" $((off + 100))
if $KCR catalog verify --all; then fail "verify passed a corrupt image"; else pass "verify exits non-zero on a corrupt image"; fi
list=$($KCR catalog list --format json --state all)
[[ $(json_count state CORRUPT "$list") -eq 1 ]] && pass "the damaged image is CORRUPT" || fail "after damage: $list"
latest=$($KCR catalog latest --job manual --format json)
if grep -q "ckpt3.kcr" <<<"$latest"; then fail "latest still offers the corrupt image: $latest"
elif grep -q "ckpt2.kcr" <<<"$latest"; then pass "latest skips it and offers ckpt2"
else fail "latest: $latest"; fi

# A restore is recorded against its checkpoint.
$KCR restart --rollback-files "$W/ckpt2.kcr" >/dev/null 2>&1 && pass "restored ckpt2" || fail "restore of ckpt2"
show=$($KCR catalog show "$(grep -oE '"id": ?[0-9]+' <<<"$latest" | head -n1 | grep -oE '[0-9]+$')" --format json 2>&1)
grep -q '"restores"' <<<"$show" && grep -q "started\|succeeded\|restored" <<<"$show" &&
	pass "restore row recorded" || fail "no restore row: $show"

# Prune cleans the corrupt image: its file goes, its row stays as DELETED
# history until keep_history has passed, when a later prune forgets it.
$KCR catalog prune --active-jobs 1 >/dev/null || fail "prune failed"
[[ ! -e $W/ckpt3.kcr && -e $W/ckpt2.kcr ]] && pass "prune removed only the corrupt image" ||
	fail "prune: $(ls "$W")"
list=$($KCR catalog list --format json --state all)
[[ $(json_count state DELETED "$list") -eq 1 ]] && pass "its row is kept as DELETED" || fail "after prune: $list"
printf 'retention:\n  keep_history: 1s\n' >>"$KCR_CONFIG"
sleep 1.2
out=$($KCR catalog prune --active-jobs 1)
grep -q "forgot 1 checkpoint rows" <<<"$out" && pass "prune reports: $(grep forgot <<<"$out")" ||
	fail "prune did not forget the old DELETED row: $out"
list=$($KCR catalog list --format json --state all)
[[ $(json_count state DELETED "$list") -eq 0 && $(json_count state VERIFIED "$list") -eq 2 ]] &&
	pass "the DELETED row is gone, the two good ones stay" || fail "after forgetting: $list"

rm -rf "$W"
finish "catalog tests"
