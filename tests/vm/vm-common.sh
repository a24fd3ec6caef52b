# shellcheck shell=bash
# vm-common.sh: what kcr-vm (one guest) and kcr-cluster-vm (several) share:
# finding Debian's 6.1 kernel, the initramfs, a guest's run share, its
# kernel command line, and the check of its console for kernel problems.
# Sourced; expects die() and vm_here (this directory) from the caller.
: "${vm_here:?vm_here must name tests/vm}"

# Sets kver (KCR_GUEST_KERNEL or the newest 6.1 in /boot) and busybox, or dies
# naming the package that is missing.
vm_find_parts() {
	kver=${KCR_GUEST_KERNEL:-}
	if [[ -z $kver ]]; then
		kver=$(find /boot -maxdepth 1 -name 'vmlinuz-6.1.*-amd64' | sed 's|/boot/vmlinuz-||' | sort -V | tail -n1)
	fi
	[[ -n $kver && -r /boot/vmlinuz-$kver ]] ||
		die "no Debian 6.1 kernel image in /boot; fix: packaging/install-deps.sh (installs linux-image-amd64)"
	[[ -d /lib/modules/$kver/kernel ]] ||
		die "no modules for $kver in /lib/modules; fix: apt-get install --reinstall linux-image-$kver"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found; fix: apt-get install qemu-system-x86"
	busybox=$(command -v busybox || true)
	[[ -n $busybox ]] && file -L "$busybox" 2>/dev/null | grep -q static || busybox=/bin/busybox
	[[ -x $busybox ]] || die "busybox not found; fix: apt-get install busybox-static"
	command -v cpio >/dev/null || die "cpio not found; fix: apt-get install cpio"
}

# vm_build_initrd RUN: $RUN/initrd.gz with busybox, the 9p/overlay modules and /init.
vm_build_initrd() {
	local ird=$1/initramfs m path
	mkdir -p "$ird"/{bin,dev,proc,sys,mods,lower,upper,newroot}
	cp "$busybox" "$ird/bin/busybox"
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache \
		9pnet 9pnet_virtio 9p overlay; do
		path=$(modinfo -k "$kver" -n "$m" 2>/dev/null) || die "kernel module $m missing for $kver"
		[[ $path == "(builtin)" || $path == /* && -z ${path##*builtin*} ]] && continue
		[[ -f $path ]] || continue # built into this kernel
		cp "$path" "$ird/mods/"
		basename "$path" >>"$ird/mods/order"
	done
	cp "$vm_here/guest-init.sh" "$ird/init"
	chmod +x "$ird/init"
	(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$1/initrd.gz"
}

# vm_make_share SHARE MODULE COMMAND...: the guest's run share: stage 2, the
# command as a script (run from the same directory, with the KCR_VM_ENV
# variables), and the module to load.
vm_make_share() {
	local share=$1 module=$2 v
	shift 2
	mkdir -p "$share"
	{
		echo "cd $(printf %q "$PWD") || exit 125"
		for v in ${KCR_VM_ENV:-}; do
			[[ -n ${!v+x} ]] && echo "export $v=$(printf %q "${!v}")"
		done
		printf 'exec'
		printf ' %q' "$@"
		echo
	} >"$share/cmd.sh"
	cp "$vm_here/guest-stage2.sh" "$share/stage2.sh"
	[[ -z $module ]] || echo "$module" >"$share/module"
}

# vm_append PERF [TRACK_ALLOCS]: the guest kernel's command line. With
# TRACK_ALLOCS, slab debugging also records who allocated each live object
# (debugfs slab/*/alloc_traces), for a test that counts the module's.
vm_append() {
	local append="console=ttyS0 rdinit=/init panic=-1 oops=panic panic_on_warn=1 loglevel=4 quiet"
	append+=" mitigations=off nokaslr tsc=unstable"
	if ((${2:-0})); then
		append+=" slub_debug=FZPU"
	elif ! (($1)); then
		append+=" slub_debug=FZP"
	fi
	echo "$append"
}

# The console filter: escape sequences and the harness's own chatter out.
vm_console_filter() {
	sed -u -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g; s/\r//g' \
		-e '/^kcr-vm-guest: /d; /^SeaBIOS /d; /^Booting from ROM/d; /^Powering off/d; /reboot: Power down/d'
}

# vm_kernel_problems [--oom-reports-ok] FILE...: any kernel WARN/BUG/Oops
# printed in them. With --oom-reports-ok, the stack trace every OOM-killer
# report prints (from "invoked oom-killer" to the end of its trace, </TASK>)
# is not one: a test that runs the OOM killer on purpose sees it.
vm_kernel_problems() {
	local pattern='WARNING:|BUG:|Oops|Call Trace|Kernel panic|general protection fault'
	local skip_oom=0
	[[ ${1:-} == --oom-reports-ok ]] && { skip_oom=1; shift; }
	cat "$@" 2>/dev/null | tr -d '\r' |
		awk -v skip="$skip_oom" '
			skip && /invoked oom-killer/ { in_report = 1 }
			!in_report { print }
			in_report && /<\/TASK>|Killed process|no killable processes/ { in_report = 0 }' |
		grep -E "$pattern" | head -n 20 || true
}
