//go:build cgo

package mpitransport

import (
	"strings"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

// sharesCores reports whether this rank shares its node's cores with other busy processes
// (rank.CoreSharer): its launcher put more ranks on the node than it has cores, or, under
// Open MPI, mpi_yield_when_idle makes every poll that finds nothing give the core away.
func sharesCores(l launch.Info, getenv func(string) string, cores int) bool {
	if l.LocalSize > cores {
		return true
	}
	if mpi.Implementation() != mpi.OpenMPI {
		return false
	}
	switch strings.ToLower(getenv("OMPI_MCA_mpi_yield_when_idle")) {
	case "1", "true", "yes", "enabled":
		return true
	}
	return false
}

// SharesCores implements rank.CoreSharer.
func (t *mpiTransport) SharesCores() bool { return t.sharesCores }
