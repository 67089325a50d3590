#!/usr/bin/env bash
# sim.sh: mw's manager past this machine, by simulation (issue 9, item 5).
#
#   scripts/bench/sim.sh [SVG]     (default: run/sim.svg)
#
# cmd/mw-sim runs the real manager against 1,000 to 100,000 simulated workers on a virtual
# clock (rank/sim.go): the manager's time is its own measured CPU time, the network is a
# LogGP model, the workers compute each chunk in exactly its items' time. It prints the
# manager's saturation point (messages/s when it never waits), a table of predicted
# efficiency for items of 1, 10 and 100 ms at chunk 1, 16 and auto on this machine's MPI
# (local), writes the plot, and then the goal's case (10,000 workers, 10 ms items) on a
# cluster network (2 us, 10 GB/s), with the engine's default backups on and off and
# exponential item times, and last issue 23's case: 100,000 workers with 1,000 items of 1 ms
# each under --chunk auto, as single-thread ranks and as 1,563 ranks of 64 threads, ordered
# and not, each row followed by where its efficiency went (-phases). Takes about three
# minutes; the manager's CPU time is counted on its thread's CPU clock, so a loaded machine
# slows the simulation more than it biases it (but a machine whose other work takes the
# core's caches or its clock speed slows the manager too: compare the saturation line of
# the first run with other days').
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
svg=${1:-run/sim.svg}
mkdir -p "$(dirname "$svg")"
work=$(mktemp -d "${TMPDIR:-/tmp}/mw-sim.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/mw-sim" ./cmd/mw-sim
echo "# $(uname -n), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
"$work/mw-sim" -net local -svg "$svg"
echo
"$work/mw-sim" -net cluster -saturation=false -workers 10000 -items 10ms -chunks 1,16,auto -svg ''
echo
"$work/mw-sim" -net cluster -saturation=false -workers 1000,10000 -items 10ms -chunks 1,16 -backups -svg ''
echo
"$work/mw-sim" -net cluster -saturation=false -workers 1000,10000 -items 10ms -chunks 1,16 -dist exp -svg ''
echo
"$work/mw-sim" -net cluster -saturation=false -workers 1000,10000 -items 10ms -chunks 1,16 -dist exp -unordered -svg ''
for order in -unordered ""; do
	echo
	"$work/mw-sim" -net cluster -saturation=false -workers 100000 -items 1ms -chunks auto -per-worker 1000 $order -phases -svg ''
	"$work/mw-sim" -net cluster -saturation=false -workers 1563 -threads 64 -items 1ms -chunks auto -per-worker 1000 $order -phases -svg ''
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
