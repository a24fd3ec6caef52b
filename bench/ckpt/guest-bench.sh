#!/usr/bin/env bash
# Inside the guest: kcr vs CRIU vs the plain-I/O floor on the same process,
# same kernel, same filesystem (the guest's tmpfs /tmp).
set -euo pipefail
: "${KCR:=kcr}" "${BENCH_BIN:?}" "${BENCH_SIZES:=64 256 1024}"
W=/tmp/bench
mkdir -p "$W"
ip link set lo up
now() { date +%s.%N; }
# Restore time: from the restore command's start until the restored program
# runs again (it creates trigger.resumed within 2 ms of waking).
wait_resumed() {
	while [[ ! -e $W/trigger.resumed ]]; do sleep 0.005; done
	now
}
elapsed() { echo "$2 - $1" | bc -l; }

start_target() { # MIB -> sets $pid once its memory is touched
	rm -f "$W/trigger" "$W/ready" "$W/trigger.resumed"
	setsid "$BENCH_BIN/bench_target" "$1" "$W/trigger" "$W/ready" </dev/null >/dev/null 2>&1 &
	while [[ ! -s $W/ready ]]; do sleep 0.05; done
	pid=$(cat "$W/ready")
}

# Times in seconds. checkpoint: the whole command, image synced. restore: until
# the program runs again. floor: write+fsync and read of the same bytes.
printf '%-6s %-6s %10s %10s %12s\n' size tool checkpoint restore image_MiB >"$W/results"
for mib in $BENCH_SIZES; do
	read -r fw fr < <("$BENCH_BIN/floor_io" "$mib" "$W/floor.bin")
	rm -f "$W/floor.bin"
	printf '%-6s %-6s %10.3f %10.3f %12s\n' "$mib" floor "$fw" "$fr" "$mib" >>"$W/results"

	start_target "$mib"
	t0=$(now); $KCR checkpoint "$pid" -o "$W/k.kcr" --kill --no-catalog -q; t1=$(now)
	img=$(($(stat -c %s "$W/k.kcr") >> 20))
	touch "$W/trigger"
	t2=$(now)
	$KCR restart --no-catalog "$W/k.kcr" &
	r=$!
	t3=$(wait_resumed)
	wait $r || { echo "kcr restore failed (rc $?)"; exit 1; }
	printf '%-6s %-6s %10.3f %10.3f %12s\n' "$mib" kcr "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")" "$img" >>"$W/results"
	rm -f "$W/k.kcr"

	start_target "$mib"
	rm -rf "$W/criu"; mkdir -p "$W/criu"
	t0=$(now); criu dump -t "$pid" -D "$W/criu" -o dump.log; t1=$(now)
	img=$(($(du -sb "$W/criu" | cut -f1) >> 20))
	touch "$W/trigger"
	t2=$(now)
	criu restore -D "$W/criu" -o restore.log &
	r=$!
	t3=$(wait_resumed)
	wait $r || { echo "criu restore failed (rc $?)"; tail -5 "$W/criu/restore.log"; exit 1; }
	printf '%-6s %-6s %10.3f %10.3f %12s\n' "$mib" criu "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")" "$img" >>"$W/results"
	rm -rf "$W/criu"
done
cat "$W/results"
# Ratios per size.
awk 'NR > 1 { c[$1, $2] = $3; r[$1, $2] = $4; sizes[$1] = 1 }
     END {
       printf "\n%-6s %14s %14s %16s %16s\n", "size", "ckpt kcr/criu", "ckpt kcr/floor", "restore kcr/criu", "restore kcr/floor"
       for (s in sizes)
         printf "%-6s %14.2f %14.2f %16.2f %16.2f\n", s, c[s, "kcr"] / c[s, "criu"], c[s, "kcr"] / c[s, "floor"], r[s, "kcr"] / r[s, "criu"], r[s, "kcr"] / r[s, "floor"]
     }' "$W/results" | sort -n
