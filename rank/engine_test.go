package rank

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/cpuclock"
)

// testDeadline bounds every engine run in these tests; a run past it is a hang.
const testDeadline = 60 * time.Second

// countSource yields n chunks whose data is their seq (8 bytes), counting Next calls.
type countSource struct {
	n, next uint64
	calls   atomic.Int64
	onNext  func(calls int64) // if set, called at every Next with the count so far
	fail    error             // if set, what every Next returns
}

func (s *countSource) Next() (Chunk, error) {
	n := s.calls.Add(1)
	if s.onNext != nil {
		s.onNext(n)
	}
	if s.fail != nil {
		return Chunk{}, s.fail
	}
	if s.next >= s.n {
		return Chunk{}, io.EOF
	}
	c := Chunk{Seq: s.next, Data: binary.LittleEndian.AppendUint64(nil, s.next)}
	s.next++
	return c, nil
}

// listSink records results in the order it gets them, and how often End was called.
type listSink struct {
	seqs []uint64
	outs [][]byte
	put  func(seq uint64) error
	ends int
	left []uint64 // LeftOut's seqs
	all  []uint64 // Put's and LeftOut's seqs, in call order
}

func (s *listSink) End() error { s.ends++; return nil }

func (s *listSink) LeftOut(seq uint64) error {
	s.left = append(s.left, seq)
	s.all = append(s.all, seq)
	return nil
}

func (s *listSink) Put(seq uint64, out []byte) error {
	s.seqs = append(s.seqs, seq)
	s.all = append(s.all, seq)
	s.outs = append(s.outs, append([]byte(nil), out...))
	if s.put != nil {
		return s.put(seq)
	}
	return nil
}

// digest is the reference computation: sha256 of the chunk data.
func digest(data []byte) []byte { s := sha256.Sum256(data); return s[:] }

// harness runs a job on an in-process network of 1+workers ranks.
type harness struct {
	net      *InprocNet
	src      *countSource
	sink     *listSink
	sinkAs   Sink    // if set, the Sink of the job instead of sink (wrapping it)
	computed [][]int // per rank: seqs it computed (only with record)
	mu       sync.Mutex
	work     func(ctx context.Context, rank int, c Chunk) ([]byte, error)
	openErr  error
	newErr   func(rank int) error
	setup    []byte
	gotSetup [][]byte
	results  atomic.Int64 // results the manager has received
	asks     atomic.Int64 // KindAsk messages the manager has received
	asking   atomic.Int64 // answers (results, errors, skips) that asked for a chunk (Msg.Ask)
}

// counting is rank 0's transport that counts, in h, the results and the asks the manager
// receives. The manager handles each frame before it receives the next, so a count of n
// results means at most the last frame's are not handled yet.
func (h *harness) counting(t Transport) Transport {
	return &tap{Transport: t, onRecv: func(_ int, r record) {
		switch {
		case r.kind == kindResult:
			h.results.Add(1)
		case r.kind == kindAsk:
			h.asks.Add(1)
		}
		if r.ask {
			h.asking.Add(1)
		}
	}}
}

func newHarness(workers int, chunks uint64) *harness {
	return &harness{
		net:      NewInprocNet(workers + 1),
		src:      &countSource{n: chunks},
		sink:     &listSink{},
		computed: make([][]int, workers+1),
		gotSetup: make([][]byte, workers+1),
	}
}

func (h *harness) job(rank int) Job {
	return Job{
		Name: "test",
		Open: func(context.Context) (*Plan, error) {
			if h.openErr != nil {
				return nil, h.openErr
			}
			var sink Sink = h.sink
			if h.sinkAs != nil {
				sink = h.sinkAs
			}
			return &Plan{Source: h.src, Sink: sink, Setup: h.setup, Total: -1}, nil
		},
		NewWorker: func(setup []byte) (Worker, error) {
			h.mu.Lock()
			h.gotSetup[rank] = setup
			h.mu.Unlock()
			if h.newErr != nil {
				if err := h.newErr(rank); err != nil {
					return nil, err
				}
			}
			return func(ctx context.Context, c Chunk) ([]byte, error) {
				h.mu.Lock()
				h.computed[rank] = append(h.computed[rank], int(c.Seq))
				h.mu.Unlock()
				if h.work != nil {
					return h.work(ctx, rank, c)
				}
				return digest(c.Data), nil
			}, nil
		},
	}
}

// run runs every rank and returns the manager's stats and error and each worker's error.
func (h *harness) run(t *testing.T, cfg Config) (Stats, error, []error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	n := h.net.Size()
	werrs := make([]error, n)
	var wg sync.WaitGroup
	for r := 1; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			_, werrs[r] = Run(ctx, h.net.Rank(r), h.job(r), cfg)
		}(r)
	}
	st, err := Run(ctx, h.counting(h.net.Rank(0)), h.job(0), cfg)
	wg.Wait()
	require.NoError(t, ctx.Err(), "run hung past the test deadline")
	return st, err, werrs
}

func cfgWith(window, threads int) Config {
	c := DefaultConfig()
	c.Window, c.Threads = window, threads
	c.Backups = false // exactly-once counts; backups are tested on their own
	return c
}

func requireInOrder(t *testing.T, s *listSink, n uint64) {
	t.Helper()
	require.Len(t, s.seqs, int(n))
	for i, seq := range s.seqs {
		require.Equal(t, uint64(i), seq, "result %d out of order", i)
		require.Equal(t, digest(binary.LittleEndian.AppendUint64(nil, seq)), s.outs[i])
	}
}

func TestEveryChunkOnceInOrder(t *testing.T) {
	for _, mode := range []Mode{Push, Pull} {
		for _, workers := range []int{1, 2, 7, 64} {
			for _, window := range []int{1, 2, 5} {
				testEveryChunkOnce(t, mode, workers, window)
			}
		}
	}
}

// TestInlineEveryChunkOnceInOrder: the same where the owner loops compute cheap chunks
// themselves (inlineMode), with one computing thread per worker.
func TestInlineEveryChunkOnceInOrder(t *testing.T) {
	inline := true
	forceInline = &inline
	defer func() { forceInline = nil }()
	for _, mode := range []Mode{Push, Pull} {
		for _, workers := range []int{1, 3} {
			testEveryChunkOnce(t, mode, workers, 2)
		}
	}
}

