package rank

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/internal/mono"
	"github.com/mw-hpc/mw/launch"
)

// workerLoop is a worker rank's owner loop: the one goroutine that makes every call on the
// transport. It feeds the worker's step function the manager's frames and the results of
// the computing goroutines, hands the chunks the worker accepts to those goroutines, sends
// what the worker queued, and waits when there is nothing to do. It never computes.
type workerLoop struct {
	t     Transport
	w     *worker
	job   Job
	cfg   Config
	clock func() monoTime
	queue computeQueue
	fn    Worker

	cctx   context.Context // the computations'; cancelled by a stop
	cancel context.CancelFunc
	inline bool // the owner loop computes cheap chunks itself (inlineMode)
	// ownClock: the transport has a clock of its own (costClock), which clock reads.
	ownClock bool
	// sendFirst: a round computes and sends what a frame led to before it polls again
	// (CoreSharer).
	sendFirst bool
	made      chan made // the Worker, made on a goroutine of its own (setUp)
}

// inlineMax bounds the recent cost of a chunk that the owner loop computes itself: what a
// stop, a heartbeat or the next chunk's arrival may wait.
const inlineMax = 200 * time.Microsecond

// inlineMode reports whether the owner loop of a rank with threads computing goroutines
// computes cheap chunks itself, rather than handing each to a goroutine and its answer
// back: when the rank has one computing thread and at most one core's worth of CPU (Open
// MPI bound it to one core, or its node runs at least as many ranks as it has cores).
// There the owner loop and a computing goroutine cannot run at once anyway, and each
// hand-off costs a wake-up on each side, many times a chunk of a few microseconds. The
// first chunks, and any whose recent cost is above inlineMax, still go to the goroutine.
func inlineMode(threads int) bool {
	if forceInline != nil {
		return *forceInline
	}
	if threads != 1 {
		return false
	}
	n := runtime.NumCPU()
	return n == 1 || launch.FromEnv().LocalSize >= n
}

// forceInline, when set, overrides inlineMode (tests).
var forceInline *bool

func runWorker(ctx context.Context, t Transport, job Job, cfg Config) error {
	clock := clockOf(t)
	l := &workerLoop{t: t, w: newWorker(cfg, t.Host(), clock()), job: job, cfg: cfg, clock: clock}
	_, l.ownClock = t.(costClock)
	l.sendFirst = sharesCores(t)
	l.w.size = t.Size()
	l.cctx, l.cancel = context.WithCancel(ctx)
	defer l.cancel()
	defer context.AfterFunc(ctx, t.Wake)()
	err := t.Own(func() error { return l.loop(ctx) })
	l.queue.close()
	if l.made != nil && l.fn == nil && l.w.err == nil {
		<-l.made // the Worker being made when the job stopped: the job's code returns first
	}
	switch {
	case err != nil:
	case l.w.phase == ended:
		// Stopped by the manager, also after giving up: the manager reports why.
	case l.w.err != nil:
		err = l.w.err // gave up, and the manager could not be waited for
	default:
		err = fmt.Errorf("receive: %w", context.Cause(ctx))
	}
	return err
}

// loop runs until the manager stops (or aborts) the job, the transport fails, or the
// context ends (a signal that the manager did not turn into a stop within the grace).
func (l *workerLoop) loop(ctx context.Context) error {
	w := l.w
	for w.phase != ended {
		if ctx.Err() != nil {
			return nil
		}
		now := l.clock()
		got, err := l.receive(now)
		if err != nil {
			return err
		}
		l.setUp(now)
		l.dispatch(now)
		moved := l.collect(now)
		next, err := w.tick(now)
		if err != nil {
			if n, ok := l.t.(LossNotifier); ok {
				n.Forget(0) // the manager is lost: nothing waits for it
			}
			return err
		}
		sent, err := l.flush()
		if err != nil {
			return err
		}
		if got || moved || sent {
			continue
		}
		if err := l.t.Wait(l.hint(now, next)); err != nil {
			return err
		}
	}
	_, err := l.flush() // the stop's acknowledgement
	if n, ok := l.t.(LossNotifier); ok {
		for _, r := range w.lost {
			n.Forget(r) // nothing waits for them as the process ends
		}
	}
	return err
}

