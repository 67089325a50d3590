package rank

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestProgressShowsWhatRunsWhere: while a worker holds a chunk, the progress reports show
// it among the longest in flight, on that rank, and count it in the rank's load; the job
// finishes once a report has shown it.
func TestProgressShowsWhatRunsWhere(t *testing.T) {
	const chunks, held = 50, 7
	h := newHarness(2, chunks)
	seen := make(chan struct{})
	var holder int
	var mu sync.Mutex
	h.work = func(ctx context.Context, r int, c Chunk) ([]byte, error) {
		if c.Seq == held {
			mu.Lock()
			holder = r
			mu.Unlock()
			select {
			case <-seen:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return digest(c.Data), nil
	}
	cfg := cfgWith(2, 1)
	cfg.Progress = time.Millisecond
	var once sync.Once
	var finals int
	cfg.OnProgress = func(p Progress, final bool) {
		if final {
			finals++
			require.Empty(t, p.Longest)
			return
		}
		mu.Lock()
		r := holder
		mu.Unlock()
		if r == 0 || len(p.Longest) == 0 || p.Longest[0].Seq != held {
			return
		}
		require.LessOrEqual(t, len(p.Longest), ProgressLongest)
		require.Equal(t, r, p.Longest[0].Rank, "%+v", p.Longest)
		require.Equal(t, "inproc", p.Longest[0].Host)
		require.LessOrEqual(t, p.Longest[0].Sent, p.Elapsed)
		for i := 1; i < len(p.Longest); i++ {
			require.LessOrEqual(t, p.Longest[i-1].Sent, p.Longest[i].Sent)
		}
		require.Len(t, p.Running, 2)
		total := 0
		for _, l := range p.Running {
			total += l.Chunks
			if l.Rank == r {
				require.Positive(t, l.Chunks)
			}
		}
		require.Equal(t, len(p.Longest), min(total, ProgressLongest))
		once.Do(func() { close(seen) })
	}
	_, err, _ := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	require.Equal(t, 1, finals)
}

// TestProgressNamesLostWorkers: once a worker is lost, the progress reports name it; the
// job holds a chunk until a report has, and the final report names it too.
func TestProgressNamesLostWorkers(t *testing.T) {
	const chunks, held = 100, 60
	h := newHarness(3, chunks)
	var crashed atomic.Int64
	seen := make(chan struct{})
	h.work = func(ctx context.Context, r int, c Chunk) ([]byte, error) {
		if c.Seq == 20 && c.Lost == 0 {
			crashed.Store(int64(r))
			h.net.Crash(r, true)
		}
		if c.Seq == held {
			select {
			case <-seen:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return digest(c.Data), nil
	}
	cfg := lostCfg(2, 1)
	cfg.Progress = time.Millisecond
	var once sync.Once
	var final []LostWorker
	cfg.OnProgress = func(p Progress, last bool) {
		if last {
			final = p.Lost
			return
		}
		if len(p.Lost) == 1 && p.Lost[0].Rank == int(crashed.Load()) {
			once.Do(func() { close(seen) })
		}
	}
	st, err, _ := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	require.Equal(t, st.Lost, final)
	require.Len(t, final, 1)
}
