#!/usr/bin/env bash
# pingpong.sh: the mpi package's ping-pong against C's, on this machine.
#
# Usage: [MPI=openmpi|mpich] scripts/bench/pingpong.sh [scale [trials]]
#
# Builds scripts/bench/pingpong.c (the MPI's mpicc -O2) and cmd/mw-pingpong (go build, against
# the same MPI) into a temporary directory, runs each under `mpirun -np 2` (MPICH:
# mpiexec.mpich) with the same arguments, and prints one row per
# message size: half round-trip latency in us and bandwidth in MB/s for C (MPI_Send/MPI_Recv)
# and the Go binding doing the same (Send/RecvFixed), with their ratio Go/C and the floor of
# that ratio for any cgo binding (cgo/C: C plus one empty cgo call per message); then C and Go
# receiving with a probe first, as a receiver that does not know the size must, and as the
# engine does (MPI_Mprobe/MPI_Get_count/MPI_Mrecv; C-mp and RecvInto, Go-mp), and Go-mp/C-mp. Both C and Go start MPI at MPI_THREAD_SINGLE (see
# cmd/mw-pingpong for -thread). The three programs run in turn, ROUNDS times (default 3),
# and each number is the best of all their trials (`trials` per run, default 5): other work on
# the machine only ever adds time. Still, run it alone: on 2 cores any other load shows.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/mw-pingpong.XXXXXX")
trap 'rm -rf "$out"' EXIT

. "$root/scripts/bench/lib.sh"
bench_mpi "${MPI:-}"
"$mpi_cc" -O2 -o "$out/pingpong" "$root/scripts/bench/pingpong.c"
(cd "$root" && go build -tags "$mpi_tags" -o "$out/mw-pingpong" ./cmd/mw-pingpong)

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rounds=${ROUNDS:-3}
# run: the rows of one run (size, us); mw-pingpong's cost of an empty cgo call goes to cgo.all.
run() { "$mpi_run" -np 2 "$@" | awk -v cgo="$out/cgo.all" '$1 ~ /^[0-9]+$/ { print $1, $3 } /^# cgo call/ { print $4 >>cgo }'; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < rounds; r++)); do
	run "$out/pingpong" "$@" >>"$out/c.all"
	run "$out/pingpong" -mprobe "$@" >>"$out/cmp.all"
	run "$out/mw-pingpong" "$@" >>"$out/go.all"
	run "$out/mw-pingpong" -recv probe "$@" >>"$out/gomp.all"
done
# best: per size, in the order first seen, the least us and the MB/s that goes with it.
best() {
	awk '!($1 in us) { order[n++] = $1; us[$1] = $2 } $2 < us[$1] { us[$1] = $2 }
	END { for (i = 0; i < n; i++) { s = order[i]; print s, us[s], (us[s] > 0 ? s / us[s] : 0) } }' "$1"
}
best "$out/c.all" >"$out/c.txt"
best "$out/cmp.all" >"$out/cmp.txt"
best "$out/go.all" >"$out/go.txt"
best "$out/gomp.all" >"$out/gomp.txt"

cgo=$(sort -g "$out/cgo.all" | head -1)
echo "# $(uname -n), $(nproc) cores, ${MPI:-openmpi}, load average before $load0, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# best of $rounds runs x ${2:-5} trials each; us = half round trip, MB/s = size / us"
echo "# an empty cgo call costs $cgo ns here (mpi.Nop): a binding pays about one per message, the"
echo "# return from the receive and the entry into the send that answers it. cgo/C = (C + that) / C"
paste -d' ' "$out/c.txt" "$out/go.txt" "$out/cmp.txt" "$out/gomp.txt" | awk -v cgo="$cgo" '
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
BEGIN {
	printf "%8s %8s %8s %6s %6s %8s %8s %7s %9s %9s %6s %10s %10s %6s\n", "size", "C us", "Go us", "Go/C", "cgo/C", "C-mp us", "Go-mp us", "mp G/C", "C MB/s", "Go MB/s", "Go/C", "C-mp MB/s", "Go-mp MB/s", "mp G/C"
}
{
	printf "%8d %8.3f %8.3f %6s %6s %8.3f %8.3f %7s %9.1f %9.1f %6s %10.1f %10.1f %6s\n", $1, $2, $5, ratio($5, $2), ratio($2 + cgo / 1000, $2), $8, $11, ratio($11, $8), $3, $6, ratio($6, $3), $9, $12, ratio($12, $9)
}'
