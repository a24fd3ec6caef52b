#!/usr/bin/env bash
# Who may checkpoint what (ptrace's rule), who gets the image, and what every
# checkpoint and restore leaves in the kernel log. docs/security.md names the
# promise each part proves. Runs as root inside kcr-vm.
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-sec.XXXXXX)
chmod 777 "$W"

# 1. nobody may not checkpoint root's process.
"$KCR_PROGS/counter" "$W/root.out" 400 &
root_pid=$!
sleep 0.5
expect_refused "nobody checkpointing root's process" "permission denied.*runs as uid 0" \
	"${as_nobody[@]}" "$KCR" checkpoint "$root_pid" -o "$W/stolen.kcr" --no-catalog
[[ ! -e $W/stolen.kcr ]] || fail "a refused checkpoint left an image behind"
kill -0 "$root_pid" && pass "root's process unharmed" || fail "root's process died"

# 2. nobody may checkpoint its own process; the image is private to nobody.
touch "$W/nobody.out"
chmod 666 "$W/nobody.out"
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
expect_refused "vdso below mmap_min_addr" "places the vdso at 0x1000" \
	"${as_nobody[@]}" "$KCR" restart "$W/low-vdso.kcr"

# 3. root checkpoints nobody's process: the image still belongs to nobody.
"${as_nobody[@]}" "$KCR" restart "$W/own.kcr" &
restored=$!
sleep 1
[[ $(uid_of $restored) == 65534 ]] && pass "nobody's restore runs as nobody" || fail "restored uid $(uid_of $restored)"
# A restored program is a new program, as after exec: its owner may checkpoint
# it. (Here the restorer was dumpable already; a restorer that changed its
# uid, as slurmstepd's child does, is covered by slurm.preempt_twice.)
"${as_nobody[@]}" "$KCR" checkpoint "$restored" -o "$W/again.kcr" --no-catalog &&
	pass "nobody checkpoints its own restored process" || fail "restored process is not checkpointable by its owner"
$KCR checkpoint "$restored" -o "$W/by-root.kcr" --no-catalog --kill || fail "root could not checkpoint nobody"
wait "$restored" 2>/dev/null
perm=$(stat -c '%a %U' "$W/by-root.kcr")
[[ $perm == "600 nobody" ]] && pass "root's image of nobody's process is 0600 nobody" || fail "image permissions: $perm"

# 4. Restoring root's image as nobody gives nobody's credentials and
# capabilities, not root's.
kill "$root_pid"
wait "$root_pid" 2>/dev/null
touch "$W/root2.out"
chmod 666 "$W/root2.out"
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
caps=$(grep -E '^Cap(Inh|Prm|Eff|Amb)' "/proc/$r/status" | awk '{print $2}' | sort -u)
[[ $caps == 0000000000000000 ]] && pass "and holds no capability" || fail "restored capabilities: $caps"
wait "$r" && pass "restored program finished" || fail "restored program failed"

# 5. A set-uid program holding a secret, as ssh-keysign holds host keys: run
# by nobody, it reads a root-only file and drops to nobody, which makes it
# non-dumpable. Neither nobody nor, by default, root may checkpoint it; root
# may with --privileged, and that image stays root's.
S=$W/suid
mkdir "$S"
mount -t tmpfs -o mode=755 tmpfs "$S" || die "cannot mount a tmpfs for the set-uid program"
install -m 4755 -o root "$KCR_PROGS/secret_holder" "$S/secret_holder"
secret="KCR-SECRET-$RANDOM$RANDOM"
echo "$secret" >"$S/secret"
chmod 600 "$S/secret"
touch "$W/suid.out"
chmod 666 "$W/suid.out"
"${as_nobody[@]}" "$S/secret_holder" "$W/suid.out" "$S/secret" &
suid_pid=$!
wait_for_file "$W/suid.out" || die "the set-uid program did not start"
[[ $(uid_of $suid_pid) == 65534 ]] || fail "the set-uid program did not drop to nobody"
expect_refused "nobody checkpointing the set-uid program" "permission denied.*not dumpable" \
	"${as_nobody[@]}" "$KCR" checkpoint "$suid_pid" -o "$W/suid-nobody.kcr" --no-catalog
expect_refused "root checkpointing it without --privileged" "not dumpable by its user.*--privileged" \
	"$KCR" checkpoint "$suid_pid" -o "$W/suid-root.kcr" --no-catalog
[[ ! -e $W/suid-root.kcr && ! -e $W/suid-nobody.kcr ]] && pass "no image left by the refusals" ||
	fail "a refused checkpoint left an image"
if $KCR checkpoint "$suid_pid" -o "$W/suid-priv.kcr" --no-catalog --privileged; then
	perm=$(stat -c '%a %U' "$W/suid-priv.kcr")
	[[ $perm == "600 root" ]] && pass "--privileged image is 0600 root" || fail "--privileged image is $perm"
	grep -qa "$secret" "$W/suid-priv.kcr" && pass "the image holds the secret (so only root may read it)" ||
		fail "the secret is not in the image: the test proves nothing"
	"${as_nobody[@]}" cat "$W/suid-priv.kcr" >/dev/null 2>&1 && fail "nobody can read the --privileged image" ||
		pass "nobody cannot read the --privileged image"
else
	fail "root could not checkpoint the set-uid program with --privileged"