// receive feeds the frames that have arrived to the worker, up to framesPerRound.
func (l *workerLoop) receive(now monoTime) (bool, error) {
	w := l.w
	for k := 0; k < framesPerRound; k++ {
		from, f, ok, err := l.t.Recv()
		if err != nil {
			return true, fmt.Errorf("receive: %w", err)
		}
		if !ok {
			return k > 0, nil
		}
		w.in = w.holdFrame(f)
		w.onFrame(now, from, f)
		w.releaseFrame(w.in)
		w.in = nil
		if w.phase == ended || w.phase == settingUp && l.made == nil {
			return true, nil // the setup's broadcast comes next
		}
		if l.sendFirst && (len(w.toCompute) > 0 || w.out.pending()) {
			return true, nil // see CoreSharer
		}
	}
	return true, nil
}

// setUp fetches the setup when it is announced (a collective broadcast when it is not
// empty) and makes the Worker on a goroutine of its own (the workload's code, which may take
// a while: the owner loop goes on meanwhile, sending heartbeats and hearing a stop); once
// it is made, it starts the computing goroutines.
func (l *workerLoop) setUp(now monoTime) {
	w := l.w
	if w.phase != settingUp {
		return
	}
	if l.made == nil {
		var setup []byte
		if w.setupLen > 0 {
			setup = make([]byte, w.setupLen)
			if err := l.t.Broadcast(0, setup); err != nil {
				w.giveUp(now, fmt.Errorf("receive setup: %w", err))
				return
			}
		}
		l.made = make(chan made, 1)
		go func() {
			fn, err := l.job.NewWorker(setup)
			l.made <- made{fn, err}
			l.t.Wake()
		}()
	}
	select {
	case mk := <-l.made:
		l.start(now, mk)
	default:
	}
}

// made is a Worker made from the setup, or why not.
type made struct {
	fn  Worker
	err error
}

// start starts the computing goroutines with the Worker made.
func (l *workerLoop) start(now monoTime, mk made) {
	w := l.w
	if mk.err != nil {
		w.giveUp(now, mk.err)
		return
	}
	threads := l.cfg.Threads
	if threads == 0 {
		threads = autoThreads(l.t.Rank())
		if err := checkInFlight(threads, l.cfg.Window, autoThreadsNote); err != nil {
			w.giveUp(now, err)
			return
		}
	}
	l.fn = mk.fn
	l.inline = inlineMode(threads)
	l.queue.init(threads*l.cfg.Window, threads)
	for i := 0; i < threads; i++ {
		go l.compute(i)
	}
	w.started(now, threads)
}

// dispatch hands the chunks the worker accepted to the computing goroutines, gives back
// those waiting for a busy goroutine when a drain came, and cancels the computations when the job stopped.
func (l *workerLoop) dispatch(now monoTime) {
	w := l.w
	if len(w.toCompute) > 0 && w.phase == serving {
		ts := w.toCompute
		if l.inline {
			ts = l.computeInline(ts)
		}
		l.queue.push(ts)
		clear(w.toCompute)
		w.toCompute = w.toCompute[:0]
	}
	if w.reclaim {
		w.reclaim = false
		for _, t := range l.queue.takeWaiting() {
			w.unstarted(now, t)
		}
	}
	if w.cancel {
		l.cancel()
		l.queue.close()
	}
}

// computeInline computes on the owner loop the leading chunks of ts while recent chunks
// were cheap and no computing goroutine holds one, and returns the rest (see inlineMode).
// It reads the clock once per chunk: a chunk's end is the next one's start (the answer
// queued between them costs next to nothing), and the time of its answer where the
// transport has no clock of its own.
func (l *workerLoop) computeInline(ts []task) []task {
	start := monoNow()
	for i, t := range ts {
		cost := time.Duration(l.queue.cost.Load())
		if cost <= 0 || cost > inlineMax || l.queue.running.Load() > 0 || l.queue.queued.Load() > 0 {
			return ts[i:]
		}
		out, err := call(l.cctx, l.fn, t.c)
		end := monoNow()
		l.queue.observe(end.Sub(start))
		now := end
		if l.ownClock {
			now = l.clock()
		}
		l.w.done(now, computed{task: t, out: out, err: err, work: end.Sub(start)})
		start = end
	}
	return nil
}

