#!/usr/bin/env bash
# Fails if any C++ source of kcr differs from what clang-format (.clang-format) makes of it.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
mapfile -t files < <(git ls-files 'lib/*.cpp' 'lib/*.h' 'catalog/*.cpp' 'catalog/*.h' \
	'config/*.cpp' 'config/*.h' 'util/*.h' 'tools/*.cpp' 'tools/*.h' 'spank_plugin/*.cpp' 'spank_plugin/*.h' \
	'tests/unit/*.cpp' 'tests/slurm/*.cpp' 'bench/*.cpp' 'examples/*.cpp' 2>/dev/null)
((${#files[@]})) || { echo "clang-format: no files"; exit 1; }
if [[ ${1:-} == --fix ]]; then
	clang-format -i "${files[@]}"
	exit 0
fi
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
