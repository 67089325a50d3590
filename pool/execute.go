package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"sync"

	"github.com/mw-hpc/mw/rank"
)

// Task is a function that workers run by its name, for Submit: declare it with NewTask at
// package level (a var declaration), so that every rank knows it.
type Task[T, R any] struct {
	name string
	fn   func(context.Context, T) (R, error)
	in   codec[T]
	out  codec[R]
}

// tasks holds every Task by name: the workers' way from a name to a function.
var tasks = struct {
	sync.RWMutex
	byName map[string]runner
}{byName: map[string]runner{}}

// runner runs a task on its encoded argument and returns its encoded result.
type runner func(ctx context.Context, arg []byte) ([]byte, error)

// NewTask declares the task name, which runs fn. It panics if name is taken.
func NewTask[T, R any](name string, fn func(context.Context, T) (R, error)) *Task[T, R] {
	t := &Task[T, R]{name: name, fn: fn, in: codecFor[T](), out: codecFor[R]()}
	tasks.Lock()
	defer tasks.Unlock()
	if _, ok := tasks.byName[name]; ok {
		panic(fmt.Sprintf("pool.NewTask: task %q declared twice", name))
	}
	tasks.byName[name] = t.run
	return t
}

// Name is the task's name.
func (t *Task[T, R]) Name() string { return t.name }

func (t *Task[T, R]) run(ctx context.Context, arg []byte) ([]byte, error) {
	xs := make([]T, 1)
	if _, err := t.in.decode(arg, xs); err != nil {
		return nil, fmt.Errorf("argument: %w", err)
	}
	r, err := apply(ctx, t.fn, xs[0])
	if err != nil {
		return nil, err
	}
	return t.out.one(r)
}

// Executor is rank 0's way to submit tasks inside Execute's body. Safe for concurrent use.
type Executor struct {
	mu      sync.Mutex
	queue   []rank.Chunk
	pending map[uint64]func(answer []byte, err error) // by chunk, until answered
	next    uint64
	closed  bool // no more submissions: the body returned
	notify  func()
}

// Execute runs body on rank 0 with an Executor that submits tasks to the workers, and
// returns once body has returned and every task it submitted is done (as
// mpi4py.futures' shutdown(wait=True) does). It is a collective call: the workers run the
// tasks meanwhile and return when rank 0 does, with the same error. An error of body ends
// the job at once; the tasks not done then fail with it. A task's own error goes to its
// Future only.
func Execute(ctx context.Context, body func(ctx context.Context, ex *Executor) error, opts ...Option) error {
	s := newSettings(opts)
	if err := s.refuse("pool.Execute", givenChunk|givenUnordered|givenKeepGoing|givenJournal); err != nil {
		return err
	}
	pos := callAt(0, "pool.Execute", nil, nil)
	c, err := startCall(ctx, "pool.Execute", pos, s)
	if err != nil {
		return err
	}
	defer c.finish()
	c.s.cfg.Unordered, c.s.cfg.KeepGoing = true, false
	job := rank.Job{Name: "execute", NewWorker: taskWorker(c)}
	if !c.manager() {
		_, err := c.run(ctx, job)
		return err
	}
	ex := &Executor{pending: map[uint64]func([]byte, error){}}
	job.Open = func(context.Context) (*rank.Plan, error) {
		return &rank.Plan{Source: executorSource{ex}, Sink: executorSink{ex}, Total: -1}, nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		_, err := c.engine(runCtx, job)
		ran <- err
	}()
	berr, panicked := runBodyOf(ctx, ex, body)
	if berr != nil {
		cancel() // the tasks not done go nowhere: end the run now
	}
	err = <-ran
	ex.abandon(firstErr(berr, err, errors.New("the Executor ended")))
	err = c.end(ctx, firstErr(berr, err))
	if panicked != nil {
		panic(panicked.value) // now that every rank ended the call
	}
	return err
}

// bodyPanic is a panic of Execute's body, held until the call has ended on every rank.
type bodyPanic struct{ value any }

// runBodyOf runs body, then closes ex to submissions. A panic of body is returned, and
// its error is the call's (the workers return it; rank 0 panics on).
func runBodyOf(ctx context.Context, ex *Executor, body func(context.Context, *Executor) error) (err error, p *bodyPanic) {
	defer func() {
		ex.close()
		if v := recover(); v != nil {
			p = &bodyPanic{v}
			err = fmt.Errorf("pool.Execute's body panicked on rank 0: %v", v)
		}
	}()
	return body(ctx, ex), nil
}

// Submit sends task t with argument x to a worker and returns its Future at once. On a
// closed Executor (after Execute returned) the Future fails at once.
func Submit[T, R any](ex *Executor, t *Task[T, R], x T) *Future[R] {
	f := &Future[R]{done: make(chan struct{})}
	data := appendString(nil, t.name)
	data, err := t.in.append(data, []T{x})
	if err != nil {
		f.set(*new(R), fmt.Errorf("pool.Submit %s: %w", t.name, err))
		return f
	}
	ex.submit(data, func(b []byte, err error) {
		var r R
		if err == nil {
			r, err = decodeTask(b, t)
		}
		f.set(r, err)
	})
	return f
}

