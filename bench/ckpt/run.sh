#!/usr/bin/env bash
# One command: kcr vs CRIU checkpoint/restore at 64 MiB, 256 MiB and 1 GiB of
# touched incompressible memory, plus the plain write/read floor, in one boot
# of the guest kernel. Prints a table of times (s), image sizes and ratios.
#   bench/ckpt/run.sh [SIZES...]   (default: 64 256 1024; needs a build)
#   BENCH_REPEAT=N (default 3): runs per measurement; the table shows medians.
#   BENCH_CASES="MIB/THREADS ..." instead of SIZES (bench/threads/run.sh sets it).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${KCR_BUILD_DIR:-$top/build}
bin=$build/bench/ckpt
[[ -x $bin/bench_target && -x $build/tools/kcr ]] || { echo "bench: build first (packaging/build.sh)" >&2; exit 1; }
export BENCH_BIN=$bin KCR=$build/tools/kcr BENCH_SIZES="${*:-64 256 1024}"
export BENCH_REPEAT=${BENCH_REPEAT:-3}
export BENCH_CASES=${BENCH_CASES:-}
export KCR_VM_ENV="KCR BENCH_BIN BENCH_SIZES BENCH_CASES BENCH_REPEAT"
# 1 GiB process + its image + CRIU's image all live in guest RAM (tmpfs).
exec "$top/tests/vm/kcr-vm" --perf --mem 6144 --timeout 1800 --module "$build/kmod/kcr.ko" -- \
	"$top/bench/ckpt/guest-bench.sh"