// collect feeds the computing goroutines' answers to the worker; it reports whether any came.
func (l *workerLoop) collect(now monoTime) bool {
	done := l.queue.takeDone()
	if done == nil {
		return false
	}
	for _, c := range done {
		l.w.done(now, c)
	}
	l.queue.recycle(done)
	return len(done) > 0
}

// flush sends the frame the worker queued, if any.
func (l *workerLoop) flush() (bool, error) {
	if !l.w.out.pending() {
		return false, nil
	}
	for _, o := range l.w.out.seal() {
		if err := l.t.Send(o.to, o.frame); err != nil {
			return true, fmt.Errorf("send to the manager: %w", err)
		}
	}
	return true, nil
}

// hint tells the transport's Wait how long it may wait (until the next tick is due), and
// what the computing goroutines are doing: patient while every one of them has a chunk in
// hand that takes a while (recent chunks took longer than answerWait on average): answers
// to chunks of microseconds are worth a spin.
func (l *workerLoop) hint(now, next monoTime) WaitHint {
	q := &l.queue
	running := int(q.running.Load())
	busy := running > 0 && running >= l.w.threads &&
		(time.Duration(q.cost.Load()) > answerWait || now.Sub(mono.Time(q.busySince.Load())) > answerWait)
	h := WaitHint{Within: l.cfg.WakeWithin, Patient: busy, Computing: running > 0}
	if left := max(next.Sub(now), time.Microsecond); h.Within == 0 || left < h.Within {
		h.Within = left
	}
	return h
}

// compute runs chunks from the queue until it is closed, and hands each answer back.
func (l *workerLoop) compute(thread int) {
	for {
		t, ok := l.queue.take()
		if !ok {
			return
		}
		start := monoNow()
		out, err := call(l.cctx, l.fn, t.c)
		end := monoNow()
		l.queue.finish(computed{task: t, out: out, err: err, work: end.Sub(start), thread: thread})
		l.t.Wake() // cheap unless the owner loop sleeps; it sends every answer it finds at once
	}
}

// Hand-offs between the owner loop and the computing goroutines cost a wake-up each (a
// futex, and the scheduler's latency) where the other side sleeps: for chunks of a few
// microseconds, many times the work. So the owner loop sleeps while its goroutines compute
// only when recent chunks took longer than answerWait (WaitHint.Patient), and a computing
// goroutine whose queue ran dry looks for a new chunk for takeSpin before it sleeps.
const (
	answerWait = 20 * time.Microsecond
	takeSpin   = 20 * time.Microsecond
)

// computeQueue carries chunks from the owner loop to the computing goroutines, and their
// answers back. Safe for concurrent use.
type computeQueue struct {
	mu        sync.Mutex
	more      *sync.Cond // a chunk was queued, or the queue closed
	q         []task     // a ring of cap(q) entries from head
	head, n   int
	closed    bool
	idle      int // goroutines waiting for a chunk
	queued    atomic.Int32
	running   atomic.Int32
	threads   int32
	busySince atomic.Int64 // when every goroutine last came to hold a chunk (a mono.Time)
	cost      atomic.Int64 // recent compute time per chunk in ns (moving average)
	done      []computed   // answers for the owner loop
	answers   atomic.Int32 // len(done), read without the lock
	spare     []computed   // the owner loop's last answers, for reuse
}

func (q *computeQueue) init(capacity, threads int) {
	q.threads = int32(threads)
	q.more = sync.NewCond(&q.mu)
	q.q = make([]task, max(capacity, 1))
}

