#!/usr/bin/env bash
# The kernel's own .clang-format over kmod/ and tests/programs/ (C in the
# kernel's style). The file ships inside Debian's linux-source tarball, so it
# is extracted once, as checkpatch.sh does, and adjusted to this tree's
# rules: 100 columns (checkpatch's default limit, as kmod uses), no break
# right after an opening parenthesis (checkpatch --strict refuses a line
# ending in '(' and would fight the formatter over long messages), and
# 6.1's for_each_vma() known as a loop.
#   kernel-format.sh CACHE_DIR [--fix]
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${1:?usage: kernel-format.sh CACHE_DIR [--fix]}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
style=$cache/kernel.clang-format
if [[ ! -s $style ]]; then
	tarball=$(find /usr/src -maxdepth 1 -name 'linux-source-6.1.tar.*' | head -n 1)
	[[ -n $tarball ]] || { echo "kernel-format: no linux-source-6.1 tarball; fix: apt-get install linux-source-6.1" >&2; exit 1; }
	tar -xf "$tarball" -C "$cache" --strip-components=1 --wildcards '*/.clang-format'
	sed -e 's/^ColumnLimit: .*/ColumnLimit: 100/' \
		-e 's/^PenaltyBreakBeforeFirstCallParameter: .*/PenaltyBreakBeforeFirstCallParameter: 100000/' \
		-e "s/^  - 'list_for_each_entry'\$/  - 'list_for_each_entry'\n  - 'for_each_vma'/" \
		"$cache/.clang-format" >"$style.tmp"
	mv "$style.tmp" "$style"
fi
cd "$top"
mapfile -t files < <(git ls-files 'kmod/*.c' 'kmod/*.h' 'tests/programs/*.c' 'tests/programs/*.h')
((${#files[@]})) || { echo "kernel-format: no files"; exit 1; }
if [[ ${2:-} == --fix ]]; then
	clang-format --style="file:$style" -i "${files[@]}"
	exit 0
fi
clang-format --style="file:$style" --dry-run --Werror "${files[@]}"
echo "kernel-format: ${#files[@]} files clean"