func testEveryChunkOnce(t *testing.T, mode Mode, workers, window int) {
	t.Run(fmt.Sprintf("%s/workers=%d/window=%d", mode, workers, window), func(t *testing.T) {
		const chunks = 500
		h := newHarness(workers, chunks)
		// Irregular, deterministic delays so results arrive out of order.
		h.work = func(_ context.Context, rank int, c Chunk) ([]byte, error) {
			if (c.Seq*7+uint64(rank))%5 == 0 {
				time.Sleep(time.Duration(c.Seq%3) * 100 * time.Microsecond)
			}
			return digest(c.Data), nil
		}
		cfg := cfgWith(window, 2)
		cfg.Mode = mode
		st, err, werrs := h.run(t, cfg)
		require.NoError(t, err)
		for r := 1; r <= workers; r++ {
			require.NoError(t, werrs[r], "worker %d", r)
		}
		requireInOrder(t, h.sink, chunks)
		seen := map[int]int{}
		total := uint64(0)
		for r := 1; r <= workers; r++ {
			for _, s := range h.computed[r] {
				seen[s]++
			}
			total += st.PerWorker[r]
		}
		require.Len(t, seen, chunks)
		for s, k := range seen {
			require.Equal(t, 1, k, "chunk %d computed %d times", s, k)
		}
		require.Equal(t, uint64(chunks), total)
		require.Equal(t, uint64(chunks), st.Chunks)
	})
}

// TestPullAsksInTheAnswer: in pull mode a worker asks for its first threads x window
// chunks with KindAsk messages, and for every later one in the answer that frees the slot
// (Msg.Ask): two messages per chunk, as in push mode, where no message asks.
func TestPullAsksInTheAnswer(t *testing.T) {
	const workers, window, threads, chunks = 3, 2, 2, 300
	for _, mode := range []Mode{Push, Pull} {
		t.Run(mode.String(), func(t *testing.T) {
			h := newHarness(workers, chunks)
			cfg := cfgWith(window, threads)
			cfg.Mode = mode
			_, err, werrs := h.run(t, cfg)
			require.NoError(t, err)
			for r := 1; r <= workers; r++ {
				require.NoError(t, werrs[r])
			}
			requireInOrder(t, h.sink, chunks)
			require.EqualValues(t, chunks, h.results.Load())
			if mode == Push {
				require.Zero(t, h.asks.Load())
				require.Zero(t, h.asking.Load())
				return
			}
			require.EqualValues(t, workers*threads*window, h.asks.Load())
			require.EqualValues(t, chunks, h.asking.Load())
		})
	}
}

// TestBackupsFinishDespiteAStuckWorker: rank 1 never finishes a chunk (it waits until the
// job stops it); the other ranks compute only once it holds one. Without backups the job
// could not end; with them the idle workers compute copies, the output is complete and in
// order, and rank 1's late copies are dropped.
func TestBackupsFinishDespiteAStuckWorker(t *testing.T) {
	for _, mode := range []Mode{Push, Pull} {
		t.Run(mode.String(), func(t *testing.T) {
			const chunks = 200
			h := newHarness(3, chunks)
			stuck := make(chan struct{})
			var once sync.Once
			h.work = func(ctx context.Context, rank int, c Chunk) ([]byte, error) {
				if rank == 1 {
					once.Do(func() { close(stuck) })
					<-ctx.Done() // stuck until stopped
					return nil, ctx.Err()
				}
				select {
				case <-stuck:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return digest(c.Data), nil
			}
			cfg := cfgWith(2, 1)
			cfg.Mode, cfg.Backups = mode, true
			st, err, werrs := h.run(t, cfg)
			require.NoError(t, err)
			requireInOrder(t, h.sink, chunks)
			require.Positive(t, st.Backups)
			for r := 1; r <= 3; r++ {
				require.NoError(t, werrs[r])
			}
		})
	}
}

// TestSlowFirstChunkStallsNothing: while chunk 0 is held, the other chunks are issued,
// computed and held in the reorder buffer, past its memory in its spill file; the output
// comes out whole and in order once chunk 0 comes in.
func TestSlowFirstChunkStallsNothing(t *testing.T) {
	for _, workers := range []int{1, 2, 7} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			const chunks = 300
			h := newHarness(workers, chunks)
			// Two threads per worker: chunk 0 blocks one, the other keeps computing.
			cfg := cfgWith(2, 2)
			cfg.ReorderMem, cfg.SpillDir = 1000, t.TempDir() // 31 results of 32 bytes in memory
			h.work = func(ctx context.Context, _ int, c Chunk) ([]byte, error) {
				if c.Seq == 0 {
					// Hold chunk 0 until the manager has received every other chunk
					// (counted events, no timing).
					for h.results.Load() < chunks-1 {
						if ctx.Err() != nil {
							return nil, ctx.Err()
						}
						time.Sleep(100 * time.Microsecond)
					}
				}
				return digest(c.Data), nil
			}
			st, err, _ := h.run(t, cfg)
			require.NoError(t, err)
			requireInOrder(t, h.sink, chunks)
			require.Equal(t, chunks, st.MaxReorder, "every chunk waited behind chunk 0, then chunk 0 came in")
			require.EqualValues(t, chunks-1-31, st.Spilled, "those past the memory bound waited in the file")
			require.EqualValues(t, 32*st.Spilled, st.SpilledBytes)
		})
	}
}

func TestAloneSameBytes(t *testing.T) {
	const chunks = 200
	multi := newHarness(3, chunks)
	_, err, _ := multi.run(t, cfgWith(2, 1))
	require.NoError(t, err)

	alone := newHarness(0, chunks)
	st, err, _ := alone.run(t, cfgWith(2, 0))
	require.NoError(t, err)
	require.Equal(t, 1, st.Workers)
	require.Equal(t, multi.sink.outs, alone.sink.outs)
	requireInOrder(t, alone.sink, chunks)
}

func TestWorkerErrorEndsJob(t *testing.T) {
	for _, workers := range []int{1, 2, 7, 64} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			h := newHarness(workers, 1000)
			h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
				if c.Seq == 37 {
					return nil, errors.New("disk on fire")
				}
				return digest(c.Data), nil
			}
			_, err, werrs := h.run(t, cfgWith(2, 1))
			require.Error(t, err)
			require.Regexp(t, `^rank \d+ on inproc: chunk 37: disk on fire$`, err.Error())
			for r := 1; r <= workers; r++ {
				require.NoError(t, werrs[r], "worker %d must stop cleanly", r)
			}
			require.Less(t, len(h.sink.seqs), 1000)
			for i, s := range h.sink.seqs {
				require.Equal(t, uint64(i), s)
			}
			require.Zero(t, h.sink.ends, "a failed job's output gets no end")
		})
	}
}

