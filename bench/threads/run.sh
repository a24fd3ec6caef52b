#!/usr/bin/env bash
# One command: kcr vs CRIU checkpoint/restore of a multi-threaded process,
# 1, 8 and 64 threads holding 256 MiB of touched incompressible memory in all,
# in one boot of the guest kernel (bench/ckpt's harness). Prints every run, a
# table of medians with each tool's freeze time (first thread stopped to the
# last), and the ratios.
#   bench/threads/run.sh [CASES...]   (default: 256/1 256/8 256/64, MiB/threads)
#   BENCH_REPEAT=N (default 3): runs per measurement; the table shows medians.
set -euo pipefail
BENCH_CASES="${*:-256/1 256/8 256/64}" exec "$(dirname "${BASH_SOURCE[0]}")/../ckpt/run.sh"
