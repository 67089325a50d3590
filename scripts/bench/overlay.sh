#!/usr/bin/env bash
# Benchmark of mw overlay: two generated 50,000-rectangle maps (1000 x 1000) and two
# 1,000,000-rectangle maps (5000 x 5000, the same density), overlaid end to end (parsing,
# validation, the overlay and writing the CSV included) at -np 1, 2, 3; then the kernels'
# rates from the Go benchmarks (naive all-pairs loop vs the indexed kernel, on 50k maps).
#
#   scripts/bench/overlay.sh [WORKDIR]     (default: a temporary directory, removed after)
#
# Numbers are only meaningful on an otherwise idle machine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_workdir "${1:-}"

gen() { # gen FILE N W H SEED
	[[ -s $1 ]] || "$mw" gen map --rects "$2" --width "$3" --height "$4" --seed "$5" -o "$1"
}
gen "$work/a50k.csv" 50000 1000 1000 1
gen "$work/b50k.csv" 50000 1000 1000 2
gen "$work/a1M.csv" 1000000 5000 5000 1
gen "$work/b1M.csv" 1000000 5000 5000 2

printf '%-10s %3s %9s %11s %14s\n' maps np seconds pieces pieces/s
for size in 50k 1M; do
	for np in 1 2 3; do
		out=$work/o$size-$np.csv
		t0=$(date +%s.%N)
		timeout 300 mpirun -np "$np" --oversubscribe "$mw" overlay -a "$work/a$size.csv" -b "$work/b$size.csv" -o "$out" --quiet
		t1=$(date +%s.%N)
		pieces=$(($(wc -l <"$out") - 1))
		awk -v s="$size" -v np="$np" -v t0="$t0" -v t1="$t1" -v p="$pieces" \
			'BEGIN { printf "%-10s %3d %9.3f %11d %14.0f\n", s " x " s, np, t1 - t0, p, p / (t1 - t0) }'
		if [[ $np != 1 ]]; then
			cmp -s "$out" "$work/o$size-1.csv" || { echo "-np $np output differs from -np 1" >&2; exit 1; }
		fi
	done
done

echo
echo "kernels on two 50k maps (the naive loop runs on 1% of A; s/50k-A extrapolates):"
go test -run '^$' -bench 'Overlay(Naive|Indexed)50k' -benchtime 3x ./overlay/ | grep -E '^Benchmark'
