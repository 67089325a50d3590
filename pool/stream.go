package pool

import (
	"context"
	"fmt"
	"io"
	"iter"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/mw-hpc/mw/rank"
)

// Stream applies fn to every element of in across the job and yields the results on
// rank 0 as they come: in input order, or as they finish with Unordered. The call starts
// when the loop over it starts; it is a collective call: every rank must range over it,
// with the same function. Only rank 0 runs in (on a goroutine of its own, a little ahead of the
// workers), so workers never build the input; their loop yields nothing, or the call's
// error, which every rank gets.
//
// An error ends the loop after it is yielded, unless KeepGoing: then each failed element
// yields its *TaskError in its place and the loop goes on. Leaving the loop early ends the
// job. A collective call made inside the loop is an error: the loop is one.
func Stream[T, R any](ctx context.Context, in iter.Seq[T], fn func(context.Context, T) (R, error), opts ...Option) iter.Seq2[R, error] {
	pos := callAt(0, "pool.Stream", []reflect.Type{reflect.TypeFor[T](), reflect.TypeFor[R]()}, fn)
	s := newSettings(opts)
	return func(yield func(R, error) bool) {
		var zero R
		if err := s.refuse("pool.Stream", givenJournal); err != nil {
			yield(zero, err)
			return
		}
		c, err := startCall(ctx, "pool.Stream", pos, s)
		if err != nil {
			yield(zero, err)
			return
		}
		defer c.finish()
		c.s.cfg.KeepGoing = false
		j := newElementJob(c, fn)
		if !c.manager() {
			if _, err := c.run(ctx, rank.Job{Name: "stream", NewWorker: j.newWorker}); err != nil {
				yield(zero, err)
			}
			return
		}
		streamOnManager(ctx, c, j, in, yield)
	}
}

// streamOnManager runs the job on a goroutine while yielding what its Sink hands over.
func streamOnManager[T, R any](ctx context.Context, c *call, j *elementJob[T, R], in iter.Seq[T], yield func(R, error) bool) {
	sink := &streamSink[R]{ch: make(chan answer, 4), gone: make(chan struct{})}
	src := newSeqSource(in, j.in, c.s.chunk)
	job := rank.Job{
		Name:      "stream",
		NewWorker: j.newWorker,
		Open: func(context.Context) (*rank.Plan, error) {
			src.start()
			return &rank.Plan{Source: src, Sink: sink, Total: -1}, nil
		},
	}
	ran := make(chan error, 1)
	go func() {
		_, err := c.engine(ctx, job)
		if sink.failed != nil && err != nil {
			err = sink.failed
		}
		err = c.end(ctx, err)
		src.close()
		close(sink.ch)
		ran <- err
	}()
	finished := false
	defer func() {
		if !finished { // the loop ended early (or panicked): end the job, and wait for it
			close(sink.gone)
			for range sink.ch {
			}
			<-ran
		}
	}()
	for a := range sink.ch {
		if !yieldAnswer(a, j.out, yield) {
			return
		}
	}
	finished = true
	if err := <-ran; err != nil {
		yield(*new(R), err)
	}
}

// yieldAnswer yields a chunk's results and failures in element order; false when the
// loop ended.
func yieldAnswer[R any](a answer, c codec[R], yield func(R, error) bool) bool {
	if !c.fits(uint64(a.count), len(a.results)) {
		yield(*new(R), fmt.Errorf("results of elements %d to %d: %d bytes", a.first, a.first+a.count-1, len(a.results)))
		return false
	}
	rs := make([]R, a.count)
	if err := decodeInto(a, c, rs); err != nil {
		yield(*new(R), err)
		return false
	}
	fails := a.fails
	for i, r := range rs {
		var err error
		if len(fails) > 0 && fails[0].Element == a.first+i {
			err, fails = fails[0], fails[1:]
			r = *new(R)
		}
		if !yield(r, err) {
			return false
		}
	}
	return true
}

// streamSink hands each answer to the loop; it ends the job (rank.ErrDone) once the loop
// is gone, and fails it at a chunk that stopped at a failure.
type streamSink[R any] struct {
	ch     chan answer
	gone   chan struct{}
	failed *TaskError
}

