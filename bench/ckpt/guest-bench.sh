#!/usr/bin/env bash
# Inside the guest: kcr vs CRIU vs the plain-I/O floor on the same process,
# same kernel, same filesystem (the guest's tmpfs /tmp).
# BENCH_CASES: "MIB/THREADS ..." (default: each of BENCH_SIZES with 1 thread);
# MIB/pN is a tree of N single-threaded processes holding MIB in all.
set -euo pipefail
: "${KCR:=kcr}" "${BENCH_BIN:?}" "${BENCH_SIZES:=64 256 1024}" "${BENCH_REPEAT:=3}"
if [[ -z ${BENCH_CASES:-} ]]; then
	BENCH_CASES=""
	for mib in $BENCH_SIZES; do BENCH_CASES+="$mib/1 "; done
fi
W=/tmp/bench
mkdir -p "$W"
ip link set lo up
# A fresh guest's memory is not yet backed by the host: whichever run touches
# a page first pays for the host's fault. Touch most of it once, up front,
# so that no tool pays for it; then every measurement is repeated.
warm_mib=$(($(awk '/MemAvailable/ { print $2 }' /proc/meminfo) * 8 / 10 / 1024))
touch "$W/warm.trigger"
"$BENCH_BIN/bench_target" "$warm_mib" "$W/warm.trigger" "$W/warm.ready" >/dev/null
rm -f "$W"/warm.*
now() { date +%s.%N; }
# Restore time: from the restore command's start until the restored program
# runs again (it writes that time into trigger.resumed within 2 ms of
# waking); nothing polls meanwhile, so both cores are the tools' own.
resumed_at() { cat "$W/trigger.resumed"; }
elapsed() { echo "$2 - $1" | bc -l; }

start_target() { # MIB THREADS -> sets $pid once its memory is touched
	rm -f "$W/trigger" "$W/ready" "$W/trigger.resumed"
	setsid "$BENCH_BIN/bench_target" "$1" "$W/trigger" "$W/ready" "$2" </dev/null >/dev/null 2>&1 &
	disown
	while [[ ! -s $W/ready ]]; do sleep 0.05; done
	pid=$(cat "$W/ready")
}

# Times in seconds. checkpoint: the whole command, image synced. restore: until
# the program runs again (every thread of it). floor: write+fsync and read of
# the same bytes. freeze (ms): from the first thread stopped to the last,
# as each tool reports it (kcr's image header; CRIU's "Freezing time").
# Each measurement is repeated BENCH_REPEAT times; the table shows medians.
: >"$W/raw"
for case in $BENCH_CASES; do
	mib=${case%/*} threads=${case#*/}
	for _ in $(seq "$BENCH_REPEAT"); do
		read -r fw fr < <("$BENCH_BIN/floor_io" "$mib" "$W/floor.bin")
		rm -f "$W/floor.bin"
		echo "$case floor $fw $fr $mib 0" >>"$W/raw"

		start_target "$mib" "$threads"
		t0=$(now); out=$($KCR checkpoint "$pid" -o "$W/k.kcr" --kill --no-catalog 2>/dev/null); t1=$(now)
		if [[ -d $W/k.kcr ]]; then
			# A tree: from its first process held to its last released.
			freeze=$(sed -n 's/.*frozen \([0-9.]*\) ms.*/\1/p' <<<"$out")
		else
			freeze=$($KCR inspect --json "$W/k.kcr" | tr -d ' \n' | sed -n 's/.*"freeze_ns":\([0-9]*\).*/\1/p')
			freeze=$(awk -v ns="${freeze:-0}" 'BEGIN { printf "%.1f", ns / 1e6 }')
		fi
		img=$(($(du -sb "$W/k.kcr" | cut -f1) >> 20))
		touch "$W/trigger"
		t2=$(now)
		$KCR restart --no-catalog -q "$W/k.kcr" || { echo "kcr restore failed (rc $?)"; exit 1; }
		t3=$(resumed_at)
		echo "$case kcr $(elapsed "$t0" "$t1") $(elapsed "$t2" "$t3") $img ${freeze:-0}" >>"$W/raw"
		rm -rf "$W/k.kcr"

		start_target "$mib" "$threads"
		rm -rf "$W/criu"; mkdir -p "$W/criu"
		t0=$(now); out=$(criu dump -t "$pid" -D "$W/criu" -o dump.log --display-stats); t1=$(now)
		freeze=$(awk '/^Freezing time/ { printf "%.1f", $3 / 1000 }' <<<"$out")
		img=$(($(du -sb "$W/criu" | cut -f1) >> 20))
		touch "$W/trigger"
		t2=$(now)
		criu restore -D "$W/criu" -o restore.log || {
			echo "criu restore failed (rc $?)"
			tail -5 "$W/criu/restore.log"
			exit 1
		}
		t3=$(resumed_at)
		echo "$case criu $(elapsed "$t0" "$t1") $(elapsed "$t2" "$t3") $img ${freeze:-0}" >>"$W/raw"
		rm -rf "$W/criu"
	done
done
echo "all runs (MiB/threads tool checkpoint restore image_MiB freeze_ms):"
cat "$W/raw"
echo
# Medians per size and tool, then ratios per size.
sort -k1,1V -k2,2 -k3,3n "$W/raw" | awk '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ k = $1 " " $2; n[k]++; c[k, n[k]] = $3; r[k, n[k]] = $4; fz[k, n[k]] = $6; img[k] = $5; if (!(k in seen)) { seen[k] = 1; order[++nk] = k } }
	END {
		printf "%-8s %-6s %10s %10s %12s %10s\n", "MiB/thr", "tool", "checkpoint", "restore", "image_MiB", "freeze_ms"
		for (i = 1; i <= nk; i++) {
			k = order[i]; delete ca; delete ra; delete fa
			for (j = 1; j <= n[k]; j++) { ca[j] = c[k, j]; ra[j] = r[k, j]; fa[j] = fz[k, j] }
			mc[k] = median(ca, n[k]); mr[k] = median(ra, n[k]); mf[k] = median(fa, n[k])
			split(k, f, " "); if (!(f[1] in cases)) { cases[f[1]] = 1; corder[++nc] = f[1] }
			printf "%-8s %-6s %10.3f %10.3f %12s %10.1f\n", f[1], f[2], mc[k], mr[k], img[k], mf[k]
		}
		printf "\n%-8s %14s %14s %16s %16s\n", "MiB/thr", "ckpt kcr/criu", "ckpt kcr/floor", "restore kcr/criu", "restore kcr/floor"
		for (i = 1; i <= nc; i++) {
			s = corder[i]
			printf "%-8s %14.2f %14.2f %16.2f %16.2f\n", s, mc[s " kcr"] / mc[s " criu"], mc[s " kcr"] / mc[s " floor"], mr[s " kcr"] / mr[s " criu"], mr[s " kcr"] / mr[s " floor"]
		}
	}'
