//go:build cgo

package mpitransport

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mw-hpc/mw/internal/frame"
	"github.com/mw-hpc/mw/internal/mono"
	"github.com/mw-hpc/mw/mpi"
	"github.com/mw-hpc/mw/rank"
)

// tag is the MPI tag of every engine message (the record kinds travel in the frame).
const tag = 7

// Polling: the owner never blocks inside MPI, because Open MPI busy-polls in a blocking
// receive (measured here: a rank blocked 3 s in MPI_Recv used 3.0 s of CPU, with or without
// mpi_yield_when_idle), and an idle manager would then eat a core its workers need. Instead
// the owner loop polls (Recv: MPI_Improbe) and, when a round brings nothing, calls Wait: for
// spinFor after the last message it spins, then it sleeps for an eighth of the time it has
// been idle, between minSleep and maxSleep: a message that arrives after a quiet spell of T
// waits at most T/8 more (and at most maxSleep), while a long idle spell costs a few hundred
// wake-ups a second. Another goroutine of the rank wakes it at once (Wake: a result computed,
// a live source's chunk ready). With sends still in progress it sleeps only minSleep, since
// some transports need MPI calls to move their data.
//
// It spins only where spinning pays: while at least half the recent messages came within
// spinFor of the traffic before them (an exchange of short tasks, not a task farm of
// milliseconds), and while its rank waits for them (a worker whose computing goroutines all
// have a chunk in hand does not: rank.WaitHint.Patient).
//
// Ranks on one host also wake each other: each rings the peer it has just sent to (a futex
// in shared memory, see setupBells), so a rank that every sender rings sleeps until a ring
// (deepSleep at most) instead of waking on timers: an idle manager costs next to nothing,
// and a message that comes after a quiet spell is seen at once. Senders on other hosts
// cannot ring; a rank that may hear from them keeps the timed rhythm above.
//
// The spin is long enough that two ranks answering each other quickly never both fall asleep
// (the peer's sleep at that point is shorter than the spin); ranks that do not spin rely on
// the bells, or on their timers, to wake. It yields the CPU only when Open MPI bound this
// rank to one core and another goroutine computes a chunk on it (rank.WaitHint.Computing);
// with more ranks than cores Open MPI yields in every poll itself, and otherwise a yield
// only delays the next message.
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

// Receiving: a message sent eagerly (up to smallRecv bytes) arrives with the probe, in one
// call. A small one (up to copyFrame bytes) is copied out into a pooled frame of its size and
// the spare kept; a larger one keeps the spare as its buffer and a new spare comes from the
// pools. A message larger than smallRecv is received without waiting (see receive).
const (
	copyFrame  = 4 << 10
	firstSpare = 64 << 10
)

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

// wire is the owner's MPI state: the sends in flight and the polling rhythm. Only the
// goroutine that owns MPI touches it (but for the sleep counts, read by any).
type wire struct {
	comm            *mpi.Communicator
	pending         []pendingSend
	lastBusy        mono.Time // the first idle poll after the last traffic (idleAt); while traffic is true, after the traffic before
	lastRead        mono.Time // the clock at the last idle poll, or wake
	traffic         bool      // traffic since the last idle poll
	near            int       // messages that came within spinFor of the traffic before (see busy), of nearAll (moving average)
	spare           []byte    // receives the next message (see copyFrame)
	bound           bool      // Open MPI bound this rank to one core
	ppid            int
	nextParentCheck mono.Time
	hint            rank.WaitHint // what the owner loop said at its last Wait
	bells           bells
	afterWake       int            // polls left before a deep sleep: 2 after a wake, 0 once a message came
	sleeps, rung    atomic.Uint64  // sleeps that waited, and those a peer's ring ended (Stats)
	tested          []int          // complete's peers to ring, reused
	spareReqs       []*mpi.Request // done, for start to use again
	recvs           []pendingRecv  // large messages being received, and those behind them
}

func newWire(comm *mpi.Communicator, b bells) *wire {
	now := mono.Now()
	return &wire{comm: comm, lastBusy: now, lastRead: now, near: nearAll, bound: runtime.NumCPU() == 1, ppid: os.Getppid(),
		nextParentCheck: now, bells: b}
}

