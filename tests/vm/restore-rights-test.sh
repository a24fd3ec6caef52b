#!/usr/bin/env bash
# A restore widens nothing: the restored program gets none of the restorer's
# descriptors beyond those its image names, no capability beyond the
# restorer's, and a restorer under seccomp is refused (the module's own
# mappings would escape its filter). no_new_privs and non-dumpable are proven
# by golden runs (vm.ckpt.nnp_sandbox, vm.ckpt.nodump_sandbox).
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-rights.XXXXXX)

"$KCR_PROGS/counter" "$W/out" 100 &
pid=$!
sleep 1
$KCR checkpoint "$pid" -o "$W/img.kcr" --no-catalog --kill || die "cannot make an image"
wait "$pid" 2>/dev/null
image_fds=$($KCR inspect --json "$W/img.kcr" | python3 -c '
import json, sys
print(" ".join(str(f["fd"]) for f in json.load(sys.stdin)["fds"]))')
echo "the image names fds: $image_fds"

# 1. The restorer holds more descriptors, low and high, close-on-exec or not
# (in Slurm, slurmstepd's): none of them may reach the restored program.
(
	exec 5</etc/hostname 7>"$W/leak" 200</etc/hostname
	exec 9</etc/passwd
	exec "$KCR" restart "$W/img.kcr"
) &
r=$!
sleep 1.5
fds=$(find "/proc/$r/fd" -mindepth 1 -printf '%f\n' | sort -n | tr '\n' ' ')
fds=${fds% }
[[ $fds == "$image_fds" ]] && pass "the restored program has exactly the image's fds ($fds)" ||
	fail "the restored program has fds '$fds', the image names '$image_fds'"
# 2. Capabilities never beyond the restorer's: a root restorer without
# CAP_NET_RAW in its bounding set gives a program without it.
kill -9 "$r"
wait "$r" 2>/dev/null
setpriv --bounding-set=-net_raw --inh-caps=-all "$KCR" restart --rollback-files "$W/img.kcr" &
r=$!
sleep 1.5
restorer_bnd=$(setpriv --bounding-set=-net_raw sh -c 'grep CapBnd /proc/self/status' | awk '{print $2}')
bnd=$(awk '/^CapBnd/ {print $2}' "/proc/$r/status")
[[ $bnd == "$restorer_bnd" ]] && pass "the restored program's bounding set is the restorer's ($bnd)" ||
	fail "bounding set $bnd, the restorer's $restorer_bnd"
wait "$r" && pass "that restore ran to the end" || fail "that restore failed"

# 3. An image that says "dumpable only by root" (2) restores not dumpable:
# prctl() refuses 2 (core dumps would be written as root), so must a restore.
"$KCR_PROGS/sandboxed" "$W/dump.out" 200 report &
pid=$!
sleep 1
$KCR checkpoint "$pid" -o "$W/dump.kcr" --no-catalog --kill || die "cannot make an image"
wait "$pid" 2>/dev/null
"$KCR_PROGS/image_tool" poke-dumpable "$W/dump.kcr" 2
$KCR restart --rollback-files "$W/dump.kcr" &
r=$!
sleep 1.5
kill "$r"
wait "$r" 2>/dev/null
last=$(tail -n 1 "$W/dump.out")
[[ $last == *"dumpable 0"* ]] && pass "dumpable 2 in an image restores as 0 ($last)" ||
	fail "an image's dumpable 2 restored as: $last"

# 4. A restorer under a seccomp filter is refused, before anything changes.
expect_refused "a restorer under seccomp" "seccomp" \
	"$KCR_PROGS/seccomp_exec" "$KCR" restart --rollback-files "$W/img.kcr"

# 5. A multi-threaded program restored by its unprivileged owner: in a user
# namespace of nobody's own (only its uid and gid mapped), where the program
# holds no capability, with its own thread ids; output as if never stopped.
chmod 777 "$W"
# Long enough that the restored program still runs when it is looked at,
# however slow the guest: the restore of a user namespace may take seconds.
"${as_nobody[@]}" "$KCR_PROGS/thread_ring" "$W/ring-golden.out" 300 4 || die "uninterrupted run failed"
"${as_nobody[@]}" "$KCR_PROGS/thread_ring" "$W/ring.out" 300 4 &
pid=$!
sleep 1.5
"${as_nobody[@]}" "$KCR" checkpoint "$pid" -o "$W/ring.kcr" --no-catalog --kill ||
	fail "nobody could not checkpoint its own multi-threaded process"
wait "$pid" 2>/dev/null
"${as_nobody[@]}" "$KCR" restart "$W/ring.kcr" &
r=$!
prog=$(program_of "$r")
if [[ $prog != "$r" && $(cat "/proc/$prog/comm" 2>/dev/null) == thread_ring ]]; then
	[[ $(uid_of "$prog") == 65534 ]] && pass "the restored threads run as nobody" ||
		fail "restored uid $(uid_of "$prog")"
	caps=$(grep -E '^Cap(Prm|Eff|Amb)' "/proc/$prog/status" | awk '{print $2}' | sort -u)
	[[ $caps == 0000000000000000 ]] && pass "with no capability, not even in nobody's namespace" ||
		fail "restored capabilities: $caps"
	[[ $(awk '/^Threads/ {print $2}' "/proc/$prog/status") == 4 ]] && pass "all 4 threads back" ||
		fail "threads: $(awk '/^Threads/ {print $2}' "/proc/$prog/status")"
else
	fail "no restored program found under kcr restart ($r)"
fi
wait "$r" && pass "nobody's multi-threaded restore ran to the end" || fail "that restore failed (rc $?)"
cmp -s "$W/ring-golden.out" "$W/ring.out" && pass "its output is the uninterrupted run's" ||
	fail "its output differs: $(diff "$W/ring-golden.out" "$W/ring.out" | head -n 3)"

rm -rf "$W"
finish "restore rights tests"
