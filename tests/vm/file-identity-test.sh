#!/usr/bin/env bash
# Files by identity, not inode: a program restored where its binary and the
# data files it maps were installed again (a copy keeping its time stamp:
# another inode, the same bytes), as on another node, restores and runs to
# its golden end; a rebuilt binary, a changed data file, one modified
# since, or one of another size is refused before the restorer is touched,
# naming the path and what differs.
#
# The program is mmap_file at a random moment: its own binary (an ELF file,
# known by its build-id) and a data file it maps private (known by a
# checksum of its contents), plus a file it maps shared and writes, which
# must stay the very file (a copy is refused).
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-fileid.XXXXXX)
STEPS=60

mkdir -p "$W/bin" "$W/golden" "$W/run"
cp -p "$KCR_PROGS/mmap_file" "$W/bin/prog"
"$W/bin/prog" "$W/golden/out" "$STEPS" "$W/golden" || die "the uninterrupted run failed"

"$W/bin/prog" "$W/run/out" "$STEPS" "$W/run" &
pid=$!
sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + r % 150 / 100 }')"
$KCR checkpoint "$pid" -o "$W/img.kcr" --no-catalog --kill || die "the checkpoint failed"
wait "$pid" 2>/dev/null
$KCR inspect --json "$W/img.kcr" | python3 -c '
import json, sys
vmas = json.load(sys.stdin)["vmas"]
prog = [v for v in vmas if v.get("path", "").endswith("/bin/prog")]
data = [v for v in vmas if v.get("path", "").endswith("/kcr-private.dat")]
assert prog and all(v.get("build_id") for v in prog), "the binary has no build-id in the image"
assert data and all(v.get("checksum") for v in data), "the data file has no checksum in the image"
' && pass "the image knows the binary by its build-id and the data file by a checksum" ||
	fail "the image lacks the files' identities"

# keep FILE: a copy of it (another inode) and a way back to it.
keep() { cp -p "$1" "$1.orig"; }
put_back() { cp -p "$1.orig" "$1.new" && mv "$1.new" "$1"; }
inode() { stat -c %i "$1"; }

# refused WHAT PATTERN: the restore fails, naming the path and what differs,
# and nothing runs (no output beyond the checkpoint's).
refused() {
	local lines msg
	lines=$(wc -l <"$W/run/out")
	if msg=$($KCR restart "$W/img.kcr" 2>&1); then
		fail "$1: the restore was not refused"
		return
	fi
	[[ $(wc -l <"$W/run/out") == "$lines" ]] || fail "$1: the program ran"
	if grep -q -- "$2" <<<"$msg"; then
		pass "$1: refused: $(tail -n 1 <<<"$msg")"
	else
		fail "$1: refused, but the message does not name '$2': $msg"
	fi
}

prog=$W/bin/prog data=$W/run/kcr-private.dat
keep "$prog"
keep "$data"

# 1. A rebuilt binary: the same size and time, another build-id.
python3 - "$prog" <<'EOF'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
# The build-id note: namesz 4, descsz 20, type 3 (NT_GNU_BUILD_ID), "GNU".
at = b.find(struct.pack("<III", 4, 20, 3) + b"GNU\0", 0, 4096)
assert at > 0, "no build-id note"
b[at + 16] ^= 0xff
open(path + ".new", "wb").write(b)
EOF
touch -r "$prog.orig" "$prog.new" && chmod 755 "$prog.new" && mv "$prog.new" "$prog"
refused "a rebuilt binary" "$prog is not the program's: its build-id differs"
put_back "$prog"

# 2. A data file with other contents: the same size and time.
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[5] ^= 1; open(p + ".new", "wb").write(b)' "$data"
touch -r "$data.orig" "$data.new" && mv "$data.new" "$data"
refused "a data file with other contents" "$data is not the program's: its contents differ"
put_back "$data"

# 3. A copy that did not keep its time.
cp "$prog.orig" "$prog.new" && mv "$prog.new" "$prog"
refused "a copy with another time stamp" "$prog is not the program's: modified at"
put_back "$prog"

# 4. Another size.
cp -p "$data.orig" "$data.new" && echo x >>"$data.new" && touch -r "$data.orig" "$data.new" &&
	mv "$data.new" "$data"
refused "a data file of another size" "$data is not the program's: .* bytes, it had"
put_back "$data"

# 5. The file it maps shared and writes, even as a copy: its data must be
# the very file.
shared=$W/run/kcr-shared.dat
ln "$shared" "$shared.first"
cp -p "$shared" "$shared.new" && mv "$shared.new" "$shared"
refused "a copy of the file it writes" "$shared changed since the checkpoint (another inode)"
mv "$shared.first" "$shared"

# 6. Installed again (another inode, the same bytes and time): restores.
before=$(inode "$prog")/$(inode "$data")
put_back "$prog"
put_back "$data"
[[ "$(inode "$prog")/$(inode "$data")" != "$before" ]] || die "the copies kept their inodes"
[[ "$(inode "$prog")" != "$(stat -c %i "$prog.orig")" ]] || die "the copy is the original"
if $KCR restart "$W/img.kcr" >/dev/null 2>&1; then
	if cmp -s "$W/golden/out" "$W/run/out"; then
		pass "restored over copies of its binary and data file (other inodes): output is golden"
	else
		diff "$W/golden/out" "$W/run/out" | head -n 5
		fail "restored over copies, but the output differs from the uninterrupted run"
	fi
else
	fail "the restore over copies of the same files was refused"
fi
rm -rf "$W"
finish file-identity
