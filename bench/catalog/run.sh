#!/bin/sh
# One command for the catalog benchmark (bench/catalog/bench_catalog.cpp):
#   bench/catalog/run.sh [--rows N] [--writers W] [--seconds S] [--dir DIR]
# Builds kcr_catalog_bench (and kcr, to time the CLI too, when it builds),
# then fills a fresh 1,000,000-row catalog under /tmp and measures it.
# BUILD_DIR picks the CMake build directory (default: build/ in the repo).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j2 --target kcr_catalog_bench
kcr_arg=""
if cmake --build "$build" -j2 --target kcr >/dev/null 2>&1 && [ -x "$build/tools/kcr" ]; then
  kcr_arg="--kcr $build/tools/kcr"
else
  echo "run.sh: kcr does not build right now; timing the library only" >&2
fi
# shellcheck disable=SC2086 # kcr_arg is two words or none
exec "$build/bench/catalog/kcr_catalog_bench" $kcr_arg "$@"
