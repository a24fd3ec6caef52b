#!/usr/bin/env bash
# Checks of the guest harness and the module's life cycle (run inside kcr-vm).
#   harness-test.sh loaded | reload | no-module
set -uo pipefail
: "${KCR:=kcr}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
module=$(awk '$1 == "kcr" { found = 1 } END { exit !found }' /proc/modules && echo yes)

case ${1:-} in
loaded)
	[[ $module == yes ]] || die "kcr is not in /proc/modules"
	[[ -c /dev/kcr ]] || die "/dev/kcr is missing"
	ls -l /dev/kcr
	$KCR check || die "kcr check failed with the module loaded"
	;;
reload)
	path=$(cat /kcr-run/module)
	for i in 1 2 3; do
		rmmod kcr || die "rmmod failed (round $i)"
		[[ ! -e /dev/kcr ]] || die "/dev/kcr still there after rmmod"
		insmod "$path" || die "insmod failed (round $i)"
		$KCR check >/dev/null || die "kcr check failed after reload $i"
	done
	echo "ok: module unloaded and reloaded 3 times"
	;;
no-module)
	rmmod kcr || die "rmmod failed"
	out=$($KCR check 2>&1)
	rc=$?
	echo "$out"
	[[ $rc -ne 0 ]] || die "kcr check passed without the module"
	grep -q "kcr check: kcr module is not loaded; fix: insmod kcr.ko" <<<"$out" ||
		die "kcr check did not give the one-line reason"
	;;
*) die "usage: harness-test.sh loaded|reload|no-module" ;;
esac
