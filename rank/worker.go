package rank

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// errAborted ends a worker whose manager failed before any work; the manager reports why.
var errAborted = errors.New("manager aborted the job")

// maxSetup bounds the setup a worker accepts (16 GiB): a larger announced length is a
// corrupt message, not a reason to allocate.
const maxSetup = 16 << 30

// workerRank is one worker rank's state: a serving loop that receives chunks (on MPI, on the
// goroutine that owns MPI) and threads computing goroutines fed by a bounded queue.
//
// A chunk that is cheap to compute (a recent average under inlineMax) is computed by the
// serving loop itself, as a C worker would: handing it to another goroutine and its result
// back costs more than the work (two thread switches per chunk). The first chunks, and any
// costly ones, go to the computing goroutines, so that the serving loop keeps receiving,
// keeps MPI moving and sees a stop at once. When chunks turn cheap while a computing
// goroutine still holds one (or one is stuck), the loop may compute beside it: threads+1
// chunks at once, for that while.
//
// A chunk computed inline that runs longer than rescueAfter (cheap on average, stuck this
// once, or waiting for the job to stop) must not leave the rank deaf: a rescue goroutine
// then takes over the receive loop (the serving role, w.role) until that computation
// returns, queueing chunks for the computing goroutines and handling a stop, which cancels
// the stuck computation.
type workerRank struct {
	t         Transport // the serving loop's (on MPI: owned by its goroutine)
	out       Transport // the computing goroutines' (Send safe for concurrent use)
	cfg       Config
	fn        Worker
	threads   int
	inlineMax time.Duration
	queue     chan Chunk

	cost     atomic.Int64 // recent compute time per chunk in ns (moving average); -1 unknown
	idle     atomic.Int64 // computing goroutines waiting for a chunk
	draining atomic.Bool  // the manager drains the job: chunks not started go back (KindSkip)

	// The serving role: whoever holds role runs the receive loop. The serving loop lets go
	// of it while it computes a chunk inline (inlineGen names that computation), and the
	// rescue may take it meanwhile.
	role        sync.Mutex
	inlineGen   atomic.Uint64 // the inline computation running, 0 for none
	inlineStart atomic.Int64  // when the last inline computation started (a monoTime)
	gens        uint64        // inline computations so far (serving loop only)
	rescueT     *time.Timer   // runs watch
	watching    atomic.Bool   // rescueT is armed, or watch runs (see watch)
	ended       bool          // under role: the receive loop has ended (stop or error)
	endErr      error         // under role: the error it ended with
	cctx        context.Context
	cancelWork  context.CancelFunc

	mu      sync.RWMutex // held for writing to stop; for reading around each result send
	stopped bool
	held    map[uint64]bool // chunks received and not yet answered
	heldMu  sync.Mutex
}

// inlineMax bounds the recent cost of a chunk computed by the serving loop: with one thread,
// what a delayed stop or MPI transfer may wait; with more, about what a hand-off costs, since
// the loop computes alone. A rank bound to one core (Open MPI at -np 2) gains nothing from
// computing on another goroutine, which only time-shares that core with the poller, so it
// computes larger chunks inline too.
const (
	inlineMaxOne   = 200 * time.Microsecond
	inlineMaxBound = 2 * time.Millisecond
	inlineMaxMany  = 10 * time.Microsecond
)

func runWorker(ctx context.Context, t Transport, job Job, cfg Config) error {
	setup, err := awaitSetup(ctx, t)
	if err == errAborted {
		return nil
	}
	if err != nil {
		return giveUp(ctx, t, err)
	}
	threads := cfg.Threads
	if threads == 0 {
		threads = autoThreads(t.Rank())
		if err := checkInFlight(threads, cfg.Window, autoThreadsNote); err != nil {
			return giveUp(ctx, t, err)
		}
	}
	w := &workerRank{t: t, out: t, cfg: cfg, threads: threads, inlineMax: inlineMaxOne,
		queue: make(chan Chunk, threads*cfg.Window), held: map[uint64]bool{}}
	switch {
	case threads > 1:
		w.inlineMax = inlineMaxMany
	case runtime.NumCPU() == 1:
		w.inlineMax = inlineMaxBound
	}
	w.cost.Store(-1)
	if p, ok := t.(patience); ok {
		p.setPatience(w)
		defer p.setPatience(nil)
	}
	w.fn, err = job.NewWorker(setup)
	if err != nil {
		return giveUp(ctx, t, err)
	}
	ready := make([]byte, 4, 4+len(t.Host()))
	binary.LittleEndian.PutUint32(ready, uint32(threads))
	ready = append(ready, t.Host()...)
	if err := t.Send(ctx, 0, Msg{Kind: KindReady, Data: ready}); err != nil {
		return fmt.Errorf("announce ready: %w", err)
	}
	if cfg.Mode == Pull {
		for i := 0; i < threads*cfg.Window; i++ {
			if err := t.Send(ctx, 0, Msg{Kind: KindAsk}); err != nil {
				return fmt.Errorf("ask for work: %w", err)
			}
		}
	}
	if o, ok := t.(owner); ok {
		if oerr := o.RunOwned(func(ot Transport) { w.t = ot; err = w.serve(ctx) }); oerr != nil {
			return oerr
		}
	} else {
		err = w.serve(ctx)
	}
	if err != nil {
		w.stop() // their results would follow the acknowledgement of the manager's stop
		return giveUp(ctx, t, err)
	}
	return nil
}

