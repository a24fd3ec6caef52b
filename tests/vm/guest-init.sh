#!/bin/busybox sh
# shellcheck shell=dash
# kcr-vm initramfs /init: load the 9p and overlay modules, mount the host root
# read-only under a tmpfs overlay, mount the run share, switch into it.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do
	insmod "/mods/$m" || echo "kcr-vm-guest: insmod $m failed"
done </mods/order
fail() {
	echo "kcr-vm: guest setup failed: $*"
	poweroff -f
}
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower ||
	fail "mount host root over 9p"
mount -t tmpfs -o mode=755 tmpfs /upper || fail "tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot ||
	fail "overlay"
mkdir -p /newroot/kcr-run
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 kcrrun /newroot/kcr-run ||
	fail "mount run share"
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /bin/sh /kcr-run/stage2.sh
