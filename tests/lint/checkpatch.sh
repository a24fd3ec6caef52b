#!/usr/bin/env bash
# Runs the kernel's scripts/checkpatch.pl over kmod/. checkpatch ships inside
# Debian's linux-source tarball (not the headers), so it is extracted once.
#   checkpatch.sh CACHE_DIR
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${1:?usage: checkpatch.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
tarball=$(find /usr/src -maxdepth 1 -name 'linux-source-6.1.tar.*' | head -n 1)
if [[ ! -x $cache/scripts/checkpatch.pl ]]; then
	[[ -n $tarball ]] || { echo "checkpatch: no linux-source-6.1 tarball; fix: apt-get install linux-source-6.1" >&2; exit 1; }
	mkdir -p "$cache"
	tar -xf "$tarball" -C "$cache" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
fi
cd "$top/kmod"
# SPDX tags are present; "--no-tree" runs without a kernel tree. Lines may reach
# 100 columns, as checkpatch itself now allows by default. BIT() is not
# available to user space, which shares uapi/kcr_uapi.h.
exec "$cache/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
	--max-line-length=100 --ignore FILE_PATH_CHANGES,BIT_MACRO -f ./*.c ./*.h uapi/*.h
