#!/usr/bin/env bash
# Benchmark of mw exec: TASKS (default 10,000) tasks of `true`, two at a time, through
# mw exec (ordered, captured output), GNU parallel -j2 (-k, grouped output) and xargs -P2
# (no capture), on the same cores in the same run; prints tasks/s for each.
#
#   scripts/bench/exec.sh [WORKDIR]     (default: a temporary directory, removed after)
#
# mw runs with --bind-to none: tasks inherit their rank's binding, and Open MPI binds each
# rank to one core at -np 1 and 2, which would put a rank's two tasks on one core.
# "wall" includes mpirun's start-up (about 0.3 s); "run" is the engine's own time from
# --stats. xargs runs before the first mw row and after each one: a row's "xargs" is the mean
# of the two runs beside it and "/xargs" its wall rate over that, so that a machine whose
# speed drifts during the benchmark (a 2-core VM does, by 10-20% within minutes) tilts no
# ratio. Numbers are only meaningful on an otherwise idle machine.
set -euo pipefail
tasks=${TASKS:-10000}
. "$(dirname "$0")/lib.sh"
bench_workdir "${1:-}"
seq "$tasks" >"$work/tasks"
now() { date +%s.%N; }
rate() { awk -v n="$tasks" -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", n / (b - a) }'; }

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
printf '%-44s %8s %10s %10s %8s %7s\n' what wall_s tasks/s run_tasks/s xargs /xargs
xargs_run
mwrun() { # mwrun LABEL NP J [FLAGS...]
	local t0 t1 run label=$1 np=$2 j=$3 before=$xlast mwrate
	shift 3
	local launch=(mpirun -q -np "$np" --oversubscribe --bind-to none)
	((np > 0)) || launch=() # np 0: no mpirun, a world of one without MPI
	t0=$(now)
	"${launch[@]}" "$mw" exec --quiet --stats "$work/stats.json" -j "$j" "$@" -a "$work/tasks" -- true
	t1=$(now)
	xargs_run
	run=$(grep -o '"wall_seconds": *[0-9.e+-]*' "$work/stats.json" | sed 's/.*: *//')
	mwrate=$(rate "$t0" "$t1")
	printf '%-44s %8.2f %10s %10s %8.0f %7.2f\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$mwrate" "$(rate 0 "$run")" \
		"$(((before + xlast) / 2))" "$(awk -v m="$mwrate" -v x="$(((before + xlast) / 2))" 'BEGIN { print m / x }')"
}
mwrun "mw exec -np 3 -j 1 (2 workers x 1)" 3 1
mwrun "mw exec -np 3 -j 1 --window 16" 3 1 --window 16
mwrun "mw exec -np 2 -j 2 (1 worker x 2)" 2 2
mwrun "mw exec -np 2 -j 2 --window 16" 2 2 --window 16
MW_POLL=timed mwrun "mw exec -np 2 -j 2, MW_POLL=timed (no bells)" 2 2
mwrun "mw exec -np 1 -j 2 (rank 0 runs them)" 1 2
mwrun "mw exec -j 2 (no mpirun)" 0 2

other() { # other LABEL CMD...
	local t0 t1
	local label=$1
	shift
	t0=$(now)
	"$@" <"$work/tasks"
	t1=$(now)
	printf '%-44s %8.2f %10s %10s\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$(rate "$t0" "$t1")" -
}
if command -v parallel >/dev/null; then
	other "GNU parallel -j2 -k" env PARALLEL_HOME="$work" parallel -j2 -k true
else
	echo "GNU parallel is not installed: skipped"
fi
printf '%-44s %8s %10s %10s\n' "xargs -P2 -n1 (mean of $xn runs)" - "$((xsum / xn))" -
