#!/usr/bin/env bash
# options-test.sh SPANK_KCR_SO: on the host, without daemons: sbatch, salloc
# and srun list kcr's options in --help, and a bad value fails the submission
# with a message that says what is wrong (option parsing happens before any
# daemon is contacted).
set -euo pipefail
so=${1:?usage: options-test.sh spank_kcr.so}
for b in sbatch salloc srun; do
	command -v $b >/dev/null || { echo "SKIP: $b not installed"; exit 0; }
done
d=$(mktemp -d /var/tmp/kcr-options.XXXXXX)
trap 'rm -rf "$d"' EXIT
cat >"$d/slurm.conf" <<CONF
ClusterName=kcroptions
SlurmctldHost=localhost
PlugStackConfig=$d/plugstack.conf
NodeName=localhost CPUs=1 State=UNKNOWN
PartitionName=low Nodes=localhost Default=YES
CONF
echo "required $so" >"$d/plugstack.conf"
export SLURM_CONF=$d/slurm.conf
fail() { echo "FAIL: $*"; exit 1; }

for b in sbatch salloc srun; do
	help=$($b --help 2>&1) || true
	for o in --checkpoint=INTERVAL --checkpoint-dir=DIR --checkpoint-on=LIST --restart-from=; do
		grep -q -- "$o" <<<"$help" || fail "$b --help does not list $o"
	done
	echo "ok: $b --help lists --checkpoint, --checkpoint-dir, --checkpoint-on, --restart-from"
done

# expect_refused MESSAGE-PATTERN ARGS...: sbatch fails before contacting slurmctld.
expect_refused() {
	local pattern=$1
	shift
	local out rc=0
	out=$(sbatch "$@" --wrap true 2>&1) || rc=$?
	[ $rc -ne 0 ] || fail "sbatch $* was accepted"
	grep -q -- "$pattern" <<<"$out" || fail "sbatch $*: message lacks '$pattern': $out"
	echo "ok: sbatch $* -> $(grep -m1 spank_kcr <<<"$out")"
}
expect_refused "no unit" --checkpoint=30
expect_refused "not an interval" --checkpoint=abc
expect_refused "not a trigger" --checkpoint=10m --checkpoint-on=preempt,reboot
expect_refused "not an absolute directory" --checkpoint=10m --checkpoint-dir=relative/dir
expect_refused "not a placeholder" --checkpoint-dir=/x/'{jobid}'
expect_refused "not latest, none or a checkpoint id" --restart-from=newest
out=$(srun --checkpoint=1q true 2>&1) && fail "srun --checkpoint=1q was accepted" || true
grep -q "not an interval" <<<"$out" || fail "srun: $out"
echo "ok: srun --checkpoint=1q -> $(grep -m1 spank_kcr <<<"$out")"

# Valid values pass option parsing: sbatch then fails only for want of a controller.
out=$(timeout 20 sbatch --checkpoint=90s --checkpoint-dir='/x/{user}/{job}' --checkpoint-on=preempt \
	--restart-from=latest --wrap true 2>&1) || true
grep -q spank_kcr <<<"$out" && fail "valid options were refused: $out"
echo "ok: valid values are accepted"
# #SBATCH directives go through the same callbacks.
printf '#!/bin/sh\n#SBATCH --checkpoint=2x\ntrue\n' >"$d/job.sh"
out=$(sbatch "$d/job.sh" 2>&1) && fail "#SBATCH --checkpoint=2x was accepted" || true
grep -q "not an interval" <<<"$out" || fail "#SBATCH directive: $out"
echo "ok: #SBATCH --checkpoint=2x -> $(grep -m1 spank_kcr <<<"$out")"
