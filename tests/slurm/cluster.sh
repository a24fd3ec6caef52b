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

cluster_up() {
	local D=$1
	local grace=${CLUSTER_GRACE:-3} killwait=${CLUSTER_KILLWAIT:-2} debug=${CLUSTER_DEBUG:-info}
	local b
	for b in munged slurmctld slurmd sinfo scontrol; do
		command -v "$b" >/dev/null || cluster_fail "$b not found; fix: packaging/install-deps.sh (slurm-wlm, munge)" || return 1
	done
	cluster_prepare_host
	mkdir -p "$D"
	chmod 0755 "$D"
	rm -rf "$D/state" "$D/spool"
	mkdir -p "$D"/{etc,state,spool/slurmd,log,run,munge}
	chmod 0700 "$D/munge"
	: >"$D/pids"

	dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
	chmod 0400 "$D/munge/munge.key"
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

	local hw mem topo
	hw=$(slurmd -C | head -1)
	mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
	mem=$((mem > 1024 ? mem * 8 / 10 : mem / 2))
	topo=$(grep -o 'CPUs=.*ThreadsPerCore=[0-9]*' <<<"$hw")
	cat >"$D/etc/slurm.conf" <<-CONF
		ClusterName=kcrtest
		SlurmctldHost=localhost
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
		SlurmdTimeout=60
		InactiveLimit=0
		MinJobAge=600
		JobRequeue=1
		PreemptType=preempt/partition_prio
		PreemptMode=REQUEUE
		NodeName=localhost NodeAddr=127.0.0.1 $topo RealMemory=$mem State=UNKNOWN
		PartitionName=low  Nodes=localhost Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=$grace
		PartitionName=high Nodes=localhost Default=NO MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
	CONF
	printf '%s\n' "${CLUSTER_PLUGSTACK:-}" >"$D/etc/plugstack.conf"
	cat >"$D/etc/cgroup.conf" <<-CONF
		CgroupPlugin=autodetect
		IgnoreSystemd=yes
		ConstrainCores=no
		ConstrainRAMSpace=no
		ConstrainDevices=no
	CONF
	export SLURM_CONF=$D/etc/slurm.conf

	setsid slurmctld -D -i -f "$SLURM_CONF" >>"$D/log/slurmctld.out" 2>&1 &
	echo "slurmctld $!" >>"$D/pids"
	setsid slurmd -D -N localhost -f "$SLURM_CONF" >>"$D/log/slurmd.out" 2>&1 &
	echo "slurmd $!" >>"$D/pids"
	local state="" name pid
	for _ in $(seq 300); do
		state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -1 || true)
		[ "$state" = idle ] && return 0
		while read -r name pid; do
			kill -0 "$pid" 2>/dev/null && continue
			tail -n 5 "$D/log/$name.out" "$D/log/$name.log" >&2 2>/dev/null
			cluster_fail "$name died; see $D/log" || return 1
		done <"$D/pids"
		sleep 0.2
	done
	cluster_fail "node not idle after 60 s (state '$state'); see $D/log"
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
