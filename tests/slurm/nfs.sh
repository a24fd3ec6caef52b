# shellcheck shell=bash
# nfs.sh: a real NFS export between kcr-cluster-vm guests, as sites share a
# checkpoint file system: the kernel's nfsd on node 1 exports a tmpfs (the
# guest's root, an overlay on 9p, cannot be exported) with root_squash, and
# every node, node 1 too, mounts it at the same path over NFSv4.2.

NFS_EXPORT=/srv/kcr-nfs

# nfs_serve: on node 1, the export (NFS_SIZE of guest memory, default 384m).
nfs_serve() {
	modprobe nfsd || return 1
	mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd || return 1
	mkdir -p "$NFS_EXPORT" /var/lib/nfs/v4recovery
	mountpoint -q "$NFS_EXPORT" || mount -t tmpfs -o "size=${NFS_SIZE:-384m},mode=0755" tmpfs "$NFS_EXPORT"
	# Where jobs keep what follows them (images, output): any user may make
	# a directory there, as on a site's scratch file system.
	mkdir -p "$NFS_EXPORT/kcr" "$NFS_EXPORT/work"
	chmod 1777 "$NFS_EXPORT/kcr" "$NFS_EXPORT/work"
	# The export is NFSv4's root (fsid=0): the directories above it are the
	# guest's overlay root, which nfsd cannot export to walk through.
	echo "$NFS_EXPORT 198.51.100.0/24(rw,sync,root_squash,no_subtree_check,fsid=0)" >/etc/exports
	# A new server refuses opens for its grace period (90 s by default):
	# the shortest lease and grace the kernel takes.
	echo 10 >/proc/fs/nfsd/nfsv4leasetime
	echo 10 >/proc/fs/nfsd/nfsv4gracetime
	rpcbind -w 2>/dev/null || rpcbind || return 1
	exportfs -ra || return 1
	rpc.mountd || return 1
	rpc.nfsd -N 3 4 || return 1
}

# nfs_mount DIR: the export of node 1 at DIR (hard mount, as sites use).
nfs_mount() {
	local dir=$1
	mkdir -p "$dir"
	for _ in $(seq 20); do
		mount -t nfs4 -o vers=4.2,hard,timeo=50 198.51.100.1:/ "$dir" 2>/dev/null && return 0
		sleep 1
	done
	mount -t nfs4 -o vers=4.2,hard,timeo=50 198.51.100.1:/ "$dir"
}

# nfs_umount DIR: lets go of the export even when node 1 no longer serves it.
nfs_umount() {
	umount "$1" 2>/dev/null || umount -f -l "$1" 2>/dev/null || true
}
