package pool_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mw-hpc/mw/pool"
	"github.com/mw-hpc/mw/rank"
)

// Main wraps main's body; every rank runs it. (Not run here: Main ends the process.)
func ExampleMain() {
	pool.Main(func(ctx context.Context) error {
		lengths, err := pool.Map(ctx, []string{"a", "bb", "ccc"}, func(_ context.Context, s string) (int, error) {
			return len(s), nil
		})
		if err != nil || !pool.IsManager() {
			return err // a worker's lengths are nil; every rank gets the same error
		}
		fmt.Println(lengths)
		return nil
	})
}

// Only rank 0 gets the results, so only rank 0 prints them.
func ExampleIsManager() {
	fmt.Println(pool.IsManager()) // true: no launcher started this process
	// Output: true
}

// Map squares numbers on three in-process workers; the results come back in input order.
func ExampleMap() {
	in := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	squares, err := pool.Map(context.Background(), in, func(_ context.Context, x int) (int, error) {
		return x * x, nil
	}, pool.InProcess(3))
	fmt.Println(squares, err)
	// Output: [1 4 9 16 25 36 49 64 81 100] <nil>
}

// A failing element ends the job with a *TaskError that names it.
func ExampleMap_error() {
	_, err := pool.Map(context.Background(), []string{"a", "b", "", "d"}, func(_ context.Context, s string) (string, error) {
		if s == "" {
			return "", errors.New("empty string")
		}
		return strings.ToUpper(s), nil
	}, pool.Chunk(1))
	fmt.Println(err)
	// Output: element 2 (chunk 2): empty string
}

// Stream takes a lazy input, which only rank 0 runs, and yields the results in order.
func ExampleStream() {
	lines := strings.NewReader("one\ntwo\nthree\n")
	input := func(yield func(string) bool) {
		var s string
		for {
			if _, err := fmt.Fscanln(lines, &s); err != nil || !yield(s) {
				return
			}
		}
	}
	for n, err := range pool.Stream(context.Background(), input, func(_ context.Context, s string) (int, error) {
		return len(s), nil
	}, pool.InProcess(2)) {
		fmt.Println(n, err)
	}
	// Output:
	// 3 <nil>
	// 3 <nil>
	// 5 <nil>
}

// With Unordered, Stream yields each result as it finishes.
func ExampleUnordered() {
	var got []int
	for r, err := range pool.Stream(context.Background(), slices.Values([]int{3, 1, 2}), func(_ context.Context, x int) (int, error) {
		return 10 * x, nil
	}, pool.Unordered(), pool.InProcess(2)) {
		if err == nil {
			got = append(got, r)
		}
	}
	slices.Sort(got)
	fmt.Println(got)
	// Output: [10 20 30]
}

