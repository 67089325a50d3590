#!/usr/bin/env bash
# Benchmark of mw exec: TASKS (default 10,000) short tasks, two at a time, on the same cores in
# the same run, printing tasks/s for each:
#   - `true N`, a line that needs no shell (mw runs it without one), through mw exec with
#     and without mpirun, against xargs -P2 (no capture, no shell);
#   - `true N > /dev/null`, a line that needs a shell, through mw exec (no mpirun) and
#     GNU parallel -j2 -k (grouped output), which both run it with /bin/sh.
#
#   scripts/bench/exec.sh [WORKDIR]     (default: a temporary directory, removed after)
#   BASE_MW=/path/to/other/mw scripts/bench/exec.sh   adds that mw's rows (a build before a
#                                                   change: "today's" rate) in the same run
#
# mw runs with --bind-to none: tasks inherit their rank's binding, and Open MPI binds each
# rank to one core at -np 1 and 2, which would put a rank's two tasks on one core.
# "wall" includes mpirun's start-up (about 0.3 s); "run" is the engine's own time from
# --stats; "mgr_us" is the CPU time of rank 0's process per task from --stats (under mpirun
# the manager's own; with one rank, "*": the tasks' start-ups and waits too). xargs runs
# before the first mw row and after each one: a row's "xargs" is the mean of the two runs
# beside it and "/xargs" its wall rate over that, so that a machine whose
# speed drifts during the benchmark (a 2-core VM does, by 10-20% within minutes) tilts no
# ratio; the shell rows alternate with GNU parallel's the same way ("/parallel"). Numbers are
# only meaningful on an otherwise idle machine.
set -euo pipefail
tasks=${TASKS:-10000}
. "$(dirname "$0")/lib.sh"
bench_workdir "${1:-}"
seq "$tasks" >"$work/tasks"
now() { date +%s.%N; }
rate() { awk -v n="$tasks" -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", n / (b - a) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# xargs_run: one run of xargs -P2; its rate goes to xlast, and to the sum for the mean.
xsum=0 xn=0 xlast=0
xargs_run() {
	local t0 t1
	t0=$(now)
	xargs -P2 -n1 true <"$work/tasks"
	t1=$(now)
	xlast=$(rate "$t0" "$t1")
	xsum=$((xsum + xlast)) xn=$((xn + 1))
}
printf '%-50s %8s %10s %10s %8s %7s %8s\n' what wall_s tasks/s run_tasks/s xargs /xargs mgr_us
xargs_run
mwrun() { # mwrun LABEL BINARY NP J [FLAGS...]: a row of `true N` tasks
	local t0 t1 run label=$1 bin=$2 np=$3 j=$4 before=$xlast mwrate
	shift 4
	local launch=(mpirun -q -np "$np" --oversubscribe --bind-to none)
	((np > 0)) || launch=() # np 0: no mpirun, a world of one without MPI
	t0=$(now)
	"${launch[@]}" "$bin" exec --quiet --stats "$work/stats.json" -j "$j" "$@" -a "$work/tasks" -- true
	t1=$(now)
	xargs_run
	run=$(grep -o '"wall_seconds": *[0-9.e+-]*' "$work/stats.json" | sed 's/.*: *//')
	mgr=$(grep -o '"manager_cpu_seconds_per_task": *[0-9.e+-]*' "$work/stats.json" | sed 's/.*: *//')
	mgr=$(awk -v s="$mgr" -v alone="$((np <= 1))" 'BEGIN { printf "%.1f%s", s * 1e6, alone ? "*" : "" }')
	mwrate=$(rate "$t0" "$t1")
	printf '%-50s %8.2f %10s %10s %8.0f %7.2f %8s\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$mwrate" "$(rate 0 "$run")" \
		"$(((before + xlast) / 2))" "$(ratio "$mwrate" "$(((before + xlast) / 2))")" "$mgr"
}
mwrun "mw exec -j 2 true (no shell, no mpirun)" "$mw" 0 2
[[ -n ${BASE_MW:-} ]] && mwrun "BASE_MW exec -j 2 true (no mpirun)" "$BASE_MW" 0 2
mwrun "mw exec -np 3 -j 1 (2 workers x 1)" "$mw" 3 1
mwrun "mw exec -np 3 -j 1 --window 16" "$mw" 3 1 --window 16
mwrun "mw exec -np 2 -j 2 (1 worker x 2)" "$mw" 2 2
mwrun "mw exec -np 2 -j 2 --window 16" "$mw" 2 2 --window 16
MW_POLL=timed mwrun "mw exec -np 2 -j 2, MW_POLL=timed (no bells)" "$mw" 2 2
mwrun "mw exec -np 1 -j 2 (rank 0 runs them)" "$mw" 1 2
[[ -n ${BASE_MW:-} ]] && mwrun "BASE_MW exec -j 2 true (no mpirun), again" "$BASE_MW" 0 2
mwrun "mw exec -j 2 true (no shell, no mpirun), again" "$mw" 0 2
printf '%-50s %8s %10s %10s\n' "xargs -P2 -n1 true (mean of $xn runs)" - "$((xsum / xn))" -

# The lines that need a shell: mw exec and GNU parallel in turn, each ratio over the mean of
# parallel's runs beside it.
if ! command -v parallel >/dev/null; then
	echo "GNU parallel is not installed: the shell rows are skipped"
	exit 0
fi
mkdir -p "$work/home/.parallel" && touch "$work/home/.parallel/will-cite"
shellcmd='true {} > /dev/null'
plast=0
prun() {
	local t0 t1
	t0=$(now)
	HOME="$work/home" PARALLEL_HOME="$work/home/.parallel" PARALLEL_SHELL=/bin/sh parallel -j2 -k "$shellcmd" <"$work/tasks"
	t1=$(now)
	plast=$(rate "$t0" "$t1")
}
printf '\n%-50s %8s %10s %10s %8s %9s\n' "a line that needs a shell: $shellcmd" wall_s tasks/s - parallel /parallel
prun
printf '%-50s %8s %10s\n' "GNU parallel -j2 -k" - "$plast"
for round in 1 2; do
	before=$plast
	t0=$(now)
	"$mw" exec --quiet -j 2 -a "$work/tasks" "$shellcmd"
	t1=$(now)
	prun
	mwrate=$(rate "$t0" "$t1")
	printf '%-50s %8.2f %10s %10s %8.0f %9s\n' "mw exec -j 2 (no mpirun), round $round" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
		"$mwrate" - "$(((before + plast) / 2))" "$(ratio "$mwrate" "$(((before + plast) / 2))")"
	printf '%-50s %8s %10s\n' "GNU parallel -j2 -k" - "$plast"
done
