#!/usr/bin/env bash
# engine.sh: the engine's own cost per message against the floor and against its peers, in
# one run on the same cores (issue 9, item 1).
#
#   scripts/bench/engine.sh [-q]      (-q: quick, shorter measurements; no ping-pong)
#   MPI=mpich scripts/bench/engine.sh             (sections 1, 2 and their ratios, under MPICH)
#   MPI="openmpi mpich" scripts/bench/engine.sh   (both, in the same rounds)
#
# MPI names the MPIs to measure (default openmpi): mw, cmd/mw-cmanager and cmanager.c are
# built against each (go build -tags mpich, mpicc.mpich) and run under its launcher (mpirun,
# mpiexec.mpich). Sections 1 and 2 run for each, the chunk-1 rows and the loops of every MPI
# taking turns in each round; section 3's peers run once, under Open MPI (Debian's mpi4py is
# built against it), and only when it is measured.
#
# 1. The C floor: scripts/bench/cmanager.c (mpicc -O2), rank 0 dealing 8-byte tasks to 2
#    workers with W = 1, 2, 16 in flight per worker, 8-byte replies. Next to it, its Go twin
#    cmd/mw-cmanager in C's calls (-pattern blocking: MPI_Send, MPI_Recv; what the binding
#    costs) and in the engine's (-pattern poll: MPI_Isend and MPI_Test, MPI_Improbe and
#    MPI_Mrecv, never blocking in MPI; the least a one-goroutine engine pays, before any
#    work of its own).
# 2. mw selftest with empty items (--cost 0) at --chunk 1, 16, 256, auto; --window 1, 2, 16;
#    --mode push and pull (--threads 1: one computing thread per worker rank, as in C). Rates
#    come from the --stats JSON: items/s = items / wall_seconds, chunks/s = chunks_per_second,
#    messages/s = chunks/s x 2 (task, result; in pull mode the result asks for the next).
#    "mgr cpu" is the manager process's CPU time over the run's wall time.
# 3. mpi4py.futures (Debian's python3-mpi4py): MPIPoolExecutor.map of an identity function at
#    chunksize 1, 16, 256; Dask (python3-distributed): LocalCluster of 2 single-threaded worker
#    processes, client.map + gather; GNU parallel: `parallel -j2 true`, one process per task.
# 4. One table of ratios: mw / C at the same window (chunk 1), mw / mpi4py.futures at the same
#    chunk size; then scripts/bench/pingpong.sh (the binding's ping-pong next to C's) when
#    it is there, unless MW_BENCH_ALL=1 (all.sh runs it itself).
#
# Every MPI run has 3 ranks (a manager, 2 workers) on this machine's 2 cores: more ranks than
# cores oversubscribe, and Open MPI then yields in its polling loop and binds no rank to a
# core. One more pair of rows at -np 2 (1 worker), where Open MPI binds each rank to one core
# (so Go sets GOMAXPROCS=1 in each); MPICH's mpiexec binds no rank unless asked. Each measurement runs a short probe, then again sized to
# take about 1.5 s (0.5 s with -q). What the C ratios compare (the C and Go loops, and mw's
# chunk-1 rows) runs ROUNDS times (default 2, 1 with -q), the loops and mw in turn, and each
# keeps its best rate: other work on the machine only ever slows a run, and taking turns
# spreads the VM's drift over both sides. Numbers taken while the load average is above
# ~1.5 are noise: the script prints the load at its start and end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
quick=0
[[ ${1:-} == -q ]] && quick=1
rounds=${ROUNDS:-2}
((quick)) && rounds=${ROUNDS:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
PY=/usr/bin/python3 # Debian's, where python3-mpi4py lives; the first python3 on PATH may be another
. scripts/bench/lib.sh
mpis=${MPI:-openmpi}
peers=0 # section 3 runs under Open MPI only
[[ " $mpis " == *" openmpi "* ]] && peers=1

# deps: Debian packages this benchmark needs, installed only when missing.
deps() {
	local missing=() pkgs=()
	[[ " $mpis " == *" mpich "* ]] && pkgs+=(mpich libmpich-dev)
	((peers)) && pkgs+=(openmpi-bin libopenmpi-dev parallel python3-mpi4py python3-distributed)
	for p in "${pkgs[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if ((${#missing[@]})); then
		echo "installing: ${missing[*]}" >&2
		apt-get update -qq >/dev/null &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}
deps

work=$(mktemp -d "${TMPDIR:-/tmp}/mw-engine.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Each MPI's programs go to $work/<mpi>/, its launcher to run[<mpi>].
declare -A run
for m in $mpis; do
	bench_mpi "$m"
	mkdir -p "$work/$m"
	go build -tags "$mpi_tags" -o "$work/$m/mw" .
	"$mpi_cc" -O2 -o "$work/$m/cmanager" scripts/bench/cmanager.c
	go build -tags "$mpi_tags" -o "$work/$m/mw-cmanager" ./cmd/mw-cmanager
	run[$m]=$mpi_run
done
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# $(uname -n), $(nproc) cores, load average $(load) at start; MPI: $mpis"

# Each measurement first runs a probe of N items; unless the probe took long enough, it runs
# again with the N that takes about $target seconds at the probe's rate.
target=1.5
((quick)) && target=0.5
# fit N SECONDS: the count that takes about $target s at the rate N/SECONDS.
fit() { awk -v n="$1" -v s="$2" -v t="$target" 'BEGIN { f = s > 0 ? t / s : 100; if (f > 100) f = 100; printf "%d", n * f }'; }
# short SECONDS: true when a probe was too short to keep.
short() { awk -v s="$1" -v t="$target" 'BEGIN { exit !(s < t / 2) }'; }
# scale N: N for a fixed-size measurement, a third of it with -q.
scale() { if ((quick)); then echo $(($1 / 3)); else echo "$1"; fi; }

# --- 1. The C floor, and the Go binding in C's calls and in the engine's.
declare -A cfloor gofloor pollfloor
# better A B: the larger rate.
better() { awk -v a="${1:-0}" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
# loop MPI NP W PROGRAM...: a manager loop sized to ~$target s; records its rate in $rate.
loop() {
	local m=$1 np=$2 w=$3 n=100000 line secs
	shift 3
	for try in 1 2; do
		line=$("${run[$m]}" -np "$np" "$@" "$n" "$w")
		secs=$(awk '{ print $8 }' <<<"$line")
		if ((try == 1)) && short "$secs"; then
			n=$(fit "$n" "$secs")
			continue
		fi
		break
	done
	rate=$(awk '{ print $10 }' <<<"$line")
}
# cmeasure MPI NP W: the three loops at NP ranks, window W; each keeps its best rate.
cmeasure() {
	local m=$1 np=$2 w=$3 k=$1/$2/$3 rate
	loop "$m" "$np" "$w" "$work/$m/cmanager"
	cfloor[$k]=$(better "${cfloor[$k]:-}" "$rate")
	loop "$m" "$np" "$w" "$work/$m/mw-cmanager" -pattern blocking
	gofloor[$k]=$(better "${gofloor[$k]:-}" "$rate")
	loop "$m" "$np" "$w" "$work/$m/mw-cmanager" -pattern poll
	pollfloor[$k]=$(better "${pollfloor[$k]:-}" "$rate")
}
# cprint MPI NP W: their row.
cprint() {
	local k=$1/$2/$3
	printf '%-28s %4d %8d %12.0f %12.0f %12.0f %12.0f\n' "" "$2" "$3" "${cfloor[$k]}" "$(awk -v r="${cfloor[$k]}" 'BEGIN { print 2 * r }')" \
		"${gofloor[$k]}" "${pollfloor[$k]}"
}

# --- 2. mw selftest, empty items.
declare -A mwrate mwcps mwcpu mwn mwlabel
# mwmeasure MPI NP CHUNK WINDOW MODE [ENV...]: selftest sized to ~$target s; records items/s,
# chunks/s and the manager's share of a core under its key, if its rate beats the key's best.
mwmeasure() {
	local m=$1 np=$2 chunk=$3 window=$4 mode=$5 n
	shift 5
	case $chunk in
	1) n=20000 ;;
	16) n=200000 ;;
	256) n=2000000 ;;
	*) n=5000000 ;;
	esac
	((np == 2)) && n=$((n / 10)) # see the note on -np 2 below
	local st=$work/stats.json wall
	for try in 1 2; do
		env "$@" "${run[$m]}" -np "$np" "$work/$m/mw" selftest --items "$n" --chunk "$chunk" --window "$window" --mode "$mode" \
			--threads 1 --quiet --stats "$st" -o /dev/null
		wall=$(bench_stat "$st" wall_seconds)
		if ((try == 1)) && short "$wall"; then
			n=$(fit "$n" "$wall")
			continue
		fi
		break
	done
	local key=$m/$np/$chunk/$window/$mode${1:+/$1} rate
	rate=$(awk -v n="$n" -v s="$wall" 'BEGIN { printf "%.0f", n / s }')
	if [[ -z ${mwrate[$key]:-} ]] || ((rate > ${mwrate[$key]})); then
		mwrate[$key]=$rate
		mwn[$key]=$n
		mwcps[$key]=$(bench_stat "$st" chunks_per_second)
		mwcpu[$key]=$(awk -v c="$(bench_stat "$st" manager_cpu_seconds)" -v s="$wall" 'BEGIN { print 100 * c / s }')
		mwlabel[$key]=$chunk
		[[ $# -gt 0 ]] && mwlabel[$key]="$chunk ($*)"
	fi
	return 0
}
# mwprint MPI NP CHUNK WINDOW MODE [ENV...]: the row of a key measured before.
mwprint() {
	local key=$1/$2/$3/$4/$5${6:+/$6}
	printf '%-20s %3d %6d %5s %11d %12.0f %12.0f %12.0f %8.0f%%\n' "${mwlabel[$key]}" "$2" "$4" "$5" "${mwn[$key]}" \
		"${mwrate[$key]}" "${mwcps[$key]}" "$(awk -v c="${mwcps[$key]}" 'BEGIN { print c * 2 }')" "${mwcpu[$key]}"
}
# mwrun: mwmeasure, then mwprint.
mwrun() { mwmeasure "$@" && mwprint "$@"; }

# The rounds: the loops and mw's chunk-1 rows in turn, for each MPI (-np 2: Open MPI binds
# each of 2 ranks to one core, so Go runs them with GOMAXPROCS=1).
for ((r = 0; r < rounds; r++)); do
	for m in $mpis; do
		for w in 1 2 16; do
			cmeasure "$m" 3 "$w"
		done
		cmeasure "$m" 2 2
		for mode in push pull; do
			for w in 1 2 16; do
				mwmeasure "$m" 3 1 "$w" "$mode"
			done
		done
		mwmeasure "$m" 2 1 2 push
	done
done
for m in $mpis; do
	printf '\n## %s\n' "$m"
	printf '\n%-28s %4s %8s %12s %12s %12s %12s\n' "manager loop (cmanager.c)" np window "C tasks/s" "C msgs/s" "Go blocking" "Go poll"
	for w in 1 2 16; do
		cprint "$m" 3 "$w"
	done
	cprint "$m" 2 2

	printf '\n%-20s %3s %6s %5s %11s %12s %12s %12s %9s\n' "mw selftest, chunk" np window mode items items/s chunks/s msgs/s "mgr cpu"
	for mode in push pull; do
		for chunk in 1 16 256 auto; do
			for window in 1 2 16; do
				if [[ $chunk == 1 ]]; then
					mwprint "$m" 3 "$chunk" "$window" "$mode"
				else
					mwrun "$m" 3 "$chunk" "$window" "$mode"
				fi
			done
		done
	done
	mwrun "$m" 3 1 2 push MW_POLL=busy
	mwrun "$m" 3 1 2 push MW_POLL=timed # no bells: ranks wake on timers only
	mwprint "$m" 2 1 2 push
done
echo "# best of $rounds rounds: the loops above and mw's chunk-1 rows; the other rows ran once"

# --- 3. Peers (under Open MPI only).
declare -A pyrate
drate=0 prate=0
peers_run() {
	cat >"$work/futures.py" <<'EOF'
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
EOF
	printf '\n%-28s %8s %11s %12s\n' "mpi4py.futures" chunk tasks tasks/s
	local args=("1:$(scale 6000)" "16:$(scale 90000)" "256:$(scale 1200000)") chunk n secs rate
	while read -r chunk n secs rate; do
		pyrate[$chunk]=$rate
		printf '%-28s %8d %11d %12.0f\n' "" "$chunk" "$n" "$rate"
	done < <("${run[openmpi]}" -np 3 "$PY" -m mpi4py.futures "$work/futures.py" "${args[@]}")

	cat >"$work/dask_bench.py" <<'EOF'
import sys, time
from dask.distributed import Client, LocalCluster

def task(x):
    return x

if __name__ == "__main__":
    n = int(sys.argv[1])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        client.gather(client.map(task, range(100), pure=False))  # warm up
        t = time.perf_counter()
        out = client.gather(client.map(task, range(n), pure=False))
        dt = time.perf_counter() - t
        assert out[-1] == n - 1
        print(n, dt, n / dt)
EOF
	local dn
	read -r dn _ drate < <("$PY" "$work/dask_bench.py" "$(scale 1500)" 2>/dev/null)
	printf '%-28s %8s %11d %12.0f\n' "Dask (LocalCluster, 2 procs)" - "$dn" "$drate"

	local pn t0 t1
	pn=$(scale 400)
	t0=$(date +%s.%N)
	seq "$pn" | parallel -j2 true
	t1=$(date +%s.%N)
	prate=$(awk -v n="$pn" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
	printf '%-28s %8s %11d %12.0f\n' "GNU parallel -j2 true" - "$pn" "$prate"
}
((peers)) && peers_run

# --- 4. Ratios, for each MPI; the peers' under Open MPI.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
for m in $mpis; do
	printf '\n%-44s %12s %12s %8s   %s\n' "ratio ($m)" mw baseline "mw/base" goal
	for w in 1 2 16; do
		for mode in push pull; do
			printf '%-44s %12.0f %12.0f %8s   %s\n' "chunk 1, window $w, $mode / C at window $w" "${mwrate[$m/3/1/$w/$mode]}" "${cfloor[$m/3/$w]}" \
				"$(ratio "${mwrate[$m/3/1/$w/$mode]}" "${cfloor[$m/3/$w]}")" ">= 0.5"
		done
	done
	printf '%-44s %12.0f %12.0f %8s   %s\n' "-np 2: chunk 1, window 2, push / C" "${mwrate[$m/2/1/2/push]}" "${cfloor[$m/2/2]}" \
		"$(ratio "${mwrate[$m/2/1/2/push]}" "${cfloor[$m/2/2]}")" ">= 0.5"
	# The same goal for the Go loops: what is in reach of any engine on this binding.
	for key in 3/1 3/2 3/16 2/2; do
		np=${key%/*} w=${key#*/}
		for kind in blocking poll; do
			if [[ $kind == blocking ]]; then r=${gofloor[$m/$key]}; else r=${pollfloor[$m/$key]}; fi
			printf '%-44s %12.0f %12.0f %8s   %s\n' "-np $np: Go $kind loop, window $w / C" "$r" "${cfloor[$m/$key]}" "$(ratio "$r" "${cfloor[$m/$key]}")" "(mw's goal: 0.5)"
		done
		r=${mwrate[$m/$np/1/$w/push]}
		printf '%-44s %12.0f %12.0f %8s\n' "-np $np: chunk 1, window $w, push / Go poll loop" "$r" "${pollfloor[$m/$key]}" "$(ratio "$r" "${pollfloor[$m/$key]}")"
	done
	if [[ $m == openmpi ]] && ((peers)); then
		for c in 1 16 256; do
			printf '%-44s %12.0f %12.0f %8s   %s\n' "chunk $c, window 2, push / mpi4py.futures $c" "${mwrate[$m/3/$c/2/push]}" "${pyrate[$c]}" \
				"$(ratio "${mwrate[$m/3/$c/2/push]}" "${pyrate[$c]}")" ">= 20"
		done
		printf '%-44s %12.0f %12.0f %8s   %s\n' "chunk 1, window 2, push / Dask" "${mwrate[$m/3/1/2/push]}" "$drate" "$(ratio "${mwrate[$m/3/1/2/push]}" "$drate")" ""
		printf '%-44s %12.0f %12.0f %8s   %s\n' "chunk 1, window 2, push / GNU parallel" "${mwrate[$m/3/1/2/push]}" "$prate" "$(ratio "${mwrate[$m/3/1/2/push]}" "$prate")" ""
	fi
	printf '%-44s %12.0f %12s %8s   %s\n' "chunk auto, window 2, push: items/s" "${mwrate[$m/3/auto/2/push]}" - - ">= 10000000"
done
echo "# load average $(load) at end"

# all.sh runs pingpong.sh on its own: MW_BENCH_ALL=1 leaves it out here.
if ((!quick)) && [[ ${MW_BENCH_ALL:-} != 1 && -f scripts/bench/pingpong.sh ]]; then
	for m in $mpis; do
		echo
		MPI=$m bash scripts/bench/pingpong.sh
	done
fi
