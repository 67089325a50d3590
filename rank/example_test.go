package rank_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mw-hpc/mw/rank"
)

// words is a Source of one word per chunk.
type words struct {
	list []string
	next int
}

func (w *words) Next() (rank.Chunk, error) {
	if w.next == len(w.list) {
		return rank.Chunk{}, io.EOF
	}
	c := rank.Chunk{Seq: uint64(w.next), Data: []byte(w.list[w.next]), Items: 1}
	w.next++
	return c, nil
}

// lines is a Sink that prints each result on a line, in chunk order.
type lines struct{}

func (lines) Put(_ uint64, out []byte) error {
	_, err := fmt.Println(string(out))
	return err
}

// upper is a Worker: it upper-cases its chunk.
func upper(_ context.Context, c rank.Chunk) ([]byte, error) {
	return []byte(strings.ToUpper(string(c.Data))), nil
}

// upperJob upper-cases the words given.
func upperJob(list ...string) rank.Job {
	return rank.Job{
		Name: "upper",
		Open: func(context.Context) (*rank.Plan, error) {
			return &rank.Plan{Source: &words{list: list}, Sink: lines{}, Total: int64(len(list))}, nil
		},
		NewWorker: func([]byte) (rank.Worker, error) { return upper, nil },
	}
}

// A Job runs on a manager and two workers in this process; results come in chunk order.
func ExampleRunInProcess() {
	st, err := rank.RunInProcess(context.Background(), 2, upperJob("manager", "workers", "engine"), rank.DefaultConfig())
	fmt.Println(st.Chunks, err)
	// Output:
	// MANAGER
	// WORKERS
	// ENGINE
	// 3 <nil>
}

// Run runs a Job on this rank over a Transport: here a world of one rank, which computes
// everything itself with the same bytes as any other world. Under MPI every rank calls
// Run with mpitransport.Start's Transport.
func ExampleRun() {
	_, err := rank.Run(context.Background(), rank.Solo(), upperJob("one", "rank"), rank.DefaultConfig())
	fmt.Println(err)
	// Output:
	// ONE
	// RANK
	// <nil>
}

// A Job's Open runs on the manager only; its NewWorker on every computing rank.
func ExampleJob() {
	job := upperJob("go")
	job.Name = "shout"
	_, err := rank.RunInProcess(context.Background(), 1, job, rank.DefaultConfig())
	fmt.Println(err)
	// Output:
	// GO
	// <nil>
}

// A Plan's Setup is sent once to every worker, which makes its Worker from it.
func ExamplePlan() {
	job := rank.Job{
		Open: func(context.Context) (*rank.Plan, error) {
			return &rank.Plan{Source: &words{list: []string{"a", "b"}}, Sink: lines{}, Setup: []byte(" <- suffix"), Total: 2}, nil
		},
		NewWorker: func(setup []byte) (rank.Worker, error) {
			return func(_ context.Context, c rank.Chunk) ([]byte, error) {
				return append(append([]byte(nil), c.Data...), setup...), nil
			}, nil
		},
	}
	_, err := rank.RunInProcess(context.Background(), 2, job, rank.DefaultConfig())
	fmt.Println(err)
	// Output:
	// a <- suffix
	// b <- suffix
	// <nil>
}

// A Source yields numbered chunks, then io.EOF.
func ExampleSource() {
	src := &words{list: []string{"x", "y"}}
	for {
		c, err := src.Next()
		if err == io.EOF {
			break
		}
		fmt.Println(c.Seq, string(c.Data))
	}
	// Output:
	// 0 x
	// 1 y
}

// letters is a SizedSource: the engine says how many letters each chunk holds.
type letters struct {
	s    string
	next int
	seq  uint64
}

func (l *letters) Next() (rank.Chunk, error) { return l.NextN(1) }

func (l *letters) NextN(n int) (rank.Chunk, error) {
	if l.next == len(l.s) {
		return rank.Chunk{}, io.EOF
	}
	end := min(l.next+n, len(l.s))
	c := rank.Chunk{Seq: l.seq, Data: []byte(l.s[l.next:end]), Items: end - l.next}
	l.next, l.seq = end, l.seq+1
	return c, nil
}