// giveUp tells the manager why this worker gives up (KindFail: a bad message, a setup or
// a Worker it could not make), so that the manager reports it and ends the job, and waits
// for the manager's stop: a worker that only quit would leave the manager waiting for its
// chunks, and itself in MPI_Finalize, which waits for every rank. It returns err as it is
// when the manager cannot be told (the transport failed, which ends the job at Close) or
// when the worker's context is done (a signal, which the manager hears too).
func giveUp(ctx context.Context, t Transport, err error) error {
	if ctx.Err() != nil {
		return err
	}
	why := []byte(t.Host() + "\x00" + err.Error())
	if t.Send(ctx, 0, Msg{Kind: KindFail, Data: why}) != nil || awaitStop(ctx, t) != nil {
		return err
	}
	return nil
}

// rescueAfter is how long an inline computation may hold the serving loop before the
// rescue goroutine takes over the receiving.
const rescueAfter = 5 * time.Millisecond

// serve starts the computing goroutines and receives chunks until the manager says stop.
// Computations still running then are abandoned (their context is cancelled); it does not
// wait for them: a pure Go computation cannot be interrupted, and its result is dropped.
func (w *workerRank) serve(ctx context.Context) error {
	w.cctx, w.cancelWork = context.WithCancel(ctx)
	defer w.cancelWork()
	for i := 0; i < w.threads; i++ {
		go w.compute(w.cctx, i)
	}
	w.rescueT = time.AfterFunc(time.Hour, func() { w.watch(ctx) })
	w.rescueT.Stop()
	w.role.Lock()
	for !w.ended {
		m, err := w.t.Recv(ctx)
		if err != nil {
			w.end(fmt.Errorf("receive: %w", err))
			break
		}
		w.handle(ctx, m, true)
	}
	err := w.endErr
	w.role.Unlock()
	w.rescueT.Stop()
	close(w.queue)
	return err
}

// end records how the receive loop ended; the caller holds role.
func (w *workerRank) end(err error) { w.ended, w.endErr = true, err }

// handle acts on one message received by whoever holds role: a chunk is computed inline
// (when cheap and allowed) or queued, a stop cancels the work and is acknowledged. Every
// message is checked before use; a bad one ends the loop with an error.
func (w *workerRank) handle(ctx context.Context, m Msg, inline bool) {
	if m.From != 0 {
		w.end(fmt.Errorf("unexpected %s message from rank %d (only the manager sends to workers)", m.Kind, m.From))
		return
	}
	if m.Ask {
		w.end(fmt.Errorf("the manager's %s message (chunk %d) asks for a chunk: only workers ask", m.Kind, m.Seq))
		return
	}
	switch m.Kind {
	case KindStop:
		w.cancelWork()
		w.stop() // every result sent before this point precedes the acknowledgement
		if err := w.t.Send(context.WithoutCancel(ctx), 0, Msg{Kind: KindStop}); err != nil {
			w.end(fmt.Errorf("acknowledge stop: %w", err))
			return
		}
		w.end(nil)
	case KindTask:
		w.heldMu.Lock()
		dup := w.held[m.Seq]
		w.held[m.Seq] = true
		w.heldMu.Unlock()
		if dup {
			w.end(fmt.Errorf("manager sent chunk %d twice", m.Seq))
			return
		}
		c := Chunk{Seq: m.Seq, Data: m.Data, Attempt: m.Attempt}
		if w.draining.Load() {
			w.handBack(ctx, c)
			return
		}
		if inline && w.cheap() {
			w.inline(c)
			return
		}
		select {
		case w.queue <- c:
		default:
			w.end(fmt.Errorf("manager sent chunk %d beyond the window of %d", m.Seq, cap(w.queue)))
		}
	case KindDrain:
		// Chunks still queued are handed back; a computing goroutine that takes one from
		// now on hands it back too (compute), so each goes back once.
		w.draining.Store(true)
		for {
			select {
			case c := <-w.queue:
				if !w.handBack(ctx, c) {
					return
				}
			default:
				return
			}
		}
	default:
		w.end(fmt.Errorf("unexpected %s message from the manager (chunk %d)", m.Kind, m.Seq))
	}
}

