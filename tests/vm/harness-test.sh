#!/usr/bin/env bash
# Checks of the guest harness and the module's life cycle (run inside kcr-vm).
#   harness-test.sh loaded | reload | no-module
set -uo pipefail
: "${KCR:=kcr}"
fail() { echo "FAIL: $*"; exit 1; }
module=$(awk '$1 == "kcr" { found = 1 } END { exit !found }' /proc/modules && echo yes)

case ${1:-} in
loaded)
	[[ $module == yes ]] || fail "kcr is not in /proc/modules"
	[[ -c /dev/kcr ]] || fail "/dev/kcr is missing"
	ls -l /dev/kcr
	$KCR check || fail "kcr check failed with the module loaded"
	;;
reload)
	path=$(cat /kcr-run/module)
	for i in 1 2 3; do
		rmmod kcr || fail "rmmod failed (round $i)"
		[[ ! -e /dev/kcr ]] || fail "/dev/kcr still there after rmmod"
		insmod "$path" || fail "insmod failed (round $i)"
		$KCR check >/dev/null || fail "kcr check failed after reload $i"
	done
	echo "ok: module unloaded and reloaded 3 times"
	;;
no-module)
	rmmod kcr || fail "rmmod failed"
	out=$($KCR check 2>&1)
	rc=$?
	echo "$out"
	[[ $rc -ne 0 ]] || fail "kcr check passed without the module"
	grep -q "kcr check: kcr module is not loaded; fix: insmod kcr.ko" <<<"$out" ||
		fail "kcr check did not give the one-line reason"
	;;
*) fail "usage: harness-test.sh loaded|reload|no-module" ;;
esac
