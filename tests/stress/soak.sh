#!/usr/bin/env bash
# One command: the long load run of issue 14 — CONCURRENT processes
# checkpointed and restored at once, then one process checkpointed and
# restored CYCLES times in a row — with the module's slab objects and
# vmalloc areas counted before, between and after (tests/vm/soak-test.sh).
# The suite runs a short version (vm.load.soak: 20 generations, 32 at once).
#   tests/stress/soak.sh [CYCLES [CONCURRENT]]   (default: 1000 32; needs a build)
# Costs about 4.5 s per generation under TCG (its run and its uninterrupted
# twin's): 200 took 14 minutes here, 1000 take about 70 (docs/reliability.md).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${KCR_BUILD_DIR:-$top/build}
[[ -x $build/tools/kcr && -f $build/kmod/kcr.ko ]] || { echo "soak: build first (packaging/build.sh)" >&2; exit 1; }
cycles=${1:-1000} concurrent=${2:-32}
export KCR=$build/tools/kcr KCR_PROGS=$build/tests/programs KCR_VM_ENV="PATH KCR KCR_PROGS"
export PATH=$build/tools:$PATH
exec "$top/tests/vm/kcr-vm" --track-allocs --timeout $((600 + cycles * 8)) --module "$build/kmod/kcr.ko" -- \
	"$top/tests/vm/soak-test.sh" "$cycles" "$concurrent"