// stop makes computations still running send nothing (answer): it waits for a send under
// way to end.
func (w *workerRank) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// patient implements pollHints: while every computing goroutine has a chunk in hand, the
// next chunk is not worth a spin (mw exec's tasks of a millisecond would lose the CPU to it).
func (w *workerRank) patient() bool { return w.idle.Load() == 0 }

// computing implements pollHints: a computing goroutine holds a chunk, or a chunk computed
// inline runs while the rescue polls. It also holds before the computing goroutines first
// wait for a chunk and after they end, when the rank is patient anyway (no spin).
func (w *workerRank) computing() bool {
	return w.idle.Load() < int64(w.threads) || w.inlineGen.Load() != 0
}

// handBack hands chunk c back unstarted for whoever holds role, which a failed send ends;
// it reports whether the send went.
func (w *workerRank) handBack(ctx context.Context, c Chunk) bool {
	if err := w.skip(ctx, c, w.t); err != nil {
		w.end(fmt.Errorf("hand back chunk %d: %w", c.Seq, err))
		return false
	}
	return true
}

// skip hands chunk c back to the manager unstarted (a drain), through via.
func (w *workerRank) skip(ctx context.Context, c Chunk, via Transport) error {
	return w.answer(ctx, Msg{Kind: KindSkip, Seq: c.Seq}, via)
}

// cheap reports whether recent chunks cost less than inlineMax to compute.
func (w *workerRank) cheap() bool {
	c := w.cost.Load()
	return c >= 0 && time.Duration(c) < w.inlineMax
}

// inline computes c on the serving loop, letting go of the serving role meanwhile so that
// the rescue can take it if the computation runs long (watch). The caller holds role.
func (w *workerRank) inline(c Chunk) {
	w.gens++
	start := monoNow()
	w.inlineStart.Store(int64(start)) // before the generation: see watch
	w.inlineGen.Store(w.gens)
	if w.watching.CompareAndSwap(false, true) {
		w.rescueT.Reset(rescueAfter)
	}
	w.role.Unlock()
	err := w.finish(w.cctx, c, 0, w.t, start)
	w.inlineGen.Store(0)
	w.role.Lock() // waits for a rescue to hand the role back
	if err != nil && !w.ended {
		w.end(fmt.Errorf("send result of chunk %d: %w", c.Seq, err))
	}
}

// watch runs when the rescue timer fires. It starts the rescue once an inline computation
// has run for rescueAfter, re-arms the timer while one runs, and lets it rest when none
// does: the next inline computation arms it again. So a stream of cheap chunks costs a
// timer operation every rescueAfter, not two per chunk. An inline computation arms the
// timer only if it rests (watching), and watch clears watching before it looks for a
// computation: whichever comes second arms it, never neither.
func (w *workerRank) watch(ctx context.Context) {
	for {
		// A generation read after its start time (stored first) never goes with an older
		// start; a newer start only re-arms the timer early.
		if gen := w.inlineGen.Load(); gen != 0 {
			ran := monoNow().Sub(monoTime(w.inlineStart.Load()))
			if ran < rescueAfter {
				w.rescueT.Reset(rescueAfter - ran)
				return
			}
			w.rescue(ctx, gen)
		}
		w.watching.Store(false)
		if w.inlineGen.Load() == 0 || !w.watching.CompareAndSwap(false, true) {
			return
		}
	}
}

// rescue runs the receive loop while inline computation gen runs long, then hands the role
// back. It queues every chunk (none inline) and may end the loop (a stop, an error).
func (w *workerRank) rescue(ctx context.Context, gen uint64) {
	w.role.Lock()
	defer w.role.Unlock()
	for !w.ended && w.inlineGen.Load() == gen {
		// Short receives, so that the role goes back soon after the computation returns.
		rctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		m, err := w.t.Recv(rctx)
		cancel()
		if err != nil {
			if rctx.Err() != nil && ctx.Err() == nil {
				continue
			}
			w.end(fmt.Errorf("receive: %w", err))
			return
		}
		w.handle(ctx, m, false)
	}
}

