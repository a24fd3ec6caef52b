#!/usr/bin/env bash
# The main job end to end, from a fresh Debian 12 machine: installs what is
# missing, builds, boots Debian's 6.1 kernel under qemu with kcr.ko loaded,
# and there runs a real Slurm cluster (munged, slurmctld, slurmd with
# spank_kcr.so): a batch job with --checkpoint is preempted, checkpointed,
# requeued and finished from its checkpoint; its output is checked against an
# uninterrupted run and `kcr catalog list` shows its checkpoints. Run as root.
#   packaging/run-demo.sh [--basic]   (--basic: kcr alone, without Slurm)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/packaging/install-deps.sh"
"$top/packaging/build.sh"
export KCR_VM_ENV="PATH KCR KCR_PROGS KCR_BUILD_DIR"
export PATH="$top/build/tools:$PATH" KCR="$top/build/tools/kcr" KCR_PROGS="$top/build/tests/programs"
export KCR_BUILD_DIR="$top/build"
cd "$top/build"
demo=$top/tests/slurm/demo.sh
[[ ${1:-} == --basic ]] && demo=$top/tests/vm/demo.sh
exec "$top/tests/vm/kcr-vm" --timeout 900 --module "$top/build/kmod/kcr.ko" -- "$demo"
