package pool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/pool"
	"github.com/mw-hpc/mw/rank"
)

// ways are the ways a call runs in one test process: the process alone (a world of one,
// as without mpirun), and on in-process workers.
var ways = []struct {
	name string
	opts []pool.Option
}{
	{"alone", nil},
	{"inproc1", []pool.Option{pool.InProcess(1)}},
	{"inproc3", []pool.Option{pool.InProcess(3)}},
}

// chunkings are the chunk sizes tried: the engine's (auto), one element, and a few.
var chunkings = []int{0, 1, 7}

func each(t *testing.T, f func(t *testing.T, opts []pool.Option)) {
	for _, w := range ways {
		for _, c := range chunkings {
			t.Run(fmt.Sprintf("%s/chunk%d", w.name, c), func(t *testing.T) {
				f(t, append(slices.Clone(w.opts), pool.Chunk(c)))
			})
		}
	}
}

type point struct{ X, Y float64 } // no pointers: travels as its memory

type record struct { // pointers: travels with gob
	Name string
	Tags []string
}

func TestMapTypes(t *testing.T) {
	ctx := context.Background()
	ints := make([]int, 1000)
	for i := range ints {
		ints[i] = i
	}
	each(t, func(t *testing.T, opts []pool.Option) {
		sq, err := pool.Map(ctx, ints, func(_ context.Context, x int) (int64, error) { return int64(x * x), nil }, opts...)
		require.NoError(t, err)
		for i, v := range sq {
			require.Equal(t, int64(i*i), v)
		}
		words, err := pool.Map(ctx, []string{"a", "", "héllo"}, func(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil }, opts...)
		require.NoError(t, err)
		require.Equal(t, []string{"A", "", "HÉLLO"}, words)
		pts, err := pool.Map(ctx, []point{{1, 2}, {3, 4}}, func(_ context.Context, p point) (point, error) { return point{p.Y, p.X}, nil }, opts...)
		require.NoError(t, err)
		require.Equal(t, []point{{2, 1}, {4, 3}}, pts)
		recs, err := pool.Map(ctx, []record{{"a", []string{"x"}}, {"b", nil}}, func(_ context.Context, r record) ([]byte, error) {
			return []byte(r.Name + strings.Join(r.Tags, ",")), nil
		}, opts...)
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("ax"), []byte("b")}, recs)
		none, err := pool.Map(ctx, []int(nil), func(_ context.Context, x int) (int, error) { return x, nil }, opts...)
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

// ErrBad is a sentinel that must keep its identity from a worker to rank 0.
var ErrBad = errors.New("bad element")

// CodeError is an error type that must keep its identity and fields.
type CodeError struct{ Code int }

func (e *CodeError) Error() string { return fmt.Sprintf("code %d", e.Code) }

func init() {
	pool.RegisterError(ErrBad)
	pool.RegisterErrorType[*CodeError]()
}

func failAt(bad int, err error) func(context.Context, int) (int, error) {
	return func(_ context.Context, x int) (int, error) {
		if x == bad {
			return 0, fmt.Errorf("element value %d: %w", x, err)
		}
		return x + 1, nil
	}
}

func TestMapErrorKeepsIdentity(t *testing.T) {
	ctx := context.Background()
	in := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			out, err := pool.Map(ctx, in, failAt(6, ErrBad), w.opts...)
			require.Nil(t, out)
			require.ErrorIs(t, err, ErrBad)
			var te *pool.TaskError
			require.ErrorAs(t, err, &te)
			require.Equal(t, 6, te.Element)
			require.Empty(t, te.Host)
			if w.opts == nil {
				require.Equal(t, 0, te.Rank)
				require.True(t, strings.HasPrefix(err.Error(), "element 6 (chunk "), err.Error())
			} else {
				require.Positive(t, te.Rank)
				require.Contains(t, err.Error(), "in process: element 6 (chunk ")
			}
			_, err = pool.Map(ctx, in, failAt(3, &CodeError{Code: 42}), w.opts...)
			var ce *CodeError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, 42, ce.Code)
			require.NotErrorIs(t, err, ErrBad)
		})
	}
}

func TestMapPanicIsAnError(t *testing.T) {
	_, err := pool.Map(context.Background(), []int{1, 2, 3}, func(_ context.Context, x int) (int, error) {
		if x == 2 {
			panic("two")
		}
		return x, nil
	}, pool.InProcess(2))
	require.ErrorIs(t, err, pool.ErrPanic)
	require.Contains(t, err.Error(), "panic: two (at pool_test.go:")
	var te *pool.TaskError
	require.ErrorAs(t, err, &te)
	require.Equal(t, 1, te.Element)
}

