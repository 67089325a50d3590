# lib.sh: what the workload benchmarks share. Source it from scripts/bench/*.sh.

# bench_workdir [DIR]: go to the repository root, let mpirun run as root, set $work (DIR, or
# a temporary directory removed at exit) and build mw there as $mw.
bench_workdir() {
	cd "$(dirname "${BASH_SOURCE[0]}")/../.."
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	work=${1:-}
	if [[ -z $work ]]; then
		work=$(mktemp -d)
		trap 'rm -rf "$work"' EXIT
	fi
	mkdir -p "$work"
	go build -o "$work/mw" .
	mw=$work/mw
}
