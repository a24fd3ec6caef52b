#!/usr/bin/env bash
# Only root or the owner may checkpoint a process; images are private to their
# owner; a restore runs with the restorer's credentials, never the image's.
set -uo pipefail
: "${KCR:=kcr}" "${KCR_PROGS:?}"
W=$(mktemp -d /tmp/kcr-sec.XXXXXX)
chmod 777 "$W"
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# An array, not a function: "${as_nobody[@]}" cmd & must leave $! the real process.
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env --)
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }

# 1. nobody may not checkpoint root's process.
"$KCR_PROGS/counter" "$W/root.out" 400 &
root_pid=$!
sleep 0.5
if out=$("${as_nobody[@]}" "$KCR" checkpoint "$root_pid" -o "$W/stolen.kcr" --no-catalog 2>&1); then
	fail "nobody checkpointed root's process"
else
	grep -q "permission denied" <<<"$out" && pass "nobody refused: $out" || fail "unclear refusal: $out"
fi
[[ ! -e $W/stolen.kcr ]] || fail "a refused checkpoint left an image behind"
kill -0 "$root_pid" && pass "root's process unharmed" || fail "root's process died"

# 2. nobody may checkpoint its own process; the image is private to nobody.
touch "$W/nobody.out"; chmod 666 "$W/nobody.out"
"${as_nobody[@]}" "$KCR_PROGS/counter" "$W/nobody.out" 60 &
nobody_pid=$!
sleep 1
"${as_nobody[@]}" "$KCR" checkpoint "$nobody_pid" -o "$W/own.kcr" --no-catalog --kill &&
	pass "nobody checkpointed its own process" || fail "nobody could not checkpoint its own process"
wait "$nobody_pid" 2>/dev/null
perm=$(stat -c '%a %U' "$W/own.kcr" 2>/dev/null)
[[ $perm == "600 nobody" ]] && pass "image is 0600 nobody" || fail "image permissions: $perm"

# 2b. nobody's image with the vdso moved below vm.mmap_min_addr, where only
# root may map: refused before anything changes, naming the address (not
# re-executed over and over as if its own mappings were in the way).
cp "$W/own.kcr" "$W/low-vdso.kcr"
"$KCR_PROGS/image_tool" set-vdso "$W/low-vdso.kcr" 1000 && chown nobody "$W/low-vdso.kcr"
if out=$("${as_nobody[@]}" "$KCR" restart "$W/low-vdso.kcr" 2>&1); then
	fail "nobody restored an image with its vdso at 0x1000"
elif grep -q "places the vdso at 0x1000" <<<"$out"; then
	pass "vdso below mmap_min_addr refused: $out"
else
	fail "unclear refusal of a low vdso: $out"
fi

# 3. root checkpoints nobody's process: the image still belongs to nobody.
"${as_nobody[@]}" "$KCR" restart "$W/own.kcr" &
restored=$!
sleep 1
[[ $(uid_of $restored) == 65534 ]] && pass "nobody's restore runs as nobody" || fail "restored uid $(uid_of $restored)"
# A restored program is a new program, as after exec: its owner may checkpoint it.
"${as_nobody[@]}" "$KCR" checkpoint "$restored" -o "$W/again.kcr" --no-catalog &&
	pass "nobody checkpoints its own restored process" || fail "restored process is not checkpointable by its owner"
$KCR checkpoint "$restored" -o "$W/by-root.kcr" --no-catalog --kill || fail "root could not checkpoint nobody"
wait "$restored" 2>/dev/null
perm=$(stat -c '%a %U' "$W/by-root.kcr")
[[ $perm == "600 nobody" ]] && pass "root's image of nobody's process is 0600 nobody" || fail "image permissions: $perm"

# 4. Restoring root's image as nobody gives nobody's credentials, not root's.
kill "$root_pid"; wait "$root_pid" 2>/dev/null
touch "$W/root2.out"; chmod 666 "$W/root2.out"
"$KCR_PROGS/counter" "$W/root2.out" 60 &
root_pid=$!
sleep 1
$KCR checkpoint "$root_pid" -o "$W/root.kcr" --no-catalog --kill
wait "$root_pid" 2>/dev/null
[[ $(stat -c '%a %U' "$W/root.kcr") == "600 root" ]] && pass "root's image is 0600 root" || fail "root image perms"
if "${as_nobody[@]}" "$KCR" restart "$W/root.kcr" 2>/dev/null; then
	fail "nobody restored an image it cannot read"
else
	pass "nobody cannot read root's image"
fi
chmod 644 "$W/root.kcr"
"${as_nobody[@]}" "$KCR" restart "$W/root.kcr" &
r=$!
sleep 1
[[ $(uid_of $r) == 65534 ]] && pass "root's image restored by nobody runs as nobody (no privilege gained)" ||
	fail "restored process has uid $(uid_of $r)"
wait "$r" && pass "restored program finished" || fail "restored program failed"

rm -rf "$W"
echo "security tests: $failures failed"
exit $((failures > 0))
