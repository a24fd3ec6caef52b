#!/usr/bin/env bash
# bench-launch.sh BUILD_DIR [ROUNDS]: what spank_kcr.so adds to a job step's
# launch when the job does not checkpoint (docs/performance-slurm.md).
#
# A benchmark, not a test: run it by hand, as root, on an idle machine (or in
# the guest: tests/vm/kcr-vm -- tests/slurm/bench-launch.sh BUILD_DIR). It
# starts a private cluster (cluster.sh) and times `srun true` in rounds; each
# round runs the three configurations in a rotating order, so drift in the
# machine's load hits them alike:
#   none   plugstack.conf empty (Slurm alone)
#   loaded spank_kcr.so loaded, the job gives no --checkpoint
#   off    spank_kcr.so loaded, the job says --checkpoint=off
# slurmstepd and srun read plugstack.conf at every launch, so switching it
# needs no restart. Prints per-configuration median, mean and p90 in ms and
# the medians' differences to "none".
set -euo pipefail
build=$(realpath "${1:?usage: bench-launch.sh BUILD_DIR [ROUNDS]}")
rounds=${2:-40}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/cluster.sh"
so=$build/spank_plugin/spank_kcr.so
[ -r "$so" ] || { echo "no $so; build first" >&2; exit 2; }
D=$(mktemp -d /var/tmp/kcr-bench.XXXXXX)
trap 'cluster_down "$D"; rm -rf "$D"' EXIT
CLUSTER_PLUGSTACK="" cluster_up "$D"
cat >"$D/kcr.yaml" <<YAML
catalog_path: $D/catalog.db
image_dir: $D/images/{user}/{job}
YAML

declare -A times
configure() { # configure none|loaded|off
	if [ "$1" = none ]; then
		: >"$D/etc/plugstack.conf"
	else
		echo "required $so config=$D/kcr.yaml spool=$D/run/kcr" >"$D/etc/plugstack.conf"
	fi
}
launch() { # launch none|loaded|off -> ms
	local extra=()
	[ "$1" = off ] && extra=(--checkpoint=off)
	local t0 t1
	t0=$(date +%s%N)
	srun -p low -n1 "${extra[@]}" true
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
for c in none loaded off; do # warm up caches
	configure $c
	for _ in 1 2 3; do launch $c >/dev/null; done
done
orders=("none loaded off" "loaded off none" "off none loaded")
for r in $(seq 1 "$rounds"); do
	for c in ${orders[$((r % 3))]}; do
		configure "$c"
		times[$c]+="$(launch "$c") "
	done
done

stats() { # stats "us us ...": median mean p90 in ms
	tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1; s += $1 }
		END { printf "%.2f %.2f %.2f", v[int((NR + 1) / 2)] / 1000, s / NR / 1000, v[int(NR * 0.9)] / 1000 }'
}
echo "srun -n1 true, $rounds rounds ($(nproc) CPUs, $(uname -r))"
printf '%-8s %10s %10s %10s\n' config median_ms mean_ms p90_ms
declare -A med
for c in none loaded off; do
	read -r m a p <<<"$(stats "${times[$c]}")"
	med[$c]=$m
	printf '%-8s %10s %10s %10s\n' $c "$m" "$a" "$p"
done
for c in loaded off; do
	echo "spank_kcr.so ($c) adds $(awk "BEGIN { printf \"%.2f\", ${med[$c]} - ${med[none]} }") ms to the median launch"
done