func TestWorkerPanicEndsJob(t *testing.T) {
	h := newHarness(3, 100)
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq == 5 {
			var m map[string]int
			m["x"]++ // nil map write: a real runtime panic
		}
		return digest(c.Data), nil
	}
	_, err, werrs := h.run(t, cfgWith(2, 2))
	require.Error(t, err)
	require.Contains(t, err.Error(), "chunk 5: panic: assignment to entry in nil map")
	require.Contains(t, err.Error(), "engine_test.go")
	for r := 1; r <= 3; r++ {
		require.NoError(t, werrs[r])
	}
}

func TestRetriesOnAnotherWorker(t *testing.T) {
	h := newHarness(3, 60)
	var failedOn atomic.Int64
	h.work = func(_ context.Context, rank int, c Chunk) ([]byte, error) {
		if c.Seq == 11 && c.Attempt == 0 {
			failedOn.Store(int64(rank))
			return nil, errors.New("transient")
		}
		return digest(c.Data), nil
	}
	cfg := cfgWith(2, 1)
	cfg.Retries = 2
	st, err, _ := h.run(t, cfg)
	require.NoError(t, err)
	requireInOrder(t, h.sink, 60)
	require.Equal(t, uint64(1), st.Retries)
	var ranks []int
	for r := 1; r <= 3; r++ {
		for _, s := range h.computed[r] {
			if s == 11 {
				ranks = append(ranks, r)
			}
		}
	}
	require.Len(t, ranks, 2)
	require.NotEqual(t, ranks[0], ranks[1], "the retry ran on the rank that failed")
}

func TestPoisonChunkFailsAfterRetries(t *testing.T) {
	h := newHarness(2, 40)
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq == 3 {
			return nil, errors.New("always bad")
		}
		return digest(c.Data), nil
	}
	cfg := cfgWith(2, 1)
	cfg.Retries = 2
	_, err, _ := h.run(t, cfg)
	require.ErrorContains(t, err, "chunk 3: failed 3 times, last: always bad")
}

func TestOpenErrorStopsWorkers(t *testing.T) {
	h := newHarness(4, 10)
	h.openErr = errors.New("open input: no such file")
	_, err, werrs := h.run(t, cfgWith(2, 1))
	require.EqualError(t, err, "open input: no such file")
	for r := 1; r <= 4; r++ {
		require.NoError(t, werrs[r])
		require.Empty(t, h.computed[r])
	}
}

func TestNewWorkerErrorEndsJob(t *testing.T) {
	h := newHarness(3, 10)
	h.newErr = func(rank int) error {
		if rank == 2 {
			return errors.New("bad setup")
		}
		return nil
	}
	_, err, werrs := h.run(t, cfgWith(2, 1))
	require.EqualError(t, err, "rank 2 on inproc: start: bad setup")
	for r := 1; r <= 3; r++ {
		require.NoError(t, werrs[r])
	}
}

func TestSetupReachesEveryWorker(t *testing.T) {
	h := newHarness(5, 10)
	h.setup = []byte("map B")
	_, err, _ := h.run(t, cfgWith(2, 1))
	require.NoError(t, err)
	for r := 1; r <= 5; r++ {
		require.Equal(t, []byte("map B"), h.gotSetup[r])
	}
}

func TestDuplicateResultIsRefused(t *testing.T) {
	h := newHarness(2, 2000) // enough that rank 2 joins and computes while the job is on
	h.net.Duplicate(2, true)
	_, err, _ := h.run(t, cfgWith(2, 1))
	require.Error(t, err)
	require.Contains(t, err.Error(), "rank 2")
}

func TestBadMessagesNameTheSender(t *testing.T) {
	cases := []struct {
		name string
		mode Mode
		from int
		rec  record
		want string
	}{
		{"unknown kind", Push, 1, record{kind: kindSetup}, "rank 1 on inproc: unexpected setup message"},
		{"never issued", Push, 2, record{kind: kindResult, seq: 1 << 40}, "rank 2 on inproc: result for chunk 1099511627776, which was never issued"},
		{"unknown rank", Push, 9, record{kind: kindResult}, "message from unknown rank 9"},
		{"ask in push mode", Push, 1, record{kind: kindResult, ask: true}, "rank 1 on inproc: asked for a chunk on a result message (chunk 0) in push mode"},
		{"ask on a ready", Pull, 1, record{kind: kindReady, ask: true}, "rank 1 on inproc: asked for a chunk on a ready message (chunk 0) in pull mode"},
		{"answer without ask in pull mode", Pull, 2, record{kind: kindResult, seq: 3}, "rank 2 on inproc: result for chunk 3 without the ask for the next that pull mode wants"},
		{"ask beyond the window", Pull, 1, record{kind: kindAsk}, "rank 1 on inproc: asked for more chunks than its 1 threads x 1 window"},
		{"fail without its host", Push, 2, record{kind: kindFail, data: []byte("why")}, "rank 2 on inproc: malformed fail message (3 bytes)"},
		{"fail", Push, 2, record{kind: kindFail, data: []byte("node9\x00out of memory")}, "rank 2 on inproc: out of memory"},
		{"wrong ticket", Push, 1, record{kind: kindResult, seq: 0, ticket: 1 << 20}, "rank 1 on inproc: result for chunk 0, which is already done (duplicate)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(2, 2000) // enough that the job is still on when the sender's second chunk comes
			var once sync.Once
			var chunks [3]atomic.Int32 // per rank, the chunks it began
			h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
				// The sender's second chunk (window 1) came after the manager handled its
				// first result, which followed its ready message: its host is known. Its
				// first may come with its setup, before the manager heard of it.
				if n := chunks[r].Add(1); (r == tc.from && n == 2) || tc.from > 2 {
					once.Do(func() { inject(h.net, 0, tc.from, tc.rec) })
				}
				return digest(c.Data), nil
			}
			cfg := cfgWith(1, 1)
			cfg.Mode = tc.mode
			_, err, werrs := h.run(t, cfg)
			require.ErrorContains(t, err, tc.want)
			for r := 1; r <= 2; r++ {
				require.NoError(t, werrs[r])
			}
		})
	}
}

