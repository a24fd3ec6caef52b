#!/usr/bin/env bash
# slurm-test.sh SCENARIO: one end-to-end test of the Slurm plugin. Runs as root
# inside the kcr-vm guest (real module, real munged/slurmctld/slurmd on
# loopback, spank_kcr.so loaded through plugstack.conf); jobs run as "nobody".
#
#   preempt          (a) a batch job is preempted, requeued and restored
#   preempt_twice    (b) the same through two preemptions
#   openmp           (j) the same with an OpenMP program (OMP_NUM_THREADS=2): restored
#                        in a pid namespace below the task with its own pid and thread
#                        ids, checkpointed again there, restored again one level deep;
#                        then another such job, requeued, restored and scancelled:
#                        Slurm records its SIGTERM and none of its processes is left
#   timelimit        (c) a time-limit checkpoint, then scontrol requeue
#   srun_step        (d) an srun step inside a batch job, with --checkpoint=auto
#   srun_two         (k) an srun -n2 step on one node: each periodic checkpoint is one
#                        cut (both tasks held until both are saved) and one catalog set;
#                        at a preemption both tasks are checkpointed side by side (not
#                        one after the other) and held; one task's image is removed, and
#                        after the requeue both are restored from the previous whole
#                        set: each output identical
#   fallback         (e) the newest image is corrupted: the previous one is used;
#                        that one comes from an on-demand checkpoint request
#   untouched        (g) a job without --checkpoint is left alone; a job kcr
#                        cannot checkpoint (a tree holding a socket) gets a FAILED row
#                        and runs on
#   script           (l) a batch script without exec (bash running a pipeline, a
#                        background child it waits for, programs one after another) is
#                        checkpointed as a process tree, preempted twice, requeued and
#                        restored: every output byte-identical, no program recomputed
#   restart_from     (h) a new job continues another job's checkpoint (--restart-from=ID)
#   cgroup           (m) under proctrack/cgroup: a daemon that left the task's tree
#                        and session (setsid, double fork) refuses the checkpoint, named;
#                        then (a) under proctrack/cgroup
#   owner_rule       (i) the agent (root) applies the job owner's ptrace rule: under
#                        Yama ptrace_scope=1 it checkpoints the job's own tasks (it is
#                        their ancestor), under 2 nothing (root could, the owner not),
#                        and it refuses a set-uid task the owner could not attach
#                        to; the image is the owner's; and it refuses an image directory
#                        another user made
# Every scenario also checks the catalog rows and restore records (f).
# Needs KCR_BUILD_DIR (the build tree); prints what it checks, exits non-zero
# on the first failure after dumping the relevant logs.
set -euo pipefail

scenario=${1:?usage: slurm-test.sh SCENARIO}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

# ---------------------------------------------------------------- scenarios --

