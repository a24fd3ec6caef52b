#!/usr/bin/env bash
# The module under load, its own memory counted. Runs inside the guest
# (kcr-vm --track-allocs), with the kcr module loaded.
#
#   soak-test.sh CYCLES CONCURRENT
#
# 1. CONCURRENT different processes are checkpointed at the same moment
#    (--kill), then all restored at once: each one's output must equal an
#    uninterrupted run's.
# 2. One process is checkpointed and restored CYCLES times in a row, each
#    generation at a random moment: its output at the end must equal an
#    uninterrupted run's.
# Before, between and after, with no request outstanding: the slab objects
# and vmalloc areas the module's own functions allocated and still hold
# (slub_debug=U's alloc_traces, /proc/vmallocinfo) must be what they were
# after it loaded. One object leaked per cycle fails the run.
set -euo pipefail
cycles=${1:?usage: soak-test.sh CYCLES CONCURRENT}
concurrent=${2:?usage: soak-test.sh CYCLES CONCURRENT}
: "${KCR:=kcr}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work=$(mktemp -d /tmp/kcr-soak.XXXXXX)

traces=/sys/kernel/debug/slab
[[ -d $traces ]] || mount -t debugfs debugfs /sys/kernel/debug
compgen -G "$traces/kmalloc-64/alloc_traces" >/dev/null ||
	die "no slab allocation tracking: run under kcr-vm --track-allocs"

