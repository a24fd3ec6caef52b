#!/bin/sh
# kcr-vm stage 2, inside the overlay root: system mounts, module load, the
# command, module unload, results back to the host through /kcr-run.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd; ln -sf fd/0 /dev/stdin; ln -sf fd/1 /dev/stdout; ln -sf fd/2 /dev/stderr
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# /tmp stays the overlay's: the host's /tmp shows through (a checkout or build
# there, as in CI, must be visible) and writes land in the tmpfs upper layer.
chmod 1777 /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
hostname kcr-guest
ip link set lo up 2>/dev/null
R=/kcr-run
# A cluster's node (kcr-cluster-vm): its name, network and shared directory.
# shellcheck disable=SC1091 # written by kcr-cluster-vm
[ -f $R/node.sh ] && . $R/node.sh
echo "kcr-vm-guest: $(uname -r) up after $(cut -d' ' -f1 /proc/uptime)s"
if [ -f $R/module ]; then
	if ! insmod "$(cat $R/module)"; then
		echo "kcr-vm: insmod $(cat $R/module) failed" >&2
		echo 126 >$R/rc
		dmesg >$R/dmesg
		poweroff -f
	fi
fi
sh $R/cmd.sh </dev/null >/dev/console 2>&1
echo $? >$R/rc.tmp
if [ -f $R/module ] && grep -q '^kcr ' /proc/modules; then
	rmmod kcr 2>$R/unload-err || mv $R/unload-err $R/unload-failed
fi
dmesg >$R/dmesg
mv $R/rc.tmp $R/rc
[ -n "${KCR_NODE:-}" ] && touch "/kcr-cluster/ended.$KCR_NODE"
sync
poweroff -f
