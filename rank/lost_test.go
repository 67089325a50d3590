package rank

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lostCfg is cfgWith with a worker timeout short enough for tests.
func lostCfg(window, threads int) Config {
	cfg := cfgWith(window, threads)
	cfg.WorkerTimeout = 200 * time.Millisecond
	return cfg
}

// lineWatch is a Config.Log that signals once a line containing want is written.
type lineWatch struct {
	want string
	seen chan struct{}
	once sync.Once
}

func newLineWatch(want string) *lineWatch { return &lineWatch{want: want, seen: make(chan struct{})} }

func (w *lineWatch) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestLostWorkerCostsOnlyItsChunks: a worker rank that dies mid-run, found by the
// launcher's notice or by its silence, costs the job only the chunks it held: they run on
// the other workers, the output is whole and in order, every chunk written once, and the
// report names the rank and how it was found.
func TestLostWorkerCostsOnlyItsChunks(t *testing.T) {
	for _, notice := range []bool{true, false} {
		for _, mode := range []Mode{Push, Pull} {
			t.Run(fmt.Sprintf("notice=%v/%s", notice, mode), func(t *testing.T) {
				const chunks = 300
				h := newHarness(3, chunks)
				var crashed atomic.Int64 // the rank that computed chunk 20
				h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
					if c.Seq == 20 && c.Lost == 0 { // not its second run, elsewhere
						crashed.Store(int64(r))
						h.net.Crash(r, notice)
					}
					return digest(c.Data), nil
				}
				cfg := lostCfg(2, 2)
				cfg.Mode = mode
				st, err, werrs := h.run(t, cfg)
				require.NoError(t, err)
				requireInOrder(t, h.sink, chunks)
				require.Len(t, st.Lost, 1)
				lw, r := st.Lost[0], int(crashed.Load())
				require.Equal(t, r, lw.Rank)
				require.Equal(t, "inproc", lw.Host)
				if notice {
					require.Equal(t, "the launcher's notice", lw.How)
				} else {
					require.Equal(t, "unheard for 200ms", lw.How)
				}
				require.Positive(t, lw.Reissued, "it held chunks when it died")
				for w := 1; w <= 3; w++ {
					if w == r {
						require.ErrorContains(t, werrs[w], fmt.Sprintf("rank %d crashed", r))
					} else {
						require.NoError(t, werrs[w])
					}
				}
				require.Contains(t, st.Summary("test"), fmt.Sprintf("1 worker lost: rank %d on inproc at ", r))
			})
		}
	}
}

// TestFrozenWorkerChangesNothing: a worker that goes silent (a stopped process, a host cut
// off) is taken for lost after the timeout; when it wakes up, what it sends is dropped, and
// the manager's last stop ends it.
func TestFrozenWorkerChangesNothing(t *testing.T) {
	const chunks = 200
	h := newHarness(2, chunks)
	lost := newLineWatch("was lost (unheard for 100ms)")
	var frozen atomic.Int64 // the rank that computed chunk 10
	h.work = func(ctx context.Context, r int, c Chunk) ([]byte, error) {
		if c.Seq == 10 && c.Lost == 0 { // not its second run, elsewhere
			frozen.Store(int64(r))
			h.net.Freeze(r)
			select {
			case <-lost.seen: // the manager took it for lost
			case <-ctx.Done():
			}
			h.net.Thaw(r) // its late frames arrive now, and whatever it sends next
		}
		return digest(c.Data), nil
	}
	cfg := cfgWith(2, 1)
	cfg.WorkerTimeout, cfg.Log = 100*time.Millisecond, lost
	st, err, werrs := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	require.Len(t, st.Lost, 1)
	r := int(frozen.Load())
	require.Equal(t, r, st.Lost[0].Rank)
	require.NoError(t, werrs[r])
	require.NoError(t, werrs[3-r])
}

// TestManagerUnheard: workers that hear nothing from the manager for managerTimeouts
// timeouts (a manager killed while the launcher keeps the job alive) stop, saying why;
// here the manager lives on, takes them for lost and finishes the job itself.
func TestManagerUnheard(t *testing.T) {
	const chunks = 100
	h := newHarness(2, chunks)
	var once sync.Once
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq == 5 {
			once.Do(func() { h.net.Freeze(0) }) // nothing the manager sends arrives
		}
		return digest(c.Data), nil
	}
	cfg := cfgWith(2, 1)
	cfg.WorkerTimeout = 50 * time.Millisecond
	st, err, werrs := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	require.Len(t, st.Lost, 2)
	require.Positive(t, st.PerWorker[0])
	for r := 1; r <= 2; r++ {
		require.ErrorContains(t, werrs[r], "the manager (rank 0) has been unheard for")
	}
}

// TestLastWorkerLost: once every worker rank is lost, rank 0 computes the rest itself (and
// the run ends as soon as it is done: its worker acknowledges the stop).
func TestLastWorkerLost(t *testing.T) {
	const chunks = 300
	h := newHarness(2, chunks)
	var first atomic.Int64 // the rank that computed chunk 20, crashed with a notice
	h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
		switch {
		case c.Seq == 20 && r > 0: // not rank 0's own worker, which may compute it again
			first.Store(int64(r))
			h.net.Crash(r, true)
		case c.Seq >= 40 && r > 0 && first.Load() != 0 && int64(r) != first.Load():
			h.net.Crash(r, false) // the other, found by its silence
		}
		return digest(c.Data), nil
	}
	cfg := lostCfg(2, 1)
	cfg.Log = newLineWatch("did not answer") // a stop that waited for its deadline would say so
	st, err, _ := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, chunks)
	require.Len(t, st.Lost, 2)
	select {
	case <-cfg.Log.(*lineWatch).seen:
		t.Fatal("a worker did not answer the stop")
	default:
	}
	require.Positive(t, st.PerWorker[0], "rank 0's own worker computed the rest")
	require.Len(t, st.PerWorker, 3)
	require.Contains(t, st.Summary("test"), "chunks per worker 0:")
}