// start begins sending a frame, and tests it at once in the same call (a small message is
// usually done then: its frame is recycled and its peer rung). The sends still in flight are
// tested, and their peers rung, by complete.
func (w *wire) start(to int, f []byte) error {
	req := w.request()
	done, err := w.comm.IsendTest(req, f, to, tag)
	w.busy(false)
	if err != nil {
		w.spareReqs = append(w.spareReqs, req) // done: IsendTest released it
		return fmt.Errorf("send to rank %d: %w", to, err)
	}
	if done {
		w.sent(req, f)
		w.bells.ring(to)
		return nil
	}
	w.pending = append(w.pending, pendingSend{req: req, frame: f, to: to})
	return nil
}

// sent recycles the frame and the request of a send MPI is done with.
func (w *wire) sent(req *mpi.Request, f []byte) {
	frame.Put(f)
	w.spareReqs = append(w.spareReqs, req)
}

// complete tests the sends in flight and recycles the frames of those done. Then it rings
// the peer of every send it tested: Open MPI queues a message it cannot place at once (its
// peer's queue full, or a large one's second part) and moves it in some later call, which
// may be any of these tests.
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

// abandon drops the sends in flight to rank r from the ones complete and drain wait for,
// and the receives under way from r: r is lost, and a send to it over TCP, or a large
// message from it, never completes. Their requests and buffers stay MPI's for good.
func (w *wire) abandon(r int) {
	w.pending = slices.DeleteFunc(w.pending, func(p pendingSend) bool { return p.to == r })
	w.recvs = slices.DeleteFunc(w.recvs, func(p pendingRecv) bool { return p.from == r })
}

// receive takes one message if one is there, and records it as traffic (busy). A small one
// (sent eagerly: its data came with it) is received at once; a large one is started
// (MPI_Imrecv) and comes out of a later call once complete, since its data comes from its
// sender, and a blocking receive of it would wait for ever on a sender that died. A message
// from a source whose earlier one is still coming waits behind it: each sender's messages
// come out in the order sent.
func (w *wire) receive() (from int, data []byte, ok bool, err error) {
	if from, data, ok, err = w.nextRecv(); ok || err != nil {
		return from, data, ok, err
	}
	if w.spare == nil {
		w.spare = frame.Get(firstSpare)
	}
	data, st, held, ok, err := w.comm.TryRecvSmall(w.spare[:cap(w.spare)], smallRecv, mpi.AnySource, tag)
	if err != nil {
		return 0, nil, false, fmt.Errorf("receive: %w", err)
	}
	if !ok {
		return 0, nil, false, nil
	}
	w.busy(true)
	w.afterWake = 0
	if held != nil {
		return w.startRecv(st.Source, held)
	}
	if len(data) <= copyFrame {
		data = append(frame.Get(len(data))[:0], data...)
	} else {
		w.spare = frame.Get(cap(w.spare))
	}
	if w.behind(st.Source) {
		w.recvs = append(w.recvs, pendingRecv{from: st.Source, data: data})
		return w.nextRecv()
	}
	return st.Source, data, true, nil
}

// smallRecv is the largest message received at once (TryRecvSmall): Open MPI's
// shared-memory eager limit as mw sets it.
const smallRecv = 32 << 10

// pendingRecv is a large message being received (req not nil), or a message received
// behind one from the same source, waiting its turn.
type pendingRecv struct {
	from int
	req  *mpi.Request
	data []byte
}

// startRecv starts receiving held message m from rank from.
func (w *wire) startRecv(from int, m *mpi.Message) (int, []byte, bool, error) {
	buf := frame.Get(m.Count)
	req := w.request()
	done, err := w.comm.StartRecv(m, buf, req)
	if err != nil {
		return 0, nil, false, fmt.Errorf("receive: %w", err)
	}
	p := pendingRecv{from: from, req: req, data: buf}
	if done {
		p.req = nil
		w.spareReqs = append(w.spareReqs, req)
	}
	w.recvs = append(w.recvs, p)
	return w.nextRecv()
}

// request returns a done request to use again, or a new one.
func (w *wire) request() *mpi.Request {
	if n := len(w.spareReqs); n > 0 {
		r := w.spareReqs[n-1]
		w.spareReqs = w.spareReqs[:n-1]
		return r
	}
	return new(mpi.Request)
}

