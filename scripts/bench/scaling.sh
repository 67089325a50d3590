#!/usr/bin/env bash
# scaling.sh: compute-bound items on this machine's cores (issue 9, item 4).
#
#   scripts/bench/scaling.sh
#
# Efficiency is the ideal time with every core of the machine computing (total CPU time of
# the items / cores) over the run's wall time, at -np 1, 2 and 3, with the automatic thread
# count (the rank's share of the node's CPUs) and with explicit counts.
#
# A. Regular items: `mw selftest --burn 1ms`, 2000 items, --chunk 1 and auto. Each item
#    spins until its thread has used 1 ms of CPU time, whatever shares the core.
# B. Irregular items with a long tail: 300 tasks whose CPU cost follows a Pareto law (shape 2,
#    scale 7.5 ms, cut at 150 ms; fixed seed), each a process running a calibrated
#    spin loop (spin.c below), dealt by `mw exec` (-j = threads per worker rank); GNU
#    parallel -j2 on the same tasks for reference. Costs are CPU work, not deadlines.
#
# Under mpirun, Open MPI binds each rank to one core when there are at most 2 ranks (and to
# nothing when oversubscribed): at -np 1 and 2 a rank and the tasks it starts get one core
# whatever --threads or -j say. The rows "bind none" pass --bind-to none; -np 1 "no mpirun"
# runs mw as a singleton, which is not bound.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
. scripts/bench/lib.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d "${TMPDIR:-/tmp}/mw-scaling.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/mw" .
cores=$(nproc)
echo "# $(uname -n), $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
now() { date +%s.%N; }

# mwrow NP BIND THREADS-LABEL IDEAL CMD...: runs CMD (mw with --stats $work/st.json) and
# prints a row; NP 1 with BIND "no-mpirun" runs it without mpirun.
mwrow() {
	local np=$1 bind=$2 label=$3 ideal=$4
	shift 4
	local launch=(mpirun -q -np "$np")
	case $bind in
	no-mpirun) launch=() ;;
	none) launch+=(--bind-to none) ;;
	esac
	"${launch[@]}" "$work/mw" "$@" --quiet --stats "$work/st.json" >/dev/null
	local wall cpu
	wall=$(bench_stat "$work/st.json" wall_seconds)
	cpu=$(bench_stat "$work/st.json" manager_cpu_seconds)
	printf '%3d %-10s %-12s %7d %9.3f %11s %9s\n' "$np" "$bind" "$label" "$(bench_stat "$work/st.json" workers)" "$wall" \
		"$(pct "$ideal" "$wall")" "$(pct "$cpu" "$wall")"
}
header() { printf '%3s %-10s %-12s %7s %9s %11s %9s\n' np bind threads workers "wall s" efficiency "mgr cpu"; }

# --- A. Regular items.
items=2000
ideal=$(awk -v n="$items" -v c="$cores" 'BEGIN { print n * 0.001 / c }')
for chunk in 1 auto; do
	echo
	echo "A. selftest --items $items --burn 1ms --chunk $chunk (ideal ${ideal}s on $cores cores)"
	header
	st() { mwrow "$1" "$2" "$3" "$ideal" selftest --items "$items" --burn 1ms --chunk "$chunk" --threads "$4" -o /dev/null; }
	st 1 no-mpirun "auto" 0
	st 1 default "auto" 0
	st 2 default "auto" 0
	st 2 none "2" 2
	st 3 default "auto" 0
	st 3 default "2" 2
done

# --- B. Irregular items with a long tail.
cat >"$work/spin.c" <<'EOF'
/* spin N: N rounds of an LCG that the compiler cannot remove: CPU work, no deadline. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 0;
    uint64_t x = 1;
    for (long i = 0; i < n; i++)
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)(x == 42);
}
EOF
cc -O2 -o "$work/spin" "$work/spin.c"
# Calibrate: rounds per ms of CPU (the best of 3).
cal=$(for _ in 1 2 3; do
	/usr/bin/time -f '%U %S' "$work/spin" 200000000 2>&1 >/dev/null
done | awk '{ t = $1 + $2; if (best == 0 || t < best) best = t } END { printf "%.0f", 200000000 / (best * 1000) }')
tasks=300
awk -v n="$tasks" -v per="$cal" -v spin="$work/spin" 'BEGIN {
	srand(1); alpha = 2; mean = 15; xm = mean * (alpha - 1) / alpha
	for (i = 0; i < n; i++) { u = 1 - rand(); ms = xm / u ^ (1 / alpha); if (ms > 10 * mean) ms = 10 * mean; total += ms; if (ms > top) top = ms
		printf "%s %d\n", spin, ms * per > "/dev/stdout" }
	printf "%.3f %.1f\n", total / 1000, top > "/dev/stderr" }' >"$work/tasks.txt" 2>"$work/tasks.sum"
read -r cpu_total longest <"$work/tasks.sum"
ideal=$(awk -v t="$cpu_total" -v c="$cores" 'BEGIN { print t / c }')
echo
echo "B. $tasks tasks, Pareto CPU cost (shape 2, scale 7.5 ms, longest ${longest} ms, ${cpu_total}s in all; $cal rounds/ms), ideal ${ideal}s on $cores cores"
header
ex() { mwrow "$1" "$2" "$3" "$ideal" exec --tasks "$work/tasks.txt" "${@:4}"; }
ex 1 no-mpirun "auto"
ex 2 default "auto"
ex 2 none "2" -j 2
ex 3 default "auto"
ex 3 default "2" -j 2
ex 3 default "auto, unord" --unordered
t0=$(now)
parallel -j "$cores" <"$work/tasks.txt"
t1=$(now)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
printf '%3s %-10s %-12s %7s %9.3f %11s %9s\n' - - "parallel -j$cores" - "$wall" "$(pct "$ideal" "$wall")" -
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
