package rank

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mw-hpc/mw/mpi"
)

// tag is the MPI tag of every engine message (the kind travels in the frame header).
const tag = 7

// Polling: the owner goroutine never blocks inside MPI, because Open MPI busy-polls in a
// blocking receive (measured here: a rank blocked 3 s in MPI_Recv used 3.0 s of CPU, with or
// without mpi_yield_when_idle), and an idle manager would then eat a core its workers need.
// Instead it polls with MPI_Improbe: for spinFor after the last message it spins, then it
// sleeps between polls for an eighth of the time it has been idle, between minSleep and
// maxSleep: a message that arrives after a quiet spell of T waits at most T/8 more (and at
// most maxSleep), while a long idle spell costs a few hundred wake-ups a second. A send
// queued by another goroutine wakes it at once (waker). With sends still in progress it
// sleeps only minSleep, since some transports need MPI calls to move their data.
//
// It spins only where spinning pays: while at least half the recent messages came within
// spinFor of the traffic before them (an exchange of short tasks, not a task farm of
// milliseconds), and while its rank waits for them (a worker whose computing goroutines all
// have a chunk in hand does not: see patience).
//
// Ranks on one host also wake each other: each rings the peer it has just sent to (a futex
// in shared memory, see setupBells), so a rank that every sender rings sleeps until a ring
// (deepSleep at most) instead of waking on timers: an idle manager costs next to nothing,
// and a message that comes after a quiet spell is seen at once. Senders on other hosts
// cannot ring; a rank that may hear from them keeps the timed rhythm above.
//
// The spin is long enough that two ranks answering each other quickly never both fall asleep
// (the peer's sleep at that point is shorter than the spin); ranks that do not spin (spins)
// rely on the bells, or on their timers, to wake. It yields the CPU only when Open MPI
// bound this rank to one core and another goroutine computes a chunk on it (pollHints);
// with more ranks than cores Open MPI yields in every poll itself, and otherwise a yield
// only delays the next message: at -np 2, a yield in every poll (a system call and a pass
// through the scheduler) halved the rate of empty chunks at window 1.
const (
	spinFor       = 50 * time.Microsecond
	nearAll       = 1 << 10 // wire.near when every recent message came within spinFor
	sparseSleep   = 100 * time.Microsecond
	minSleep      = 20 * time.Microsecond
	maxSleep      = 4 * time.Millisecond
	deepSleep     = 50 * time.Millisecond
	closeDeadline = 20 * time.Second
	parentCheck   = 250 * time.Millisecond
)

// busyPoll (MW_POLL=busy) never sleeps: a whole core per rank, as a blocking MPI receive
// costs, for the lowest latency (real time on cores to spare; make bench compares it).
var busyPoll = os.Getenv("MW_POLL") == "busy"

// mpiTransport is the production Transport over MPI_COMM_WORLD. One goroutine, locked to
// its OS thread, owns every MPI call: Init, the polling loop, Broadcast and Finalize. Send
// and Recv talk to it through channels.
type mpiTransport struct {
	rank, size int
	host       string

	sendq chan outFrame
	recvq chan Msg
	calls chan func(c *mpi.Communicator)
	k     *waker // ends the owner's sleep when a send or call is queued
	quit  chan struct{}
	done  chan struct{}

	failOnce sync.Once
	failed   chan struct{} // closed when the owner stops on an MPI error
	fail     error
	quitOnce sync.Once
	closeErr error

	w        *wire                     // the owner goroutine's MPI state
	bells    bells                     // set up by the owner before the poll loop
	intr     atomic.Bool               // an Interrupt of the owned Recv is pending
	sleepCap atomic.Int64              // Config.WakeWithin in ns (0: none), set by any goroutine
	hints    atomic.Pointer[pollHints] // see setPatience
	ownedMu  sync.Mutex                // serializes the MPI calls of RunOwned's view (see StartMPI)
}

type outFrame struct {
	to    int
	frame []byte
}

// framePools recycle send frames once MPI is done with them, one pool per power-of-two
// capacity from 64 B to 64 MiB, so that steady-state sends allocate nothing: large frames
// too (an interp chunk is a few hundred KiB), which would otherwise keep the garbage
// collector and the page-fault handler busy. A pool holds a frame as the pointer to its
// first byte (its class gives its capacity): a pointer goes into an interface without
// the allocation that boxing a slice header would cost at every put.
var framePools [maxFrameClass + 1]sync.Pool