func decodeTask[T, R any](b []byte, t *Task[T, R]) (R, error) {
	rs := make([]R, 1)
	if _, err := t.out.decode(b, rs); err != nil {
		return rs[0], fmt.Errorf("result of task %s: %w", t.name, err)
	}
	return rs[0], nil
}

// submit queues a chunk of data (a task's name and argument), whose answer goes to done.
func (ex *Executor) submit(data []byte, done func([]byte, error)) {
	ex.mu.Lock()
	if ex.closed {
		ex.mu.Unlock()
		done(nil, errors.New("pool.Submit: the Executor is closed (Execute returned)"))
		return
	}
	seq := ex.next
	ex.next++
	ex.queue = append(ex.queue, rank.Chunk{Seq: seq, Data: data, Items: 1})
	ex.pending[seq] = done
	notify := ex.notify
	ex.mu.Unlock()
	if notify != nil {
		notify()
	}
}

func (ex *Executor) close() {
	ex.mu.Lock()
	ex.closed = true
	notify := ex.notify
	ex.mu.Unlock()
	if notify != nil {
		notify()
	}
}

// abandon fails every task not answered with err.
func (ex *Executor) abandon(err error) {
	ex.mu.Lock()
	left := ex.pending
	ex.pending = map[uint64]func([]byte, error){}
	ex.closed = true
	ex.mu.Unlock()
	for _, done := range left {
		done(nil, fmt.Errorf("the task was not done: %w", err))
	}
}

// executorSource is the Executor as the job's rank.LiveSource: the tasks submitted, in
// order; and executorSink as its rank.Sink, which gives each answer to its Future. The
// manager's goroutine calls them.
type (
	executorSource struct{ ex *Executor }
	executorSink   struct{ ex *Executor }
)

func (s executorSource) SetNotify(notify func()) {
	s.ex.mu.Lock()
	s.ex.notify = notify
	s.ex.mu.Unlock()
}

func (s executorSource) Next() (rank.Chunk, error) {
	ex := s.ex
	ex.mu.Lock()
	defer ex.mu.Unlock()
	switch {
	case len(ex.queue) > 0:
		c := ex.queue[0]
		ex.queue[0] = rank.Chunk{}
		ex.queue = ex.queue[1:]
		return c, nil
	case ex.closed:
		return rank.Chunk{}, io.EOF
	}
	return rank.Chunk{}, rank.ErrNotReady
}

func (s executorSink) Put(seq uint64, data []byte) error {
	ex := s.ex
	ex.mu.Lock()
	done, ok := ex.pending[seq]
	delete(ex.pending, seq)
	ex.mu.Unlock()
	if !ok {
		return fmt.Errorf("an answer for task chunk %d, which is not pending", seq)
	}
	r := reader{b: data}
	if r.byte() == chunkFailed {
		done(nil, decodeError(&r))
		return nil
	}
	done(append([]byte(nil), r.b...), nil)
	return nil
}

// taskWorker is Execute's NewWorker: it runs each chunk's task by name.
func taskWorker(c *call) func([]byte) (rank.Worker, error) {
	return func([]byte) (rank.Worker, error) {
		rk, host := c.name()
		return func(ctx context.Context, ch rank.Chunk) ([]byte, error) {
			r := reader{b: ch.Data}
			name := r.string()
			arg := r.b
			tasks.RLock()
			run, ok := tasks.byName[name]
			tasks.RUnlock()
			var out []byte
			err := r.err
			switch {
			case err != nil:
			case !ok:
				err = fmt.Errorf("no task is declared as %q on this rank (declare tasks with pool.NewTask at package level)", name)
			default:
				out, err = run(ctx, arg)
			}
			if err == nil {
				return append([]byte{chunkOK}, out...), nil
			}
			if ch.Attempt < c.s.cfg.Retries {
				return nil, err
			}
			te := &TaskError{Rank: rk, Host: host, Chunk: ch.Seq, Element: int(ch.Seq), Task: name, Err: err}
			return encodeError([]byte{chunkFailed}, te), nil
		}, nil
	}
}

// Future is the result of a submitted task, once it is done.
type Future[R any] struct {
	done chan struct{}
	val  R
	err  error
}

func (f *Future[R]) set(r R, err error) {
	f.val, f.err = r, err
	close(f.done)
}

// Done is closed once the task is done (or failed, or was abandoned).
func (f *Future[R]) Done() <-chan struct{} { return f.done }

// Wait returns the task's result once it is done, or ctx's error if ctx ends first. A
// task's failure is a *TaskError.
func (f *Future[R]) Wait(ctx context.Context) (R, error) {
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return *new(R), ctx.Err()
	}
}

// AsCompleted yields the futures as their tasks finish (mpi4py's as_completed). A Future
// whose Executor ended is done too, so the loop always ends.
func AsCompleted[R any](fs ...*Future[R]) iter.Seq[*Future[R]] {
	return func(yield func(*Future[R]) bool) {
		cases := make([]reflect.SelectCase, len(fs))
		for i, f := range fs {
			cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(f.done)}
		}
		for left := len(fs); left > 0; left-- {
			i, _, _ := reflect.Select(cases)
			cases[i].Chan = reflect.Value{} // a zero channel is never ready again
			if !yield(fs[i]) {
				return
			}
		}
	}
}
