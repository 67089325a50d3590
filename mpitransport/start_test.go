package mpitransport

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/rank"
)

// TestStartAloneIsSolo: a process no launcher started, or one its launcher says is alone
// (mpirun -np 1), gets a world of one rank without MPI.
func TestStartAloneIsSolo(t *testing.T) {
	for _, v := range []string{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS"} {
		t.Setenv(v, "")
	}
	tr, err := Start()
	require.NoError(t, err)
	require.Equal(t, rank.Solo(), tr)
	require.Equal(t, 1, tr.Size())

	t.Setenv("OMPI_COMM_WORLD_RANK", "0")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "1")
	tr, err = Start()
	require.NoError(t, err)
	require.Equal(t, 1, tr.Size(), "mpirun -np 1 runs without MPI")
	require.Equal(t, rank.Alone(), tr)
}
