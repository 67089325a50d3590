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

# bench_mpi NAME: what a benchmark needs of the MPI NAME (openmpi, the default, or mpich):
# $mpi_tags for go build -tags, $mpi_cc its C compiler wrapper and $mpi_run its launcher,
# each by the name that does not depend on the system's alternatives (Debian's mpicc and
# mpirun are Open MPI's or MPICH's, as update-alternatives says).
bench_mpi() {
	case ${1:-openmpi} in
	openmpi)
		mpi_tags=
		mpi_cc=$(command -v mpicc.openmpi || echo mpicc)
		mpi_run=$(command -v mpirun.openmpi || echo mpirun)
		;;
	mpich)
		mpi_tags=mpich
		mpi_cc=$(command -v mpicc.mpich || echo mpicc)
		mpi_run=$(command -v mpiexec.mpich || echo mpiexec)
		;;
	*)
		echo "bench: MPI=$1: want openmpi or mpich" >&2
		return 2
		;;
	esac
}

# bench_stat FILE KEY: the value of a top-level KEY in mw's --stats JSON (one key a line).
bench_stat() { awk -v k="\"$2\":" '$1 == k { gsub(",", "", $2); print $2 }' "$1"; }
