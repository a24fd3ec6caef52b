#!/usr/bin/env bash
# cluster-test.sh SCENARIO...: kcr under Slurm on a cluster of guests
# (tests/vm/kcr-cluster-vm: node 1 runs slurmctld and the test, every node a
# slurmd), with the checkpoint images and the jobs' files on a real NFS
# export from node 1 (root_squash), as a site shares them. Jobs run as
# kcruser (uid 4242 on every node). Every node runs this script; the others
# serve the cluster until node 1 is done. Several scenarios share one boot.
#
#   other_node   a --checkpoint job on kcr-n1 is preempted; kcr-n1 is then
#                drained; the job is requeued onto kcr-n2 and restored there
#                from its image on NFS (found through the image's record,
#                since kcr-n2's catalog never saw it): output byte-identical
#                to an uninterrupted run, no step recomputed
#   powered_off  a --checkpoint job runs on kcr-n2, which is powered off at a
#                random moment after a periodic checkpoint (no sync, no unmount:
#                what it had not written to the server is lost). Slurm finds the
#                node down and requeues the job onto kcr-n1, which restores the
#                latest periodic image; the output written after it is cut back
#                and written again: output byte-identical, every step once in the
#                progress log. Ends the cluster (kcr-n2 stays down): run it last.
# The job's program is each node's own copy (another inode on each node):
# the restore knows it by its build-id.
# In both, the nodes booted 5 s apart (kcr-cluster-vm --stagger), and the
# restored program's clocks continue from the checkpoint, never going back.
#
# Needs KCR_BUILD_DIR. Each node's Slurm logs are in /kcr-cluster/logs/nI
# (the run directory, kept with kcr-cluster-vm --keep).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KCR_SLURM_DIR=/var/tmp/kcr-slurm
# shellcheck source=tests/slurm/lib.sh
source "$here/../slurm/lib.sh"
# shellcheck source=tests/slurm/nfs.sh
source "$here/../slurm/nfs.sh"
trap - EXIT

SHARED=/shared
USER_NAME=kcruser
STEPS=${KCR_SLURM_STEPS:-60}