// awaitSetup waits for the manager's first message: the setup (fetched with a collective
// broadcast when it is not empty) or an abort.
func awaitSetup(ctx context.Context, t Transport) ([]byte, error) {
	m, err := t.Recv(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for setup: %w", err)
	}
	switch {
	case m.From != 0:
		return nil, fmt.Errorf("wait for setup: unexpected %s message from rank %d", m.Kind, m.From)
	case m.Kind == KindAbort || m.Kind == KindStop:
		return nil, errAborted
	case m.Kind != KindSetup || len(m.Data) != 8 || m.Ask:
		return nil, fmt.Errorf("wait for setup: unexpected %s message from the manager (%d bytes)", m.Kind, len(m.Data))
	}
	n := binary.LittleEndian.Uint64(m.Data)
	if n == 0 {
		return nil, nil
	}
	if n > maxSetup {
		return nil, fmt.Errorf("wait for setup: announced %d bytes, more than the %d limit", n, uint64(maxSetup))
	}
	setup := make([]byte, n)
	if err := t.Broadcast(ctx, 0, setup); err != nil {
		return nil, fmt.Errorf("receive setup: %w", err)
	}
	return setup, nil
}

// awaitStop waits for the manager's stop (or abort) after the worker gave up, dropping
// anything else, and acknowledges a stop.
func awaitStop(ctx context.Context, t Transport) error {
	for {
		m, err := t.Recv(ctx)
		if err != nil {
			return fmt.Errorf("wait for stop: %w", err)
		}
		switch {
		case m.From == 0 && m.Kind == KindStop:
			return t.Send(ctx, 0, Msg{Kind: KindStop})
		case m.From == 0 && m.Kind == KindAbort:
			return nil
		}
	}
}

// compute runs chunks from the queue until it is closed.
func (w *workerRank) compute(ctx context.Context, thread int) {
	for {
		w.idle.Add(1)
		c, ok := <-w.queue
		w.idle.Add(-1)
		if !ok {
			return
		}
		// A send error means the transport failed; the receive loop sees it too.
		if w.draining.Load() {
			_ = w.skip(ctx, c, w.out)
			continue
		}
		_ = w.finish(ctx, c, thread, w.out, monoNow())
	}
}

// finish computes c, starting at start, and sends its result or error through via, unless
// the worker stopped. An error means the transport failed.
func (w *workerRank) finish(ctx context.Context, c Chunk, thread int, via Transport, start monoTime) (err error) {
	out, cerr := call(ctx, w.fn, c)
	work := monoNow().Sub(start)
	if old := w.cost.Load(); old < 0 {
		w.cost.Store(int64(work))
	} else {
		w.cost.Store((3*old + int64(work)) / 4)
	}
	m := Msg{Kind: KindResult, Seq: c.Seq, Data: out, Work: work, Thread: thread}
	if cerr != nil {
		m = Msg{Kind: KindError, Seq: c.Seq, Data: []byte(cerr.Error())}
	}
	return w.answer(ctx, m, via)
}

// answer sends the manager m, the answer to a chunk the worker held (its result, its
// error, or a skip), through via, and in pull mode asks for the next in the same message;
// unless the worker stopped. An error means the transport failed.
func (w *workerRank) answer(ctx context.Context, m Msg, via Transport) error {
	w.heldMu.Lock()
	delete(w.held, m.Seq)
	w.heldMu.Unlock()
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.stopped {
		return nil
	}
	m.Ask = w.cfg.Mode == Pull
	return via.Send(ctx, 0, m)
}

// call runs fn on c, turning a panic into an error that says where it happened.
func call(ctx context.Context, fn Worker, c Chunk) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v [%s]", r, panicSite(debug.Stack()))
		}
	}()
	return fn(ctx, c)
}

// panicSite picks the first frame of a panic's stack that is not the runtime's or ours.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i := 0; i+1 < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "panic(") || strings.HasPrefix(l, "runtime/debug.") ||
			strings.HasPrefix(l, "runtime.") || strings.Contains(l, "/rank.call") || strings.HasPrefix(l, "goroutine ") {
			continue
		}
		if strings.HasPrefix(lines[i+1], "\t") {
			loc := strings.TrimSpace(lines[i+1])
			if j := strings.LastIndex(loc, " +0x"); j > 0 {
				loc = loc[:j]
			}
			return stripArgs(strings.TrimSpace(l)) + " at " + loc
		}
	}
	return "unknown site"
}

// stripArgs drops the argument list "(...)" that ends a stack frame's function line.
func stripArgs(fn string) string {
	if !strings.HasSuffix(fn, ")") {
		return fn
	}
	depth := 0
	for i := len(fn) - 1; i >= 0; i-- {
		switch fn[i] {
		case ')':
			depth++
		case '(':
			if depth--; depth == 0 {
				return fn[:i]
			}
		}
	}
	return fn
}
