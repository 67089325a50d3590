//go:build cgo

package mpitransport

import (
	"os"
	"testing"

	"github.com/mw-hpc/mw/mpi"
)

// TestSetEagerLimit: StartMPI raises the shared-memory eager limit, under the parameter's
// name for the Open MPI it was built with, unless the environment sets it under either name;
// under MPICH's family it sets nothing.
func TestSetEagerLimit(t *testing.T) {
	vader, sm := "OMPI_MCA_btl_vader_eager_limit", "OMPI_MCA_btl_sm_eager_limit"
	for _, tt := range []struct {
		name        string
		env         map[string]string
		vader, sm   string // what each is after setEagerLimit ("" unset)
		orSmInstead bool   // Open MPI 5: the default goes to sm
	}{
		{"unset", nil, eagerLimit, "", true},
		{"vader set", map[string]string{vader: "8192"}, "8192", "", false},
		{"sm set", map[string]string{sm: "8192"}, "", "8192", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{vader, sm} {
				t.Setenv(k, "") // restored at the end
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				os.Setenv(k, v)
			}
			if err := setEagerLimit(); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{vader: tt.vader, sm: tt.sm}
			if mpi.SharedMemoryBTL() == "sm" && tt.orSmInstead {
				want[vader], want[sm] = tt.sm, tt.vader
			}
			if mpi.Implementation() != mpi.OpenMPI && tt.env == nil {
				want[vader], want[sm] = "", "" // MPICH's family: nothing set
			}
			for k, w := range want {
				if got := os.Getenv(k); got != w {
					t.Errorf("%s = %q, want %q", k, got, w)
				}
			}
		})
	}
}
