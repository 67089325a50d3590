package rank

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

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

// TestLauncherSize: a world of one by its launcher's word runs Solo; anything else (or
// nothing said) starts MPI. mpirun's ranks in a Slurm job see Slurm's variables too.
func TestLauncherSize(t *testing.T) {
	vars := []string{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS"}
	for _, tc := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{}, 0},
		{map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "1"}, 1},
		{map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "4", "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"}, 4},
		{map[string]string{"PMIX_RANK": "0", "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"}, 0},
		{map[string]string{"PMIX_RANK": "0"}, 0},
		{map[string]string{"PMI_RANK": "2", "PMI_SIZE": "3"}, 3},
		{map[string]string{"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2"}, 2},
		{map[string]string{"SLURM_PROCID": "0"}, 0},
		{map[string]string{"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "x"}, 0},
	} {
		for _, v := range vars {
			t.Setenv(v, tc.env[v])
		}
		require.Equal(t, tc.want, LauncherSize(), "%v", tc.env)
	}
	t.Setenv("OMPI_COMM_WORLD_RANK", "0")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "1")
	tr, err := Start()
	require.NoError(t, err)
	require.IsType(t, solo{}, tr, "mpirun -np 1 runs without MPI")
}

// TestSoloStopsWhenLauncherGone: a world of one that a launcher started (mpirun -np 1)
// ends once its parent is no longer that launcher, naming it, as an MPI rank does; here
// the "launcher" is a pid that never was the parent.
func TestSoloStopsWhenLauncherGone(t *testing.T) {
	h := newHarness(1, 1000)
	h.work = func(ctx context.Context, _ int, c Chunk) ([]byte, error) {
		<-ctx.Done() // every chunk would run until the job is stopped
		return nil, ctx.Err()
	}
	defer func(d time.Duration) { stopTimeout = d }(stopTimeout)
	stopTimeout = 2 * testDeadline // a worker that does not acknowledge the stop hangs the test
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	_, err := Run(ctx, solo{host: "h", launcher: os.Getpid()}, h.job(0), cfgWith(2, 2))
	require.EqualError(t, err, fmt.Sprintf("the launcher (pid %d) is gone; this rank stops", os.Getpid()))
	require.NoError(t, ctx.Err(), "stopped by the test's deadline, not by the watch")

	// Cancelled from outside (a signal): the in-process worker acknowledges the stop, so
	// the run ends at once rather than after stopTimeout (it waited 30 s before).
	h = newHarness(1, 1000)
	h.work = func(ctx context.Context, _ int, c Chunk) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ctx, cancel = context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	sctx, stop := context.WithCancel(ctx)
	h.src.onNext = func(n int64) {
		if n == 3 {
			stop()
		}
	}
	_, err = Run(sctx, Solo(), h.job(0), cfgWith(2, 2))
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, ctx.Err(), "the run outlived the test's deadline")
}
