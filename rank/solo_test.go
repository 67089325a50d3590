package rank

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStartWithoutLauncherIsSolo: a process no launcher started gets a world of one rank
// without MPI, and Run computes every chunk on it, in order, with the setup it was given.
func TestStartWithoutLauncherIsSolo(t *testing.T) {
	for _, v := range []string{"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"} {
		t.Setenv(v, "")
	}
	_, launched := Launcher()
	require.False(t, launched)
	tr, err := Start()
	require.NoError(t, err)
	require.IsType(t, solo{}, tr)
	require.Equal(t, 1, tr.Size())
	require.Error(t, tr.Send(context.Background(), 1, Msg{Kind: KindTask}))
	_, err = tr.Recv(context.Background())
	require.Error(t, err)

	const chunks = 50
	h := newHarness(1, chunks)
	h.setup = []byte("setup")
	st, err := Run(context.Background(), tr, h.job(0), cfgWith(2, 2))
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	require.Equal(t, uint64(chunks), st.Chunks)
	require.Equal(t, []byte("setup"), h.gotSetup[0])
	require.NoError(t, tr.Close())

	t.Setenv("PMIX_RANK", "3")
	r, launched := Launcher()
	require.True(t, launched)
	require.Equal(t, 3, r)
}
