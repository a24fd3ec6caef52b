# shellcheck shell=bash
# cluster.sh: a throw-away single-node Slurm cluster (munged, slurmctld,
# slurmd) on loopback, entirely under one directory. Sourced by the Slurm
# tests, which run as root inside the kcr-vm guest (docs/slurm.md, "Tests").
#
#   cluster_up DIR        starts it; afterwards SLURM_CONF is exported
#   cluster_down DIR      cancels the jobs and stops the daemons
#
# Settings (environment, optional):
#   CLUSTER_PLUGSTACK  the plugstack.conf line(s)
#   CLUSTER_GRACE      GraceTime of partition "low" (preempted by "high"), default 3 s
#   CLUSTER_KILLWAIT   KillWait, default 2 s
#   CLUSTER_DEBUG      SlurmctldDebug/SlurmdDebug, default info
#   CLUSTER_SLURMD_TIMEOUT  how long a silent node is up before it is DOWN, default 60 s
# The node is "localhost" with CPUs=2; partitions: low (default, PreemptMode
# REQUEUE with GraceTime) and high (preempts low). Timers are cut so a
# preemption, requeue and restart take seconds, not minutes.

cluster_fail() {
	echo "cluster: $*" >&2
	return 1
}

# The guest has only loopback and a bare cgroup2 mount; Slurm needs a
# non-loopback IPv4 address to resolve its own name, and cgroup/v2 needs
# IgnoreSystemd plus system.slice without systemd.
cluster_prepare_host() {
	# Only where no other address exists (the guest): a real host is left alone.
	if ! ip -4 -o addr show scope global 2>/dev/null | grep -q .; then
		ip link set lo up 2>/dev/null || true
		ip addr add 192.0.2.1/32 dev lo 2>/dev/null || true
	fi
	if mountpoint -q /sys/fs/cgroup; then
		mkdir -p /sys/fs/cgroup/system.slice 2>/dev/null || true
	fi
}

# cluster_munge D KEY: munged with KEY (copied into D), socket in D/run.
cluster_munge() {
	local D=$1 key=$2
	install -m 0400 "$key" "$D/munge/munge.key"
	# -F keeps munged in the foreground (so $! is its pid); --force: as root.
	setsid munged -F --force --key-file="$D/munge/munge.key" --socket="$D/run/munge.sock" \
		--pid-file="$D/run/munged.pid" --seed-file="$D/munge/seed" \
		>>"$D/log/munged.out" 2>&1 &
	echo "munged $!" >>"$D/pids"
	for _ in $(seq 100); do
		[ -S "$D/run/munge.sock" ] && break
		sleep 0.1
	done
	munge -n -S "$D/run/munge.sock" | unmunge -S "$D/run/munge.sock" >/dev/null ||
		cluster_fail "munge does not work; see $D/log/munged.out" || return 1
}

# cluster_dirs D: a fresh state, spool, log and run directory under D.
cluster_dirs() {
	local D=$1 b
	for b in munged slurmctld slurmd sinfo scontrol; do
		command -v "$b" >/dev/null || cluster_fail "$b not found; fix: packaging/install-deps.sh (slurm-wlm, munge)" || return 1
	done
	mkdir -p "$D"
	chmod 0755 "$D"
	rm -rf "$D/state" "$D/spool"
	mkdir -p "$D"/{etc,state,spool/slurmd,log,run,munge}
	chmod 0700 "$D/munge"
	: >"$D/pids"
}

