#!/usr/bin/env bash
# pool.sh: the Go library's Map of an empty function (pool/internal/mapbench) against
# mpi4py.futures' MPIPoolExecutor.map of an identity function, in the same run, on the
# same cores: 3 ranks (a manager and 2 workers) under Open MPI (Debian's mpi4py is built
# against it). pool.Map at chunk auto (the default) and at the chunk sizes mpi4py is given
# (1, 16, 256); the rows take turns over ROUNDS rounds (default 2) and each keeps its best
# rate, since other work on the machine only ever slows a run. The load average is printed
# at the start and the end: numbers taken above ~1.5 on this 2-core machine are noise.
#
#   scripts/bench/pool.sh [-q]      (-q: quick, smaller counts, one round)
#   BEFORE=<commit> scripts/bench/pool.sh   (also the pool of that commit, at chunk 1, 16,
#                                             256: its Map had no chunk auto)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
PY=/usr/bin/python3 # Debian's, where python3-mpi4py lives
quick=0
[[ ${1:-} == -q ]] && quick=1
rounds=${ROUNDS:-2}
((quick)) && rounds=1
run=$(command -v mpirun.openmpi || echo mpirun)
for p in openmpi-bin python3-mpi4py; do
	dpkg -s "$p" >/dev/null 2>&1 || { echo "pool.sh: needs $p (apt-get install $p)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/mw-pool.XXXXXX")
trap 'rm -rf "$work"' EXIT
go build -o "$work/mapbench" ./pool/internal/mapbench
if [[ -n ${BEFORE:-} ]]; then # the same program against that commit's library
	mkdir "$work/before"
	git archive "$BEFORE" | tar -x -C "$work/before"
	mkdir -p "$work/before/pool/internal/mapbench"
	cp pool/internal/mapbench/main.go "$work/before/pool/internal/mapbench/"
	(cd "$work/before" && go build -o "$work/mapbench-before" ./pool/internal/mapbench)
fi
cat >"$work/futures.py" <<'PYEOF'
import sys, time
from mpi4py.futures import MPIPoolExecutor

def task(x):
    return x

if __name__ == "__main__":
    with MPIPoolExecutor() as ex:
        list(ex.map(task, range(1000)))  # start the workers
        for arg in sys.argv[1:]:
            chunk, n = map(int, arg.split(":"))
            t = time.perf_counter()
            out = list(ex.map(task, range(n), chunksize=chunk))
            dt = time.perf_counter() - t
            assert out[-1] == n - 1
            print(chunk, n, dt, n / dt, flush=True)
PYEOF
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# $(uname -n), $(nproc) cores, load average $(load) at start; 3 ranks under $run"
scale=1
((quick)) && scale=3
declare -A best n
keep() { # keep KEY COUNT RATE: the best rate of KEY
	n[$1]=$2
	if [[ -z ${best[$1]:-} ]] || awk -v a="$3" -v b="${best[$1]}" 'BEGIN { exit !(a > b) }'; then best[$1]=$3; fi
}
for ((r = 0; r < rounds; r++)); do
	while read -r chunk count _ rate; do keep "mw/$chunk" "$count" "$rate"; done < <(
		"$run" -np 3 "$work/mapbench" -chunk 0 -n $((30000000 / scale))
		for c in 1 16 256; do
			"$run" -np 3 "$work/mapbench" -chunk "$c" -n $((c * 100000 / scale))
		done
	)
	if [[ -n ${BEFORE:-} ]]; then
		while read -r chunk count _ rate; do keep "old/$chunk" "$count" "$rate"; done < <(
			for c in 1 16 256; do
				"$run" -np 3 "$work/mapbench-before" -chunk "$c" -n $((c * 20000 / scale))
			done
		)
	fi
	while read -r chunk count _ rate; do keep "py/$chunk" "$count" "$rate"; done < <(
		"$run" -np 3 "$PY" -m mpi4py.futures "$work/futures.py" "1:$((6000 / scale))" "16:$((90000 / scale))" "256:$((1200000 / scale))"
	)
done
printf '\n%-8s %14s %14s %14s %12s\n' chunk "pool.Map el/s" "before el/s" "mpi4py el/s" "pool/mpi4py"
for c in auto 1 16 256; do
	awk -v c="$c" -v mw="${best[mw/$c]}" -v old="${best[old/$c]:-}" -v py="${best[py/$c]:-}" 'BEGIN {
		printf "%-8s %14.0f %14s %14s %12s\n", c, mw, old == "" ? "-" : sprintf("%.0f", old), py == "" ? "-" : sprintf("%.0f", py), py == "" ? "-" : sprintf("%.0f", mw / py)
	}'
done
echo "# elements per measurement: pool.Map $((30000000 / scale)) at auto, $((100000 / scale)) x the chunk at a fixed chunk; before: $((20000 / scale)) x the chunk; mpi4py.futures: $((6000 / scale)), $((90000 / scale)), $((1200000 / scale))"
echo "# load average $(load) at the end"
