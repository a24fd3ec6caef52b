#!/usr/bin/env bash
# Installs everything kcr needs on a fresh Debian 12 machine, from Debian packages only.
# Idempotent: a second run installs nothing new. Run as root.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: must run as root (try: sudo $0)" >&2
	exit 1
fi

packages=(
	build-essential cmake pkg-config clang-format perl shellcheck
	libyaml-cpp-dev libsqlite3-dev sqlite3 googletest libgtest-dev libgmock-dev
	libcli11-dev zstd libzstd-dev libxxhash-dev xxhash libfmt-dev nlohmann-json3-dev
	libslurm-dev slurm-wlm slurmctld slurmd slurm-client munge
	qemu-system-x86 busybox-static cpio kmod iproute2 criu nfs-kernel-server
	linux-image-amd64 linux-headers-amd64 linux-source-6.1
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Package scripts must not start the system's own slurmd/munged: kcr's tests start private ones.
	policy=/usr/sbin/policy-rc.d
	created_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
	((created_policy)) && rm -f "$policy"
fi

# The guest kernel and the headers the module is built against must be the same build.
image_ver=$(dpkg-query -W -f='${Version}' linux-image-amd64)
headers_ver=$(dpkg-query -W -f='${Version}' linux-headers-amd64)
if [[ $image_ver != "$headers_ver" ]]; then
	echo "install-deps: linux-image-amd64 $image_ver and linux-headers-amd64 $headers_ver differ;" \
		"fix with: apt-get install linux-image-amd64=$headers_ver linux-headers-amd64=$headers_ver" >&2
	exit 1
fi
echo "install-deps: ok (guest kernel $image_ver)"
