package rank

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSoloRunsEverything: a world of one rank computes every chunk itself, in order, with
// the setup it was given.
func TestSoloRunsEverything(t *testing.T) {
	tr := Solo()
	require.Equal(t, 1, tr.Size())
	require.Error(t, tr.Send(1, []byte("x")))
	_, _, _, err := tr.Recv()
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

	// A failing chunk names the one worker as what it is, not as a rank of its own.
	h = newHarness(1, chunks)
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq == 7 {
			return nil, fmt.Errorf("bad item")
		}
		return digest(c.Data), nil
	}
	_, err = Run(context.Background(), solo{host: "h"}, h.job(0), cfgWith(2, 2))
	require.ErrorContains(t, err, "the worker on h: chunk 7")
	require.NotContains(t, err.Error(), "rank 1")
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
