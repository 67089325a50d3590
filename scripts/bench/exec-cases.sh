#!/usr/bin/env bash
# exec-cases.sh: the two mw exec cases the issues measured against GNU parallel, in one run,
# mw and parallel taking turns, each row the best of ROUNDS (default 3) wall times:
#
# 1. ordered output behind one slow task (issue 23): one `sleep 4` then 100 `sleep 0.05`,
#    two at a time: `mw exec -j 2 -k` alone, `mw exec --unordered`, and `parallel -k -j2`.
#    A reorder buffer bounded by a count of entries made every slot wait for the slow head.
# 2. large task output (issue 25): three tasks printing 50 MB each (head -c 50M /dev/zero),
#    under `mpirun -np 3` (a manager and two workers), alone, and `parallel -k -j2`; and
#    a C program that only calls MPI_Init and MPI_Finalize under `mpirun -np 3`: what
#    MPI's start-up and end alone cost, which mpirun's row includes.
#
#   scripts/bench/exec-cases.sh [WORKDIR]
#   BASE_MW=/path/to/other/mw scripts/bench/exec-cases.sh   adds that mw's rows
#
# Only meaningful on an otherwise idle machine; the output goes to /dev/null through a pipe
# (wc -c checks its size), as a batch job's goes to a file.
set -euo pipefail
rounds=${ROUNDS:-3}
. "$(dirname "$0")/lib.sh"
bench_workdir "${1:-}"
bench_mpi openmpi
export OMPI_MCA_rmaps_base_oversubscribe=1
command -v parallel >/dev/null || { echo "GNU parallel is not installed: nothing to compare with"; exit 0; }
{ echo 4; for _ in {1..100}; do echo 0.05; done; } >"$work/sleeps"
big='head -c 50000000 /dev/zero; true' # the value ({}) goes to true
# What MPI alone costs under mpirun: start-up, MPI_Init, MPI_Finalize, no work.
printf '#include <mpi.h>\nint main(int c, char **v) { MPI_Init(&c, &v); MPI_Finalize(); return 0; }\n' >"$work/mpi-hello.c"
"$mpi_cc" -O2 -o "$work/mpi-hello" "$work/mpi-hello.c"

# best LABEL WANT_BYTES CMD...: runs CMD rounds times (turns are taken by the caller) and
# keeps the best wall time in best[LABEL]; fails if CMD's output is not WANT_BYTES long.
declare -A best
best() {
	local label=$1 want=$2 t0 t1 got
	shift 2
	t0=$(date +%s.%N)
	got=$("$@" | wc -c)
	t1=$(date +%s.%N)
	if [[ $got != "$want" ]]; then
		echo "$label: $got bytes out, want $want" >&2
		exit 1
	fi
	best[$label]=$(awk -v a="$t0" -v b="$t1" -v o="${best[$label]:-1e9}" 'BEGIN { d = b - a; print (d < o ? d : o) }')
}

mws=("$mw")
[[ -n ${BASE_MW:-} ]] && mws+=("$BASE_MW")
for ((r = 0; r < rounds; r++)); do
	for m in "${mws[@]}"; do
		tag=""
		[[ $m != "$mw" ]] && tag=" (BASE_MW)"
		best "sleeps: mw exec -j 2 -k$tag" 0 "$m" exec --quiet -j 2 -k -a "$work/sleeps" -- sleep
		best "sleeps: mw exec -j 2 --unordered$tag" 0 "$m" exec --quiet -j 2 --unordered -a "$work/sleeps" -- sleep
		best "50 MB x 3: mpirun -np 3 mw exec$tag" 150000000 "$mpi_run" -np 3 --bind-to none "$m" exec --quiet -j 1 -- "$big" ::: 1 2 3
		best "50 MB x 3: mw exec -j 2 (no mpirun)$tag" 150000000 "$m" exec --quiet -j 2 -- "$big" ::: 1 2 3
	done
	best "50 MB x 3: mpirun -np 3 MPI_Init+MPI_Finalize" 0 "$mpi_run" -np 3 "$work/mpi-hello"
	best "sleeps: parallel -k -j2" 0 parallel -k -j2 -a "$work/sleeps" sleep
	best "50 MB x 3: parallel -k -j2" 150000000 parallel -k -j2 "$big" ::: 1 2 3
done
echo "# $(uname -n), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); best of $rounds"
printf '%-50s %8s %12s\n' what wall_s /parallel
while IFS= read -r k; do
	base=${best["${k%%:*}: parallel -k -j2"]}
	printf '%-50s %8.2f %12.2f\n' "$k" "${best[$k]}" "$(awk -v a="${best[$k]}" -v b="$base" 'BEGIN { print a / b }')"
done < <(printf '%s\n' "${!best[@]}" | sort)