// Broadcast builds a table on rank 0 and gives it to every rank, once; later calls'
// functions use it.
func ExampleBroadcast() {
	ctx := context.Background()
	prices, err := pool.Broadcast(ctx, func() (map[string]float64, error) {
		return map[string]float64{"apple": 0.5, "pear": 0.75}, nil // read from a file, say
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	costs, err := pool.Map(ctx, []string{"pear", "apple"}, func(_ context.Context, fruit string) (float64, error) {
		return 4 * prices[fruit], nil
	})
	fmt.Println(costs, err)
	// Output: [3 2] <nil>
}

// Tasks of different kinds, declared at package level so that every rank has them.
var (
	wordCount = pool.NewTask("example.wordCount", func(_ context.Context, s string) (int, error) {
		return len(strings.Fields(s)), nil
	})
	reverse = pool.NewTask("example.reverse", func(_ context.Context, s string) (string, error) {
		r := []rune(s)
		slices.Reverse(r)
		return string(r), nil
	})
)

// Execute runs a body on rank 0 that submits tasks; the workers serve them meanwhile.
func ExampleExecute() {
	err := pool.Execute(context.Background(), func(ctx context.Context, ex *pool.Executor) error {
		n := pool.Submit(ex, wordCount, "to be or not to be")
		r := pool.Submit(ex, reverse, "stressed")
		words, err := n.Wait(ctx)
		if err != nil {
			return err
		}
		back, err := r.Wait(ctx)
		fmt.Println(words, back)
		return err
	}, pool.InProcess(2))
	fmt.Println(err)
	// Output:
	// 6 desserts
	// <nil>
}

// Submit returns a Future at once; the task runs on a worker.
func ExampleSubmit() {
	_ = pool.Execute(context.Background(), func(ctx context.Context, ex *pool.Executor) error {
		f := pool.Submit(ex, reverse, "drawer")
		s, err := f.Wait(ctx)
		fmt.Println(s, err)
		return nil
	})
	// Output: reward <nil>
}

// NewTask declares a task by name; a var at package level makes it known on every rank.
func ExampleNewTask() {
	fmt.Println(wordCount.Name())
	// Output: example.wordCount
}

// The Executor is only valid inside Execute's body.
func ExampleExecutor() {
	var fs []*pool.Future[int]
	_ = pool.Execute(context.Background(), func(_ context.Context, ex *pool.Executor) error {
		for _, s := range []string{"a b", "c d e"} {
			fs = append(fs, pool.Submit(ex, wordCount, s))
		}
		return nil
	})
	for _, f := range fs { // Execute waited for every task it submitted
		n, _ := f.Wait(context.Background())
		fmt.Print(n, " ")
	}
	fmt.Println()
	// Output: 2 3
}

// AsCompleted yields futures in the order their tasks finish.
func ExampleAsCompleted() {
	_ = pool.Execute(context.Background(), func(ctx context.Context, ex *pool.Executor) error {
		var fs []*pool.Future[string]
		for _, s := range []string{"ab", "cd", "ef"} {
			fs = append(fs, pool.Submit(ex, reverse, s))
		}
		var got []string
		for f := range pool.AsCompleted(fs...) {
			s, _ := f.Wait(ctx)
			got = append(got, s)
		}
		slices.Sort(got)
		fmt.Println(got)
		return nil
	}, pool.InProcess(3))
	// Output: [ba dc fe]
}

// A Future's Done channel closes when its task is done.
func ExampleFuture() {
	_ = pool.Execute(context.Background(), func(ctx context.Context, ex *pool.Executor) error {
		f := pool.Submit(ex, wordCount, "one two three")
		select {
		case <-f.Done():
		case <-time.After(time.Minute):
		}
		n, err := f.Wait(ctx)
		fmt.Println(n, err)
		return nil
	})
	// Output: 3 <nil>
}

// The Task of a failing submission is named in its *TaskError.
func ExampleFuture_Wait() {
	fail := pool.NewTask("example.fail", func(_ context.Context, x int) (int, error) {
		return 0, fmt.Errorf("no %d", x)
	})
	_ = pool.Execute(context.Background(), func(ctx context.Context, ex *pool.Executor) error {
		_, err := pool.Submit(ex, fail, 7).Wait(ctx)
		fmt.Println(err)
		return nil
	})
	// Output: task example.fail #0: no 7
}

// Run runs a rank.Job: a Source of chunks, a Worker function, a Sink of results in order.
func ExampleRun() {
	job := rank.Job{
		Name: "upper",
		Open: func(context.Context) (*rank.Plan, error) {
			return &rank.Plan{Source: &words{list: []string{"go", "mpi"}}, Sink: printer{}, Total: 2}, nil
		},
		NewWorker: func([]byte) (rank.Worker, error) {
			return func(_ context.Context, c rank.Chunk) ([]byte, error) {
				return []byte(strings.ToUpper(string(c.Data))), nil
			}, nil
		},
	}
	st, err := pool.Run(context.Background(), job, pool.InProcess(2))
	fmt.Println(st.Chunks, err)
	// Output:
	// GO
	// MPI
	// 2 <nil>
}

type words struct {
	list []string
	next int
}

func (w *words) Next() (rank.Chunk, error) {
	if w.next == len(w.list) {
		return rank.Chunk{}, io.EOF
	}
	w.next++
	return rank.Chunk{Seq: uint64(w.next - 1), Data: []byte(w.list[w.next-1])}, nil
}

type printer struct{}

func (printer) Put(_ uint64, out []byte) error { _, err := fmt.Println(string(out)); return err }

// ErrQuota is a sentinel that workers return; registered, it keeps its identity.
var ErrQuota = errors.New("quota exceeded")

func init() { pool.RegisterError(ErrQuota) }

// RegisterError makes errors.Is see a worker's sentinel on rank 0.
func ExampleRegisterError() {
	_, err := pool.Map(context.Background(), []int{1, 2}, func(_ context.Context, x int) (int, error) {
		return 0, fmt.Errorf("user %d: %w", x, ErrQuota)
	}, pool.InProcess(2))
	fmt.Println(errors.Is(err, ErrQuota))
	// Output: true
}

// HTTPError is an error type whose fields matter on rank 0.
type HTTPError struct{ Status int }

func (e HTTPError) Error() string { return fmt.Sprintf("HTTP %d", e.Status) }

func init() { pool.RegisterErrorType[HTTPError]() }

// RegisterErrorType makes errors.As find a worker's typed error, fields and all.
func ExampleRegisterErrorType() {
	_, err := pool.Map(context.Background(), []string{"/a"}, func(_ context.Context, path string) (string, error) {
		return "", fmt.Errorf("get %s: %w", path, HTTPError{Status: 503})
	}, pool.InProcess(1))
	var he HTTPError
	fmt.Println(errors.As(err, &he), he.Status)
	// Output: true 503
}

// A *TaskError says where an element failed.
func ExampleTaskError() {
	_, err := pool.Map(context.Background(), []int{4, 0, 2}, func(_ context.Context, x int) (int, error) {
		if x == 0 {
			return 0, errors.New("division by zero")
		}
		return 12 / x, nil
	})
	var te *pool.TaskError
	if errors.As(err, &te) {
		fmt.Println(te.Element, te.Err)
	}
	// Output: 1 division by zero
}

// KeepGoing computes every element; a *PartialError lists those that failed.
func ExampleKeepGoing() {
	out, err := pool.Map(context.Background(), []int{4, 0, 2, 0}, func(_ context.Context, x int) (int, error) {
		if x == 0 {
			return 0, errors.New("division by zero")
		}
		return 12 / x, nil
	}, pool.KeepGoing())
	var pe *pool.PartialError
	errors.As(err, &pe)
	fmt.Println(out, len(pe.Failed), pe.Failed[0].Element, pe.Failed[1].Element)
	// Output: [3 0 6 0] 2 1 3
}

// PartialError's Error names the first failure.
func ExamplePartialError() {
	_, err := pool.Map(context.Background(), []string{"x", "", ""}, func(_ context.Context, s string) (string, error) {
		if s == "" {
			return "", errors.New("empty")
		}
		return s, nil
	}, pool.KeepGoing(), pool.Chunk(3))
	fmt.Println(err)
	// Output: 2 elements failed; the first: element 1 (chunk 0): empty
}

// A panic in a worker's function is an error that wraps ErrPanic.
func ExampleErrPanic() {
	_, err := pool.Map(context.Background(), []int{1}, func(_ context.Context, x int) (int, error) {
		var m map[string]int
		m["x"] = x // assignment to entry in nil map
		return 0, nil
	})
	fmt.Println(errors.Is(err, pool.ErrPanic))
	// Output: true
}

// Calls made at once from two goroutines of one rank are refused, never waited for; ranks
// that part ways get an error wrapping ErrOutOfStep (see Main).
func ExampleErrOutOfStep() {
	ctx := context.Background()
	id := func(_ context.Context, x int) (int, error) { return x, nil }
	for range pool.Stream(ctx, slices.Values([]int{1, 2}), id) {
		_, err := pool.Map(ctx, []int{1}, id) // a collective call inside another
		fmt.Println(err)
		break
	}
	// Output: pool.Map: called while pool.Stream runs on this rank: collective calls run one at a time
}

// Chunk fixes the elements per chunk (the default lets the engine size them).
func ExampleChunk() {
	var chunks int
	_, err := pool.Map(context.Background(), make([]int, 10), func(_ context.Context, x int) (int, error) { return x, nil },
		pool.Chunk(4), pool.Progress(time.Hour, func(p rank.Progress, final bool) { chunks = int(p.Chunks) }))
	fmt.Println(chunks, err)
	// Output: 3 <nil>
}

// Retries runs a failed chunk again, on another worker where there is one.
func ExampleRetries() {
	tries := map[int]int{}
	flaky := func(_ context.Context, x int) (int, error) {
		if tries[x]++; tries[x] < 3 {
			return 0, errors.New("try again")
		}
		return x, nil
	}
	out, err := pool.Map(context.Background(), []int{7}, flaky, pool.Retries(2), pool.InProcess(1))
	fmt.Println(out, err)
	// Output: [7] <nil>
}

// Window, Threads and Pull tune how chunks reach the workers.
func ExampleWindow() {
	out, err := pool.Map(context.Background(), []int{1, 2, 3}, func(_ context.Context, x int) (int, error) { return -x, nil },
		pool.Window(4), pool.Threads(2), pool.Pull(), pool.InProcess(2))
	fmt.Println(out, err)
	// Output: [-1 -2 -3] <nil>
}

// Threads sets the computing goroutines of each worker rank.
func ExampleThreads() {
	out, err := pool.Map(context.Background(), []int{1, 2}, func(_ context.Context, x int) (int, error) { return x, nil }, pool.Threads(1))
	fmt.Println(out, err)
	// Output: [1 2] <nil>
}

// Pull makes workers ask for chunks.
func ExamplePull() {
	out, err := pool.Map(context.Background(), []int{5}, func(_ context.Context, x int) (int, error) { return x, nil }, pool.Pull(), pool.InProcess(1))
	fmt.Println(out, err)
	// Output: [5] <nil>
}

// Progress reports on rank 0 as the call runs, and once at the end.
func ExampleProgress() {
	_, _ = pool.Map(context.Background(), make([]int, 100), func(_ context.Context, x int) (int, error) { return x, nil },
		pool.Progress(time.Second, func(p rank.Progress, final bool) {
			if final {
				fmt.Println(p.Items, "elements")
			}
		}))
	// Output: 100 elements
}

// Trace writes the run's timeline as Chrome Trace Event JSON.
func ExampleTrace() {
	f, err := os.CreateTemp("", "trace-*.json")
	if err != nil {
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	_, err = pool.Map(context.Background(), []int{1, 2, 3}, func(_ context.Context, x int) (int, error) { return x, nil }, pool.Trace(f))
	fmt.Println(err)
	// Output: <nil>
}

// Config is the old way to set the engine's configuration; fields left zero are the
// engine's zero, but for Window.
func ExampleConfig() {
	out, err := pool.Map(context.Background(), []int{1}, func(_ context.Context, x int) (int, error) { return x, nil },
		pool.Config(rank.Config{Retries: 2}))
	fmt.Println(out, err)
	// Output: [1] <nil>
}

// InProcess runs a call on goroutines of this process, for tests.
func ExampleInProcess() {
	out, err := pool.Map(context.Background(), []string{"x"}, func(_ context.Context, s string) (string, error) { return s + s, nil }, pool.InProcess(4))
	fmt.Println(out, err)
	// Output: [xx] <nil>
}

// Journal keeps Map's results in a file; a later Map with it computes only the rest.
func ExampleJournal() {
	path := filepath.Join(os.TempDir(), "example-squares.journal")
	defer os.Remove(path)
	computed := 0
	square := func(_ context.Context, x int) (int, error) { computed++; return x * x, nil }
	in := []int{1, 2, 3, 4}
	out, err := pool.Map(context.Background(), in, square, pool.Journal(path), pool.Threads(1))
	fmt.Println(out, err, computed)
	out, err = pool.Map(context.Background(), in, square, pool.Journal(path), pool.Threads(1))
	fmt.Println(out, err, computed) // all four came from the journal
	// Output:
	// [1 4 9 16] <nil> 4
	// [1 4 9 16] <nil> 4
}

// Options can be kept and passed to several calls.
func ExampleOption() {
	opts := []pool.Option{pool.Retries(1), pool.KeepGoing()}
	out, err := pool.Map(context.Background(), []int{1, 2}, func(_ context.Context, x int) (int, error) { return x * 3, nil }, opts...)
	fmt.Println(out, err)
	// Output: [3 6] <nil>
}

// A Task's Name is the one it was declared with.
func ExampleTask_Name() {
	fmt.Println(reverse.Name())
	// Output: example.reverse
}