// TestMalformedFramesNameTheSender: a frame that is not a sequence of whole records of
// known kinds fails the job, naming the rank that sent it.
func TestMalformedFramesNameTheSender(t *testing.T) {
	good := appendRecord(nil, record{kind: kindHeartbeat})
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", []byte{}, "rank 2 sent an empty message"},
		{"short header", good[:recordHeader-1], "rank 2 sent a record of 23 bytes, shorter than the 24-byte header"},
		{"unknown kind", append([]byte{0x7f}, good[1:]...), "rank 2 sent a record of unknown kind 127"},
		{"data past the end", appendRecord(nil, record{kind: kindResult, data: []byte("abc")})[:recordHeader+2], "rank 2 sent a result record of 3 bytes in a frame with 2 left"},
		{"a good record, then a cut one", append(append([]byte{}, good...), good[:5]...), "rank 2 sent a record of 5 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(2, 100)
			var once sync.Once
			h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
				once.Do(func() { h.net.ranks[0].inject(2, tc.frame) })
				return digest(c.Data), nil
			}
			_, err, werrs := h.run(t, cfgWith(1, 1))
			require.ErrorContains(t, err, tc.want)
			for r := 1; r <= 2; r++ {
				require.NoError(t, werrs[r])
			}
		})
	}
}

// TestWorkerRefusesAnAsk: only workers ask for chunks; a worker that gets a message with
// the ask bit set gives up, and the manager reports why and ends the job: every rank
// returns (a worker that only quit left the manager waiting for its chunks).
func TestWorkerRefusesAnAsk(t *testing.T) {
	h := newHarness(2, 2000) // enough that the job is still on when rank 1's first chunk comes
	var once sync.Once
	h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
		if r == 1 {
			once.Do(func() { inject(h.net, 1, 0, record{kind: kindTask, seq: 1 << 30, ask: true}) })
		}
		return digest(c.Data), nil
	}
	_, err, werrs := h.run(t, cfgWith(1, 1))
	require.EqualError(t, err, "rank 1 on inproc: the manager's task message (chunk 1073741824) asks for a chunk: only workers ask")
	for r := 1; r <= 2; r++ {
		require.NoError(t, werrs[r], "rank %d", r)
	}
}

// TestGiveUpSendsNothingAfterTheStop: a worker that gives up while a computation runs (one
// that ignores its context, as pure Go does) sends nothing once it has acknowledged the
// manager's stop; the computation's result used to follow the acknowledgement.
func TestGiveUpSendsNothingAfterTheStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	net := NewInprocNet(2)
	release, returned := make(chan struct{}), make(chan struct{})
	job := Job{
		Name: "test",
		Open: func(context.Context) (*Plan, error) {
			return &Plan{Source: &countSource{n: 10}, Sink: &listSink{}, Total: -1}, nil
		},
		NewWorker: func([]byte) (Worker, error) {
			return func(_ context.Context, c Chunk) ([]byte, error) {
				if c.Seq == 0 {
					defer close(returned)
					inject(net, 1, 0, record{kind: kindSetup}) // a bad message while computing: the worker gives up
					<-release
				}
				return digest(c.Data), nil
			}, nil
		},
	}
	var acked atomic.Bool
	var afterAck atomic.Int64
	w := &tap{Transport: net.Rank(1),
		onSend: func(_ int, r record) bool {
			if acked.Load() {
				afterAck.Add(1)
			}
			if r.kind == kindStop {
				acked.Store(true)
			}
			return false
		}}
	cfg := cfgWith(2, 1)
	werr := make(chan error, 1)
	go func() { _, err := Run(ctx, w, job, cfg); werr <- err }()
	_, err := Run(ctx, net.Rank(0), job, cfg)
	require.EqualError(t, err, "rank 1 on inproc: unexpected setup message from the manager (chunk 0)")
	require.NoError(t, <-werr)
	require.True(t, acked.Load(), "the worker acknowledged the stop")
	close(release)
	select {
	case <-returned:
		time.Sleep(10 * time.Millisecond) // a send of its result would come now, were there one
	case <-ctx.Done():
		t.Fatal("chunk 0's computation never returned")
	}
	require.Zero(t, afterAck.Load(), "messages sent after the acknowledgement of the stop")
}

func TestKilledRankEndsEveryRank(t *testing.T) {
	h := newHarness(3, 1000)
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq == 20 {
			h.net.Kill(2)
		}
		return digest(c.Data), nil
	}
	_, err, werrs := h.run(t, cfgWith(2, 1))
	require.ErrorContains(t, err, "rank 2 died")
	for r := 1; r <= 3; r++ {
		require.Error(t, werrs[r])
	}
}

func TestEarlyStop(t *testing.T) {
	h := newHarness(3, 100000)
	var readBefore int64
	h.sink.put = func(seq uint64) error {
		if seq == 50 {
			readBefore = h.src.calls.Load()
			return ErrDone
		}
		return nil
	}
	_, err, werrs := h.run(t, cfgWith(2, 1))
	require.NoError(t, err)
	require.Len(t, h.sink.seqs, 51)
	require.Equal(t, readBefore, h.src.calls.Load(), "the source kept being read after the stop")
	for r := 1; r <= 3; r++ {
		require.NoError(t, werrs[r])
	}

	// A chunk --keep-going left out before the stop still makes the run partial.
	h = newHarness(3, 100000)
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq == 7 {
			return nil, errors.New("poison")
		}
		return digest(c.Data), nil
	}
	h.sink.put = func(seq uint64) error {
		if seq == 50 {
			return ErrDone
		}
		return nil
	}
	cfg := cfgWith(2, 1)
	cfg.KeepGoing = true
	_, err, _ = h.run(t, cfg)
	var pe *PartialError
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Failed, 1)
	require.Equal(t, uint64(7), pe.Failed[0].Seq)
}

