//go:build cgo

package mpitransport

import (
	"testing"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

// TestSharesCores: a rank shares its cores when its node runs more ranks than cores, and
// under Open MPI when its parameter makes idle polls yield.
func TestSharesCores(t *testing.T) {
	openMPI := mpi.Implementation() == mpi.OpenMPI
	for _, c := range []struct {
		local, cores int
		param        string
		want         bool
	}{
		{3, 2, "", true},
		{2, 2, "", false},
		{0, 2, "", false}, // the launcher did not say
		{3, 2, "0", true},
		{2, 2, "1", openMPI},
		{2, 2, "TRUE", openMPI},
		{2, 2, "0", false},
	} {
		env := func(name string) string {
			if name == "OMPI_MCA_mpi_yield_when_idle" {
				return c.param
			}
			return ""
		}
		if got := sharesCores(launch.Info{LocalSize: c.local}, env, c.cores); got != c.want {
			t.Errorf("%d ranks on %d cores, parameter %q: %v, want %v", c.local, c.cores, c.param, got, c.want)
		}
	}
}