func (s *streamSink[R]) Put(seq uint64, data []byte) error {
	a, err := readAnswer(seq, data)
	if err != nil {
		return err
	}
	if a.failed {
		s.failed = a.fails[0]
		return s.failed
	}
	a.results = append([]byte(nil), a.results...) // data is the engine's after Put
	select {
	case s.ch <- a:
		return nil
	case <-s.gone:
		return rank.ErrDone
	}
}

// seqSource runs the input sequence on a goroutine of its own, which hands the elements
// over in batches, so that neither side waits for the other at each element: a
// rank.LiveSource whose chunks the engine sizes (or of per elements). The manager's
// goroutine calls Next, NextN, Remaining and SetNotify; start and close come from the
// call.
type seqSource[T any] struct {
	in    iter.Seq[T]
	codec codec[T]
	per   int
	seq   uint64
	first int // the index of buf[0]

	mu     sync.Mutex
	room   *sync.Cond // the producer waits for room in buf
	buf    []T
	done   bool  // the sequence ended
	err    error // it panicked
	closed bool  // the run ended: the producer stops
	notify func()
	hungry atomic.Bool // the manager found buf empty: hand over at once
}

const (
	seqBatch = 1024    // elements the producer gathers before it hands them over
	seqAhead = 1 << 18 // most elements waiting in buf
)

func newSeqSource[T any](in iter.Seq[T], c codec[T], per int) *seqSource[T] {
	s := &seqSource[T]{in: in, codec: c, per: per}
	s.room = sync.NewCond(&s.mu)
	return s
}

func (s *seqSource[T]) SetNotify(notify func()) {
	s.mu.Lock()
	s.notify = notify
	s.mu.Unlock()
}

// start starts the producer.
func (s *seqSource[T]) start() { go s.produce() }

// close stops the producer at its next element.
func (s *seqSource[T]) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.room.Broadcast()
}

func (s *seqSource[T]) produce() {
	local := make([]T, 0, seqBatch)
	defer func() {
		v := recover()
		s.mu.Lock()
		if v != nil {
			s.err = fmt.Errorf("the input sequence panicked: %v (at %s)", v, panicSite())
		} else if !s.closed {
			s.buf = append(s.buf, local...)
		}
		s.done = true
		notify := s.notify
		s.mu.Unlock()
		if notify != nil {
			notify()
		}
	}()
	for x := range s.in {
		local = append(local, x)
		if len(local) == seqBatch || s.hungry.Load() {
			if !s.handOver(local) {
				return
			}
			local = local[:0]
		}
	}
}

// handOver moves the elements gathered to buf, waiting for room; false once closed.
func (s *seqSource[T]) handOver(local []T) bool {
	s.mu.Lock()
	for len(s.buf) >= seqAhead && !s.closed {
		s.room.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.buf = append(s.buf, local...)
	notify := s.notify
	s.mu.Unlock()
	if s.hungry.Swap(false) && notify != nil {
		notify()
	}
	return true
}

func (s *seqSource[T]) Next() (rank.Chunk, error) { return s.NextN(s.per) }

func (s *seqSource[T]) NextN(n int) (rank.Chunk, error) {
	if s.per > 0 {
		n = s.per
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.err != nil:
		return rank.Chunk{}, s.err
	case len(s.buf) == 0 && s.done:
		return rank.Chunk{}, io.EOF
	case len(s.buf) == 0:
		s.hungry.Store(true)
		return rank.Chunk{}, rank.ErrNotReady
	}
	k := min(max(n, 1), len(s.buf))
	c, err := encodeChunk(s.codec, s.seq, s.first, s.buf[:k])
	if err != nil {
		return c, err
	}
	clear(s.buf[:k])
	s.buf = s.buf[k:]
	if len(s.buf) == 0 {
		s.buf = s.buf[:0:0] // let the drained backing array go
	}
	s.seq++
	s.first += k
	s.room.Signal()
	return c, nil
}

// Remaining is the elements left when the sequence has ended, else unknown (-1).
func (s *seqSource[T]) Remaining() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return int64(len(s.buf))
	}
	return -1
}