// TestStopDuringTheDeal: a job that ends while the first windows are dealt (a farm of more
// than dealSlice workers, whose source fails at once) stops every worker: those the deal
// had not reached get the setup's announcement with the stop, and answer it; none is taken
// for lost for want of an answer.
func TestStopDuringTheDeal(t *testing.T) {
	workers := 2 * dealSlice
	h := newHarness(workers, 1000)
	h.src.fail = errors.New("input unreadable")
	st, err, werrs := h.run(t, cfgWith(2, 1))
	require.ErrorContains(t, err, "input unreadable")
	require.Zero(t, len(st.Lost), "workers taken for lost")
	for r := 1; r <= workers; r++ {
		require.NoError(t, werrs[r], "rank %d", r)
	}
}

func TestDrainFinishesInFlight(t *testing.T) {
	h := newHarness(2, 100000)
	var issuedBefore uint64
	h.sink.put = func(seq uint64) error {
		if seq == 10 {
			issuedBefore = h.src.next
			return ErrDrain
		}
		return nil
	}
	_, err, _ := h.run(t, cfgWith(2, 1))
	require.NoError(t, err)
	// Every chunk issued before the drain is written or, unstarted, left out, in order;
	// nothing after.
	issued := h.src.next
	require.Equal(t, seqsUpTo(issued), h.sink.all)
	require.Equal(t, issuedBefore, issued, "chunks issued after the drain")
}

func TestUnorderedDeliversEachOnce(t *testing.T) {
	h := newHarness(4, 300)
	h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq%10 == 0 {
			time.Sleep(200 * time.Microsecond)
		}
		return digest(c.Data), nil
	}
	cfg := cfgWith(3, 1)
	cfg.Unordered = true
	_, err, _ := h.run(t, cfg)
	require.NoError(t, err)
	got := map[uint64]bool{}
	for i, s := range h.sink.seqs {
		require.False(t, got[s], "chunk %d twice", s)
		got[s] = true
		require.Equal(t, digest(binary.LittleEndian.AppendUint64(nil, s)), h.sink.outs[i])
	}
	require.Len(t, got, 300)
}

func TestRingTakeNot(t *testing.T) {
	r := newRing(2)
	for _, v := range []int{1, 1, 2, 3, 1} {
		r.push(v)
	}
	take := func(avoid int) int {
		v, ok := r.takeNot(avoid)
		require.True(t, ok)
		return v
	}
	require.Equal(t, 2, take(1))
	require.Equal(t, 1, r.take())
	require.Equal(t, 3, take(1))
	_, ok := r.takeNot(1)
	require.False(t, ok, "only 1s are left")
	require.Equal(t, 2, r.len())
	require.Equal(t, 1, r.take())
	require.Equal(t, 1, r.take())
	require.Equal(t, 0, r.len())
}

func TestKeepGoingLeavesOutPoisonChunk(t *testing.T) {
	for _, unordered := range []bool{false, true} {
		h := newHarness(2, 30)
		h.work = func(_ context.Context, _ int, c Chunk) ([]byte, error) {
			if c.Seq == 4 || c.Seq == 9 || c.Seq == 29 {
				return nil, errors.New("poison")
			}
			return digest(c.Data), nil
		}
		cfg := cfgWith(2, 1)
		cfg.Retries, cfg.KeepGoing, cfg.Unordered, cfg.Backups = 1, true, unordered, true
		st, err, _ := h.run(t, cfg)
		var pe *PartialError
		require.ErrorAs(t, err, &pe)
		require.Len(t, pe.Failed, 3)
		require.Equal(t, uint64(3), st.Retries)
		require.Equal(t, uint64(3), st.LeftOut)
		require.Contains(t, st.Summary("test"), "; 3 retries; 3 left out (failed every try)")
		require.Len(t, h.sink.seqs, 27)
		for _, s := range h.sink.seqs {
			require.NotContains(t, []uint64{4, 9, 29}, s)
		}
		// The last chunk left out, the Sink still gets to end its output (overlay's
		// GeoJSON closes its feature list there).
		require.Equal(t, 1, h.sink.ends)
		// It is told of each chunk left out, where its Put would have been (a journal
		// records it there).
		require.ElementsMatch(t, []uint64{4, 9, 29}, h.sink.left)
		if !unordered {
			for i, s := range h.sink.all {
				require.Equal(t, uint64(i), s, "Put and LeftOut out of order")
			}
		}
	}
}

// liveSrc is a LiveSource whose chunk i becomes ready only once the result of chunk i-1 has
// reached the sink (release, a moment later, on another goroutine): the manager then
// waits in Recv with nothing in flight, and only the notify function can wake it.
type liveSrc struct {
	mu       sync.Mutex
	ready    []Chunk
	next, n  uint64
	notify   func()
	notReady int
}

func (s *liveSrc) SetNotify(f func()) {
	s.mu.Lock()
	s.notify = f
	s.mu.Unlock()
}

func (s *liveSrc) Next() (Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.ready) > 0:
		c := s.ready[0]
		s.ready = s.ready[1:]
		return c, nil
	case s.next >= s.n:
		return Chunk{}, io.EOF
	}
	s.notReady++
	return Chunk{}, ErrNotReady
}

func (s *liveSrc) release() {
	s.mu.Lock()
	s.ready = append(s.ready, Chunk{Seq: s.next, Data: binary.LittleEndian.AppendUint64(nil, s.next)})
	s.next++
	notify := s.notify
	s.mu.Unlock()
	if notify != nil {
		notify()
	}
}

func liveJob(src *liveSrc, sink *listSink) Job {
	sink.put = func(seq uint64) error {
		if seq+1 < src.n {
			time.AfterFunc(time.Millisecond, src.release)
		}
		return nil
	}
	return Job{
		Name: "live",
		Open: func(context.Context) (*Plan, error) { return &Plan{Source: src, Sink: sink, Total: -1}, nil },
		NewWorker: func([]byte) (Worker, error) {
			return func(_ context.Context, c Chunk) ([]byte, error) { return digest(c.Data), nil }, nil
		},
	}
}

// TestLiveSource: the chunks of a live source, each ready only while the manager waits
// for nothing else, all arrive in order, with -np 1 and with workers; Next is not called
// in a loop while nothing is ready.
func TestLiveSource(t *testing.T) {
	const n = 50
	for _, workers := range []int{0, 2} {
		t.Run(fmt.Sprintf("workers%d", workers), func(t *testing.T) {
			src, sink := &liveSrc{n: n}, &listSink{}
			src.release()
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			var err error
			if workers == 0 {
				_, err = Run(ctx, NewInprocNet(1).Rank(0), liveJob(src, sink), cfgWith(1, 1))
			} else {
				_, err = RunInProcess(ctx, workers, liveJob(src, sink), cfgWith(1, 1))
			}
			require.NoError(t, err)
			requireInOrder(t, sink, n)
			src.mu.Lock()
			defer src.mu.Unlock()
			require.LessOrEqual(t, src.notReady, 4*n, "Next called %d times with nothing ready", src.notReady)
		})
	}
}