func (l *letters) Remaining() int64 { return int64(len(l.s) - l.next) }

// joined is a Sink that gathers the results.
type joined struct{ b strings.Builder }

func (j *joined) Put(_ uint64, out []byte) error { j.b.Write(out); return nil }

// With a SizedSource the engine sizes the chunks as the run goes (--chunk auto); the
// output is the same whatever the sizes.
func ExampleSizedSource() {
	sink := &joined{}
	job := rank.Job{
		Open: func(context.Context) (*rank.Plan, error) {
			return &rank.Plan{Source: &letters{s: strings.Repeat("abc", 1000)}, Sink: sink, Total: -1}, nil
		},
		NewWorker: func([]byte) (rank.Worker, error) { return upper, nil },
	}
	_, err := rank.RunInProcess(context.Background(), 2, job, rank.DefaultConfig())
	fmt.Println(sink.b.Len(), sink.b.String()[:9], err)
	// Output: 3000 ABCABCABC <nil>
}

// A Sink gets every result in chunk order, however the workers finish.
func ExampleSink() {
	sink := &joined{}
	job := upperJob()
	job.Open = func(context.Context) (*rank.Plan, error) {
		return &rank.Plan{Source: &words{list: []string{"in ", "order ", "always"}}, Sink: sink, Total: 3}, nil
	}
	_, err := rank.RunInProcess(context.Background(), 3, job, rank.DefaultConfig())
	fmt.Println(sink.b.String(), err)
	// Output: IN ORDER ALWAYS <nil>
}

// A Worker computes one chunk: the same chunk gives the same bytes on any rank.
func ExampleWorker() {
	var w rank.Worker = upper
	out, err := w(context.Background(), rank.Chunk{Seq: 0, Data: []byte("pure")})
	fmt.Println(string(out), err)
	// Output: PURE <nil>
}

// bracketed writes a JSON array: a bracket before the first result and after the last.
type bracketed struct{ n int }

func (b *bracketed) Put(_ uint64, out []byte) error {
	sep := ","
	if b.n == 0 {
		sep = "["
	}
	b.n++
	fmt.Printf("%s%q", sep, out)
	return nil
}

func (b *bracketed) End() error {
	fmt.Println("]")
	return nil
}

// An EndSink writes its end once every result is in.
func ExampleEndSink() {
	job := upperJob()
	job.Open = func(context.Context) (*rank.Plan, error) {
		return &rank.Plan{Source: &words{list: []string{"a", "b"}}, Sink: &bracketed{}, Total: 2}, nil
	}
	_, err := rank.RunInProcess(context.Background(), 2, job, rank.DefaultConfig())
	fmt.Println(err)
	// Output:
	// ["A","B"]
	// <nil>
}

// gaps prints results and the chunks left out, in order.
type gaps struct{}

func (gaps) Put(seq uint64, out []byte) error { fmt.Println(seq, string(out)); return nil }
func (gaps) LeftOut(seq uint64) error         { fmt.Println(seq, "left out"); return nil }

// With KeepGoing a chunk that fails every try is left out, and a GapSink hears of it in
// its place; Run returns a *PartialError.
func ExampleGapSink() {
	job := rank.Job{
		Open: func(context.Context) (*rank.Plan, error) {
			return &rank.Plan{Source: &words{list: []string{"a", "", "c"}}, Sink: gaps{}, Total: 3}, nil
		},
		NewWorker: func([]byte) (rank.Worker, error) {
			return func(_ context.Context, c rank.Chunk) ([]byte, error) {
				if len(c.Data) == 0 {
					return nil, errors.New("empty word")
				}
				return c.Data, nil
			}, nil
		},
	}
	cfg := rank.DefaultConfig()
	cfg.KeepGoing = true
	_, err := rank.RunInProcess(context.Background(), 1, job, cfg)
	var pe *rank.PartialError
	fmt.Println(errors.As(err, &pe), len(pe.Failed), pe.Failed[0].Seq)
	// Output:
	// 0 a
	// 1 left out
	// 2 c
	// true 1 1
}

// firstLong ends the job at the first word longer than 5 letters, whichever finishes first.
type firstLong struct{ found string }

