#!/usr/bin/env bash
# Bad images are refused with a clear error, before anything of the restoring
# process changes; the kernel stays quiet (kcr-vm fails the run on any WARN).
set -uo pipefail
: "${KCR:=kcr}" "${KCR_PROGS:?}"
W=$(mktemp -d /tmp/kcr-refuse.XXXXXX)
failures=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_refusal NAME IMAGE PATTERN [raw]: restore must fail, name the cause
# (PATTERN, a grep -E regex), and leave the caller intact.
expect_refusal() {
	local name=$1 image=$2 pattern=$3 mode=${4:-lib} out
	out=$("$KCR_PROGS/restart_probe" "$mode" "$image" "${image_maps[@]}" 2>&1)
	local rc=$?
	echo "  $name ($mode): $(echo "$out" | head -n 1)"
	if [[ $rc -ne 0 ]]; then
		fail "$name: $out"
	elif ! grep -qE "$pattern" <<<"$out"; then
		fail "$name: message does not name the cause (/$pattern/): $out"
	else
		pass "$name refused, caller intact"
	fi
	# The CLI must say it too, and exit non-zero.
	if [[ $mode == lib ]]; then
		out=$($KCR restart "$image" 2>&1) && fail "$name: kcr restart succeeded" ||
			grep -qE "$pattern" <<<"$out" || fail "$name: kcr restart message: $out"
	fi
}

# A good image of a process that maps a file of its own.
"$KCR_PROGS/mmap_file" "$W/out" 200 "$W" &
pid=$!
sleep 1
$KCR checkpoint "$pid" -o "$W/good.kcr" --kill --no-catalog || { echo "FAIL: cannot make a good image"; exit 1; }
wait "$pid" 2>/dev/null
size=$(stat -c %s "$W/good.kcr")
# Where the image's writable anonymous memory goes: a refused restore must not
# leave any of it mapped in the caller.
mapfile -t image_maps < <($KCR inspect --json "$W/good.kcr" | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vmas"]:
    if v["kind"] == "anon" and v["prot"][1] == "w":
        print(v["start"][2:])')
((${#image_maps[@]} > 0)) || fail "the good image has no writable anonymous mappings to check"

# Hostile prefilled-range arguments to the module: a dry run ignores them, a
# real restore refuses them before it changes anything.
expect_refusal bad-ranges "$W/good.kcr" "bad ranges" ranges
$KCR verify "$W/good.kcr" >/dev/null && pass "good image verifies" || fail "good image does not verify"

cp "$W/good.kcr" "$W/trunc.kcr"; truncate -s $((size / 2)) "$W/trunc.kcr"
expect_refusal truncated "$W/trunc.kcr" "truncated"
expect_refusal truncated "$W/trunc.kcr" "truncated" raw

cp "$W/good.kcr" "$W/hdr.kcr"; "$KCR_PROGS/image_tool" flip "$W/hdr.kcr" 100
expect_refusal header-flip "$W/hdr.kcr" "header checksum"
expect_refusal header-flip "$W/hdr.kcr" "header checksum" raw

# A byte inside the metadata (the first section's payload).
cp "$W/good.kcr" "$W/meta.kcr"; "$KCR_PROGS/image_tool" flip "$W/meta.kcr" 600
expect_refusal metadata-flip "$W/meta.kcr" "checksum"
expect_refusal metadata-flip "$W/meta.kcr" "checksum" raw

cp "$W/good.kcr" "$W/page.kcr"
off=$("$KCR_PROGS/image_tool" page-offset "$W/page.kcr")
"$KCR_PROGS/image_tool" flip "$W/page.kcr" $((off + 1234))
$KCR verify "$W/page.kcr" >/dev/null 2>&1 && fail "verify passed a flipped page byte" ||
	pass "verify catches a flipped page byte"
expect_refusal page-flip "$W/page.kcr" "fails its checksum"

cp "$W/good.kcr" "$W/foreign.kcr"
"$KCR_PROGS/image_tool" set-kversion "$W/foreign.kcr" "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-other"
expect_refusal foreign-kernel "$W/foreign.kcr" "taken on kernel"
expect_refusal foreign-kernel "$W/foreign.kcr" "taken on kernel" raw

# The vdso recorded at an address that is not page-aligned. (One below
# vm.mmap_min_addr is tested as nobody in security-test.sh: root may map there.)
cp "$W/good.kcr" "$W/odd-vdso.kcr"; "$KCR_PROGS/image_tool" set-vdso "$W/odd-vdso.kcr" 7f0000000800
expect_refusal odd-vdso "$W/odd-vdso.kcr" "vdso placement is invalid"
expect_refusal odd-vdso "$W/odd-vdso.kcr" "vdso placement is invalid" raw

head -c 100000 /dev/urandom >"$W/random.kcr"
expect_refusal not-an-image "$W/random.kcr" "not a kcr image"
expect_refusal not-an-image "$W/random.kcr" "not a kcr image|bad magic" raw

# A file the process mapped is gone: refused, naming the file.
mv "$W/kcr-private.dat" "$W/moved.dat"
expect_refusal missing-mapped-file "$W/good.kcr" "kcr-private.dat"
mv "$W/moved.dat" "$W/kcr-private.dat"
# ...and a changed one (different size) too.
truncate -s 8192 "$W/kcr-shared.dat"
expect_refusal changed-mapped-file "$W/good.kcr" "kcr-shared.dat"

rm -rf "$W"
echo "refusal tests: $failures failed"
exit $((failures > 0))
