//go:build cgo

package mpitransport

import (
	"testing"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

// TestYieldsWhenIdle: Open MPI yields in an idle poll when its node runs more ranks than
// cores, or when its parameter says so; MPICH never.
func TestYieldsWhenIdle(t *testing.T) {
	openMPI := mpi.Implementation() == mpi.OpenMPI
	for _, c := range []struct {
		local, cores int
		param        string
		want         bool
	}{
		{3, 2, "", true},
		{2, 2, "", false},
		{0, 2, "", false}, // the launcher did not say
		{2, 2, "1", true},
		{3, 2, "0", false},
		{3, 2, "FALSE", false},
	} {
		env := func(name string) string {
			if name == "OMPI_MCA_mpi_yield_when_idle" {
				return c.param
			}
			return ""
		}
		got := yieldsWhenIdle(launch.Info{LocalSize: c.local}, env, c.cores)
		if want := c.want && openMPI; got != want {
			t.Errorf("%d ranks on %d cores, parameter %q: %v, want %v", c.local, c.cores, c.param, got, want)
		}
	}
}
