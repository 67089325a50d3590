#!/usr/bin/env bash
# versus.sh: this mw against another build of it (BASE_MW), the two taking turns in each
# round on the same cores: what a change costs the engine. Rows:
#   - chunk-1 dispatch: mpirun -np 3 mw selftest --cost 0 --chunk 1 --threads 1 at windows
#     1, 2 and 16 (push), items/s from --stats (the best of ROUNDS, default 3);
#   - the idle manager: mpirun -np 3 mw selftest --items 40 --chunk 1 --cost 250ms, the
#     manager process's CPU over the run's wall time (the least of ROUNDS), while its
#     workers compute long items.
#
#   BASE_MW=/path/to/mw-before scripts/bench/versus.sh [ITEMS]   (default 400000 items)
#
# Only meaningful on an otherwise idle machine.
set -euo pipefail
: "${BASE_MW:?BASE_MW=/path/to/the other mw}"
items=${1:-400000}
rounds=${ROUNDS:-3}
. "$(dirname "$0")/lib.sh"
bench_workdir ""
bench_mpi openmpi
export OMPI_MCA_rmaps_base_oversubscribe=1

declare -A rate cpu
run() { # run BIN KEY ARGS...: one run; keeps the best rate and the least manager CPU
	local bin=$1 key=$2 st=$work/st.json r c
	shift 2
	"$mpi_run" -np 3 "$bin" selftest --quiet -o /dev/null --stats "$st" "$@"
	r=$(awk -v n="$(bench_stat "$st" chunks)" -v w="$(bench_stat "$st" wall_seconds)" 'BEGIN { printf "%.0f", n / w }')
	c=$(awk -v c="$(bench_stat "$st" manager_cpu_seconds)" -v w="$(bench_stat "$st" wall_seconds)" 'BEGIN { printf "%.2f", 100 * c / w }')
	((r > ${rate[$key]:-0})) && rate[$key]=$r
	[[ -z ${cpu[$key]:-} ]] || awk -v a="$c" -v b="${cpu[$key]}" 'BEGIN { exit !(a < b) }' && cpu[$key]=$c
	return 0
}
for ((i = 0; i < rounds; i++)); do
	for w in 1 2 16; do
		for which in new base; do
			bin=$mw
			[[ $which == base ]] && bin=$BASE_MW
			run "$bin" "$which w$w" --items "$items" --cost 0 --chunk 1 --threads 1 --window "$w"
		done
	done
	for which in new base; do
		bin=$mw
		[[ $which == base ]] && bin=$BASE_MW
		run "$bin" "$which idle" --items 40 --cost 250ms --chunk 1 --threads 1
	done
done
echo "# $(uname -n), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); best of $rounds"
echo "# new: $mw (this tree); base: $BASE_MW"
printf '%-34s %12s %12s %8s\n' what new base new/base
for w in 1 2 16; do
	printf '%-34s %12s %12s %8.2f\n' "chunk 1, window $w (chunks/s)" "${rate[new w$w]}" "${rate[base w$w]}" \
		"$(awk -v a="${rate[new w$w]}" -v b="${rate[base w$w]}" 'BEGIN { print a / b }')"
done
printf '%-34s %11s%% %11s%%\n' "idle manager (CPU of a core)" "${cpu[new idle]}" "${cpu[base idle]}"