func TestMapRetries(t *testing.T) {
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			var seen sync.Map
			flaky := func(_ context.Context, x int) (int, error) {
				if _, again := seen.LoadOrStore(x, true); !again && x%3 == 0 {
					return 0, errors.New("first try fails")
				}
				return -x, nil
			}
			out, err := pool.Map(context.Background(), []int{0, 1, 2, 3, 4, 5, 6}, flaky, append(w.opts, pool.Retries(1))...)
			require.NoError(t, err)
			require.Equal(t, []int{0, -1, -2, -3, -4, -5, -6}, out)
		})
	}
}

func TestMapKeepGoing(t *testing.T) {
	each(t, func(t *testing.T, opts []pool.Option) {
		odd := func(_ context.Context, x int) (int, error) {
			if x%2 == 1 {
				return 0, fmt.Errorf("%d: %w", x, ErrBad)
			}
			return x * 10, nil
		}
		out, err := pool.Map(context.Background(), []int{0, 1, 2, 3, 4}, odd, append(opts, pool.KeepGoing())...)
		require.Equal(t, []int{0, 0, 20, 0, 40}, out)
		var pe *pool.PartialError
		require.ErrorAs(t, err, &pe)
		require.Len(t, pe.Failed, 2)
		require.Equal(t, 1, pe.Failed[0].Element)
		require.Equal(t, 3, pe.Failed[1].Element)
		require.ErrorIs(t, err, ErrBad)
	})
}

func TestOptionsApplyOnlyWhereTheyMean(t *testing.T) {
	ctx := context.Background()
	id := func(_ context.Context, x int) (int, error) { return x, nil }
	_, err := pool.Map(ctx, []int{1}, id, pool.Unordered())
	require.ErrorContains(t, err, "pool.Unordered does not apply")
	_, err = pool.Run(ctx, rank.Job{}, pool.Chunk(3))
	require.ErrorContains(t, err, "pool.Chunk does not apply")
	// The deprecated Config keeps working, and a zero Window takes its default.
	out, err := pool.Map(ctx, []int{1, 2}, id, pool.Config(rank.Config{Retries: 2}), pool.InProcess(2))
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, out)
}

func count(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

func TestStreamInOrderAndUnordered(t *testing.T) {
	ctx := context.Background()
	sq := func(_ context.Context, x int) (int, error) { return x * x, nil }
	each(t, func(t *testing.T, opts []pool.Option) {
		var got []int
		for r, err := range pool.Stream(ctx, count(3000), sq, opts...) {
			require.NoError(t, err)
			got = append(got, r)
		}
		require.Len(t, got, 3000)
		for i, v := range got {
			require.Equal(t, i*i, v)
		}
		got = got[:0]
		for r, err := range pool.Stream(ctx, count(3000), sq, append(opts, pool.Unordered())...) {
			require.NoError(t, err)
			got = append(got, r)
		}
		slices.Sort(got)
		for i, v := range got {
			require.Equal(t, i*i, v)
		}
	})
}

func TestStreamEndsEarlyAndOnError(t *testing.T) {
	ctx := context.Background()
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			n := 0
			for _, err := range pool.Stream(ctx, count(1_000_000), func(_ context.Context, x int) (int, error) { return x, nil }, w.opts...) {
				require.NoError(t, err)
				if n++; n == 10 {
					break
				}
			}
			var errs []error
			for _, err := range pool.Stream(ctx, count(20), failAt(7, ErrBad), append(w.opts, pool.Chunk(1))...) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			require.Len(t, errs, 1)
			require.ErrorIs(t, errs[0], ErrBad)
			errs = errs[:0]
			var good int
			for _, err := range pool.Stream(ctx, count(20), failAt(7, ErrBad), append(w.opts, pool.KeepGoing())...) {
				if err != nil {
					errs = append(errs, err)
				} else {
					good++
				}
			}
			require.Len(t, errs, 1)
			require.Equal(t, 19, good)
			// The world is free again: another call runs.
			out, err := pool.Map(ctx, []int{1}, func(_ context.Context, x int) (int, error) { return x, nil }, w.opts...)
			require.NoError(t, err)
			require.Equal(t, []int{1}, out)
		})
	}
}

func TestStreamInputPanics(t *testing.T) {
	bad := func(yield func(int) bool) {
		yield(1)
		panic("no more input")
	}
	var last error
	for _, err := range pool.Stream(context.Background(), bad, func(_ context.Context, x int) (int, error) { return x, nil }) {
		last = err
	}
	require.ErrorContains(t, last, "the input sequence panicked: no more input")
}

func TestCollectiveCallsRunOneAtATime(t *testing.T) {
	ctx := context.Background()
	id := func(_ context.Context, x int) (int, error) { return x, nil }
	for range pool.Stream(ctx, count(100), id) {
		_, err := pool.Map(ctx, []int{1}, id)
		require.ErrorContains(t, err, "pool.Map: called while pool.Stream runs on this rank")
		break
	}
}

