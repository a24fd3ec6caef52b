#!/usr/bin/env bash
# build-installed.sh BUILD_DIR: installs kcr from BUILD_DIR into a scratch
# prefix, then builds the examples with nothing but what was installed (no
# path into the source tree) and runs them on an image that does not exist:
# each must link, start, and name the cause. Run by ctest (install.examples).
set -euo pipefail
build=${1:?usage: build-installed.sh BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=$(mktemp -d /tmp/kcr-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for h in kcr.h kcr_uapi.h status.h image.h checkpoint.h restart.h; do
	[[ -f $prefix/include/kcr/$h ]] || { echo "FAIL: $h was not installed"; exit 1; }
done
flags=(-I"$prefix/include" -L"$prefix/lib" "-Wl,-rpath,$prefix/lib" -lkcr)
g++ -std=c++20 -Wall -Werror "$here/image_summary.cpp" -o "$prefix/image_summary" "${flags[@]}"
gcc -std=c11 -Wall -Werror "$here/image_summary.c" -o "$prefix/image_summary_c" "${flags[@]}"
for prog in image_summary image_summary_c; do
	out=$("$prefix/$prog" /nonexistent.kcr 2>&1) && { echo "FAIL: $prog accepted a missing image"; exit 1; }
	grep -q "cannot open image /nonexistent.kcr" <<<"$out" || { echo "FAIL: $prog: $out"; exit 1; }
	echo "ok: $prog built from the installed headers, linked to the installed libkcr: $out"
done
