// Package pool is mw as a library: a Go program with its own computation gets the whole
// manager-workers engine — push or pull, credit windows, ordered results, retries,
// stragglers' backups, progress, trace — across the ranks of an MPI job (the journal and
// --resume are mw's command line's, package cli).
//
// Every rank runs the same program (mpirun -np N ./prog). Rank 0 is the manager; the other
// ranks compute. Map is the short way: it applies a function to every element of a slice
// and returns the results in order on rank 0 (and nil on the workers, whose call returns
// when the job ends). Run takes a rank.Job for full control: a lazy Source, a Worker
// function and an ordered Sink. Main wraps a program's body: it stops MPI and turns an
// error into a message on rank 0 and an exit code.
//
//	func main() {
//		pool.Main(func(ctx context.Context) error {
//			squares, err := pool.Map(ctx, []int{1, 2, 3}, func(_ context.Context, x int) (int, error) {
//				return x * x, nil
//			})
//			if err != nil || squares == nil { // squares is nil on the workers
//				return err
//			}
//			fmt.Println(squares)
//			return nil
//		})
//	}
//
// The user API (this package) is kept apart from the protocol loops (package rank), as
// mpi4py.futures keeps pool.py apart from _core.py: a user never sees a tag or a message.
package pool

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpitransport"
	"github.com/mw-hpc/mw/rank"
)

// Option tunes Map and Run.
type Option func(*settings)

type settings struct {
	cfg     rank.Config
	chunk   int
	workers int // > 0: run in process with this many workers instead of over MPI
}

// Chunk sets how many elements Map puts in one chunk (default 1).
func Chunk(n int) Option { return func(s *settings) { s.chunk = n } }

// Window sets the chunks in flight per worker thread (default 2).
func Window(n int) Option { return func(s *settings) { s.cfg.Window = n } }

// Threads sets the computing goroutines per worker rank (default: the rank's share of the
// node's CPUs).
func Threads(n int) Option { return func(s *settings) { s.cfg.Threads = n } }

// Retries re-issues a failed chunk up to n times on other workers.
func Retries(n int) Option { return func(s *settings) { s.cfg.Retries = n } }

// Pull makes workers ask for chunks instead of the manager pushing them.
func Pull() Option { return func(s *settings) { s.cfg.Mode = rank.Pull } }

// Config replaces the whole engine configuration.
func Config(c rank.Config) Option { return func(s *settings) { s.cfg = c } }

// InProcess runs the manager and n workers as goroutines of this process instead of over
// MPI: for tests and examples, or a program run without mpirun.
func InProcess(n int) Option { return func(s *settings) { s.workers = n } }

var (
	mpiOnce sync.Once
	mpiT    rank.Transport
	mpiErr  error
)

// transport starts MPI once per process (none in a world of one: no launcher, or -np 1).
func transport() (rank.Transport, error) {
	mpiOnce.Do(func() { mpiT, mpiErr = mpitransport.Start() })
	return mpiT, mpiErr
}

// Run runs job across the MPI job this program was started in (or in process, with the
// InProcess option) and returns the manager's Stats and error on rank 0; on a worker it
// returns once the manager stops it.
func Run(ctx context.Context, job rank.Job, opts ...Option) (rank.Stats, error) {
	s := settings{cfg: rank.DefaultConfig(), chunk: 1}
	for _, o := range opts {
		o(&s)
	}
	if s.workers > 0 {
		return rank.RunInProcess(ctx, s.workers, job, s.cfg)
	}
	t, err := transport()
	if err != nil {
		return rank.Stats{}, err
	}
	return rank.Run(ctx, t, job, s.cfg)
}

// IsManager reports whether this process is rank 0 (true too when not under mpirun), as
// its launcher says (see package launch).
func IsManager() bool { return launch.FromEnv().Rank == 0 }

// Map applies fn to every element of in, across the job, and returns the results in the
// order of in. On the manager it returns the results; on a worker it returns nil, nil once
// the job is over (so every rank may call Map with the same arguments; workers never read
// in). Elements and results travel encoded with encoding/gob: their types' fields must be
// exported. fn must be safe for concurrent use. The first error of fn (after retries) ends
// the job and is returned, naming the rank and the element.
func Map[T, R any](ctx context.Context, in []T, fn func(context.Context, T) (R, error), opts ...Option) ([]R, error) {
	s := settings{chunk: 1}
	for _, o := range opts {
		o(&s)
	}
	if s.chunk < 1 {
		return nil, fmt.Errorf("pool: chunk %d: must be at least 1", s.chunk)
	}
	var out []R
	job := rank.Job{
		Name: "map",
		Open: func(context.Context) (*rank.Plan, error) {
			out = make([]R, 0, len(in))
			total := int64((len(in) + s.chunk - 1) / s.chunk)
			return &rank.Plan{Source: &sliceSource[T]{in: in, per: s.chunk}, Sink: &sliceSink[R]{out: &out}, Total: total}, nil
		},
		NewWorker: func([]byte) (rank.Worker, error) {
			return func(ctx context.Context, c rank.Chunk) ([]byte, error) {
				var part []T
				if err := gob.NewDecoder(bytes.NewReader(c.Data)).Decode(&part); err != nil {
					return nil, fmt.Errorf("decode chunk: %w", err)
				}
				res := make([]R, len(part))
				for i, x := range part {
					r, err := fn(ctx, x)
					if err != nil {
						return nil, fmt.Errorf("element %d: %w", int(c.Seq)*s.chunk+i, err)
					}
					res[i] = r
				}
				var b bytes.Buffer
				if err := gob.NewEncoder(&b).Encode(res); err != nil {
					return nil, fmt.Errorf("encode results: %w", err)
				}
				return b.Bytes(), nil
			}, nil
		},
	}
	_, err := Run(ctx, job, opts...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sliceSource cuts a slice into gob-encoded chunks of per elements.
type sliceSource[T any] struct {
	in   []T
	per  int
	next int
	seq  uint64
}

func (s *sliceSource[T]) Next() (rank.Chunk, error) {
	if s.next >= len(s.in) {
		return rank.Chunk{}, io.EOF
	}
	end := min(s.next+s.per, len(s.in))
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(s.in[s.next:end]); err != nil {
		return rank.Chunk{}, fmt.Errorf("encode elements %d-%d: %w", s.next, end-1, err)
	}
	c := rank.Chunk{Seq: s.seq, Data: b.Bytes(), Items: end - s.next}
	s.seq++
	s.next = end
	return c, nil
}

// sliceSink appends decoded results in order.
type sliceSink[R any] struct{ out *[]R }

func (s *sliceSink[R]) Put(seq uint64, data []byte) error {
	var part []R
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&part); err != nil {
		return fmt.Errorf("decode results of chunk %d: %w", seq, err)
	}
	*s.out = append(*s.out, part...)
	return nil
}

// Main runs body with a context cancelled by SIGINT and SIGTERM, stops MPI, and exits: 0
// on success; 1 on error, which rank 0 prints as "<program>: <error>". Call it from main
// only.
func Main(body func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := body(ctx)
	stop()
	if mpiT != nil {
		if cerr := mpiT.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err == nil {
		os.Exit(0)
	}
	if IsManager() && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName(), err)
	}
	os.Exit(1)
}

func progName() string {
	if len(os.Args) == 0 {
		return "mw"
	}
	name := os.Args[0]
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}