# The jobs' program, installed on each node on its own, as sites install
# software per node: a copy keeping its time stamp, another inode on each
# node (files made first, as many as the node's number, see to that). A
# restore on another node knows it by its build-id (docs/slurm.md).
NODE_PROGRESS=/usr/local/libexec/kcr-test/progress
install_progress() {
	local dir=${NODE_PROGRESS%/*} i
	mkdir -p "$dir"
	for i in $(seq "$KCR_NODE"); do : >"$dir/pad.$i"; done
	cp -p "$PROGRESS" "$NODE_PROGRESS"
	stat -c %i "$NODE_PROGRESS" >"/kcr-cluster/progress-inode.$KCR_NODE"
}

# What every node needs before its slurmd starts: the job's user, the
# agent's configuration (images on NFS, the catalog the node's own), its
# copy of the program, and its logs where node 1 can read them.
prepare_node() {
	useradd -u 4242 -m -s /bin/sh "$USER_NAME"
	install_progress
	# A powered-off node is down within seconds, not a minute.
	export CLUSTER_SLURMD_TIMEOUT=10
	rm -rf "$D"
	mkdir -p "$D/etc" "$D/catalog" "/kcr-cluster/logs/n$KCR_NODE"
	ln -s "/kcr-cluster/logs/n$KCR_NODE" "$D/log"
	cat >"$D/etc/kcr.yaml" <<-YAML
		image_dir: $SHARED/kcr/{user}/{job}
		catalog_path: $CATALOG
		checkpoint:
		  grace_margin: 5m
		  verify_after_write: true
		retention:
		  keep_last: 4
	YAML
	export CLUSTER_PLUGSTACK="required $PLUGIN config=$D/etc/kcr.yaml spool=$SPOOL min_interval=2s"
}

if [ "$KCR_NODE" != 1 ]; then
	prepare_node
	cluster_follow "$D" "nfs_mount $SHARED" "nfs_umount $SHARED"
	exit
fi

node_log() { cat "/kcr-cluster/logs/n$1/slurmd.log" 2>/dev/null || true; }
dump_cluster_logs() {
	local n
	for n in $(seq 1 "$KCR_NODES"); do
		echo "---- kcr-n$n: spank_kcr lines in slurmd.log"
		node_log "$n" | grep -a spank_kcr | tail -n 40 || true
	done
	echo "---- slurmctld.log (last 25 lines)"
	tail -n 25 "$D/log/slurmctld.log" 2>/dev/null || true
	echo "---- kcr-n1's catalog"
	local j
	for j in $(seq 1 8); do rows "$j"; done
	echo "---- sinfo, squeue"
	sinfo 2>/dev/null || true
	squeue -a -o '%.5i %.9P %.8T %.10r %.6M %N' 2>/dev/null || true
	find "$SHARED/kcr" -ls 2>/dev/null | head -n 30 || true
}
finish_cluster() {
	local rc=$?
	((rc == 0)) || dump_cluster_logs
	cluster_down "$D" || true
	cluster_end
	nfs_umount "$SHARED"
	exit $rc
}
trap finish_cluster EXIT

prepare_node
say "exporting $NFS_EXPORT over NFS (root_squash) and mounting it at $SHARED"
nfs_serve || fail "the NFS export could not be made"
nfs_mount "$SHARED" || fail "the NFS export could not be mounted"
say "starting the cluster: $(cluster_nodes)"
# shellcheck disable=SC2046 # one word per node
cluster_up_nodes "$D" || fail "the cluster did not start"
say "cluster up: $(sinfo -h -o '%D nodes %T' | tr '\n' ' ')"
inodes=$(cat /kcr-cluster/progress-inode.* | sort -u | wc -l)
[ "$inodes" = "$KCR_NODES" ] || fail "the nodes' copies of $NODE_PROGRESS share an inode number"
say "each node runs its own copy of $NODE_PROGRESS (inodes $(cat /kcr-cluster/progress-inode.* | tr '\n' ' '))"

# The job's files, where every node sees them.
W=$SHARED/work/test
runuser -u "$USER_NAME" -- mkdir -p -m 1777 "$W"

node_state() { sinfo -h -n "$1" -o %T | head -n 1; }
node_down() { [[ $(node_state "$1") == down* ]]; }
both_idle() { [ "$(node_state kcr-n1)" = idle ] && [ "$(node_state kcr-n2)" = idle ]; }
drain() { scontrol update nodename="$1" state=drain reason="kcr test"; }
resume() { scontrol update nodename="$1" state=resume; }
on_node() { # on_node JOB NODE WHEN: the job runs on NODE
	[ "$(job_field "$1" NodeList)" = "$2" ] || fail "job $1 $3 on $(job_field "$1" NodeList), not $2"
}
# start_on NAME NODE OTHER: its golden run, then the job as a --checkpoint=4s
# batch job started on NODE (OTHER drained meanwhile); sets $job.
start_on() {
	local name=$1 node=$2 other=$3
	golden "$name"
	write_job "$name" exec "$NODE_PROGRESS" "$W/$name.log" "$STEPS"
	drain "$other"
	job=$(submit "$name" -p low -c 1 --checkpoint=4s --open-mode=append)
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	on_node "$job" "$node" started
	resume "$other"
	say "job $job runs on $node: $STEPS steps, --checkpoint=4s, images in $SHARED/kcr"
}

scenario_other_node() {
	local name=other_node job
	start_on "$name" kcr-n1 kcr-n2
	wait_for 90 "a periodic checkpoint on kcr-n1" has_row "$job" trigger=periodic state=VERIFIED
	local high
	high=$(as_user sbatch --parsable -J high -p high -w kcr-n1 -c 1 -o /dev/null --wrap 'sleep 300')
	say "high-priority job $high submitted for kcr-n1: job $job is preempted"
	wait_for 60 "the preemption checkpoint on kcr-n1" has_row "$job" trigger=preempt state=VERIFIED
	drain kcr-n1
	say "preemption checkpoint taken at step $(($(log_lines "$name") - 1)); kcr-n1 drained"
	local image
	image=$(rows "$job" | grep trigger=preempt | sed -n 's/.* image=\([^ ]*\).*/\1/p' | head -n 1)
	[ -n "$image" ] || fail "no image path in the preemption checkpoint's row"
	wait_for 10 "the record beside $image" runuser -u "$USER_NAME" -- test -s "$image.json"
	wait_for 120 "job $job requeued and running on kcr-n2" \
		eval "restarts_are $job 1 && job_state_is $job RUNNING"
	on_node "$job" kcr-n2 restarted
	say "job $job restarted on kcr-n2"
	wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
	check_resumed "$name"
	node_log 2 | grep -a "spank_kcr: job $job:" | grep -q "restoring from checkpoint 0 (preempt)" ||
		fail "kcr-n2's log does not show the restore from the recorded preemption image"
	node_log 2 | grep -a "spank_kcr: job $job:" | grep -q "restored from checkpoint" ||
		fail "kcr-n2's log does not show the restored task"
	say "ok: kcr-n2 restored the task from $(basename "$image"), which kcr-n1 took and recorded"
	check_clocks_continued "$name" "$job" 2
	if node_log 1 | grep -a "spank_kcr: job $job:" | grep -q "node-local file system"; then
		fail "kcr-n1 called the NFS image directory node-local"
	fi
	scancel "$high"
	resume kcr-n1
	wait_for 60 "both nodes idle again" both_idle
}

# The restore of NAME's job JOB on node N (booted at another time than the
# node that saved it: kcr-cluster-vm --stagger) continued the program's
# clocks: the agent says so, and no step saw CLOCK_MONOTONIC leap (the
# program fails itself if a clock goes back). Without a time namespace the
# gap would be the whole requeue, less or more the nodes' boot difference.
check_clocks_continued() { # check_clocks_continued NAME JOB N
	node_log "$3" | grep -a "spank_kcr: job $2:" | grep -q "its clocks continue from the checkpoint" ||
		fail "kcr-n$3's log does not say the program's clocks continue from the checkpoint"
	local gap
	gap=$(sed -n 's/^clock gap \([0-9]*\) ms.*/\1/p' "$W/$1.log" | sort -n | tail -n 1)
	[ "${gap:-0}" -lt 5000 ] ||
		fail "$1: CLOCK_MONOTONIC leapt $gap ms between two steps across the restore"
	say "ok: clocks continued from the checkpoint on kcr-n$3 (largest gap between steps: ${gap:-under 1000} ms)"
}

# A checkpoint of JOB that node N's agent logged (its log is not on NFS,
# whose attribute cache would show node 1 a directory listing up to a
# minute old).
node_checkpointed() { # node_checkpointed N JOB TRIGGER
	node_log "$1" | grep -a "spank_kcr: job $2: task 0: $3 checkpoint" | grep -q verified
}

scenario_powered_off() {
	local name=powered_off job
	start_on "$name" kcr-n2 kcr-n1
	wait_for 90 "a periodic checkpoint on kcr-n2" node_checkpointed 2 "$job" periodic
	# A random moment after it: between 0 and 3 s of work that only kcr-n2 saw.
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.1f", r % 31 / 10 }')"
	say "powering kcr-n2 off at step ~$(log_lines "$name")"
	cluster_power_off 2
	wait_for 90 "kcr-n2 down" node_down kcr-n2
	say "kcr-n2 is $(node_state kcr-n2)"
	wait_for 120 "job $job requeued and running on kcr-n1" \
		eval "restarts_are $job 1 && job_state_is $job RUNNING"
	on_node "$job" kcr-n1 restarted
	wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
	check_resumed "$name"
	node_log 1 | grep -a "spank_kcr: job $job:" | grep -q "restored from checkpoint 0" ||
		fail "kcr-n1's log does not show a restore from kcr-n2's recorded image"
	say "ok: kcr-n1 restored the job from the image kcr-n2 took before it was powered off"
	check_clocks_continued "$name" "$job" 1
}

for scenario in "${@:-other_node}"; do
	say "---- scenario $scenario"
	"scenario_$scenario"
	say "PASS: $scenario"
done