// TestSignalStopsWorkersThroughTheManager: a signal cancels every rank's context at once;
// the workers outlive it by workerGrace, so the manager's stop reaches them and they end
// cleanly (before, each quit on its own with "receive: context canceled", and the manager
// waited for acknowledgements that never came).
func TestSignalStopsWorkersThroughTheManager(t *testing.T) {
	h := newHarness(2, 100000)
	h.work = func(ctx context.Context, _ int, c Chunk) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	sctx, signal := context.WithCancel(ctx)
	h.src.onNext = func(n int64) {
		if n == 4 {
			signal()
		}
	}
	werrs := make(chan error, 2)
	for r := 1; r <= 2; r++ {
		go func(r int) { _, err := Run(sctx, h.net.Rank(r), h.job(r), cfgWith(2, 1)); werrs <- err }(r)
	}
	_, err := Run(sctx, h.net.Rank(0), h.job(0), cfgWith(2, 1))
	require.ErrorIs(t, err, context.Canceled)
	for range 2 {
		require.NoError(t, <-werrs, "a worker must end on the manager's stop")
	}
	require.NoError(t, ctx.Err())
}

// TestOutlive: the context outlives its parent by the grace, and ends at once on stop.
func TestOutlive(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	later, stop := outlive(parent, time.Hour)
	cancel()
	require.NoError(t, later.Err(), "ended with its parent")
	stop()
	require.ErrorIs(t, later.Err(), context.Canceled)

	parent, cancel = context.WithCancel(context.Background())
	defer cancel()
	later, stop = outlive(parent, time.Millisecond)
	defer stop()
	cancel()
	select {
	case <-later.Done():
	case <-time.After(testDeadline):
		t.Fatal("never ended after its parent")
	}
}

