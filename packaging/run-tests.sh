#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds, then runs every test (unit, lint, guest-kernel, Slurm).
# Ends with ctest's summary line. Run as root.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/packaging/install-deps.sh"
"$top/packaging/build.sh"
cd "$top/build"
exec ctest --output-on-failure --timeout 900 "$@"