const (
	minFrameClass = 6  // 64 B
	maxFrameClass = 26 // 64 MiB
)

// frameClass is the pool of a frame of n bytes: the smallest power of two that holds it.
func frameClass(n int) int { return max(bits.Len(uint(n-1)), minFrameClass) }

// Receiving: a message that fits the spare buffer arrives with the probe, in one call. A
// small one (up to copyFrame bytes) is copied out and the spare kept: into a pooled frame
// (Msg.frame) for a receiver that puts frames back (frameRecycler: the manager, once the
// Sink has the result), else into a new slice. A larger one keeps the spare as its buffer
// (Msg.frame) and a new spare comes from the pools. A message larger than the spare gets a
// buffer of its own (a second call), and the next spare is that large.
const (
	copyFrame  = 4 << 10
	firstSpare = 64 << 10
)

func getFrame(n int) []byte {
	c := frameClass(n)
	if c > maxFrameClass {
		return make([]byte, n)
	}
	if p, ok := framePools[c].Get().(*byte); ok {
		return unsafe.Slice(p, 1<<c)[:n]
	}
	return make([]byte, n, 1<<c)
}

// frame returns m framed for the wire, in a pooled buffer.
func frame(m Msg) []byte {
	f := getFrame(HeaderLen + len(m.Data))
	PutHeader(f, m)
	copy(f[HeaderLen:], m.Data)
	return f
}

func putFrame(b []byte) {
	if c := frameClass(cap(b)); c <= maxFrameClass && cap(b) == 1<<c {
		framePools[c].Put(unsafe.SliceData(b))
	}
}

var (
	_ Transport    = (*mpiTransport)(nil)
	_ patience     = (*mpiTransport)(nil)
	_ sleepBounder = (*mpiTransport)(nil)
)