# (a) preempted once; (b) twice; (j) with LAUNCH (e.g. env OMP_NUM_THREADS=2)
# before the program.
scenario_preempt() { # scenario_preempt TIMES [NAME [LAUNCH...]]
	local times=${1:-1} name=${2:-preempt}
	shift $(($# < 2 ? $# : 2))
	golden "$name" "$@"
	write_job "$name" exec "$@" "$PROGRESS" "$W/$name.log" "$STEPS"
	local job
	job=$(submit "$name" -p low -c 2 --checkpoint=4s --open-mode=append)
	say "submitted job $job: $STEPS steps, --checkpoint=4s"
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	local n
	for n in $(seq 1 "$times"); do
		# Image names carry the run (r0, r1, ...): the catalog keeps one restart count per job.
		wait_for 90 "a periodic checkpoint of run $n" has_row "$job" trigger=periodic state=VERIFIED ".r$((n - 1))."
		local before
		before=$(log_lines "$name")
		local high
		high=$(preempt_now)
		say "run $n: periodic checkpoint taken at step ~$before; high-priority job $high submitted"
		wait_for 30 "the preemption checkpoint of run $n" has_row "$job" trigger=preempt state=VERIFIED ".r$((n - 1))."
		say "run $n: preemption checkpoint taken at step $(($(log_lines "$name") - 1))"
		check_held "$name"
		wait_for 90 "job $job requeued and running again (restart $n)" \
			eval "restarts_are $job $n && job_state_is $job RUNNING"
		say "job $job restarted (Restarts=$n)"
		wait_for 30 "restore $n recorded as succeeded" \
			eval "[ \$(count_rows $job 'restore id=' outcome=succeeded) -ge $n ]"
		say "run $((n + 1)): task restored ($(kcr_log "$job" | grep -c 'restored from checkpoint') restore(s) in slurmd.log)"
		if [ "$name" = openmp ]; then check_threaded_restore "$job"; fi
		if [ "${CLUSTER_PROCTRACK:-}" = proctrack/cgroup ]; then check_tracked "$job"; fi
	done
	wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
	say "job $job COMPLETED after $times preemption(s)"
	check_resumed "$name"
	# The guest's image directory is node-local (its overlay root): the log says what that means.
	kcr_log "$job" | grep -q "images go to a node-local file system (overlay): a requeue onto another node" ||
		fail "the log does not say that the images are on a node-local file system"
	# (f) the catalog: one preemption checkpoint per run, each restored, states right.
	[ "$(count_rows "$job" trigger=preempt state=VERIFIED)" = "$times" ] ||
		fail "expected $times VERIFIED preempt rows"
	local r line id
	for r in $(seq 0 $((times - 1))); do
		line=$(rows "$job" | grep "trigger=preempt" | grep "\.r$r\." | head -n 1)
		id=$(row_field "$line" id)
		has_row "$job" "restore id=" "ckpt=$id " outcome=succeeded ||
			fail "preempt checkpoint $id (run $r) has no succeeded restore"
	done
	[ "$(count_rows "$job" state=FAILED)" = 0 ] || fail "unexpected FAILED rows"
	[ "$(count_rows "$job" outcome=failed)" = 0 ] || fail "unexpected failed restores"
	say "ok: catalog: $times preempt checkpoint(s) VERIFIED, each restored (succeeded); no failures"
	# The same through kcr's own command line.
	local json
	json=$(catalog_list "$job" json) || fail "kcr catalog list --job $job failed"
	[ "$(grep -o '"trigger": *"preempt"' <<<"$json" | wc -l)" = "$times" ] ||
		fail "kcr catalog list --format json does not show $times preempt checkpoints: $json"
	say "ok: kcr catalog list --job $job --format json shows the $times preempt checkpoint(s)"
	rows "$job" | sed 's/^/    /'
	kcr_log "$job" | grep -E 'preemption|restored|restoring' | sed 's/^.*spank_kcr/    spank_kcr/' | head -n 12
	if [ "$name" = openmp ]; then check_threaded_cancel "$@"; fi
}

# (j) after a restore the OpenMP program runs with its two threads in a pid
# namespace one level below the task's, whatever the generation: it was
# checkpointed there and restored into a fresh namespace, not a nested one.
# (The program itself checks its pid and thread ids every step.)
check_threaded_restore() { # check_threaded_restore JOB
	local pid nspid threads
	pid=$(pgrep -u "$USER_NAME" -x "$(basename "$PROGRESS")" | head -n 1) ||
		fail "no $(basename "$PROGRESS") process after the restore"
	nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$pid/status")
	threads=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$pid/status")
	[ "$(wc -w <<<"$nspid")" = 2 ] ||
		fail "the restored program (pid $pid) is $(($(wc -w <<<"$nspid") - 1)) pid namespace(s) deep (NSpid: $nspid), not 1"
	[ "$threads" = 2 ] || fail "the restored program (pid $pid) has $threads threads, not 2"
	kcr_log "$1" | grep -q "in a pid namespace of its own" ||
		fail "slurmd.log does not say the program was restored in a pid namespace"
	say "ok: restored program: pid $pid, NSpid $nspid (one namespace deep), $threads threads"
}

# (j) a restored multi-threaded task is still a Slurm task: scancel ends it,
# its end (a SIGTERM) reaches Slurm's record of the job, and nothing of the
# restore (task, namespace maker, init, program) outlives the job.
check_threaded_cancel() { # LAUNCH...
	local name=ompcancel job
	write_job "$name" exec "$@" "$PROGRESS" "$W/$name.log" 400
	job=$(submit "$name" -p low -c 2 --checkpoint=3s --open-mode=append)
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	wait_for 60 "a periodic checkpoint of job $job" has_row "$job" trigger=periodic state=VERIFIED
	scontrol requeue "$job"
	wait_for 90 "job $job requeued and running again" eval "restarts_are $job 1 && job_state_is $job RUNNING"
	wait_for 30 "job $job restored" has_row "$job" "restore id=" outcome=succeeded
	local before
	before=$(log_lines "$name")
	wait_for 30 "job $job progressing after its restore" eval "[ \$(log_lines $name) -gt $before ]"
	scancel "$job"
	wait_for 60 "job $job cancelled" job_state_is "$job" CANCELLED
	local procs='omp_progress|kcr-task|kcr-nsmaker|kcr-init|kcr-restore'
	wait_for 30 "no process of job $job left" eval "! pgrep -u $USER_NAME -x '$procs' >/dev/null"
	local code
	code=$(job_field "$job" ExitCode)
	[[ $code == *:15 ]] || fail "job $job: ExitCode $code does not show the SIGTERM that ended it"
	say "ok: scancel ended the restored task (ExitCode $code); none of its processes is left"
}

# (c) time-limit checkpoint, then the admin requeues the job.
scenario_timelimit() {
	local name=timelimit
	golden $name
	write_job $name exec "$PROGRESS" "$W/$name.log" "$STEPS"
	local job
	job=$(submit $name -p low -c 2 --time=1 --checkpoint=none --open-mode=append)
	say "submitted job $job: --time=1 --checkpoint=none (grace_margin ${KCR_GRACE_MARGIN})"
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	wait_for 60 "the time-limit checkpoint" has_row "$job" trigger=timelimit state=VERIFIED .r0.
	local at
	at=$(log_lines $name)
	[ "$(count_rows "$job" trigger=periodic)" = 0 ] || fail "--checkpoint=none took periodic checkpoints"
	# Let the task run on, so the restore must roll back what it wrote since.
	wait_for 60 "progress after the checkpoint" eval "[ \$(log_lines $name) -ge $((at + 4)) ]"
	say "time-limit checkpoint taken near step $((at - 1)); the task ran on to step $(($(log_lines $name) - 2)); scontrol requeue"
	scontrol requeue "$job"
	wait_for 90 "job $job running again" eval "restarts_are $job 1 && job_state_is $job RUNNING"
	wait_for 30 "the restore recorded" has_row "$job" "restore id=" outcome=succeeded
	wait_for 120 "job $job completed" job_state_is "$job" COMPLETED
	check_resumed $name
	local id
	id=$(row_field "$(rows "$job" | grep trigger=timelimit | grep '\.r0\.' | head -n 1)" id)
	has_row "$job" "restore id=" "ckpt=$id " outcome=succeeded ||
		fail "the time-limit checkpoint $id was not the one restored"
	say "ok: catalog: time-limit checkpoint $id VERIFIED and restored; output written after it was rolled back"
	rows "$job" | sed 's/^/    /'
}

# (d) an srun step, --checkpoint=auto. The step's task writes its own output
# file: a per-task name (%t), which slurmstepd opens for the task. A plain
# name is written by srun through pipes, which cannot be rolled back to a
# checkpoint (docs/slurm.md, "srun steps").
scenario_srun_step() {
	local name=srunstep
	golden $name
	write_job srun srun --output="$W/$name.%t.out" --error="$W/$name.%t.err" --open-mode=append \
		"$PROGRESS" "$W/$name.log" "$STEPS"
	local job
	job=$(submit srun -p low -c 2 --checkpoint=auto --open-mode=append)
	say "submitted job $job: batch script runs 'srun --output=$name.%t.out progress', --checkpoint=auto"
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	wait_for 90 "a periodic checkpoint of step 0" has_row "$job" step=0 trigger=periodic state=VERIFIED
	# The task's stdout is the file itself, so a restore can roll it back.
	local first
	first=$(row_field "$(rows "$job" | grep step=0 | grep state=VERIFIED | head -n 1)" image)
	"$KCR" inspect --json "$first" | tr -d '\n' | grep -q '"fd": *1, *"kind": *"file", *"path": *"'"$W/$name.0.out"'"' ||
		fail "fd 1 of step 0's task is not its output file: $("$KCR" inspect "$first" | grep ' fd ')"
	say "ok: fd 1 of step 0's task is $name.0.out, which a restore rolls back"
	kcr_log "$job" | grep -q 'checkpoint=auto: every' || fail "the auto interval was not logged"
	say "auto interval: $(kcr_log "$job" | grep -o 'checkpoint=auto: every.*' | head -n 1)"
	local high
	high=$(preempt_now)
	say "high-priority job $high submitted (srun tasks get SIGTERM at grace start)"
	wait_for 30 "the preemption checkpoint of step 0" has_row "$job" step=0 trigger=preempt state=VERIFIED
	check_held $name
	wait_for 90 "job $job running again" eval "restarts_are $job 1 && job_state_is $job RUNNING"
	wait_for 60 "step 0 restored" has_row "$job" "restore id=" outcome=succeeded
	wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
	check_resumed $name "$W/$name.0.out"
	# The batch step is a shell waiting for srun, whose sockets to slurmstepd
	# kcr cannot save: the tree is refused, naming srun's socket.
	has_row "$job" step=batch state=FAILED "of the tree of process" "is a socket" ||
		fail "the batch step (a shell and srun) has no FAILED row naming srun's socket"
	[ "$(count_rows "$job" step=batch trigger=periodic state=FAILED)" -le 2 ] ||
		fail "the same refusal was recorded at every interval"
	say "ok: catalog: step 0 checkpointed (auto) and restored; the batch step (a shell and srun) FAILED with its reason"
	rows "$job" | sed 's/^/    /'
}

# (k) srun -n2: two tasks of one step on one node. Each task is a shell that
# execs the program (one process), with its own output file (%t) and log.
scenario_srun_two() {
	local name=sruntwo
	golden "$name"
	cp "$W/$name.golden.out" "$W/$name.1.golden.out"
	write_job srun2 srun -n2 --output="$W/$name.%t.out" --error="$W/$name.%t.err" --open-mode=append \
		sh -c "'exec \"\$0\" $W/$name.\$SLURM_PROCID.log $STEPS'" "$PROGRESS"
	local job
	job=$(submit srun2 -p low -n2 -c 1 --checkpoint=6s --open-mode=append)
	say "submitted job $job: srun -n2 of progress (each task its own output), --checkpoint=6s"
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	wait_for 90 "periodic checkpoints of both tasks" eval \
		"has_row $job step=0 task=0 trigger=periodic state=VERIFIED && has_row $job step=0 task=1 trigger=periodic state=VERIFIED"
	# One cut, one set: both held until both were saved, and grouped.
	has_row "$job" step=0 task=0 trigger=periodic set_size=2 && has_row "$job" step=0 task=1 trigger=periodic set_size=2 ||
		fail "the periodic checkpoints are not one set of two: $(rows "$job")"
	local set0 set1
	set0=$(rows "$job" | grep 'step=0 task=0 trigger=periodic' | head -n 1 | sed 's/.* set=\([0-9]*\) .*/\1/')
	set1=$(rows "$job" | grep 'step=0 task=1 trigger=periodic' | head -n 1 | sed 's/.* set=\([0-9]*\) .*/\1/')
	[ -n "$set0" ] && [ "$set0" = "$set1" ] || fail "the tasks' first periodic checkpoints are in sets $set0 and $set1"
	kcr_log "$job" | grep 'periodic checkpoint [0-9]* ->' | grep -q 'held until every task of the step was saved' ||
		fail "no periodic checkpoint says its task was held until the step's tasks were saved: $(kcr_log "$job" | grep periodic | head -n 4)"
	say "ok: each periodic checkpoint of the step is one cut and one set (set $set0 of 2)"
	local high
	high=$(preempt_now)
	say "high-priority job $high submitted"
	wait_for 30 "the preemption checkpoints of both tasks" eval \
		"has_row $job step=0 task=0 trigger=preempt state=VERIFIED && has_row $job step=0 task=1 trigger=preempt state=VERIFIED"
	# Side by side: the second task's checkpoint began before the first one's
	# had ended (each log line says when it began within the step's, and how
	# long the module's part took).
	local lines a b
	lines=$(kcr_log "$job" | grep 'preempt checkpoint [0-9]* ->' | grep 'step.s checkpoint')
	a=$(sed -n 's/.*total \([0-9]*\) ms.*started \([0-9]*\) ms into.*/\2 \1/p' <<<"$lines" | sort -n | head -n 1)
	b=$(sed -n 's/.*started \([0-9]*\) ms into.*/\1/p' <<<"$lines" | sort -n | tail -n 1)
	[ "$(wc -l <<<"$lines")" = 2 ] && [ -n "$a" ] && [ -n "$b" ] ||
		fail "no two preempt checkpoint lines with their start: $lines"
	read -r a_start a_total <<<"$a"
	[ "$b" -lt $((a_start + a_total)) ] ||
		fail "the tasks were checkpointed one after the other: the second began at $b ms, the first took $a_start+$a_total ms"
	say "ok: both tasks checkpointed side by side (first began at $a_start ms and took $a_total ms; the second began at $b ms)"
	# A set with a member gone is no restore point for either task: both
	# fall back to the newest earlier set, together.
	local gone preempt_set
	gone=$(rows "$job" | grep 'step=0 task=1 trigger=preempt' | head -n 1)
	preempt_set=$(row_field "$gone" set)
	rm -f "${gone##*image=}"
	say "removed task 1's preemption image (set $preempt_set) before the requeue"
	wait_for 90 "job $job running again" eval "restarts_are $job 1 && job_state_is $job RUNNING"
	wait_for 60 "both tasks restored" eval "[ \$(count_rows $job 'restore id=' outcome=succeeded) -ge 2 ]"
	local restored sets="" r
	restored=$(rows "$job" | grep 'restore id=' | grep outcome=succeeded | sed -n 's/.* ckpt=\([0-9]*\) .*/\1/p')
	for r in $restored; do
		sets+=" $(row_field "$(rows "$job" | grep "^ckpt id=$r ")" set)"
	done
	read -r -a sets <<<"$sets"
	[ "${#sets[@]}" = 2 ] && [ "${sets[0]}" = "${sets[1]}" ] && [ "${sets[0]}" != "$preempt_set" ] ||
		fail "the tasks were not restored from one earlier set: checkpoints ${restored//$'\n'/ } in sets ${sets[*]} (preemption set $preempt_set)"
	say "ok: both tasks restored from set ${sets[0]}, the newest whole one"
	wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
	local t
	for t in 0 1; do
		cmp -s "$W/$name.golden.out" "$W/$name.$t.out" ||
			fail "task $t: output differs from the uninterrupted run: $(diff "$W/$name.golden.out" "$W/$name.$t.out" | head -n 4)"
		[ "$(grep -c '^start$' "$W/$name.$t.log")" = 1 ] || fail "task $t started more than once"
	done
	say "ok: both tasks' outputs are byte-identical to the uninterrupted run; each started once"
	rows "$job" | sed 's/^/    /'
}

# (e) the newest image is corrupt: the one before it is restored. That one
# is taken on demand (kcr checkpoint --job), as the job's user.
scenario_fallback() {
	local name=fallback
	golden $name
	write_job $name exec "$PROGRESS" "$W/$name.log" "$STEPS"
	local job
	job=$(submit $name -p low -c 2 --checkpoint=none --checkpoint-on=preempt --open-mode=append)
	say "submitted job $job: --checkpoint=none --checkpoint-on=preempt"
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	wait_for 60 "some progress" eval "[ \$(log_lines $name) -ge 8 ]"
	# Another user may not ask; the owner may.
	if runuser -u daemon -- bash -c "$(declare -f job_checkpoint); KCR=$KCR JOBCKPT=$JOBCKPT SPOOL=$SPOOL job_checkpoint $job" >"$W/denied.txt" 2>&1; then
		fail "user daemon could checkpoint nobody's job"
	fi
	grep -q 'permission denied' "$W/denied.txt" || fail "no permission message: $(cat "$W/denied.txt")"
	say "ok: on-demand request by another user refused: $(cat "$W/denied.txt")"
	runuser -u "$USER_NAME" -- bash -c "$(declare -f job_checkpoint); KCR=$KCR JOBCKPT=$JOBCKPT SPOOL=$SPOOL job_checkpoint $job" >"$W/ondemand.txt" 2>&1 ||
		fail "on-demand checkpoint failed: $(cat "$W/ondemand.txt")"
	say "on-demand checkpoint as $USER_NAME: $(cat "$W/ondemand.txt")"
	has_row "$job" trigger=manual state=VERIFIED || fail "the on-demand checkpoint is not in the catalog"
	wait_for 60 "progress after it" eval "[ \$(log_lines $name) -ge 14 ]"
	local high
	high=$(preempt_now)
	wait_for 30 "the preemption checkpoint" has_row "$job" trigger=preempt state=VERIFIED
	local line image size
	line=$(rows "$job" | grep trigger=preempt | head -n 1)
	image=${line##*image=}
	size=$(stat -c %s "$image")
	# Flip one byte in the middle of the memory pages.
	perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, $ARGV[1], 0); read($f, my $b, 1);
		seek($f, $ARGV[1], 0); print $f chr(ord($b) ^ 0xff); close($f)' "$image" $((size / 2))
	say "corrupted one byte of the newest image $image"
	wait_for 90 "job $job running again" eval "restarts_are $job 1 && job_state_is $job RUNNING"
	wait_for 30 "the fallback restore" has_row "$job" "restore id=" outcome=succeeded
	wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
	check_resumed $name
	local bad good
	bad=$(row_field "$line" id)
	good=$(row_field "$(rows "$job" | grep trigger=manual | head -n 1)" id)
	has_row "$job" "ckpt id=$bad " state=CORRUPT || fail "the corrupted checkpoint $bad is not CORRUPT"
	has_row "$job" "restore id=" "ckpt=$bad " outcome=failed || fail "no failed restore of $bad"
	has_row "$job" "restore id=" "ckpt=$good " outcome=succeeded || fail "no succeeded restore of $good"
	say "ok: catalog: newest checkpoint $bad CORRUPT (restore failed), previous $good restored (succeeded)"
	rows "$job" | sed 's/^/    /'
}

# (h) --restart-from=ID: a new job continues another job's checkpoint. Job A
# takes one on-demand checkpoint and is cancelled; job B, a restore-only job
# (--checkpoint=off --restart-from=ID), continues it in its first run. The
# program writes on into job A's files (they are part of its image).
scenario_restart_from() {
	local name=rf
	golden $name
	write_job $name exec "$PROGRESS" "$W/$name.log" "$STEPS"
	local a b id
	a=$(submit $name -p low -c 2 --checkpoint=none --checkpoint-on=none --open-mode=append)
	wait_for 60 "job $a running" job_state_is "$a" RUNNING
	wait_for 60 "some progress" eval "[ \$(log_lines $name) -ge 10 ]"
	runuser -u "$USER_NAME" -- bash -c "$(declare -f job_checkpoint); KCR=$KCR JOBCKPT=$JOBCKPT SPOOL=$SPOOL job_checkpoint $a" >"$W/ondemand.txt" 2>&1 ||
		fail "on-demand checkpoint failed: $(cat "$W/ondemand.txt")"
	id=$(row_field "$(rows "$a" | grep trigger=manual | head -n 1)" id)
	[ -n "$id" ] || fail "no catalog row for the on-demand checkpoint"
	wait_for 60 "progress after it" eval "[ \$(log_lines $name) -ge 16 ]"
	scancel "$a"
	wait_for 60 "job $a cancelled" job_state_is "$a" CANCELLED
	say "job $a: checkpoint $id taken on demand, ran on, cancelled at step $(($(log_lines $name) - 2))"
	write_job rfb exec /bin/false
	b=$(submit rfb -p low -c 2 --checkpoint=off --restart-from="$id" --open-mode=append)
	say "job $b: --checkpoint=off --restart-from=$id (its own script would run /bin/false)"
	wait_for 180 "job $b completed" job_state_is "$b" COMPLETED
	check_resumed $name
	has_row "$a" "restore id=" "ckpt=$id " outcome=succeeded || fail "no succeeded restore of checkpoint $id"
	[ -z "$(rows "$b")" ] || fail "restore-only job $b took checkpoints"
	kcr_log "$b" | grep -q "restart 0: restoring from checkpoint $id" || fail "job $b's log does not say what it restored"
	say "ok: job $b restored job $a's checkpoint $id in its first run; it took no checkpoints itself"
}

# (l) a batch script as users write them, without exec: bash runs a
# pipeline, then a background child it waits for, then a program; its
# task is that bash with whatever children it has at the moment, saved as
# one process tree. Preempted once in the pipeline and once while bash
# waits for its background child; each time restored as a tree below the
# requeued task.
scenario_script() {
	local name=script steps=24 part
	write_script() { # write_script FILE PREFIX
		cat >"$1" <<EOF
#!/bin/bash
echo "script starts"
"$PROGRESS" "$2.a.log" $((steps * 2)) \${MS:-} | tr 'a-z' 'A-Z'
"$PROGRESS" "$2.b.log" $steps \${MS:-} >"$2.b.out" &
wait \$!
echo "background child exited \$?"
"$PROGRESS" "$2.c.log" 8 \${MS:-}
echo "script ends"
EOF
		chmod 0755 "$1"
	}
	write_script "$W/$name.sh" "$W/$name"
	write_script "$W/$name.golden.sh" "$W/$name.golden"
	MS=0 "$W/$name.golden.sh" >"$W/$name.golden.out"
	local job
	job=$(submit "$name" -p low -c 2 --checkpoint=4s --open-mode=append)
	say "submitted job $job: a bash script running a pipeline, a background child, a program"
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	wait_for 90 "a periodic checkpoint of the script's tree" has_row "$job" trigger=periodic state=VERIFIED ".r0."
	wait_for 60 "the pipeline half-way" eval "[ \$(log_lines $name.a) -ge 8 ]"
	preempt_now >/dev/null
	wait_for 60 "the preemption checkpoint (in the pipeline)" has_row "$job" trigger=preempt state=VERIFIED ".r0."
	say "run 1: preempted in the pipeline at step $(($(log_lines $name.a) - 1)) of $((steps * 2))"
	kcr_log "$job" | grep -q "preempt checkpoint.*a tree of 3 processes" ||
		fail "the preemption did not save bash, the program and tr (a tree of 3 processes)"
	wait_for 90 "job $job requeued and running again" eval "restarts_are $job 1 && job_state_is $job RUNNING"
	wait_for 60 "restore 1 recorded as succeeded" has_row "$job" "restore id=" outcome=succeeded
	wait_for 120 "the background child under way" eval "[ \$(log_lines $name.b) -ge 6 ]"
	preempt_now >/dev/null
	wait_for 60 "the preemption checkpoint (bash waiting for its child)" has_row "$job" trigger=preempt state=VERIFIED ".r1."
	say "run 2: preempted with the background child at step $(($(log_lines $name.b) - 1)) of $steps"
	wait_for 90 "job $job requeued again" eval "restarts_are $job 2 && job_state_is $job RUNNING"
	wait_for 60 "restore 2 recorded as succeeded" \
		eval "[ \$(count_rows $job 'restore id=' outcome=succeeded) -ge 2 ]"
	wait_for 180 "job $job completed" job_state_is "$job" COMPLETED
	cmp -s "$W/$name.golden.out" "$W/$name.out" ||
		{ diff "$W/$name.golden.out" "$W/$name.out" | head; fail "the script's output differs from the uninterrupted run"; }
	cmp -s "$W/$name.golden.b.out" "$W/$name.b.out" ||
		fail "the background child's output differs from the uninterrupted run"
	say "ok: the script's output and its background child's are byte-identical to the uninterrupted run"
	for part in a b c; do
		[ "$(grep -c '^start$' "$W/$name.$part.log")" = 1 ] ||
			fail "program $part started $(grep -c '^start$' "$W/$name.$part.log") times: recomputed"
		[ "$(grep '^step' "$W/$name.$part.log")" = "$(grep '^step' "$W/$name.golden.$part.log")" ] ||
			fail "program $part repeats or misses steps"
	done
	say "ok: each program started once and ran every step once"
	[ "$(count_rows "$job" state=FAILED)" = 0 ] || fail "unexpected FAILED rows"
	kcr_log "$job" | grep -q "a tree of [0-9]* processes" || fail "slurmd.log does not show a tree checkpoint"
	rows "$job" | sed 's/^/    /'
}

# (g) the plugin leaves jobs without --checkpoint alone, and does not harm a
# job it cannot checkpoint.
scenario_untouched() {
	local plain=plain tree=tree
	write_job $plain exec "$PROGRESS" "$W/$plain.log" 20
	STEPS=20 golden $plain
	# A parent holding a socket pair, which kcr cannot save, and its child.
	printf '#!/bin/sh\nexec python3 -c "import socket, subprocess, sys; a, b = socket.socketpair(); sys.exit(subprocess.call(sys.argv[1:]))" "%s" "%s" 20\n' \
		"$PROGRESS" "$W/$tree.log" >"$W/$tree.sh"
	chmod 0755 "$W/$tree.sh"
	local j1 j2
	j1=$(submit $plain -p low -c 1 --open-mode=append)
	j2=$(submit $tree -p low -c 1 --checkpoint=2s --open-mode=append)
	say "submitted job $j1 (no --checkpoint) and job $j2 (--checkpoint=2s, a parent with a socket, and its child)"
	wait_for 120 "both jobs completed" eval "job_state_is $j1 COMPLETED && job_state_is $j2 COMPLETED"
	STEPS=20 check_resumed $plain
	[ -z "$(rows "$j1")" ] || fail "job $j1 without --checkpoint has catalog rows"
	[ -z "$(kcr_log "$j1")" ] || fail "spank_kcr logged about job $j1 without --checkpoint: $(kcr_log "$j1")"
	[ ! -e "$D/images/$USER_NAME/$j1" ] || fail "job $j1 got an image directory"
	say "ok: job $j1 without --checkpoint: no catalog rows, no log lines, no images; output correct"
	has_row "$j2" step=batch trigger=periodic state=FAILED "of the tree of process" "is a socket" ||
		fail "job $j2: no FAILED row naming the socket"
	# The same refusal once. (A periodic checkpoint that meets the task as it
	# exits is not a failure: the agent records nothing for a task that ended.)
	[ "$(count_rows "$j2" state=FAILED "is a socket")" = 1 ] ||
		fail "job $j2: the refusal was recorded more than once"
	kcr_log "$j2" | grep -q 'checkpoint.*failed.*is a socket' || fail "job $j2: slurmd.log does not say why"
	[ "$(grep -c '^step' "$W/$tree.log")" = 20 ] || fail "job $j2 did not run to the end"
	say "ok: job $j2 (a tree holding a socket): one FAILED row with the reason, logged, and it ran to completion"
	rows "$j2" | sed 's/^/    /'
	# A preempted job without --checkpoint is requeued and starts over, as without kcr.
	write_job $plain exec "$PROGRESS" "$W/$plain.log" 200
	j1=$(submit $plain -p low -c 2 --open-mode=append)
	wait_for 60 "job $j1 running" job_state_is "$j1" RUNNING
	preempt_now >/dev/null
	wait_for 90 "job $j1 requeued and running again" eval "restarts_are $j1 1 && job_state_is $j1 RUNNING"
	[ -z "$(rows "$j1")" ] && [ -z "$(kcr_log "$j1")" ] || fail "kcr touched preempted job $j1"
	say "ok: preempted job $j1 without --checkpoint was requeued by Slurm alone (no rows, no log lines)"
}

# (i) The agent checkpoints with the job owner's rights, never root's.
scenario_owner_rule() {
	local name=own
	golden $name
	echo 1 >/proc/sys/kernel/yama/ptrace_scope
	say "kernel.yama.ptrace_scope=1: only a process's ancestors may attach"
	# A set-uid-root program holding a root-only secret, run by the job's owner.
	local S=$W/suid
	mkdir -p "$S"
	mount -t tmpfs -o mode=755 tmpfs "$S" || fail "cannot mount a tmpfs for the set-uid program"
	install -m 4755 -o root "$KCR_BUILD_DIR/tests/programs/secret_holder" "$S/secret_holder"
	echo "KCR-SECRET-$RANDOM" >"$S/secret"
	chmod 600 "$S/secret"
	write_job $name exec "$PROGRESS" "$W/$name.log" "$STEPS"
	write_job suid exec "$S/secret_holder" "$W/suid.log" "$S/secret" 600
	local a b
	a=$(submit $name -p low -c 1 --checkpoint=none --checkpoint-on=none --open-mode=append)
	b=$(submit suid -p low -c 1 --checkpoint=none --checkpoint-on=none --open-mode=append)
	wait_for 60 "jobs $a and $b running" eval "job_state_is $a RUNNING && job_state_is $b RUNNING"
	wait_for 60 "some progress" eval "[ \$(log_lines $name) -ge 6 ] && [ \$(log_lines suid) -ge 2 ]"
	runuser -u "$USER_NAME" -- bash -c "$(declare -f job_checkpoint); KCR=$KCR JOBCKPT=$JOBCKPT SPOOL=$SPOOL job_checkpoint $a" >"$W/a.txt" 2>&1 ||
		fail "on-demand checkpoint of job $a under ptrace_scope=1 failed: $(cat "$W/a.txt")"
	say "job $a (its own program): $(cat "$W/a.txt")"
	local image
	image=$(row_field "$(rows "$a" | grep trigger=manual | grep state=VERIFIED | head -n 1)" image)
	[ -n "$image" ] || fail "job $a: no VERIFIED checkpoint row"
	[ "$(stat -c '%a %U' "$image")" = "600 $USER_NAME" ] || fail "job $a's image is $(stat -c '%a %U' "$image")"
	say "ok: the agent, slurmstepd, is the task's ancestor: checkpointed under scope 1; image 0600 $USER_NAME"
	# Under scope 2 only CAP_SYS_PTRACE may attach: root could, the owner
	# cannot, so the agent (acting as the owner) must not.
	echo 2 >/proc/sys/kernel/yama/ptrace_scope
	if runuser -u "$USER_NAME" -- bash -c "$(declare -f job_checkpoint); KCR=$KCR JOBCKPT=$JOBCKPT SPOOL=$SPOOL job_checkpoint $a" >"$W/a2.txt" 2>&1; then
		fail "under ptrace_scope=2 the agent checkpointed with root's rights: $(cat "$W/a2.txt")"
	fi
	grep -q "not checkpointed: .*ptrace_scope is 2" "$W/a2.txt" || fail "no reason given: $(cat "$W/a2.txt")"
	say "ok: under scope 2 the owner's rule refuses: $(cat "$W/a2.txt")"
	echo 1 >/proc/sys/kernel/yama/ptrace_scope
	if runuser -u "$USER_NAME" -- bash -c "$(declare -f job_checkpoint); KCR=$KCR JOBCKPT=$JOBCKPT SPOOL=$SPOOL job_checkpoint $b" >"$W/b.txt" 2>&1; then
		fail "the agent checkpointed a set-uid task its owner cannot attach to: $(cat "$W/b.txt")"
	fi
	grep -q "not checkpointed: .*not dumpable" "$W/b.txt" || fail "no reason given: $(cat "$W/b.txt")"
	say "ok: job $b (a set-uid program): $(cat "$W/b.txt")"
	has_row "$b" trigger=manual state=FAILED "not dumpable" || fail "job $b: no FAILED row with the reason"
	[ -z "$(find "$D/images" -path "*/$b/*" -name '*.kcr' 2>/dev/null)" ] || fail "job $b left an image"
	sleep 2
	[ "$(log_lines suid)" -ge 3 ] || fail "the set-uid task did not run on"
	say "ok: FAILED row with the reason, no image, and the task runs on"
	scancel "$b"
	# An image directory another user made (and could swap images in) is refused.
	local planted=$W/planted c
	runuser -u daemon -- mkdir -m 0777 "$planted"
	write_job planted exec "$PROGRESS" "$W/planted.log" "$STEPS"
	c=$(submit planted -p low -c 1 --checkpoint=none --checkpoint-on=none --checkpoint-dir="$planted")
	wait_for 60 "job $c running" job_state_is "$c" RUNNING
	if runuser -u "$USER_NAME" -- bash -c "$(declare -f job_checkpoint); KCR=$KCR JOBCKPT=$JOBCKPT SPOOL=$SPOOL job_checkpoint $c" >"$W/c.txt" 2>&1; then
		fail "job $c was checkpointed into a directory another user made: $(cat "$W/c.txt")"
	fi
	has_row "$c" trigger=manual state=FAILED "belongs to uid 1" || fail "job $c: no FAILED row naming the directory's owner: $(rows "$c")"
	[ -z "$(find "$planted" -name '*.kcr*')" ] || fail "job $c left an image in $planted"
	say "ok: job $c's image directory, made by another user, refused: $(cat "$W/c.txt")"
	scancel "$c"
	wait_for 180 "job $a completed" job_state_is "$a" COMPLETED
	[ "$(cat "$W/$name.out")" = "$(cat "$W/$name.golden.out")" ] || fail "job $a's output differs"
	umount "$S"
	echo 0 >/proc/sys/kernel/yama/ptrace_scope
	rows "$a" | sed 's/^/    /'
	rows "$b" | sed 's/^/    /'
}

# Scenarios run under proctrack/linuxproc, except these, under proctrack/cgroup
# (cgroup v2, as sites run it).
case $scenario in cgroup) export CLUSTER_PROCTRACK=proctrack/cgroup ;; esac
# check_tracked JOB: under proctrack/cgroup the restored program, and every
# process the restore put above it, is still in the job's task cgroup, where
# Slurm signals and kills the task.
check_tracked() {
	local job=$1 p n=0 cg
	for p in $(pgrep -u "$USER_NAME"); do
		cg=$(cat /proc/"$p"/cgroup 2>/dev/null) || continue
		[[ $cg == *"/job_$job/step_"*"/task_"* ]] ||
			fail "process $p ($(cat /proc/"$p"/comm)) of the restored job is outside its task cgroup: $cg"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || fail "no process of job $job found"
	say "ok: proctrack/cgroup still tracks the restored task: its $n processes are in job $job's task cgroup"
}

# (m) proctrack/cgroup: the task's processes as Slurm tracks them. A program
# that starts a daemon leaving its tree and session (setsid, double fork) is
# refused, naming the daemon, and runs on; a plain one is preempted,
# requeued and restored as under linuxproc, and stays in its task's cgroup.
scenario_cgroup() {
	local name=leaver
	write_job $name "(setsid sleep 600 &)" "
exec" "$PROGRESS" "$W/$name.log" "$STEPS"
	local job
	job=$(submit $name -p low -c 2 --checkpoint=4s --open-mode=append)
	say "submitted job $job: a program that first starts a setsid daemon (double fork)"
	wait_for 60 "job $job running" job_state_is "$job" RUNNING
	wait_for 30 "the program and its daemon" eval "pgrep -u $USER_NAME -x $(basename "$PROGRESS") >/dev/null && pgrep -u $USER_NAME -x sleep >/dev/null"
	local pid daemon
	pid=$(pgrep -u "$USER_NAME" -x "$(basename "$PROGRESS")" | head -n 1)
	daemon=$(pgrep -u "$USER_NAME" -x sleep | head -n 1)
	say "the task's process $pid is in cgroup $(cat /proc/"$pid"/cgroup), the daemon $daemon (parent $(ps -o ppid= -p "$daemon" | tr -d ' ')) in $(cat /proc/"$daemon"/cgroup)"
	wait_for 60 "the refused periodic checkpoint" has_row "$job" trigger=periodic state=FAILED
	rows "$job" | sed 's/^/    /'
	has_row "$job" trigger=periodic state=FAILED "is in the task's cgroup" "(sleep)" ||
		fail "the refusal does not name the daemon in the task's cgroup: $(rows "$job")"
	say "ok: refused, naming the daemon that left the tree"
	scancel "$job"
	pkill -u "$USER_NAME" -x sleep || true
	scenario_preempt 1
}

setup
case $scenario in
preempt) scenario_preempt 1 ;;
preempt_twice) scenario_preempt 2 ;;
openmp)
	PROGRESS=$KCR_BUILD_DIR/tests/slurm/omp_progress
	scenario_preempt 2 openmp env OMP_NUM_THREADS=2
	;;
timelimit)
	: "${KCR_GRACE_MARGIN:=50s}"
	sed -i "s/grace_margin: .*/grace_margin: $KCR_GRACE_MARGIN/" "$D/etc/kcr.yaml"
	scenario_timelimit
	;;
srun_step) scenario_srun_step ;;
srun_two) scenario_srun_two ;;
fallback) scenario_fallback ;;
untouched) scenario_untouched ;;
script) scenario_script ;;
restart_from) scenario_restart_from ;;
owner_rule) scenario_owner_rule ;;
cgroup) scenario_cgroup ;;
*) fail "unknown scenario $scenario" ;;
esac
say "PASS: $scenario"
