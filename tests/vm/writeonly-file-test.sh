#!/usr/bin/env bash
# A deleted file open only for writing (`exec 3>f; rm f`) is read with a
# descriptor of its own: the writer never reads through one without read
# access (the kernel WARNs at that, and panic_on_warn makes any user able to
# crash the machine). Its contents are saved only if the process itself
# could read the file. Runs as root inside kcr-vm, the processes as nobody.
set -uo pipefail
: "${KCR_PROGS:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W=$(mktemp -d /tmp/kcr-wronly.XXXXXX)
chmod 777 "$W"

# start_writer UMASK: a process of nobody holding fd 3 write-only on a deleted file.
start_writer() {
	"${as_nobody[@]}" bash -c "cd $W && umask $1 && exec 3>f && echo kept-line >&3 && rm f && exec sleep 300" &
	writer=$!
	for _ in $(seq 50); do
		[[ -e /proc/$writer/fd/3 && $(readlink "/proc/$writer/fd/3") == *deleted* ]] && return 0
		sleep 0.1
	done
	die "the writer did not get going"
}

# 1. A file its owner may read (mode 0644): saved, and back after the restore.
start_writer 022
"${as_nobody[@]}" "$KCR" checkpoint "$writer" -o "$W/ok.kcr" --no-catalog --kill &&
	pass "checkpoint of a write-only deleted file" || fail "checkpoint of a write-only deleted file failed"
wait "$writer" 2>/dev/null
"${as_nobody[@]}" "$KCR" restart "$W/ok.kcr" &
r=$!
sleep 1.5
[[ $(cat "/proc/$r/fd/3" 2>/dev/null) == kept-line ]] && pass "its contents are back after the restore" ||
	fail "restored fd 3 holds '$(cat "/proc/$r/fd/3" 2>&1)'"
[[ $(stat -L -c %a "/proc/$r/fd/3") == 644 ]] && pass "with its mode" || fail "mode $(stat -L -c %a "/proc/$r/fd/3")"
kill "$r"

# 2. A file even its owner may not read (mode 0200): refused, naming the fd;
# the process runs on.
start_writer 577
expect_refused "a write-only deleted file its owner cannot read" "fd 3 is a deleted file open only for writing" \
	"${as_nobody[@]}" "$KCR" checkpoint "$writer" -o "$W/no.kcr" --no-catalog
kill -0 "$writer" && pass "the process runs on" || fail "the process died"
kill "$writer"

rm -rf "$W"
finish "write-only file tests"
