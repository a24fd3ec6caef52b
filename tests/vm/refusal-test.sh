#!/usr/bin/env bash
# Bad images are refused with a clear error, before anything of the restoring
# process changes; the kernel stays quiet (kcr-vm fails the run on any WARN).
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-refuse.XXXXXX)

# expect_refusal NAME IMAGE PATTERN [raw]: restore must fail, name the cause
# (PATTERN, a grep -E regex), and leave the caller intact. $as (an array)
# prefixes the restorer's command, e.g. to run it as nobody.
as=()
expect_refusal() {
	local name=$1 image=$2 pattern=$3 mode=${4:-lib} out
	out=$(timeout 60 "${as[@]}" "$KCR_PROGS/restart_probe" "$mode" "$image" "${image_maps[@]}" 2>&1)
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
		out=$(timeout 60 "${as[@]}" "$KCR" restart "$image" 2>&1) && fail "$name: kcr restart succeeded" ||
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
cp -p "$W/kcr-shared.dat" "$W/shared.real"
truncate -s 8192 "$W/kcr-shared.dat"
expect_refusal changed-mapped-file "$W/good.kcr" "kcr-shared.dat"
cat "$W/shared.real" >"$W/kcr-shared.dat"
rm "$W/shared.real"

# --- Every image field that reaches the kernel is checked before the point of
# no return (each edit keeps the section checksums valid, so only that
# validation can refuse it; "raw" sends it straight to the module).
# copy_with NAME IMAGE_TOOL_ARGS...: a copy of the good image, edited.
copy_with() {
	local name=$1
	shift
	cp "$W/good.kcr" "$W/$name.kcr"
	"$KCR_PROGS/image_tool" "$1" "$W/$name.kcr" "${@:2}" || fail "image_tool $* failed"
}
both() { # NAME PATTERN: lib and raw
	expect_refusal "$1" "$W/$1.kcr" "$2"
	expect_refusal "$1" "$W/$1.kcr" "$2" raw
}
# The module's memory for one image is bounded (and charged to the caller):
# three sections of 48 MiB, each under the per-section limit, are too much.
copy_with inflated inflate 48
expect_refusal inflated "$W/inflated.kcr" "too large" raw
rm -f "$W/inflated.kcr"
# /proc/PID/auxv reads up to an AT_NULL key: without one it would read the mm behind it.
copy_with auxv unterminate-auxv
both auxv "auxiliary vector has no AT_NULL"
# AMX tile state (bits 17, 18) without the permission and the larger buffer.
copy_with xfeatures poke-xstate 512 8 60007
both xfeatures "XSAVE state has features"
copy_with xcomp poke-xstate 520 8 8000000000000003
both xcomp "compacted or has reserved bits"
copy_with xreserved poke-xstate 528 8 1
both xreserved "compacted or has reserved bits"
copy_with mxcsr poke-xstate 24 4 ffff1f80
"$KCR_PROGS/image_tool" poke-xstate "$W/mxcsr.kcr" 512 8 3
both mxcsr "MXCSR"
# A kernel-privilege data segment selector (RPL 0).
copy_with selector poke-reg 23 10
both selector "segment selectors"
# A [vvar] larger than the kernel's would keep the restorer's own mappings in the program.
copy_with vvar poke-vvar 16
both vvar "vdso or vvar size differs"
# SA_IMMUTABLE (kernel-internal) on SIGUSR1's action.
copy_with sigflags poke-sigflags 10 4800000
both sigflags "flags .* no program can set"
copy_with taskflags poke-task-flags 80
both taskflags "restrictions this module does not know"
copy_with dumpable poke-dumpable 7
both dumpable "unknown dumpable"
# What a mapped file is (FILE_IDS): a record for no mapping, of two
# kinds at once, or with a build-id longer than any (21 bytes).
copy_with fileid-vma poke-file-id vma ffff
both fileid-vma "file identity table"
copy_with fileid-flags poke-file-id flags 3
both fileid-flags "file identity table"
copy_with fileid-len poke-file-id build_id_len 15
both fileid-len "file identity table"
# Indirect branch speculation disabled: this guest boots with mitigations=off,
# so no restorer can take that restriction, and none may shed it. (libkcr
# applies and checks these; the module cannot: docs/security.md.)
copy_with spec poke-task-flags 10
expect_refusal spec "$W/spec.kcr" "speculative indirect branch speculation disabled"
# Store bypass disabled on a CPU the attack does not affect (this one, as the
# kernel reports it): nothing to shed, so the image is not refused for it;
# the dry run that follows still proves the field is known.
copy_with ssb poke-task-flags 2
out=$(timeout 60 "$KCR_PROGS/restart_probe" dry "$W/ssb.kcr" 2>&1) && pass "store bypass on an unaffected CPU: $out" ||
	fail "store bypass on an unaffected CPU: $out"

# --- Paths are opened only as regular files: a FIFO would block, a tty
# would become the restorer's terminal.
mkfifo "$W/fifo.kcr"
t0=$SECONDS
expect_refusal fifo-image "$W/fifo.kcr" "not a regular file"
((SECONDS - t0 < 30)) && pass "a FIFO image path did not block" || fail "a FIFO image path blocked"
mv "$W/out" "$W/out.real"
mkfifo "$W/out"
expect_refusal fifo-fd-path "$W/good.kcr" "was a regular file at the checkpoint and is a FIFO"
rm "$W/out"
mv "$W/out.real" "$W/out"
mv "$W/kcr-private.dat" "$W/private.real"
mkfifo "$W/kcr-private.dat"
expect_refusal fifo-mapped-file "$W/good.kcr" "kcr-private.dat is no longer a regular file"
expect_refusal fifo-mapped-file "$W/good.kcr" "kcr-private.dat is no longer a regular file" raw
rm "$W/kcr-private.dat"
mv "$W/private.real" "$W/kcr-private.dat"

# --- A mapping below vm.mmap_min_addr, where only a privileged restorer may
# map: refused for nobody before anything changes (root may map there).
copy_with lowvma poke-vma-start 0 1000
chmod 755 "$W"
chmod o+r "$W"/*
as=("${as_nobody[@]}")
expect_refusal low-mapping "$W/lowvma.kcr" "may not map \\(below vm.mmap_min_addr" raw
expect_refusal low-mapping "$W/lowvma.kcr" "may not map \\(below vm.mmap_min_addr"
as=()

# --- Mappings of memfds: the module maps only memfds the restorer made, and
# refuses a mapping that names none of the image's.
"$KCR_PROGS/memfd_user" "$W/memfd.out" 200 &
pid=$!
sleep 1
$KCR checkpoint "$pid" -o "$W/memfd.kcr" --kill --no-catalog || fail "cannot checkpoint a memfd user"
wait "$pid" 2>/dev/null
expect_refusal memfd-not-made "$W/memfd.kcr" "which the restorer did not make" raw
cp "$W/memfd.kcr" "$W/memfd-id.kcr"
"$KCR_PROGS/image_tool" poke-memfd-map "$W/memfd-id.kcr" 3f || fail "image_tool poke-memfd-map failed"
expect_refusal memfd-id "$W/memfd-id.kcr" "mapping of a memfd the image lacks"
expect_refusal memfd-id "$W/memfd-id.kcr" "which the restorer did not make" raw
"$KCR_PROGS/image_tool" poke-memfd-map "$W/memfd-id.kcr" 9c40 || fail "image_tool poke-memfd-map failed"
expect_refusal memfd-id-far "$W/memfd-id.kcr" "of a memfd is malformed" raw

rm -rf "$W"
finish "refusal tests"