# cluster_conf D CONTROLLER NODE-LINES PARTITION-NODES: slurm.conf,
# plugstack.conf and cgroup.conf in D/etc; paths under D are per node.
cluster_conf() {
	local D=$1 controller=$2 node_lines=$3 part_nodes=$4
	local grace=${CLUSTER_GRACE:-3} killwait=${CLUSTER_KILLWAIT:-2} debug=${CLUSTER_DEBUG:-info}
	cat >"$D/etc/slurm.conf" <<-CONF
		ClusterName=kcrtest
		SlurmctldHost=$controller
		SlurmUser=root
		SlurmdUser=root
		AuthType=auth/munge
		# cred_expire is the hold of a requeued job (+1 s); 5 is Slurm's minimum.
		AuthInfo=socket=$D/run/munge.sock,cred_expire=5
		CredType=cred/munge
		StateSaveLocation=$D/state
		SlurmdSpoolDir=$D/spool/slurmd
		SlurmctldPidFile=$D/run/slurmctld.pid
		SlurmdPidFile=$D/run/slurmd.pid
		SlurmctldLogFile=$D/log/slurmctld.log
		SlurmdLogFile=$D/log/slurmd.log
		SlurmctldDebug=$debug
		SlurmdDebug=$debug
		MailProg=/bin/true
		PlugStackConfig=$D/etc/plugstack.conf
		ProctrackType=${CLUSTER_PROCTRACK:-proctrack/linuxproc}
		TaskPlugin=task/none
		JobAcctGatherType=jobacct_gather/none
		AccountingStorageType=accounting_storage/none
		JobCompType=jobcomp/none
		MpiDefault=none
		SwitchType=switch/none
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core
		SchedulerType=sched/backfill
		# The schedulers that end grace periods and restart requeued jobs run every second.
		SchedulerParameters=bf_interval=1,sched_interval=1
		ReturnToService=2
		KillWait=$killwait
		MessageTimeout=10
		SlurmdTimeout=${CLUSTER_SLURMD_TIMEOUT:-60}
		InactiveLimit=0
		MinJobAge=600
		JobRequeue=1
		PreemptType=preempt/partition_prio
		PreemptMode=REQUEUE
		$node_lines
		PartitionName=low  Nodes=$part_nodes Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=$grace
		PartitionName=high Nodes=$part_nodes Default=NO MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
	CONF
	printf '%s\n' "${CLUSTER_PLUGSTACK:-}" >"$D/etc/plugstack.conf"
	cat >"$D/etc/cgroup.conf" <<-CONF
		CgroupPlugin=autodetect
		IgnoreSystemd=yes
		ConstrainCores=no
		ConstrainRAMSpace=no
		ConstrainDevices=no
	CONF
}

# The node's CPUs, sockets, cores and threads, and 80% of its memory, as
# slurmd -C sees them: "CPUs=... RealMemory=...".
cluster_node_hw() {
	local hw mem topo
	hw=$(slurmd -C | head -1)
	mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
	mem=$((mem > 1024 ? mem * 8 / 10 : mem / 2))
	topo=$(grep -o 'CPUs=.*ThreadsPerCore=[0-9]*' <<<"$hw")
	echo "$topo RealMemory=$mem"
}

# cluster_daemon D NAME ARGS...: a Slurm daemon in the foreground, recorded.
cluster_daemon() {
	local D=$1 name=$2
	shift 2
	setsid "$name" -D "$@" -f "$SLURM_CONF" >>"$D/log/$name.out" 2>&1 &
	echo "$name $!" >>"$D/pids"
}

# cluster_wait_idle D NODE...: every node idle, or an error naming why not.
cluster_wait_idle() {
	local D=$1 state="" name pid n one idle
	shift
	for _ in $(seq 300); do
		state="" idle=1
		for n in "$@"; do
			one=$(sinfo -h -n "$n" -o %T 2>/dev/null | head -1 || true)
			state+="$n ${one:-unknown}, "
			[ "$one" = idle ] || idle=0
		done
		((idle)) && return 0
		while read -r name pid; do
			kill -0 "$pid" 2>/dev/null && continue
			tail -n 5 "$D/log/$name.out" "$D/log/$name.log" >&2 2>/dev/null
			cluster_fail "$name died; see $D/log" || return 1
		done <"$D/pids"
		sleep 0.2
	done
	cluster_fail "nodes not idle after 60 s ($state); see $D/log"
}

cluster_up() {
	local D=$1
	cluster_prepare_host
	cluster_dirs "$D" || return 1
	dd if=/dev/urandom of="$D/munge.key" bs=1024 count=1 status=none
	cluster_munge "$D" "$D/munge.key" || return 1
	cluster_conf "$D" localhost \
		"NodeName=localhost NodeAddr=127.0.0.1 $(cluster_node_hw) State=UNKNOWN" localhost
	export SLURM_CONF=$D/etc/slurm.conf
	cluster_daemon "$D" slurmctld -i
	cluster_daemon "$D" slurmd -N localhost
	cluster_wait_idle "$D" localhost
}

# --- a cluster of kcr-cluster-vm guests: one node per guest -----------------
# Node 1 (kcr-n1) runs slurmctld and a slurmd; every other node a slurmd.
# They share the munge key and slurm.conf through /kcr-cluster; each keeps
# its own state, spool and logs under D. Paths in the configuration are the
# same on every node.

# cluster_nodes: kcr-n1 ... kcr-nN.
cluster_nodes() {
	local i
	for ((i = 1; i <= KCR_NODES; i++)); do printf 'kcr-n%d ' "$i"; done
}

