#!/usr/bin/env bash
# make bench: every benchmark, one after the other (never in parallel: 2 cores), each
# printing its own table of rates next to a baseline measured in the same run.
set -euo pipefail
export MW_BENCH_ALL=1 # pingpong.sh runs once, here, not again inside engine.sh
cd "$(dirname "$0")/../.."
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (numbers taken under load are noise)"
for s in pingpong engine chunk scaling sim interp overlay exec exec-cases pool; do
	f=scripts/bench/$s.sh
	[ -f "$f" ] || continue
	echo
	echo "== $s ($f)"
	bash "$f"
done