// push queues tasks (never more than the capacity: the worker's window bounds them).
func (q *computeQueue) push(ts []task) {
	q.mu.Lock()
	for _, t := range ts {
		if q.n == len(q.q) { // never, while the window holds; grow rather than drop
			grown := make([]task, 2*len(q.q))
			for i := 0; i < q.n; i++ {
				grown[i] = q.q[(q.head+i)%len(q.q)]
			}
			q.q, q.head = grown, 0
		}
		q.q[(q.head+q.n)%len(q.q)] = t
		q.n++
	}
	q.queued.Store(int32(q.n))
	wake := min(q.idle, len(ts))
	q.mu.Unlock()
	for range wake {
		q.more.Signal()
	}
}

// take waits for a chunk (spinning for takeSpin first); false once the queue is closed.
func (q *computeQueue) take() (task, bool) {
	if q.queued.Load() == 0 {
		for start := mono.Now(); q.queued.Load() == 0 && mono.Now().Sub(start) < takeSpin; {
			runtime.Gosched()
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.closed {
		q.idle++
		q.more.Wait()
		q.idle--
	}
	if q.closed {
		return task{}, false
	}
	t := q.q[q.head]
	q.q[q.head] = task{}
	q.head, q.n = (q.head+1)%len(q.q), q.n-1
	q.queued.Store(int32(q.n))
	if q.running.Add(1) == q.threads {
		q.busySince.Store(int64(mono.Now()))
	}
	return t, true
}

// takeWaiting removes the chunks that wait for a busy goroutine, the last queued first
// given back; the first chunks, as many as there are goroutines free to take them, stay:
// they start at once (a drain must not give back a chunk that had a free goroutine merely
// because it came in the same round as the drain, while later chunks run elsewhere).
func (q *computeQueue) takeWaiting() []task {
	q.mu.Lock()
	defer q.mu.Unlock()
	keep := startingNow(int(q.threads), int(q.running.Load()), q.n)
	if q.n == keep {
		return nil
	}
	ts := make([]task, 0, q.n-keep)
	for i := keep; i < q.n; i++ {
		at := (q.head + i) % len(q.q)
		ts = append(ts, q.q[at])
		q.q[at] = task{}
	}
	q.n = keep
	q.queued.Store(int32(q.n))
	return ts
}

// startingNow is how many of the queued chunks a drain leaves to start (see takeWaiting):
// the first ones, as many as there are threads free.
func startingNow(threads, running, queued int) int {
	return min(max(threads-running, 0), queued)
}

// finish hands back a computation's answer. The goroutine stops counting as running
// under the lock, before the owner loop can see the answer: a drain that comes in reply
// to it then finds the goroutine free (takeWaiting).
func (q *computeQueue) finish(c computed) {
	q.mu.Lock()
	q.done = append(q.done, c)
	q.answers.Store(int32(len(q.done)))
	q.observe(c.work)
	q.running.Add(-1)
	q.mu.Unlock()
}

// observe records a chunk's compute time in the moving average (cost).
func (q *computeQueue) observe(work time.Duration) {
	if old := q.cost.Load(); old > 0 {
		q.cost.Store((3*old + int64(work)) / 4)
	} else {
		q.cost.Store(max(int64(work), 1))
	}
}

// takeDone returns the answers handed back so far; give the slice back with recycle.
func (q *computeQueue) takeDone() []computed {
	if q.answers.Load() == 0 {
		return nil // most rounds: no lock taken
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.done
	q.done = q.spare[:0]
	q.spare = nil
	q.answers.Store(0)
	return d
}

// recycle gives back a slice takeDone returned, once its answers are handled.
func (q *computeQueue) recycle(d []computed) {
	clear(d)
	q.mu.Lock()
	if q.spare == nil {
		q.spare = d[:0]
	}
	q.mu.Unlock()
}

// close wakes every waiting goroutine for good.
func (q *computeQueue) close() {
	if q.more == nil {
		return
	}
	q.mu.Lock()
	q.closed = true
	q.queued.Store(-1) // ends a spin
	q.mu.Unlock()
	q.more.Broadcast()
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
