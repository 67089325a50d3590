// Package mpirun knows the launcher of the MPI that this build of mw uses, for tests and
// benchmarks: Open MPI's mpirun by default, MPICH's mpiexec.mpich under the build tag mpich
// (the tag that builds package mpi against MPICH). It is pure Go and needs no MPI to build,
// so that tests of packages without cgo may use it too.
package mpirun

import (
	"strconv"
	"strings"
)

// Launcher is an MPI's launcher and what a test needs to know of it.
type Launcher struct {
	MPI     string // "Open MPI" or "MPICH"
	Command string // the launcher, by a name that does not depend on the system's alternatives
	Tags    string // the go build tags that build package mpi against this MPI ("" for none)
	RankVar string // the environment variable that tells a rank its world rank
	openMPI bool
}

var openMPI = Launcher{MPI: "Open MPI", Command: "mpirun", RankVar: "OMPI_COMM_WORLD_RANK", openMPI: true}

var mpich = Launcher{MPI: "MPICH", Command: "mpiexec.mpich", Tags: "mpich", RankVar: "PMI_RANK"}

// Current is the launcher of the MPI this build uses.
func Current() Launcher { return current }

// OpenMPI is Open MPI's launcher, whatever this build uses (for tests that run a binary
// built against each MPI: go build with its Tags).
func OpenMPI() Launcher { return openMPI }

// MPICH is MPICH's launcher, whatever this build uses.
func MPICH() Launcher { return mpich }

// Options are what a test asks of a launch beyond its ranks.
type Options struct {
	TagOutput bool     // prefix each line a rank prints with its rank (see Untag)
	Unbound   bool     // bind no rank to a core (Open MPI binds each of 2 ranks or fewer to one)
	Export    []string // environment variables every rank must see, on every host
}

// Args returns the launcher's arguments (after Command, before the program) that start np
// ranks, more than the cores if need be.
func (l Launcher) Args(np int, o Options) []string {
	n := strconv.Itoa(np)
	if !l.openMPI {
		// Hydra passes the whole environment (-genvall is its default) and binds no rank
		// unless asked.
		args := []string{"-n", n}
		if o.TagOutput {
			args = append(args, "-prepend-rank")
		}
		return args
	}
	args := []string{"-np", n, "--oversubscribe"}
	if o.Unbound {
		args = append(args, "--bind-to", "none")
	}
	if o.TagOutput {
		args = append(args, "--tag-output")
	}
	for _, v := range o.Export {
		args = append(args, "-x", v)
	}
	return args
}

// Env returns base with what the launcher needs here: Open MPI's mpirun refuses to run as
// root, and to start more ranks than cores, unless told.
func (l Launcher) Env(base []string) []string {
	env := append([]string(nil), base...)
	if l.openMPI {
		env = append(env, "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_rmaps_base_oversubscribe=1")
	}
	return env
}

// Untag returns a line of output that Options.TagOutput tagged without its tag: Open
// MPI's "[1,0]<stdout>:" or hydra's "[0] ".
func (l Launcher) Untag(line string) string {
	if !strings.HasPrefix(line, "[") {
		return line
	}
	sep := "] "
	if l.openMPI {
		sep = ">:"
	}
	if i := strings.Index(line, sep); i >= 0 {
		return line[i+len(sep):]
	}
	return line
}
