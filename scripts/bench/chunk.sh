#!/usr/bin/env bash
# Granularity: for cheap, expensive and irregular items, sweep fixed --chunk sizes and
# compare --chunk auto with the best of them, measured in the same run (mw selftest,
# mpirun -np 3 on this machine). Also push against pull on the irregular case.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[ -x ./mw ] || go build -o mw .
NP=${NP:-3}
stats=$(mktemp)
trap 'rm -f "$stats"' EXIT

wall() { # args... -> seconds
	mpirun -np "$NP" ./mw selftest "$@" --quiet --stats "$stats" -o /dev/null
	sed -n 's/.*"wall_seconds": \([0-9.e+-]*\).*/\1/p' "$stats"
}

run_case() { # name, "sizes", selftest flags...
	local name=$1 sizes=$2
	shift 2
	local best="" bestc="" line="" t
	for c in $sizes; do
		t=$(wall "$@" --chunk "$c")
		line+=$(printf ' %s=%.3f' "$c" "$t")
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t bestc=$c; fi
	done
	t=$(wall "$@" --chunk auto)
	printf '%-10s auto=%.3fs best fixed=%s (%.3fs) auto/best=%.2f |%s\n' "$name" "$t" "$bestc" "$best" "$(awk "BEGIN{print $t/$best}")" "$line"
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); mpirun -np $NP; seconds (lower is better)"
# Cheap items at chunk 1 would take minutes: the sweep starts at 16 there.
run_case cheap "16 64 256 1024 4096 16384" --items 5000000
run_case expensive "1 4 16 64 256 1024" --items 2000 --burn 1ms
run_case irregular "1 4 16 64 256 1024" --items 4000 --burn 100us --skew 20
for mode in push pull; do
	printf 'irregular --mode %s --chunk 1: %.3fs\n' "$mode" "$(wall --items 4000 --burn 100us --skew 20 --chunk 1 --mode "$mode")"
done
