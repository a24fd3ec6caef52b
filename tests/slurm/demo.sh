#!/usr/bin/env bash
# demo.sh: kcr in Slurm, end to end, narrated (scenario (a) of slurm-test.sh).
# Runs as root inside the kcr-vm guest with the kcr module loaded:
#
#   KCR_VM_ENV="PATH KCR_BUILD_DIR" KCR_BUILD_DIR=$PWD/build \
#     tests/vm/kcr-vm --module build/kmod/kcr.ko -- tests/slurm/demo.sh
#
# It starts munged, slurmctld and slurmd with spank_kcr.so in plugstack.conf,
# submits a long computation as user "nobody" with --checkpoint, lets a
# higher-priority job preempt it, and shows Slurm requeue it and kcr restore
# it from its checkpoint; then it checks the job's output is byte-identical
# to an uninterrupted run and prints `kcr catalog list` for the job.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

title() { printf '\n== %s\n' "$*"; }
show_log() { # show_log JOB PATTERN: the plugin's lines in slurmd.log, shortened
	kcr_log "$1" | grep -E "$2" | sed -e 's/^\[[0-9-]*T\([0-9:.]*\)\] \[[^]]*\] /  \1 /' \
		-e 's/spank_kcr: job [0-9]*: //'
}

title "a private Slurm cluster (munged, slurmctld, slurmd) with spank_kcr.so"
setup
echo "  plugstack.conf: $(cat "$D/etc/plugstack.conf")"
sinfo -o '  partition %P: %D node(s) %T' | tail -n +2
echo "  partition low is preempted by partition high (PreemptMode=REQUEUE, GraceTime=3s)"

title "an uninterrupted run of the program, for reference"
golden demo
echo "  $PROGRESS writes $(wc -l <"$W/demo.golden.out") lines; the last: $(tail -n 1 "$W/demo.golden.out" | head -c 60)"

title "sbatch as user $USER_NAME: --checkpoint=4s --open-mode=append"
write_job demo exec "$PROGRESS" "$W/demo.log" "$STEPS"
job=$(submit demo -p low -c 2 --checkpoint=4s --open-mode=append)
echo "  job $job: $(tail -n 1 "$W/demo.sh")"
wait_for 60 "job $job running" job_state_is "$job" RUNNING
wait_for 90 "a periodic checkpoint" has_row "$job" trigger=periodic state=VERIFIED
show_log "$job" 'agent started|periodic checkpoint [0-9]'

title "a high-priority job needs the node: job $job is preempted"
high=$(preempt_now)
echo "  job $high submitted to partition high with $(log_lines demo) progress lines written"
wait_for 30 "the preemption checkpoint" has_row "$job" trigger=preempt state=VERIFIED
show_log "$job" 'grace period|preempt checkpoint'
wait_for 90 "job $job requeued and running again" eval "restarts_are $job 1 && job_state_is $job RUNNING"
echo "  slurmctld: $(grep -a -m1 "preempted JobId=$job" "$D/log/slurmctld.log" | sed 's/^\[[^]]*\] //')"
echo "  job $job runs again: Restarts=$(job_field "$job" Restarts)"
wait_for 30 "the restore" has_row "$job" "restore id=" outcome=succeeded
show_log "$job" 'restart 1|restored from'

title "job $job finishes"
wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
echo "  JobState=$(job_field "$job" JobState) Restarts=$(job_field "$job" Restarts)"

title "output check"
check_resumed demo

title "kcr catalog list --job $job"
catalog_list "$job" || rows "$job"
preempt_id=$(row_field "$(rows "$job" | grep trigger=preempt | head -n 1)" id)
title "kcr catalog show $preempt_id: the preemption checkpoint and its restore"
"$KCR" catalog show --catalog "$CATALOG" "$preempt_id" || rows "$job"
printf '\nkcr demo: PASS\n'