# On node 1: starts the cluster and waits until every node is idle. What
# the nodes share (an NFS export) is to be made before: the others join
# once this is called.
cluster_up_nodes() {
	local D=$1 C=/kcr-cluster/slurm i lines=""
	[ "${KCR_NODE:-}" = 1 ] || cluster_fail "cluster_up_nodes runs on node 1 of kcr-cluster-vm" || return 1
	cluster_prepare_host
	cluster_dirs "$D" || return 1
	mkdir -p "$C"
	dd if=/dev/urandom of="$C/munge.key" bs=1024 count=1 status=none
	cluster_munge "$D" "$C/munge.key" || return 1
	for ((i = 1; i <= KCR_NODES; i++)); do
		lines+="NodeName=kcr-n$i NodeAddr=198.51.100.$i $(cluster_node_hw) State=UNKNOWN"$'\n'
	done
	cluster_conf "$D" "kcr-n1(198.51.100.1)" "$lines" ALL
	cp "$D"/etc/*.conf "$C/"
	export SLURM_CONF=$D/etc/slurm.conf
	cluster_daemon "$D" slurmctld -i
	cluster_daemon "$D" slurmd -N kcr-n1
	touch "$C/ready"
	# shellcheck disable=SC2046 # one word per node
	cluster_wait_idle "$D" $(cluster_nodes)
}

# On the other nodes: joins the cluster node 1 starts and serves it until
# node 1 calls cluster_end (or its guest has ended), then stops. UP runs
# before its slurmd starts (node 1 has made what the nodes share by then:
# see cluster_up_nodes), DOWN after its daemons stopped (both are commands).
cluster_follow() {
	local D=$1 up=${2:-} down=${3:-} C=/kcr-cluster/slurm
	for _ in $(seq 600); do
		[ -f "$C/ready" ] && break
		cluster_ended && return 0
		sleep 0.5
	done
	[ -f "$C/ready" ] || cluster_fail "node 1 did not start the cluster within 5 minutes" || return 1
	cluster_prepare_host
	cluster_dirs "$D" || return 1
	cluster_munge "$D" "$C/munge.key" || return 1
	cp "$C"/*.conf "$D/etc/"
	export SLURM_CONF=$D/etc/slurm.conf
	[ -z "$up" ] || eval "$up" || return 1
	cluster_daemon "$D" slurmd -N "kcr-n$KCR_NODE"
	until cluster_ended; do
		# Pulled plug: no sync, no unmount, no daemon told (sysrq 'o').
		if [ -f "/kcr-cluster/poweroff.$KCR_NODE" ]; then
			echo 1 >/proc/sys/kernel/sysrq
			echo o >/proc/sysrq-trigger
		fi
		sleep 0.5
	done
	cluster_down "$D"
	[ -z "$down" ] || eval "$down"
}

# On node 1: powers node N off at once, as a node dies (kcr-cluster-vm
# expects it to end without its command's status).
cluster_power_off() { touch "/kcr-cluster/poweroff.$1"; }

# Whether node 1's test is over.
cluster_ended() { [ -f /kcr-cluster/end ] || [ -f /kcr-cluster/ended.1 ]; }

# On node 1, last: the test is over; waits (a minute at most) until every
# other node has stopped, so that what node 1 serves (NFS) outlives them.
cluster_end() {
	local i
	touch /kcr-cluster/end
	for ((i = 2; i <= ${KCR_NODES:-1}; i++)); do
		[ -f "/kcr-cluster/poweroff.$i" ] && continue
		for _ in $(seq 120); do
			[ -f "/kcr-cluster/ended.$i" ] && break
			sleep 0.5
		done
	done
}

cluster_down() {
	local D=$1 name pid
	[ -s "$D/pids" ] || return 0
	export SLURM_CONF=$D/etc/slurm.conf
	local jobs
	jobs=$(squeue -h -o %A 2>/dev/null || true)
	if [ -n "$jobs" ]; then
		# shellcheck disable=SC2086
		scancel --full $jobs 2>/dev/null || true
		for _ in $(seq 50); do
			[ -z "$(squeue -h -t R,CG,S -o %i 2>/dev/null)" ] && break
			sleep 0.2
		done
	fi
	# slurmd and slurmctld first (they need munged to shut down cleanly).
	for name in slurmd slurmctld munged; do
		pid=$(awk -v n=$name '$1 == n { print $2 }' "$D/pids")
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	# Step daemons of this cluster left behind (slurmd gone first), known by
	# the SLURM_CONF in their environment; other clusters' are not touched.
	local p
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/exe" 2>/dev/null)" in */slurmstepd*) ;; *) continue ;; esac
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF" || continue
		kill -KILL "${p#/proc/}" 2>/dev/null || true
	done
	: >"$D/pids"
}
