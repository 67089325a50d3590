//go:build cgo

package mpitransport

import (
	"strings"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

// yieldsWhenIdle reports whether this rank's MPI gives the core away (sched_yield) in a
// poll that finds nothing (rank.IdleYielder): Open MPI does when its parameter
// mpi_yield_when_idle says so, which it turns on itself when a node runs more ranks than
// it has cores. MPICH's polls never yield.
func yieldsWhenIdle(l launch.Info, getenv func(string) string, cores int) bool {
	if mpi.Implementation() != mpi.OpenMPI {
		return false
	}
	switch strings.ToLower(getenv("OMPI_MCA_mpi_yield_when_idle")) {
	case "1", "true", "yes", "enabled":
		return true
	case "0", "false", "no", "disabled":
		return false
	}
	return l.LocalSize > cores
}

// YieldsWhenIdle implements rank.IdleYielder.
func (t *mpiTransport) YieldsWhenIdle() bool { return t.yields }