// TestWorkerIsPatientWhileItsThreadsWork: a worker rank tells its transport that it need not
// spin for the next chunk while every computing goroutine has one, even at window 1 with
// nothing queued, and that it computes then; neither while one waits; and takes that back
// when it ends.
func TestWorkerIsPatientWhileItsThreadsWork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	src, sink := &liveSrc{n: 3}, &listSink{}
	unblock := make(chan struct{})
	job := Job{
		Name: "patience",
		Open: func(context.Context) (*Plan, error) { return &Plan{Source: src, Sink: sink, Total: -1}, nil },
		NewWorker: func([]byte) (Worker, error) {
			return func(ctx context.Context, c Chunk) ([]byte, error) {
				if c.Seq == 0 {
					select {
					case <-unblock:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return digest(c.Data), nil
			}, nil
		},
	}
	net := NewInprocNet(2)
	var log hintLog
	// Waits of a millisecond at most: each says what the thread does at the time.
	rec := &tap{Transport: net.Rank(1), onWait: log.add, maxWait: time.Millisecond}
	patient := func() bool { h, ok := log.last(); return ok && h.Patient }
	computing := func() bool { h, ok := log.last(); return ok && h.Computing }
	src.release() // chunk 0; the next ones only when the test says
	werr, mgr := make(chan error, 1), make(chan error, 1)
	go func() { _, err := Run(ctx, rec, job, cfgWith(1, 1)); werr <- err }()
	go func() { _, err := Run(ctx, net.Rank(0), job, cfgWith(1, 1)); mgr <- err }()
	t.Cleanup(func() {
		select {
		case <-unblock:
		default:
			close(unblock)
		}
	})

	require.Eventually(t, patient, testDeadline, time.Millisecond, "its one thread computes chunk 0: patient")
	require.True(t, computing(), "and computing")
	close(unblock)
	src.release() // wakes the worker, whose next wait says what its thread does now
	require.Eventually(t, func() bool { return !patient() && !computing() }, testDeadline, time.Millisecond,
		"its thread waits for chunk 2: neither patient nor computing")
	src.release()
	require.NoError(t, <-mgr)
	require.NoError(t, <-werr)
	requireInOrder(t, sink, 3)
}

// The run report's CPU is what the process used during the run, not since it started (a
// pool serves many runs), and a single rank's report says that it is the whole process's.
func TestManagerCPUCountsTheRunOnly(t *testing.T) {
	before := cpuclock.Process()
	for cpuclock.Process()-before < 300*time.Millisecond {
		_ = digest([]byte("burn CPU before the run"))
	}
	h := newHarness(0, 20)
	st, err, _ := h.run(t, cfgWith(1, 0))
	require.NoError(t, err)
	require.True(t, st.Alone)
	require.Less(t, st.ManagerCPU, 300*time.Millisecond, "the CPU burnt before the run counts")
	st.Wall, st.ManagerCPU, st.Threads, st.Hosts = time.Second, 250*time.Millisecond, 1, nil
	require.Contains(t, st.Summary("test"), "; 1 worker x 1 thread; process CPU 0.25s (25% of a core)")
	st.Alone, st.Workers, st.Threads = false, 2, 4
	require.Contains(t, st.Summary("test"), "; 2 workers x 4 threads; manager CPU 0.25s (25% of a core)")
}

// TestSummaryCountsResultsNeverWritten: a job that ended early (--halt now) says how many
// chunks were computed besides those written; a complete one says only the written.
func TestSummaryCountsResultsNeverWritten(t *testing.T) {
	st := Stats{Chunks: 20, PerWorker: []uint64{0, 12, 8}, Wall: time.Second, Workers: 2, Threads: 1}
	require.True(t, strings.HasPrefix(st.Summary("test"), "test: 20 chunks in 1s (20 chunks/s)"), st.Summary("test"))
	st.Chunks = 3
	require.True(t, strings.HasPrefix(st.Summary("test"), "test: 3 chunks written of 20 computed in 1s (3 chunks/s)"), st.Summary("test"))
}

// arrivalSink is a listSink that records Arrived calls and may end or drain the job there.
type arrivalSink struct {
	listSink
	arrived []uint64
	onArr   func(seq uint64) error
}

func (s *arrivalSink) Arrived(seq uint64, _ []byte) error {
	s.arrived = append(s.arrived, seq)
	if s.onArr != nil {
		return s.onArr(seq)
	}
	return nil
}

// arriveThenStop returns an arrivalSink that returns stop when chunk seq arrives.
func arriveThenStop(seq uint64, stop error) *arrivalSink {
	return &arrivalSink{onArr: func(got uint64) error {
		if got == seq {
			return stop
		}
		return nil
	}}
}

func runArrival(t *testing.T, h *harness, s *arrivalSink, cfg Config) error {
	t.Helper()
	_, err := runArrivalVia(t, h, s, cfg, nil)
	return err
}

// runArrivalVia runs h's job with s as its Sink, each worker rank on via(rank, transport)
// when via is set, and returns the manager's Stats and error.
func runArrivalVia(t *testing.T, h *harness, s *arrivalSink, cfg Config, via func(int, Transport) Transport) (Stats, error) {
	t.Helper()
	job := func(r int) Job {
		j := h.job(r)
		open := j.Open
		j.Open = func(ctx context.Context) (*Plan, error) {
			p, err := open(ctx)
			if p != nil {
				p.Sink = s
			}
			return p, err
		}
		return j
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	var wg sync.WaitGroup
	for r := 1; r < h.net.Size(); r++ {
		tr := h.net.Rank(r)
		if via != nil {
			tr = via(r, tr)
		}
		wg.Add(1)
		go func() { defer wg.Done(); Run(ctx, tr, job(r), cfg) }()
	}
	st, err := Run(ctx, h.net.Rank(0), job(0), cfg)
	wg.Wait()
	require.NoError(t, ctx.Err(), "run hung past the test deadline")
	return st, err
}

// Every result arrives once, before its Put; an arrival may end the job while an earlier
// chunk is stuck (exec's --halt now must not wait for a slow task ahead of a failed one).
func TestArrivalSink(t *testing.T) {
	h := newHarness(3, 500)
	s := &arrivalSink{}
	require.NoError(t, runArrival(t, h, s, cfgWith(2, 1)))
	requireInOrder(t, &s.listSink, 500)
	require.ElementsMatch(t, s.seqs, s.arrived)

	// Unordered, with backups: still once per result (a backup's losing copy is dropped).
	h = newHarness(3, 500)
	h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
		if r == 1 && c.Seq%50 == 0 {
			time.Sleep(2 * time.Millisecond) // stragglers, for backups
		}
		return digest(c.Data), nil
	}
	s = &arrivalSink{}
	cfg := cfgWith(2, 1)
	cfg.Unordered, cfg.Backups = true, true
	require.NoError(t, runArrival(t, h, s, cfg))
	require.Equal(t, s.seqs, s.arrived, "unordered: each put as it arrives")
	require.ElementsMatch(t, s.seqs, seqsUpTo(500))

	h = newHarness(2, 1000)
	h.work = func(ctx context.Context, _ int, c Chunk) ([]byte, error) {
		if c.Seq == 0 {
			<-ctx.Done() // stuck until the job stops
			return nil, ctx.Err()
		}
		return digest(c.Data), nil
	}
	s = arriveThenStop(5, ErrDone)
	require.NoError(t, runArrival(t, h, s, cfgWith(2, 1)))
	require.Empty(t, s.seqs, "a result after the stuck chunk 0 was put")
	require.Equal(t, uint64(5), s.arrived[len(s.arrived)-1], "results handled after the arrival that ended the job")

	// The arrival that ends the job is still put when its turn has come, with the results it
	// lets out of the reorder buffer.
	h = newHarness(2, 1000)
	s = arriveThenStop(0, ErrDone)
	require.NoError(t, runArrival(t, h, s, cfgWith(2, 1)))
	require.NotEmpty(t, s.seqs)
	for i, seq := range s.seqs { // 0, and the results that had arrived behind it
		require.Equal(t, uint64(i), seq)
		require.Contains(t, s.arrived, seq)
	}
	require.Equal(t, uint64(0), s.arrived[len(s.arrived)-1], "results handled after the arrival that ended the job")

	// A drain at arrival stops issuing; what was issued is put or, unstarted, left out, in order.
	h = newHarness(2, 100000)
	var issuedBefore uint64
	s = &arrivalSink{onArr: func(seq uint64) error {
		if seq == 10 {
			issuedBefore = h.src.next
			return ErrDrain
		}
		return nil
	}}
	require.NoError(t, runArrival(t, h, s, cfgWith(2, 1)))
	issued := h.src.next
	require.Equal(t, seqsUpTo(issued), s.all, "every issued chunk written or left out (unstarted), in order")
	for i, seq := range s.seqs {
		require.Equal(t, digest(binary.LittleEndian.AppendUint64(nil, seq)), s.outs[i])
	}
	require.Equal(t, issuedBefore, issued, "chunks issued after the drain")
}

// muted drops every frame its rank sends once on is set: a rank that died silently, as
// one killed under MPI does until the launcher ends the job.
func muted(t Transport, on *atomic.Bool) Transport {
	return &tap{Transport: t, onSend: func(int, record) bool { return on.Load() }}
}

// A job a signal cancels names the worker ranks that did not answer the manager's stop.
func TestCancelledStopNamesSilentRanks(t *testing.T) {
	h := newHarness(3, 1000000)
	var silent atomic.Bool
	mctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.work = func(_ context.Context, r int, c Chunk) ([]byte, error) {
		if r == 2 && c.Seq >= 20 && !silent.Swap(true) {
			cancel() // the launcher's SIGTERM, after rank 2 died
		}
		return digest(c.Data), nil
	}
	ctx, stop := context.WithTimeout(context.Background(), testDeadline)
	defer stop()
	var wg sync.WaitGroup
	for r := 1; r <= 3; r++ {
		var tr Transport = h.net.Rank(r)
		if r == 2 {
			tr = muted(tr, &silent)
		}
		wg.Add(1)
		go func() { defer wg.Done(); Run(ctx, tr, h.job(r), cfgWith(2, 1)) }()
	}
	_, err := Run(mctx, h.net.Rank(0), h.job(0), cfgWith(2, 1))
	wg.Wait()
	require.NoError(t, ctx.Err(), "run hung past the test deadline")
	var su *StopUnanswered
	require.ErrorAs(t, err, &su)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []string{"rank 2 on inproc"}, su.Ranks)
	require.Equal(t, "rank 2 on inproc did not answer the stop (gone before it: killed, out of memory?); "+
		"run mpirun --enable-recovery to finish the job without a lost worker", su.Detail())
}