func (f *firstLong) Put(uint64, []byte) error { return nil }

func (f *firstLong) Arrived(_ uint64, out []byte) error {
	if len(out) > 5 {
		f.found = string(out)
		return rank.ErrDone
	}
	return nil
}

// An ArrivalSink hears of each result as it arrives, and may end the job there (ErrDone).
func ExampleArrivalSink() {
	sink := &firstLong{}
	job := upperJob()
	job.Open = func(context.Context) (*rank.Plan, error) {
		return &rank.Plan{Source: &words{list: []string{"a", "bb", "searched", "c"}}, Sink: sink, Total: 4}, nil
	}
	_, err := rank.RunInProcess(context.Background(), 2, job, rank.DefaultConfig())
	fmt.Println(sink.found, err)
	// Output: SEARCHED <nil>
}

// ErrDone from a Sink ends the job early, successfully.
func ExampleErrDone() {
	sink := &firstLong{}
	job := upperJob()
	job.Open = func(context.Context) (*rank.Plan, error) {
		return &rank.Plan{Source: &words{list: []string{"enough", "more"}}, Sink: sink, Total: 2}, nil
	}
	_, err := rank.RunInProcess(context.Background(), 1, job, rank.DefaultConfig())
	fmt.Println(sink.found, err)
	// Output: ENOUGH <nil>
}

// feed is a LiveSource: another goroutine hands it words over time.
type feed struct {
	mu     sync.Mutex
	ready  []string
	closed bool
	seq    uint64
	notify func()
}

func (f *feed) SetNotify(notify func()) { f.mu.Lock(); f.notify = notify; f.mu.Unlock() }

func (f *feed) Next() (rank.Chunk, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case len(f.ready) > 0:
		c := rank.Chunk{Seq: f.seq, Data: []byte(f.ready[0])}
		f.ready, f.seq = f.ready[1:], f.seq+1
		return c, nil
	case f.closed:
		return rank.Chunk{}, io.EOF
	}
	return rank.Chunk{}, rank.ErrNotReady
}

// add hands the source a word (or, with close, its end) and tells the manager.
func (f *feed) add(w string, close bool) {
	f.mu.Lock()
	if close {
		f.closed = true
	} else {
		f.ready = append(f.ready, w)
	}
	notify := f.notify
	f.mu.Unlock()
	if notify != nil {
		notify()
	}
}

// A LiveSource's chunks become ready over time; its Next never waits.
func ExampleLiveSource() {
	src := &feed{}
	job := upperJob()
	job.Open = func(context.Context) (*rank.Plan, error) {
		go func() {
			for _, w := range []string{"frame1", "frame2"} {
				src.add(w, false)
			}
			src.add("", true)
		}()
		return &rank.Plan{Source: src, Sink: lines{}, Total: -1}, nil
	}
	_, err := rank.RunInProcess(context.Background(), 2, job, rank.DefaultConfig())
	fmt.Println(err)
	// Output:
	// FRAME1
	// FRAME2
	// <nil>
}

// Config starts from DefaultConfig; here a failed chunk is tried once more (on another
// worker, where there is one).
func ExampleConfig() {
	var mu sync.Mutex
	tries := 0
	job := upperJob()
	job.NewWorker = func([]byte) (rank.Worker, error) {
		return func(ctx context.Context, c rank.Chunk) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			if tries++; c.Attempt == 0 {
				return nil, errors.New("flaky")
			}
			return upper(ctx, c)
		}, nil
	}
	job.Open = func(context.Context) (*rank.Plan, error) {
		return &rank.Plan{Source: &words{list: []string{"retried"}}, Sink: lines{}, Total: 1}, nil
	}
	cfg := rank.DefaultConfig()
	cfg.Retries = 1
	_, err := rank.RunInProcess(context.Background(), 1, job, cfg)
	fmt.Println(tries, err)
	// Output:
	// RETRIED
	// 2 <nil>
}

// DefaultConfig is the engine's defaults, those of mw's command line.
func ExampleDefaultConfig() {
	cfg := rank.DefaultConfig()
	fmt.Println(cfg.Window, cfg.Mode, cfg.Backups)
	// Output: 2 push true
}