# Live objects and vmalloc areas allocated from the module's code.
module_memory() {
	local objects areas
	sleep 1 # RCU-deferred frees
	objects=$(cat "$traces"/*/alloc_traces 2>/dev/null |
		awk '/\[kcr\]/ { n += $1 } END { print n + 0 }')
	areas=$(grep -c '\[kcr\]' /proc/vmallocinfo || true)
	echo "$objects objects, $areas vmalloc areas"
}
baseline=$(module_memory)
echo "module memory after load: $baseline"
check_memory() { # WHEN
	local now
	now=$(module_memory)
	if [[ $now == "$baseline" ]]; then
		pass "module memory $1: $now, as after load"
	else
		fail "module memory $1: $now, after load $baseline"
		cat "$traces"/*/alloc_traces 2>/dev/null | grep '\[kcr\]' | head -n 20
		grep '\[kcr\]' /proc/vmallocinfo | head -n 20
	fi
}
# The count sees the module's memory: a held process's request is in it.
"$KCR_PROGS/sleeper" "$work/held" 100 &
held_pid=$!
sleep 0.5
coproc HOLDER { "$KCR_PROGS/holder" "$work/held.kcr" "$held_pid"; }
line=""
read -r -u "${HOLDER[0]}" line || true
[[ $line == held* ]] || die "checkpoint with a hold failed: ${line:-holder exited}"
while_held=$(module_memory)
echo "kill" >&"${HOLDER[1]}"
wait "$HOLDER_PID" || die "holder failed"
wait "$held_pid" 2>/dev/null || true
if [[ $while_held != "$baseline" && ${while_held%% *} -gt 0 ]]; then
	pass "the count sees a held request: $while_held"
else
	fail "the count does not see a held request ($while_held): it proves nothing"
fi
check_memory "after the held process was killed"
wait_gone() { # PID: a restored program's kcr restart has returned
	wait "$1" || die "a restored program failed (rc $?)"
}

# --- 1. many at once ----------------------------------------------------------
# A program that mostly sleeps (in nanosleep, clock_nanosleep and select), so
# that many share the guest's CPUs and still run for the whole phase
# (32 kcr processes starting at once over 9p take seconds under TCG).
steps=250
"$KCR_PROGS/sleeper" "$work/golden-c" "$steps"
pids=()
for i in $(seq "$concurrent"); do
	"$KCR_PROGS/sleeper" "$work/c$i" "$steps" &
	pids+=($!)
done
# Each one past its exec and into its work, then a random moment later.
for i in $(seq "$concurrent"); do
	for _ in $(seq 200); do
		[[ -s $work/c$i ]] && break
		sleep 0.05
	done
done
sleep "0.$((RANDOM % 10))"
ckpts=()
t0=$(date +%s%N)
for i in $(seq "$concurrent"); do
	$KCR checkpoint "${pids[i - 1]}" -o "$work/c$i.kcr" --kill --no-catalog >"$work/c$i.log" 2>&1 &
	ckpts+=($!)
done
bad=0
for i in $(seq "$concurrent"); do
	wait "${ckpts[i - 1]}" || { bad=$((bad + 1)); cat "$work/c$i.log"; rc=0; wait "${pids[i - 1]}" || rc=$?; echo "process $i ended with status $rc after $(wc -l <"$work/c$i") steps"; }
	wait "${pids[i - 1]}" 2>/dev/null || true
done
((bad == 0)) || { dmesg | grep kcr | tail -n 20; die "$bad of $concurrent concurrent checkpoints failed"; }
pass "$concurrent concurrent checkpoints in $((($(date +%s%N) - t0) / 1000000)) ms"
restores=()
t0=$(date +%s%N)
for i in $(seq "$concurrent"); do
	$KCR restart "$work/c$i.kcr" >"$work/r$i.log" 2>&1 &
	restores+=($!)
done
for i in $(seq "$concurrent"); do
	wait "${restores[i - 1]}" || { bad=$((bad + 1)); cat "$work/r$i.log"; }
done
((bad == 0)) || die "$bad of $concurrent concurrent restores failed"
for i in $(seq "$concurrent"); do
	cmp -s "$work/golden-c" "$work/c$i" || { bad=$((bad + 1)); echo "process $i differs"; }
done
if ((bad == 0)); then
	pass "$concurrent concurrent restores in $((($(date +%s%N) - t0) / 1000000)) ms, each output identical to the uninterrupted run"
else
	fail "$bad of $concurrent restored outputs differ from the uninterrupted run"
fi
check_memory "after $concurrent concurrent checkpoints and restores"

# --- 2. one process, many generations ------------------------------------------
t0=$(date +%s%N)
"$KCR_PROGS/counter" "$work/calibrate" 10
step_ms=$((($(date +%s%N) - t0) / 1000000 / 10))
echo "one step of the program takes ${step_ms} ms"
# Long enough for CYCLES generations: each runs for its random pause and
# while its checkpoint and the next restore start (1.5 s in all, at most).
steps=$((cycles * (1500 / step_ms + 1) + 20))
"$KCR_PROGS/counter" "$work/golden" "$steps"
"$KCR_PROGS/counter" "$work/out" "$steps" &
runner=$!
pid=$runner
t0=$(date +%s%N)
for n in $(seq "$cycles"); do
	sleep "0.$((1 + RANDOM % 5))"
	kill -0 "$pid" 2>/dev/null || die "the program ended after $((n - 1)) of $cycles generations; lengthen it"
	$KCR checkpoint "$pid" -o "$work/gen.kcr" --kill --no-catalog >"$work/gen.log" 2>&1 ||
		{ cat "$work/gen.log"; die "checkpoint $n of $cycles failed"; }
	wait "$runner" 2>/dev/null || true
	$KCR restart "$work/gen.kcr" >"$work/restart.log" 2>&1 &
	runner=$!
	pid=$(program_of "$runner")
	kill -0 "$pid" 2>/dev/null || { cat "$work/restart.log"; die "the restore of generation $n failed"; }
	if ((n % 100 == 0 || n == cycles)); then
		echo "$n generations, $((($(date +%s%N) - t0) / 1000000 / n)) ms each, $(wc -l <"$work/out") of $steps steps; module memory: $(module_memory)"
	fi
done
wait_gone "$runner"
ms=$((($(date +%s%N) - t0) / 1000000))
if cmp -s "$work/golden" "$work/out"; then
	pass "$cycles checkpoint/restore generations in $ms ms ($((ms / cycles)) ms each): output identical to the uninterrupted run"
else
	diff "$work/golden" "$work/out" | head -n 10 || true
	fail "after $cycles generations the output differs from the uninterrupted run"
fi
check_memory "after $cycles generations"
rm -rf "$work"
finish soak
