#!/usr/bin/env bash
# The main job end to end, from a fresh Debian 12 machine: installs what is
# missing, builds, boots Debian's 6.1 kernel under qemu with kcr.ko loaded,
# and there checkpoints a running program, kills it, restores it from the
# image and shows its output equals an uninterrupted run's. Run as root.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/packaging/install-deps.sh"
"$top/packaging/build.sh"
export KCR_VM_ENV="PATH KCR KCR_PROGS"
export PATH="$top/build/tools:$PATH" KCR="$top/build/tools/kcr" KCR_PROGS="$top/build/tests/programs"
cd "$top/build"
exec "$top/tests/vm/kcr-vm" --module "$top/build/kmod/kcr.ko" -- "$top/tests/vm/demo.sh"
