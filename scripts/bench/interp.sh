#!/usr/bin/env bash
# Benchmark of mw interp: 20,000 generated 56x256 frames enlarged to 168x256, end to end
# (reading the PGM stream, dealing chunks, enlarging, writing the PGM output file), at
# -np 1, 2, 3; then the single-process kernel rate next to x/image/draw's from the Go
# benchmarks, and a short real-time run with its latency report.
#
#   scripts/bench/interp.sh [WORKDIR]     (default: a temporary directory, removed after)
#
# "run" is the engine's own time (from --stats: Open to the last frame written); "wall"
# adds mpirun's start-up and the output file's sync and rename. Numbers are only
# meaningful on an otherwise idle machine.
set -euo pipefail
frames=${FRAMES:-20000}
. "$(dirname "$0")/lib.sh"
bench_workdir "${1:-}"
in=$work/frames-$frames.pgm
[[ -s $in ]] || "$mw" gen frames --count "$frames" --seed 1 -o "$in"
outbytes=$(( frames * (168 * 256 + 15) ))

# Two outputs: a file in WORKDIR (what a user gets; bounded by the disk here) and /dev/null
# (the engine, the kernel and the reading alone).
printf '%-9s %3s %8s %8s %10s %10s %12s\n' output np run_s wall_s frames/s out_MB/s wall_frames/s
for dest in file null; do
	for np in 1 2 3; do
		out=$work/big-$np.pgm
		[[ $dest == null ]] && out=/dev/null
		t0=$(date +%s.%N)
		mpirun -np "$np" --oversubscribe "$mw" interp -i "$in" -o "$out" --quiet --stats "$work/stats.json"
		t1=$(date +%s.%N)
		run=$(grep -o '"wall_seconds": *[0-9.e+-]*' "$work/stats.json" | sed 's/.*: *//')
		awk -v d="$dest" -v np="$np" -v run="$run" -v t0="$t0" -v t1="$t1" -v n="$frames" -v b="$outbytes" \
			'BEGIN { printf "%-9s %3d %8.3f %8.3f %10.0f %10.1f %12.0f\n", d, np, run, t1 - t0, n / run, b / run / 1e6, n / (t1 - t0) }'
		if [[ $dest == file && $np != 1 ]]; then
			cmp -s "$out" "$work/big-1.pgm" || { echo "-np $np output differs from -np 1" >&2; exit 1; }
			rm -f "$out"
		fi
	done
done
rm -f "$work/big-1.pgm"

echo
echo "kernel on one core (frames/s), this package vs x/image/draw CatmullRom, same frames:"
go test -run '^$' -bench '^Benchmark(Kernel|XImageDraw)$' -benchtime 2s ./interp/ | grep -E '^Benchmark'

echo
echo "real time: 2000 frames at 1000/s, -np 3:"
head -c $(( 2000 * (56 * 256 + 14) )) "$in" | mpirun -np 3 --oversubscribe "$mw" interp --fps 1000 -o /dev/null 2>&1 | grep 'real time'