// StartMPI starts MPI on a goroutine locked to its OS thread, which makes every MPI call of
// this process from then on but one exception, and returns the transport over
// MPI_COMM_WORLD. The exception: a worker's rescue goroutine may poll for messages while the
// owner computes a chunk that runs long (RunOwned's view serializes them with a mutex). So
// it asks for MPI_THREAD_SERIALIZED (any thread, one at a time), and fails if MPI grants
// less; Open MPI takes no locks at that level (only at MPI_THREAD_MULTIPLE). Outside mpirun
// it starts a singleton world of one rank. Before MPI starts, it sets
// OMPI_MCA_btl_vader_eager_limit (btl_sm_ from Open MPI 5 on) in this process's environment
// unless the environment sets it (see eagerLimit): processes that this one starts later
// (mw exec's tasks) inherit it.
func StartMPI() (Transport, error) {
	t := &mpiTransport{
		sendq:  make(chan outFrame, 1024),
		recvq:  make(chan Msg, 4096),
		calls:  make(chan func(c *mpi.Communicator), 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	// The owner goroutine holds a P while it polls, and while it sleeps on its futex. When Open
	// MPI binds a rank to one core, Go sees one CPU and GOMAXPROCS is 1: polling would then
	// starve the computing goroutines for a whole scheduler time slice. And whenever every
	// other P is busy (computing goroutines; a task's vfork in mw exec), Go's sysmon takes
	// the sleeping owner's P away every 20 us, and the owner waits on a futex for one when
	// it wakes: mw exec's worker made 6 sysmon wake-ups, 4 futex calls and 16 context
	// switches per task that way, and 2, 1.7 and 9 with one P more (perf stat). So the owner
	// gets a P of its own: one more than Go would use (a GOMAXPROCS the user set is kept,
	// but at least 2), and the kernel shares the cores between the threads.
	procs := runtime.GOMAXPROCS(0) + 1
	if os.Getenv("GOMAXPROCS") != "" {
		procs = max(procs-1, 2) // as Go read it (a value it refused leaves its default)
	}
	runtime.GOMAXPROCS(procs)
	if err := setEagerLimit(); err != nil {
		return nil, fmt.Errorf("start MPI: %w", err)
	}
	k, err := newWaker()
	if err != nil {
		return nil, fmt.Errorf("start MPI: %w", err)
	}
	t.k = k
	started := make(chan error, 1)
	go t.own(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return t, nil
}

// eagerLimit is the largest message that Open MPI's shared memory transport (the vader BTL,
// sm from Open MPI 5 on) sends eagerly, that mw asks for: the largest it can, its fragment
// size (max_send_size). Open MPI's default, 4 KiB, sends a larger message by rendezvous: the
// sender waits until the receiver matches it, then the receiver copies it across with
// process_vm_readv. A worker's result of 4 to 32 KiB (selftest's 256 items make 6.4 KiB)
// then waits on the manager's attention, and the manager pays a system call and a page
// walk for each. Sent eagerly, it costs two plain copies and no wait: `mpirun -np 3 mw
// selftest --chunk 256 --window 2 --threads 1` ran 8-50% more chunks a second (median 27%,
// six alternating pairs of runs), with 8-39% less of the manager's CPU.
const eagerLimit = "32768"

// setEagerLimit sets eagerLimit as this process's default (mpi.SetParamDefault), unless the
// environment sets the eager limit itself (mpirun --mca btl_vader_eager_limit N, or
// OMPI_MCA_btl_vader_eager_limit=N; btl_sm_ for Open MPI 5), under either name.
func setEagerLimit() error {
	for _, btl := range []string{"vader", "sm"} {
		if _, ok := os.LookupEnv("OMPI_MCA_btl_" + btl + "_eager_limit"); ok {
			return nil
		}
	}
	_, err := mpi.SetParamDefault("btl_"+mpi.SharedMemoryBTL()+"_eager_limit", eagerLimit)
	return err
}

// own is the owner goroutine: it starts MPI, runs the polling loop until Close, and stops MPI.
func (t *mpiTransport) own(started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	preciseTimers()
	defer close(t.done)
	_, err := mpi.Start(mpi.ThreadSerialized)
	if err != nil {
		if mpi.IsOn() {
			mpi.Stop()
		}
		started <- fmt.Errorf("start MPI: %w", err)
		return
	}
	comm := mpi.World()
	t.rank, t.size = comm.Rank(), comm.Size()
	t.host, _ = mpi.Processor()
	if t.host == "" {
		t.host, _ = os.Hostname()
	}
	if t.bells, err = setupBells(comm, t.k); err != nil {
		// No MPI_Finalize: a peer may wait in a collective this rank will not enter.
		// This process exits with the error, and the launcher ends the others.
		started <- fmt.Errorf("start MPI: %w", err)
		return
	}
	started <- nil
	err = t.poll(comm)
	if err != nil {
		// Let the engine see the error and main report it; then, at Close, end the whole
		// job, since peers may wait for this rank forever.
		t.setFail(err)
		<-t.quit
		comm.Abort(1)
	}
	if err := mpi.Stop(); err != nil {
		t.closeErr = err
	}
}

func (t *mpiTransport) setFail(err error) {
	t.failOnce.Do(func() {
		t.fail = err
		close(t.failed)
	})
}

// pendingSend is an Isend in flight and the frame MPI reads from.
type pendingSend struct {
	req   *mpi.Request
	frame []byte
	to    int
}

// bells are what a rank rings after sending to a peer on its host, and who rings it
// (setupBells). A rank that every sender rings sleeps until rung (deepSleep at most), and
// one that some rings probes MPI once more after announcing its sleep, so that a message
// sent meanwhile is not slept through.
type bells struct {
	of      []bell // by rank; nil when no peer has one
	ringers int    // peers that ring this rank after sending to it
	all     bool   // every rank that may send to this one rings it
}

// ring rings rank to's bell, if it has one.
func (b bells) ring(to int) {
	if b.of != nil {
		b.of[to].ring()
	}
}

// wire is the owner goroutine's MPI state: the sends in flight and the polling rhythm. The
// goroutine that owns MPI touches it (the poll loop, or the loop inside RunOwned, which runs
// on that same goroutine), and so does a worker's rescue goroutine, through the owned view:
// its MPI calls under ownedMu, its Recv (the polling rhythm, the sleeps) only while it
// holds the worker's serving role, so never beside the owner's. The owner's own Send (a
// result computed inline) may run beside the rescue's Recv: under ownedMu, and it touches
// only the sends and traffic (busy(false)), never the clock fields that Recv's sleeps use
// outside the mutex. (The rescue's thread keeps Linux's default timer slack, 50 us: its
// timed sleeps are that much less precise.)
type wire struct {
	comm            *mpi.Communicator
	pending         []pendingSend
	lastBusy        monoTime // the first idle poll after the last traffic (idleAt); while traffic is true, after the traffic before
	lastRead        monoTime // the clock at the last idle poll, or wake
	traffic         bool     // traffic since the last idle poll
	near            int      // messages that came within spinFor of the traffic before (see busy), of nearAll (moving average)
	spare           []byte   // receives the next message (see copyFrame)
	bound           bool     // Open MPI bound this rank to one core
	ppid            int
	nextParentCheck monoTime
	sleepCap        *atomic.Int64              // mpiTransport's
	hints           *atomic.Pointer[pollHints] // mpiTransport's
	bells           bells
	afterWake       int            // polls left before a deep sleep: 2 after a wake, 0 once a message came
	sleeps, rung    atomic.Uint64  // sleeps that waited, and those a peer's ring ended (Stats)
	tested          []int          // complete's peers to ring, reused
	spareReqs       []*mpi.Request // done, for start to use again (their Pinners too)
	recycled        bool           // the receiver puts Msg.frame back: small messages come in pooled frames too
}

func newWire(comm *mpi.Communicator, t *mpiTransport) *wire {
	now := monoNow()
	return &wire{comm: comm, lastBusy: now, lastRead: now, near: nearAll, bound: runtime.NumCPU() == 1, ppid: os.Getppid(),
		nextParentCheck: now, sleepCap: &t.sleepCap, hints: &t.hints, bells: t.bells}
}

// start begins sending a frame, and tests it at once in the same call (a small message is
// usually done then: its frame is recycled and its peer rung). Every caller then calls
// complete, which tests, and rings the peer of, the sends still in flight.
func (w *wire) start(o outFrame) error {
	var req *mpi.Request
	if n := len(w.spareReqs); n > 0 {
		req, w.spareReqs = w.spareReqs[n-1], w.spareReqs[:n-1]
	} else {
		req = new(mpi.Request)
	}
	done, err := w.comm.IsendTest(req, o.frame, o.to, tag)
	if err != nil {
		w.spareReqs = append(w.spareReqs, req) // done: IsendTest released it
		return fmt.Errorf("send to rank %d: %w", o.to, err)
	}
	if done {
		w.sent(req, o.frame)
		w.bells.ring(o.to)
		return nil
	}
	w.pending = append(w.pending, pendingSend{req: req, frame: o.frame, to: o.to})
	return nil
}

// sent recycles the frame and the request of a send MPI is done with.
func (w *wire) sent(req *mpi.Request, frame []byte) {
	putFrame(frame)
	w.spareReqs = append(w.spareReqs, req)
}

// complete tests the sends in flight and recycles the frames of those done. Then it rings
// the peer of every send it tested: once just after the send's start, and again at each
// later call, since Open MPI queues a message it cannot place at once (its peer's queue
// full, or a large one's second part) and moves it in some later call, which may be any
// of these tests.
func (w *wire) complete() (progressed bool, err error) {
	j := 0
	w.tested = w.tested[:0]
	for _, r := range w.pending {
		done, err := r.req.Test()
		if err != nil {
			return false, err
		}
		if n := len(w.tested); n == 0 || w.tested[n-1] != r.to { // one ring per run of sends to a peer
			w.tested = append(w.tested, r.to)
		}
		if done {
			w.sent(r.req, r.frame)
			progressed = true
		} else {
			w.pending[j] = r
			j++
		}
	}
	for _, to := range w.tested {
		w.bells.ring(to)
	}
	clear(w.pending[j:])
	w.pending = w.pending[:j]
	return progressed, nil
}

// receive takes one message if one is there, and records it as traffic (busy). A malformed
// frame becomes a Msg of Kind 0
// whose Data says what is wrong, so that Recv reports it naming the sender.
func (w *wire) receive() (Msg, bool, error) {
	if w.spare == nil {
		w.spare = getFrame(firstSpare)
	}
	data, st, ok, err := w.comm.TryRecv(w.spare[:cap(w.spare)], mpi.AnySource, tag)
	if err != nil {
		return Msg{}, false, fmt.Errorf("receive: %w", err)
	}
	if !ok {
		return Msg{}, false, nil
	}
	var pooled []byte
	switch {
	case len(data) > cap(w.spare): // in a buffer of its own
		putFrame(w.spare)
		w.spare = getFrame(len(data))
	case len(data) <= copyFrame && w.recycled:
		f := getFrame(len(data))
		copy(f, data)
		data, pooled = f, f
	case len(data) <= copyFrame:
		data = append([]byte(nil), data...)
	default:
		pooled = data
		w.spare = getFrame(cap(w.spare))
	}
	w.busy(true)
	w.afterWake = 0
	m, err := ParseFrame(st.Source, data)
	if err != nil {
		return Msg{From: st.Source, Data: []byte(err.Error())}, true, nil
	}
	m.frame = pooled
	return m, true, nil
}

// checkParent fails once this rank's launcher (mpirun, orted, slurmstepd) is gone: an
// orphan would run on unseen, and could write an output another run is resuming.
func (w *wire) checkParent(now monoTime) error {
	if w.ppid > 1 && now.After(w.nextParentCheck) {
		if os.Getppid() != w.ppid {
			return launcherGone(w.ppid)
		}
		w.nextParentCheck = now.Add(parentCheck)
	}
	return nil
}

// busy records traffic: a message received (got) or a send started. It reads no clock: the
// rank reads it once per round of its loop that receives nothing (idleAt), and after a
// sleep, not per message. A message counts as near (came within spinFor of the traffic
// before it) when no idle poll came between them, or when the idle polls between them,
// from the first, spanned spinFor at most.
func (w *wire) busy(got bool) {
	if got {
		near := 0
		if w.traffic || w.lastRead.Sub(w.lastBusy) <= spinFor {
			near = nearAll
		}
		w.near = (7*w.near + near) / 8
	}
	w.traffic = true
}

// idleAt records an idle poll (nothing received, nothing sent) at now: the first one after
// traffic stands for the traffic's time, for pause and for the next message's nearness.
func (w *wire) idleAt(now monoTime) {
	if w.traffic {
		w.lastBusy, w.traffic = now, false
	}
	w.lastRead = now
}

// spins reports whether waiting for the next message should spin: the recent messages
// mostly came soon enough to be caught by a spin, and the rank waits for them.
func (w *wire) spins() bool {
	if w.near < nearAll/2 {
		return false
	}
	h := w.hints.Load()
	return h == nil || !(*h).patient()
}

// yields reports whether a spinning poll should yield the core: this rank is bound to one,
// and another of its goroutines computes a chunk there.
func (w *wire) yields() bool {
	if !w.bound {
		return false
	}
	h := w.hints.Load()
	return h != nil && (*h).computing()
}

// pause is called after a round in which nothing happened, at now. While spinning it
// returns 0 (yielding the core first if that lets a computation run: yields); after that it returns
// how long to sleep: an eighth of the idle time (since the first idle poll after the last
// traffic: lastBusy), between minSleep and maxSleep. Where
// spinning does not pay (spins) it does not spin and sleeps at least sparseSleep: spinning
// after every message, and waking every few microseconds, would cost about as much CPU as
// the work itself (mw exec). The first sleep is short all the same (minSleep), so that a
// quick exchange is soon seen as one and spins again.
//
// A rank that every sender rings (bells.all) sleeps until rung, or deepSleep, when it
// would sleep otherwise; with sends in progress it sleeps minSleep. After a wake that
// brought no message it polls once more at once (Open MPI's probe looks for a match before
// it polls shared memory, so what its last poll brought in is only found by the next one),
// and if that finds nothing either, it sleeps on timers once: a message that MPI had yet
// to move when its sender rang is not slept through.
func (w *wire) pause(now monoTime, quitting bool) time.Duration {
	idle := now.Sub(w.lastBusy)
	floor := minSleep
	spins := w.spins()
	if busyPoll || (idle < spinFor && spins) {
		if w.yields() {
			syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
		}
		return 0
	}
	if idle >= minSleep && !spins {
		floor = sparseSleep
	}
	d := min(max(idle/8, floor), maxSleep)
	if w.afterWake == 2 && !quitting {
		w.afterWake = 1
		return 0
	}
	deep := w.bells.all && w.afterWake == 0
	w.afterWake = 0
	if deep {
		d = deepSleep
	}
	if quitting || len(w.pending) > 0 {
		d = minSleep
	}
	if c := time.Duration(w.sleepCap.Load()); c > 0 {
		d = min(d, c) // rung or not: Config.WakeWithin bounds every sleep
	}
	return d
}

// sleep sleeps d on k unless ready (then, with a peer that rings, a message arrived).
func (w *wire) sleep(k *waker, d time.Duration, ready func() bool) {
	waited, byPeer := k.sleep(d, ready)
	w.lastRead = monoNow() // a message found next came after the sleep
	if waited {
		w.sleeps.Add(1)
	}
	if byPeer {
		w.rung.Add(1)
		w.afterWake = 2
	}
}

// arrived reports whether a message is waiting (or MPI failed: the receive will say). It
// probes twice: Open MPI's MPI_Iprobe looks for a match before it polls the shared-memory
// queues, so a message that this poll brings in is only found by the next probe.
func (w *wire) arrived() bool {
	for range 2 {
		if ok, _, err := w.comm.Iprobe(mpi.AnySource, tag); ok || err != nil {
			return true
		}
	}
	return false
}

// boundSleep implements sleepBounder.
func (t *mpiTransport) boundSleep(d time.Duration) { t.sleepCap.Store(int64(d)) }

// setPatience implements patience.
func (t *mpiTransport) setPatience(h pollHints) {
	if h == nil {
		t.hints.Store(nil)
		return
	}
	t.hints.Store(&h)
}

// startQueued starts the sends other goroutines queued, in order, up to limit of them; it
// reports whether it started any.
func (t *mpiTransport) startQueued(limit int) (bool, error) {
	for k := 0; k < limit; k++ {
		select {
		case o := <-t.sendq:
			if err := t.w.start(o); err != nil {
				return k > 0, err
			}
		default:
			return k > 0, nil
		}
	}
	return true, nil
}

// startAllQueued starts every send other goroutines queued, and completes (and rings) as
// move does: before a collective, whose peers may be waiting for one of those messages.
func (t *mpiTransport) startAllQueued() error {
	if _, err := t.startQueued(len(t.sendq)); err != nil {
		return err
	}
	_, err := t.w.complete()
	return err
}

// move starts the sends other goroutines queued and completes those MPI is done with; it
// reports whether any send moved.
func (t *mpiTransport) move() (bool, error) {
	started, err := t.startQueued(256)
	if err != nil {
		return false, err
	}
	done, err := t.w.complete()
	return started || done, err
}

// queued reports whether another goroutine has queued a send or a call for the owner.
func (t *mpiTransport) queued() bool { return len(t.sendq) > 0 || len(t.calls) > 0 }

// readyToWake is the poll loop's check before it sleeps: a send or call queued, or a
// message from a peer that rings (one that came after the last probe).
func (t *mpiTransport) readyToWake() bool {
	// With recvq full the loop takes no message anyway: no reason not to sleep.
	return t.queued() || (t.w.bells.ringers > 0 && len(t.recvq) < cap(t.recvq) && t.w.arrived())
}

// ownedReadyToWake is readyToWake for the owned Recv, which an Interrupt also ends.
func (t *mpiTransport) ownedReadyToWake() bool {
	if t.queuedOrInterrupted() {
		return true
	}
	if t.w.bells.ringers == 0 {
		return false
	}
	t.ownedMu.Lock()
	defer t.ownedMu.Unlock()
	return t.w.arrived()
}

// queuedOrInterrupted is queued, or an Interrupt is pending (the owned Recv's sleep).
func (t *mpiTransport) queuedOrInterrupted() bool { return t.queued() || t.intr.Load() }

// poll moves messages until Close has been called and every queued send has completed.
func (t *mpiTransport) poll(comm *mpi.Communicator) error {
	w := newWire(comm, t)
	t.w = w
	quitting := false
	var deadline monoTime
	for {
		busy, err := t.move()
		if err != nil {
			return err
		}
		// Receive while the engine keeps up.
		for k := 0; k < 256 && len(t.recvq) < cap(t.recvq); k++ {
			m, ok, err := w.receive()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			t.recvq <- m
			busy = true
		}
		select {
		case f := <-t.calls:
			if err := t.call(f, w); err != nil {
				return err
			}
			busy = true
		default:
		}
		if !quitting {
			select {
			case <-t.quit:
				quitting, deadline = true, monoNow().Add(closeDeadline)
			default:
			}
		}
		now := monoNow()
		if err := w.checkParent(now); err != nil {
			return err
		}
		if quitting && len(w.pending) == 0 && len(t.sendq) == 0 {
			return nil
		}
		if quitting && now.After(deadline) {
			return fmt.Errorf("close: %d sends still pending after %v", len(w.pending), closeDeadline)
		}
		if busy {
			w.busy(false)
			continue
		}
		w.idleAt(now)
		if d := w.pause(now, quitting); d > 0 {
			w.sleep(t.k, d, t.readyToWake)
		}
	}
}

// call runs a function on the owner goroutine (a collective, or the manager's loop in
// RunOwned), after starting every send queued before it: a peer may be waiting for one of
// those messages before it enters the same collective (the setup announcement before the
// setup's MPI_Bcast). A failure recorded while it ran ends the poll loop.
func (t *mpiTransport) call(f func(*mpi.Communicator), w *wire) error {
	if err := t.startAllQueued(); err != nil {
		return err
	}
	f(w.comm)
	select {
	case <-t.failed:
		return t.fail
	default:
	}
	return nil
}

// RunOwned runs f on the goroutine that owns MPI and gives it a Transport whose Send and
// Recv move messages with MPI directly instead of handing them to the owner goroutine and
// back (two thread switches less per message). That view is meant for f's goroutine; another
// goroutine may use it too while f waits (a worker's rescue), since its calls hold a mutex,
// but only one goroutine may call its Recv at a time. Meanwhile the transport's own Send
// stays safe for any goroutine: it queues the message, and the view's Recv and Send start
// queued messages, in order, before their own.
func (t *mpiTransport) RunOwned(f func(owned Transport)) error {
	return t.onOwner(context.Background(), func(*mpi.Communicator) { f(ownedTransport{t}) })
}

// onOwner runs f on the goroutine that owns MPI, between two rounds of its poll loop, and
// returns once f has returned.
func (t *mpiTransport) onOwner(ctx context.Context, f func(*mpi.Communicator)) error {
	done := make(chan struct{})
	g := func(c *mpi.Communicator) {
		defer close(done)
		f(c)
	}
	select {
	case t.calls <- g:
		t.k.wake()
	case <-t.failed:
		return t.fail
	case <-t.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

// failOwned records an MPI failure met in owned mode; the poll loop then aborts the job at
// Close, as for a failure met in the loop itself.
func (t *mpiTransport) failOwned(err error) error {
	t.setFail(err)
	return err
}

// ownedTransport is the Transport RunOwned gives the owner goroutine.
type ownedTransport struct{ t *mpiTransport }

func (o ownedTransport) Rank() int    { return o.t.rank }
func (o ownedTransport) Size() int    { return o.t.size }
func (o ownedTransport) Host() string { return o.t.host }

// Close is the owning transport's business; the owned view cannot close it.
func (o ownedTransport) Close() error {
	return errors.New("close: the MPI transport is closed by its owner, not from RunOwned")
}

// Send starts the sends queued by other goroutines, then this one.
func (o ownedTransport) Send(ctx context.Context, to int, m Msg) error {
	t := o.t
	if to < 0 || to >= t.size {
		return fmt.Errorf("send to rank %d: no such rank (size %d)", to, t.size)
	}
	t.ownedMu.Lock()
	defer t.ownedMu.Unlock()
	if _, err := t.startQueued(len(t.sendq)); err != nil {
		return t.failOwned(err)
	}
	if err := t.w.start(outFrame{to: to, frame: frame(m)}); err != nil {
		return t.failOwned(err)
	}
	if _, err := t.w.complete(); err != nil {
		return t.failOwned(err)
	}
	t.w.busy(false) // traffic: a reply that comes soon is worth a spin (spins)
	return nil
}

// Recv polls MPI itself, starting the sends other goroutines queue meanwhile.
func (o ownedTransport) Recv(ctx context.Context) (Msg, error) {
	for {
		select {
		case m := <-o.t.recvq: // received by the poll loop before RunOwned
			return checkKind(m)
		default:
		}
		m, ok, d, err := o.pollOnce()
		if ok || err != nil {
			return m, err
		}
		if err := ctx.Err(); err != nil {
			return Msg{}, err
		}
		if o.t.intr.Load() && o.t.intr.Swap(false) { // a plain load on the empty-poll path
			return Msg{}, errInterrupted
		}
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, time.Until(dl)) // a rescue's short Recv
		}
		if d > 0 {
			o.t.w.sleep(o.t.k, d, o.t.ownedReadyToWake)
		}
	}
}

// recycleFrames implements frameRecycler.
func (o ownedTransport) recycleFrames() { o.t.w.recycled = true }

// sleeps implements sleeper.
func (o ownedTransport) sleeps() (slept, rung uint64) { return o.t.w.sleeps.Load(), o.t.w.rung.Load() }

// Interrupt implements interrupter: the owned Recv returns errInterrupted.
func (o ownedTransport) Interrupt() {
	o.t.intr.Store(true)
	o.t.k.wake()
}

// pollOnce is one round of Recv: it moves sends (move) and takes a message if there is one;
// if not, it says how long to sleep.
func (o ownedTransport) pollOnce() (m Msg, ok bool, sleep time.Duration, err error) {
	t, w := o.t, o.t.w
	t.ownedMu.Lock()
	defer t.ownedMu.Unlock()
	moved, err := t.move()
	if err != nil {
		return Msg{}, false, 0, t.failOwned(err)
	}
	m, ok, err = w.receive()
	if err != nil {
		return Msg{}, false, 0, t.failOwned(err)
	}
	if ok {
		m, err = checkKind(m)
		return m, true, 0, err
	}
	now := monoNow()
	if err := w.checkParent(now); err != nil {
		return Msg{}, false, 0, t.failOwned(err)
	}
	if moved {
		w.busy(false)
		return Msg{}, false, 0, nil
	}
	w.idleAt(now)
	return Msg{}, false, w.pause(now, false), nil
}

// Broadcast runs MPI_Bcast directly.
func (o ownedTransport) Broadcast(ctx context.Context, root int, data []byte) error {
	o.t.ownedMu.Lock()
	defer o.t.ownedMu.Unlock()
	if err := o.t.startAllQueued(); err != nil {
		return o.t.failOwned(err)
	}
	return o.t.w.comm.Bcast(data, root)
}

// checkKind turns the Kind-0 message that stands for a malformed frame into its error.
func checkKind(m Msg) (Msg, error) {
	if m.Kind == 0 {
		return Msg{}, errors.New(string(m.Data))
	}
	return m, nil
}

func (t *mpiTransport) Rank() int    { return t.rank }
func (t *mpiTransport) Size() int    { return t.size }
func (t *mpiTransport) Host() string { return t.host }

// Send queues m for rank to; it returns once queued, and fails if the transport has failed
// or is closed.
func (t *mpiTransport) Send(ctx context.Context, to int, m Msg) error {
	if to < 0 || to >= t.size {
		return fmt.Errorf("send to rank %d: no such rank (size %d)", to, t.size)
	}
	select {
	case <-t.quit:
		return ErrClosed
	default:
	}
	select {
	case t.sendq <- outFrame{to: to, frame: frame(m)}:
		t.k.wake()
		return nil
	case <-t.failed:
		return t.fail
	case <-t.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Recv returns the next message from any rank. A malformed frame is an error naming its
// sender.
func (t *mpiTransport) Recv(ctx context.Context) (Msg, error) {
	select {
	case m := <-t.recvq:
		return checkKind(m)
	case <-t.failed:
		return Msg{}, t.fail
	case <-t.done:
		return Msg{}, ErrClosed
	case <-ctx.Done():
		return Msg{}, ctx.Err()
	}
}

// Broadcast runs MPI_Bcast on the owner goroutine. Like every collective it blocks until
// the root and this rank have both entered it.
func (t *mpiTransport) Broadcast(ctx context.Context, root int, data []byte) error {
	var err error
	if oerr := t.onOwner(ctx, func(c *mpi.Communicator) { err = c.Bcast(data, root) }); oerr != nil {
		return oerr
	}
	return err
}

// Close completes the queued sends and finalizes MPI. A transport that failed aborts the
// whole job instead (MPI_Abort with code 1), so no rank is left waiting.
func (t *mpiTransport) Close() error {
	t.quitOnce.Do(func() {
		close(t.quit)
		t.k.wake()
		<-t.done
	})
	<-t.done
	return t.closeErr
}