func TestBroadcastAlone(t *testing.T) {
	v, err := pool.Broadcast(context.Background(), func() (map[string]int, error) { return map[string]int{"a": 1}, nil })
	require.NoError(t, err)
	require.Equal(t, map[string]int{"a": 1}, v)
	_, err = pool.Broadcast(context.Background(), func() (int, error) { return 0, io.ErrUnexpectedEOF })
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

var (
	double = pool.NewTask("test.double", func(_ context.Context, x int) (int, error) { return 2 * x, nil })
	shout  = pool.NewTask("test.shout", func(_ context.Context, s string) (string, error) {
		if s == "" {
			return "", ErrBad
		}
		return strings.ToUpper(s) + "!", nil
	})
)

func TestExecuteTasksOfTwoKinds(t *testing.T) {
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			err := pool.Execute(context.Background(), func(ctx context.Context, ex *pool.Executor) error {
				var ds []*pool.Future[int]
				for i := range 50 {
					ds = append(ds, pool.Submit(ex, double, i))
				}
				hi, empty := pool.Submit(ex, shout, "hi"), pool.Submit(ex, shout, "")
				seen := map[int]bool{}
				for f := range pool.AsCompleted(ds...) {
					v, err := f.Wait(ctx)
					require.NoError(t, err)
					seen[v] = true
				}
				require.Len(t, seen, 50)
				s, err := hi.Wait(ctx)
				require.NoError(t, err)
				require.Equal(t, "HI!", s)
				_, err = empty.Wait(ctx)
				require.ErrorIs(t, err, ErrBad)
				var te *pool.TaskError
				require.ErrorAs(t, err, &te)
				require.Equal(t, "test.shout", te.Task)
				require.Equal(t, 51, te.Element)
				return nil
			}, w.opts...)
			require.NoError(t, err)
		})
	}
}

func TestExecuteBodyErrorEndsIt(t *testing.T) {
	var late *pool.Future[int]
	var ex0 *pool.Executor
	block := pool.NewTask("test.block", func(ctx context.Context, x int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	err := pool.Execute(context.Background(), func(ctx context.Context, ex *pool.Executor) error {
		ex0 = ex
		late = pool.Submit(ex, block, 1)
		return ErrBad
	}, pool.InProcess(2))
	require.ErrorIs(t, err, ErrBad)
	<-late.Done()
	_, lerr := late.Wait(context.Background())
	require.Error(t, lerr)
	_, err = pool.Submit(ex0, double, 1).Wait(context.Background())
	require.ErrorContains(t, err, "the Executor is closed")
}

// squareSource and sumSink make a rank.Job as code written for pool.Run has them.
type squareSource struct{ next, n int }

func (s *squareSource) Next() (rank.Chunk, error) {
	if s.next == s.n {
		return rank.Chunk{}, io.EOF
	}
	c := rank.Chunk{Seq: uint64(s.next), Data: []byte{byte(s.next)}}
	s.next++
	return c, nil
}

type sumSink struct{ sum int }

func (s *sumSink) Put(_ uint64, out []byte) error { s.sum += int(out[0]); return nil }

func TestRunKeepsWorking(t *testing.T) {
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			sink := &sumSink{}
			job := rank.Job{
				Name: "squares",
				Open: func(context.Context) (*rank.Plan, error) {
					return &rank.Plan{Source: &squareSource{n: 10}, Sink: sink, Total: 10}, nil
				},
				NewWorker: func([]byte) (rank.Worker, error) {
					return func(_ context.Context, c rank.Chunk) ([]byte, error) { return []byte{c.Data[0] * c.Data[0]}, nil }, nil
				},
			}
			st, err := pool.Run(context.Background(), job, w.opts...)
			require.NoError(t, err)
			require.Equal(t, 285, sink.sum)
			require.Equal(t, uint64(10), st.Chunks)
		})
	}
}

func TestProgressAndTrace(t *testing.T) {
	var finals atomic.Int32
	var items atomic.Uint64
	var trace strings.Builder
	_, err := pool.Map(context.Background(), make([]int, 500), func(_ context.Context, x int) (int, error) { return x, nil },
		pool.InProcess(2), pool.Progress(1e9, func(p rank.Progress, final bool) {
			if final {
				finals.Add(1)
				items.Store(p.Items)
			}
		}), pool.Trace(&trace))
	require.NoError(t, err)
	require.Equal(t, int32(1), finals.Load())
	require.Equal(t, uint64(500), items.Load())
	require.Contains(t, trace.String(), `"write chunk 0"`)
}

func TestExecuteBodyPanicGoesOnAfterTheCall(t *testing.T) {
	require.PanicsWithValue(t, "body gives up", func() {
		_ = pool.Execute(context.Background(), func(_ context.Context, ex *pool.Executor) error {
			pool.Submit(ex, double, 1)
			panic("body gives up")
		})
	})
	out, err := pool.Map(context.Background(), []int{2}, func(_ context.Context, x int) (int, error) { return x, nil })
	require.NoError(t, err)
	require.Equal(t, []int{2}, out)
}
