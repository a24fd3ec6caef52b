#!/usr/bin/env bash
# One command: kcr vs CRIU checkpoint/restore of a process tree, 16
# single-threaded processes (a parent and 15 children, checking in through
# pipes) holding 256 MiB of touched incompressible memory in all, in one boot
# of the guest kernel (bench/ckpt's harness). Prints every run, a table of
# medians with each tool's freeze time (kcr: first process held to the last
# released; CRIU: its "Freezing time"), and the ratios.
#   bench/trees/run.sh [CASES...]   (default: 256/p16, MiB/pPROCESSES)
#   BENCH_REPEAT=N (default 3): runs per measurement; the table shows medians.
set -euo pipefail
BENCH_CASES="${*:-256/p16}" exec "$(dirname "${BASH_SOURCE[0]}")/../ckpt/run.sh"
