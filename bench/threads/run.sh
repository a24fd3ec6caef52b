#!/usr/bin/env bash
# One command: kcr vs CRIU checkpoint/restore of a multi-threaded process,
# 1, 8 and 64 threads holding 256 MiB of touched incompressible memory in all,
# in one boot of the guest kernel (the harness is bench/ckpt's). Prints every
# run, a table of medians with each tool's freeze time (first thread stopped
# to the last), and the ratios.
#   bench/threads/run.sh [CASES...]   (default: 256/1 256/8 256/64, MiB/threads)
#   BENCH_REPEAT=N (default 3): runs per measurement; the table shows medians.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${KCR_BUILD_DIR:-$top/build}
bin=$build/bench/ckpt
[[ -x $bin/bench_target && -x $build/tools/kcr ]] || { echo "bench: build first (packaging/build.sh)" >&2; exit 1; }
export BENCH_BIN=$bin KCR=$build/tools/kcr BENCH_CASES="${*:-256/1 256/8 256/64}"
export BENCH_REPEAT=${BENCH_REPEAT:-3}
export KCR_VM_ENV="KCR BENCH_BIN BENCH_CASES BENCH_REPEAT"
exec "$top/tests/vm/kcr-vm" --perf --mem 3072 --timeout 1800 --module "$build/kmod/kcr.ko" -- \
	"$top/bench/ckpt/guest-bench.sh"