fi
kill -0 "$suid_pid" && pass "the set-uid program runs on" || fail "the set-uid program died"
kill "$suid_pid"
wait "$suid_pid" 2>/dev/null

# 6. The exec race: nobody checkpoints its own process just as it execs the
# set-uid program (with 1.5 MiB of arguments, so the exec is slow). The
# caller's checks pass before the exec; the target must refuse once it has
# run it. (Before the fix every round leaked an image of the set-uid program.)
mkdir "$W/race"
chmod 777 "$W/race"
out=$("${as_nobody[@]}" "$KCR_PROGS/exec_race" "$S/secret_holder" "$S/secret" "$W/race" 24)
rc=$?
sed -E 's/process [0-9]+/process N/g; s/^round [0-9]+: //' <<<"$out" | sort | uniq -c | sort -rn | head -n 5
((rc == 0)) && pass "exec race: no image of the set-uid program" || fail "exec race: $(grep -c LEAK <<<"$out") leaks"
grep -q "started a new program" <<<"$out" && pass "exec race: an exec during the checkpoint was caught in the target" ||
	fail "exec race: no round caught an exec in the target, so the race was not tested"

# 7. A caller in a user namespace of its own holds every capability there,
# but none over a process in another namespace: ptrace refuses, so must kcr.
"${as_nobody[@]}" unshare -Ur sleep 300 &
ns_pid=$!
sleep 0.5
expect_refused "checkpoint from another user namespace" "permission denied" \
	"${as_nobody[@]}" unshare -Ur "$KCR" checkpoint "$ns_pid" -o "$W/ns.kcr" --no-catalog
kill "$ns_pid"

# 8. Every checkpoint and restore is in the kernel log: caller, target, image.
log=$(dmesg)
grep -qE "kcr: checkpoint of pid [0-9]+ \(counter, uid 65534\) by pid [0-9]+ \(uid 65534\) into $W/own.kcr" <<<"$log" &&
	pass "the kernel log names nobody's checkpoint" || fail "no log line for nobody's checkpoint"
grep -qE "kcr: checkpoint of pid [0-9]+ \(secret_holder, uid 65534\) by pid [0-9]+ \(uid 0\) into $W/suid-priv.kcr.*private to the caller" <<<"$log" &&
	pass "the kernel log names the privileged checkpoint" || fail "no log line for the privileged checkpoint"
grep -qE "kcr: checkpoint of pid [0-9]+ .*refused" <<<"$log" &&
	pass "the kernel log names refusals" || fail "no log line for a refused checkpoint"
grep -qE "kcr: restore by pid [0-9]+ \(uid 65534\) from $W/root.kcr: counter" <<<"$log" &&
	pass "the kernel log names restores" || fail "no log line for a restore"

# 9a. The module's own check of the proof, straight through the ioctl (libkcr
# would refuse first): only the caller's own open of this very process's
# /proc/PID/mem, made for the program it runs now, proves access.
probe() { "${as_nobody[@]}" "$KCR_PROGS/checkpoint_probe" "$@"; }
"${as_nobody[@]}" "$KCR_PROGS/counter" "$W/probe.out" 400 &
target=$!
"${as_nobody[@]}" "$KCR_PROGS/counter" "$W/probe2.out" 400 &
other=$!
"${as_nobody[@]}" bash -c 'trap "exec sleep 300" USR1; while :; do sleep 0.1; done' &
execer=$!
sleep 0.5
expect_probe() { # NAME PATTERN ARGS...
	local name=$1 pattern=$2 out
	shift 2
	if out=$(probe "$@" 2>&1) && grep -qE "$pattern" <<<"$out"; then
		pass "module refuses $name: $out"
	else
		fail "module: $name: $out"
	fi
}
expect_probe "no proof" "no proof of ptrace access" none "$target"
expect_probe "the caller's own /proc/self/mem" "not process $target's" self "$target"
expect_probe "another process's mem" "not process $target's" other "$target" "$other"
expect_probe "/proc/PID/environ" "not process $target's" environ "$target"
expect_probe "a regular file named mem" "not process $target's" file "$target" "$W"
expect_probe "a proof from before an exec" "started a new program|not process $execer's" stale "$execer"
# Opened by root, inherited by nobody: a proof of root's access, not nobody's.
exec 9<"/proc/$target/mem"
expect_probe "a proof someone else opened" "opened by someone else" fd "$target" 9
exec 9<&-
probe good "$target" >/dev/null && pass "the module accepts the caller's own proof" ||
	fail "the module refused a good proof: $(probe good "$target")"
kill "$target" "$other" "$execer" 2>/dev/null

# 9. An admin restricts /dev/kcr to root with the module parameter.
module=$(cat /kcr-run/module)
if rmmod kcr && insmod "$module" dev_mode=0600; then
	[[ $(stat -c %a /dev/kcr) == 600 ]] && pass "dev_mode=0600 makes /dev/kcr 0600" || fail "/dev/kcr is $(stat -c %a /dev/kcr)"
	expect_refused "nobody with a root-only /dev/kcr" "/dev/kcr.*(denied|root)" "${as_nobody[@]}" "$KCR" check
	$KCR check >/dev/null && pass "root still uses it" || fail "root cannot use a 0600 /dev/kcr"
	rmmod kcr && insmod "$module" || die "cannot reload the module"
else
	fail "cannot reload the module with dev_mode"
fi

umount "$S"
rm -rf "$W"
finish "security tests"
