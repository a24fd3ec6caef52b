#!/usr/bin/env bash
# Runs shellcheck over every shell script of kcr (settings in .shellcheckrc).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
command -v shellcheck >/dev/null || { echo "shellcheck: not installed; fix: packaging/install-deps.sh" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.sh' tests/vm/kcr-vm tests/vm/kcr-cluster-vm)
((${#files[@]})) || { echo "shellcheck: no files"; exit 1; }
shellcheck -x "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean"