// behind reports whether a message from rank from waits for an earlier one still coming.
func (w *wire) behind(from int) bool {
	for _, p := range w.recvs {
		if p.from == from {
			return true
		}
	}
	return false
}

// nextRecv tests the receives under way and returns the first message complete that no
// earlier one from its source holds back.
func (w *wire) nextRecv() (int, []byte, bool, error) {
	if len(w.recvs) == 0 {
		return 0, nil, false, nil
	}
	for i := range w.recvs {
		p := &w.recvs[i]
		if p.req == nil {
			continue
		}
		done, err := p.req.Test()
		if err != nil {
			return 0, nil, false, fmt.Errorf("receive from rank %d: %w", p.from, err)
		}
		if done {
			w.spareReqs = append(w.spareReqs, p.req)
			p.req = nil
		}
	}
	for i, p := range w.recvs {
		if p.req == nil && !slices.ContainsFunc(w.recvs[:i], func(q pendingRecv) bool { return q.from == p.from }) {
			w.recvs = slices.Delete(w.recvs, i, i+1)
			return p.from, p.data, true, nil
		}
	}
	return 0, nil, false, nil
}

// checkParent fails once this rank's launcher (mpirun, orted, slurmstepd) is gone: an
// orphan would run on unseen, and could write an output another run is resuming.
func (w *wire) checkParent(now mono.Time) error {
	if w.ppid > 1 && now.After(w.nextParentCheck) {
		if os.Getppid() != w.ppid {
			return rank.LauncherGone(w.ppid)
		}
		w.nextParentCheck = now.Add(parentCheck)
	}
	return nil
}

// busy records traffic: a message received (got) or a send started. It reads no clock: the
// rank reads it once per Wait (idleAt), and after a sleep, not per message. A message counts
// as near (came within spinFor of the traffic before it) when no idle poll came between
// them, or when the idle polls between them, from the first, spanned spinFor at most.
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
func (w *wire) idleAt(now mono.Time) {
	if w.traffic {
		w.lastBusy, w.traffic = now, false
	}
	w.lastRead = now
}

// spins reports whether waiting for the next message should spin: the recent messages
// mostly came soon enough to be caught by a spin, and the rank waits for them.
func (w *wire) spins() bool { return w.near >= nearAll/2 && !w.hint.Patient }

// yields reports whether a spinning poll should yield the core: this rank is bound to one,
// and another of its goroutines computes a chunk there.
func (w *wire) yields() bool { return w.bound && w.hint.Computing }

// pause is called when a round of the owner loop found nothing to do, at now. While
// spinning it returns 0 (yielding the core first if that lets a computation run: yields);
// after that it returns how long to sleep: an eighth of the idle time (since the first idle
// poll after the last traffic: lastBusy), between minSleep and maxSleep. Where spinning
// does not pay (spins) it does not spin and sleeps at least sparseSleep: spinning after
// every message, and waking every few microseconds, would cost about as much CPU as the
// work itself (mw exec). The first sleep is short all the same (minSleep), so that a quick
// exchange is soon seen as one and spins again.
//
// A rank that every sender rings (bells.all) sleeps until rung, or deepSleep, when it
// would sleep otherwise; with sends in progress it sleeps minSleep. After a wake that
// brought no message it polls once more at once (Open MPI's probe looks for a match before
// it polls shared memory, so what its last poll brought in is only found by the next one),
// and if that finds nothing either, it sleeps on timers once: a message that MPI had yet
// to move when its sender rang is not slept through. The hint's Within bounds every sleep.
func (w *wire) pause(now mono.Time, quitting bool) time.Duration {
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
	if quitting || len(w.pending) > 0 || len(w.recvs) > 0 {
		d = minSleep
	}
	if c := w.hint.Within; c > 0 {
		d = min(d, c) // rung or not: the owner loop's bound holds
	}
	return d
}

// sleep sleeps d on k unless ready (then, with a peer that rings, a message arrived).
func (w *wire) sleep(k *waker, d time.Duration, ready func() bool) {
	waited, byPeer := k.sleep(d, ready)
	w.lastRead = mono.Now() // a message found next came after the sleep
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