// drainGate is a worker's transport that opens gate once the worker receives the drain.
func drainGate(t Transport, once *sync.Once, gate chan struct{}) *tap {
	return &tap{Transport: t, onRecv: func(_ int, r record) {
		if r.kind == kindDrain {
			once.Do(func() { close(gate) })
		}
	}}
}

// A drain starts no more chunks: those queued at the workers come back unstarted and are
// left out (a GapSink is told, in order), those running complete, and the results after a
// left-out chunk are still written. So is a chunk that waited for a retry.
func TestDrainLeavesOutUnstartedChunks(t *testing.T) {
	for _, mode := range []Mode{Push, Pull} {
		const workers = 2
		h := newHarness(workers, 100000)
		gates := make([]chan struct{}, workers+1)
		var onces [workers + 1]sync.Once
		for r := range gates {
			gates[r] = make(chan struct{})
		}
		var running atomic.Int64
		h.work = func(ctx context.Context, r int, c Chunk) ([]byte, error) {
			switch {
			case c.Seq == 0:
			case c.Seq == 1 && c.Attempt == 0:
				return nil, errors.New("fails once") // its retry waits behind the busy workers
			default:
				running.Add(1)
				select { // busy until this worker receives the drain
				case <-gates[r]:
				case <-ctx.Done():
				}
			}
			return digest(c.Data), nil
		}
		s := &arrivalSink{onArr: func(seq uint64) error {
			if seq == 0 {
				// A worker busy, its queue filling. (Not every worker: in pull mode the
				// manager, waiting here, may have answered one worker's asks only.)
				for running.Load() < 1 {
					time.Sleep(time.Millisecond)
				}
				return ErrDrain
			}
			return nil
		}}
		cfg := cfgWith(4, 1)
		cfg.Retries, cfg.Mode = 1, mode
		st, err := runArrivalVia(t, h, s, cfg, func(r int, tr Transport) Transport {
			return drainGate(tr, &onces[r], gates[r])
		})
		require.NoError(t, err)
		issued := h.src.next
		require.Equal(t, seqsUpTo(issued), s.all, "%s: every issued chunk written or left out, in order", mode)
		require.NotEmpty(t, s.left, "%s: nothing left out", mode)
		// Chunk 0, and each chunk that started (one per worker thread): started, it
		// completes.
		require.Len(t, s.seqs, 1+int(running.Load()), "%s: chunk 0 and every chunk that started", mode)
		require.Equal(t, uint64(len(s.left)), st.Skipped)
		require.Less(t, issued, uint64(100))
		for i, seq := range s.seqs {
			require.Equal(t, digest(binary.LittleEndian.AppendUint64(nil, seq)), s.outs[i])
		}
	}
}

// seqsUpTo is 0, 1, ..., n-1.
func seqsUpTo(n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out
}

// afterDrain is a worker's transport that opens gate when the worker receives the drain
// and counts the chunks it receives after that.
func afterDrain(t Transport, once *sync.Once, gate chan struct{}, drained *atomic.Bool, late *atomic.Int64) Transport {
	g := drainGate(t, once, gate)
	open := g.onRecv
	g.onRecv = func(from int, r record) {
		open(from, r)
		switch {
		case r.kind == kindDrain:
			drained.Store(true)
		case r.kind == kindTask && drained.Load():
			late.Add(1)
		}
	}
	return g
}

// With backups on, a drain sends no more chunks, backup copies included: a draining worker
// hands back every chunk, and a copy re-issued each time it came back went round and round
// until the original ended (232,736 times in 300 ms in a reviewer's run).
func TestDrainSendsNoBackups(t *testing.T) {
	const workers = 2
	h := newHarness(workers, 1000)
	gates := make([]chan struct{}, workers+1)
	var onces [workers + 1]sync.Once
	var drained [workers + 1]atomic.Bool
	for r := range gates {
		gates[r] = make(chan struct{})
	}
	h.work = func(ctx context.Context, r int, c Chunk) ([]byte, error) {
		if c.Seq > 0 {
			select { // a straggler, until its worker has received the drain
			case <-gates[r]:
			case <-ctx.Done():
			}
		}
		return digest(c.Data), nil
	}
	cfg := cfgWith(1, 1)
	cfg.Backups = true
	var late atomic.Int64
	st, err := runArrivalVia(t, h, arriveThenStop(0, ErrDrain), cfg, func(r int, tr Transport) Transport {
		return afterDrain(tr, &onces[r], gates[r], &drained[r], &late)
	})
	require.NoError(t, err)
	require.Zero(t, late.Load(), "chunks sent to workers after the drain (backups: %d)", st.Backups)
}

// TestConfigBounds: a Config whose threads or chunks in flight per worker rank are past the
// bounds is refused before any work (a window of 1e9 made every worker allocate its queue).
func TestConfigBounds(t *testing.T) {
	for _, tc := range []struct {
		threads, window int
		want            string
	}{
		{MaxThreads + 1, 1, "threads 65537: must be 0 (automatic) to 65536"},
		{2, MaxInFlight/2 + 1, "window 524289: 2 threads x 524289 chunks in flight are more than the 1048576"},
		{0, MaxInFlight + 1, "window 1048577: 1 threads x"},
		{-1, 1, "threads -1"},
		{0, 0, "window 0"},
	} {
		cfg := DefaultConfig()
		cfg.Threads, cfg.Window = tc.threads, tc.window
		_, err := RunInProcess(context.Background(), 1, Job{Name: "bounds"}, cfg)
		require.ErrorContains(t, err, tc.want)
	}
	cfg := DefaultConfig()
	cfg.Threads, cfg.Window = 2, MaxInFlight/2
	require.NoError(t, cfg.validate())
	// Threads chosen by the rank (0): one rank alone checks them as a worker rank does.
	if n := runtime.NumCPU(); n >= 2 {
		cfg.Threads, cfg.Window = 0, MaxInFlight/n+1
		_, err := Run(context.Background(), Solo(), Job{Name: "bounds"}, cfg)
		require.ErrorContains(t, err, fmt.Sprintf("%d threads (the rank's share of its node's CPUs) x %d chunks in flight", n, cfg.Window))
	}
}