// TestCrashLimit: a chunk whose workers die while they hold it (a task that exhausts a
// node's memory) fails once it has taken Config.CrashLimit of them, rather than take
// every worker down; --keep-going leaves it out and goes on.
func TestCrashLimit(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep-going=%v", keep), func(t *testing.T) {
			const chunks = 100
			h := newHarness(4, chunks)
			var crashes atomic.Int64
			h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
				if c.Seq == 7 {
					require.Equal(t, int(crashes.Load()), c.Lost, "the chunk counts the workers it took")
					crashes.Add(1)
					h.net.Crash(r, true)
				}
				return digest(c.Data), nil
			}
			cfg := lostCfg(1, 1)
			cfg.CrashLimit, cfg.KeepGoing = 2, keep
			st, err, _ := h.run(t, cfg)
			require.EqualValues(t, 2, crashes.Load(), "a third worker got the chunk")
			require.Len(t, st.Lost, 2)
			if !keep {
				require.ErrorContains(t, err, "chunk 7: 2 workers were lost while they held it (--crash-limit 2)")
				return
			}
			var pe *PartialError
			require.ErrorAs(t, err, &pe)
			require.Len(t, pe.Failed, 1)
			require.Equal(t, uint64(7), pe.Failed[0].Seq)
			require.Len(t, h.sink.seqs, chunks-1)
		})
	}
}

// TestFailOnLostWorker: Config.FailOnLostWorker ends the job at the first loss, naming it.
func TestFailOnLostWorker(t *testing.T) {
	h := newHarness(3, 300)
	var crashed atomic.Int64
	h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
		if c.Seq == 10 && c.Lost == 0 {
			crashed.Store(int64(r))
			h.net.Crash(r, true)
		}
		return digest(c.Data), nil
	}
	cfg := lostCfg(2, 1)
	cfg.FailOnLostWorker = true
	st, err, werrs := h.run(t, cfg)
	r := int(crashed.Load())
	require.EqualError(t, err, fmt.Sprintf("rank %d on inproc was lost (the launcher's notice); --lost-workers fail ends the job at the first loss", r))
	require.Len(t, st.Lost, 1)
	for w := 1; w <= 3; w++ {
		if w != r {
			require.NoError(t, werrs[w])
		}
	}
}

// TestHeartbeatsKeepLongChunksAlive: a worker computing chunks far longer than the timeout
// is not taken for lost: its owner loop sends heartbeats meanwhile.
func TestHeartbeatsKeepLongChunksAlive(t *testing.T) {
	h := newHarness(2, 4)
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		time.Sleep(800 * time.Millisecond) // 4 timeouts
		return digest(c.Data), nil
	}
	cfg := cfgWith(1, 1)
	cfg.WorkerTimeout, cfg.Log = 200*time.Millisecond, io.Discard
	st, err, werrs := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, 4)
	require.Empty(t, st.Lost)
	require.NoError(t, werrs[1])
	require.NoError(t, werrs[2])
}

// TestManagerAwayLosesNoWorker: a manager whose loop the workload keeps away (a Source
// that waits for input longer than the timeout) does not take its workers for lost when
// it comes back: what they sent meanwhile waits unread.
func TestManagerAwayLosesNoWorker(t *testing.T) {
	h := newHarness(2, 20)
	h.src.onNext = func(n int64) {
		if n == 10 {
			time.Sleep(400 * time.Millisecond) // 4 timeouts
		}
	}
	cfg := cfgWith(1, 1)
	cfg.WorkerTimeout = 100 * time.Millisecond
	st, err, werrs := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, 20)
	require.Empty(t, st.Lost)
	require.NoError(t, werrs[1])
	require.NoError(t, werrs[2])
}

// TestDiesAtTheStop: a worker that dies before it answers the stop (no notice, a timeout of
// a minute) holds the job a second, not the timeout: it is taken for lost.
func TestDiesAtTheStop(t *testing.T) {
	h := newHarness(2, 50)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	cfg := cfgWith(2, 1)
	cfg.WorkerTimeout = time.Minute
	var wg sync.WaitGroup
	for r := 1; r <= 2; r++ {
		tr := h.net.Rank(r)
		if r == 2 {
			tr = &tap{Transport: tr, onRecv: func(_ int, rec record) {
				if rec.kind == kindStop {
					h.net.Crash(2, false)
				}
			}}
		}
		wg.Add(1)
		go func() { defer wg.Done(); Run(ctx, tr, h.job(r), cfg) }()
	}
	st, err := Run(ctx, h.net.Rank(0), h.job(0), cfg)
	wg.Wait()
	require.NoError(t, err)
	requireInOrder(t, h.sink, 50)
	require.Len(t, st.Lost, 1)
	require.Equal(t, "no answer to the stop in 1s", st.Lost[0].How, "found by the stop's grace, not the minute's timeout")
}
