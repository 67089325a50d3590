//go:build cgo

package mpitransport

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/mw-hpc/mw/internal/frame"
	"github.com/mw-hpc/mw/internal/mono"
	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
	"github.com/mw-hpc/mw/rank"
)

// mpiTransport is the rank.Transport over MPI_COMM_WORLD. One goroutine, locked to its OS
// thread, makes every MPI call of the process: it starts MPI, runs the engine's owner loops
// (Own) and stops MPI. So MPI_THREAD_FUNNELED is all mw asks of MPI. Between two Owns it
// keeps completing the sends still in flight.
type mpiTransport struct {
	rank, size int
	host       string

	calls chan func() // run on the owner
	k     *waker      // ends the owner's sleep from any goroutine
	w     *wire       // the owner's MPI state

	done     chan struct{} // closed when the owner has stopped MPI
	quitOnce sync.Once
	quit     chan struct{}
	failed   error // an MPI failure: Close aborts the job (owner only)
	closeErr error
	// Ranks taken for lost: nothing goes to them, nothing waits for them, and MPI_Finalize,
	// which may wait for them, is skipped (owner only).
	forgotten   []bool
	anyLost     bool
	notices     notices // rank 0: the launcher's notice of lost ranks
	sharesCores bool    // this rank shares its node's cores with other busy processes
}

var (
	_ rank.Transport    = (*mpiTransport)(nil)
	_ rank.SleepCounter = (*mpiTransport)(nil)
	_ rank.LossNotifier = (*mpiTransport)(nil)
	_ rank.CoreSharer   = (*mpiTransport)(nil)
)

// startMPI starts MPI on a goroutine locked to its OS thread, which makes every MPI call of
// this process from then on, and returns the transport over MPI_COMM_WORLD. Outside mpirun
// it starts a singleton world of one rank. Before MPI starts it sets the shared-memory
// eager limit (see setEagerLimit).
func startMPI(l launch.Info) (rank.Transport, error) {
	t := &mpiTransport{calls: make(chan func()), done: make(chan struct{}), quit: make(chan struct{}),
		sharesCores: sharesCores(l, os.Getenv, runtime.NumCPU())}
	// The owner goroutine holds a P while it polls, and while it sleeps on its futex. When Open
	// MPI binds a rank to one core, Go sees one CPU and GOMAXPROCS is 1: polling would then
	// starve the computing goroutines for a whole scheduler time slice. And whenever every
	// other P is busy (computing goroutines; a task's vfork in mw exec), Go's sysmon takes
	// the sleeping owner's P away every 20 us, and the owner waits on a futex for one when
	// it wakes. So the owner gets a P of its own: one more than Go would use (a GOMAXPROCS the
	// user set is kept, but at least 2), and the kernel shares the cores between the threads.
	procs := runtime.GOMAXPROCS(0) + 1
	if os.Getenv("GOMAXPROCS") != "" {
		procs = max(procs-1, 2) // as Go read it (a value it refused leaves its default)
	}
	runtime.GOMAXPROCS(procs)
	if err := setEagerLimit(); err != nil {
		return nil, fmt.Errorf("start MPI: %w", err)
	}
	fenceless, err := finalizeWithoutFence(l, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("start MPI: %w", err)
	}
	k, err := newWaker()
	if err != nil {
		return nil, fmt.Errorf("start MPI: %w", err)
	}
	t.k = k
	started := make(chan error, 1)
	go t.own(started, l, fenceless)
	if err := <-started; err != nil {
		return nil, err
	}
	return t, nil
}

// own is the owner goroutine: it starts MPI, runs the calls it is given until Close, and
// stops MPI (or aborts the job after an MPI failure, since peers may wait for this rank).
// fenceless says that finalizeWithoutFence set its parameter, which MPI has read once it
// started: mw exec's tasks do not inherit it.
func (t *mpiTransport) own(started chan<- error, l launch.Info, fenceless bool) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	preciseTimers()
	defer close(t.done)
	_, err := mpi.Start(mpi.ThreadFunneled)
	if fenceless {
		os.Unsetenv("OMPI_MCA_" + asyncFinalize)
	}
	if err != nil {
		if mpi.IsOn() {
			mpi.Stop()
		}
		started <- fmt.Errorf("start MPI: %w", err)
		return
	}
	comm := mpi.World()
	t.rank, t.size = comm.Rank(), comm.Size()
	if err := l.Check(t.rank, t.size); err != nil {
		// Every rank is a world of its own: each would run the whole job, and write it.
		mpi.Stop()
		started <- fmt.Errorf("start MPI: %w", err)
		return
	}
	t.host, _ = mpi.Processor()
	if t.host == "" {
		t.host, _ = os.Hostname()
	}
	b, err := setupBells(comm, t.k)
	if err != nil {
		// No MPI_Finalize: a peer may wait in a collective this rank will not enter.
		// This process exits with the error, and the launcher ends the others.
		started <- fmt.Errorf("start MPI: %w", err)
		return
	}
	t.w = newWire(comm, b)
	t.forgotten = make([]bool, t.size)
	if noticeWanted(l, t.rank, t.size, os.Getenv) {
		t.notices.start(t.k)
	}
	started <- nil
	t.serve()
	t.notices.end()
	if t.failed != nil {
		comm.Abort(1)
	}
	if err := t.drain(); err != nil && t.closeErr == nil {
		t.closeErr = err
	}
	if t.anyLost {
		// A rank is lost: MPI_Finalize may wait for it forever (and did in 1 of 13 runs
		// under mpirun --enable-recovery). The process exits without it.
		return
	}
	if err := mpi.Stop(); err != nil && t.closeErr == nil {
		t.closeErr = err
	}
}

// serve runs the calls given to the owner until Close, completing the sends in flight
// meanwhile.
func (t *mpiTransport) serve() {
	for {
		var tick <-chan time.Time
		if len(t.w.pending) > 0 && t.failed == nil {
			tick = time.After(time.Millisecond)
		}
		select {
		case f := <-t.calls:
			f()
		case <-tick:
			if _, err := t.w.complete(); err != nil {
				t.failed = err
			}
		case <-t.quit:
			return
		}
	}
}

// drain completes the sends in flight before MPI stops, for closeDeadline at most.
func (t *mpiTransport) drain() error {
	deadline := mono.Now().Add(closeDeadline)
	for len(t.w.pending) > 0 && t.failed == nil {
		if _, err := t.w.complete(); err != nil {
			return err
		}
		if mono.Now().After(deadline) {
			return fmt.Errorf("close: %d sends still pending after %v", len(t.w.pending), closeDeadline)
		}
		time.Sleep(minSleep)
	}
	return nil
}

func (t *mpiTransport) Rank() int    { return t.rank }
func (t *mpiTransport) Size() int    { return t.size }
func (t *mpiTransport) Host() string { return t.host }

// Own runs loop on the goroutine that owns MPI.
func (t *mpiTransport) Own(loop func() error) error {
	errc := make(chan error, 1)
	select {
	case t.calls <- func() { errc <- loop() }:
	case <-t.done:
		return rank.ErrClosed
	}
	return <-errc
}

// Send starts an MPI_Isend of f to rank to (tested at once: a small one is usually done).
func (t *mpiTransport) Send(to int, f []byte) error {
	if to < 0 || to >= t.size {
		frame.Put(f)
		return fmt.Errorf("send to rank %d: no such rank (size %d)", to, t.size)
	}
	if t.failed != nil {
		frame.Put(f)
		return t.failed
	}
	err := t.fail(t.w.start(to, f))
	if t.forgotten[to] {
		t.giveUp(to) // started, never waited for: a lost rank may never take it
	}
	return err
}

// Lost implements rank.LossNotifier: the ranks the launcher reported lost since the last
// call (rank 0 under mpirun --enable-recovery; see notice.go).
func (t *mpiTransport) Lost() []int { return t.notices.take() }

// Forget implements rank.LossNotifier: the sends in flight to rank r are abandoned (their
// buffers stay MPI's), later ones are started and never waited for (the manager's last
// stop), and MPI_Finalize is skipped at Close.
func (t *mpiTransport) Forget(r int) {
	if r < 0 || r >= t.size || t.forgotten[r] {
		return
	}
	t.forgotten[r], t.anyLost = true, true
	t.giveUp(r)
}

// giveUp abandons the sends in flight to lost rank r and the receives under way from it:
// MPI keeps their requests and buffers for good (mpi.Request.Abandon).
func (t *mpiTransport) giveUp(r int) {
	for _, p := range t.w.pending {
		if p.to == r {
			p.req.Abandon()
		}
	}
	for _, p := range t.w.recvs {
		if p.from == r {
			p.req.Abandon() // nil (done) is left alone
		}
	}
	t.w.abandon(r)
}

// Recv takes a message that has arrived, if any, completing the sends in flight first.
func (t *mpiTransport) Recv() (int, []byte, bool, error) {
	if t.failed != nil {
		return 0, nil, false, t.failed
	}
	if len(t.w.pending) > 0 {
		if _, err := t.w.complete(); err != nil {
			return 0, nil, false, t.fail(err)
		}
	}
	from, f, ok, err := t.w.receive()
	return from, f, ok, t.fail(err)
}

// Wait spins or sleeps as the polling rhythm says (see wire.pause), until a message may
// have arrived, Wake is called, or h.Within passes.
func (t *mpiTransport) Wait(h rank.WaitHint) error {
	w := t.w
	w.hint = h
	if len(w.pending) > 0 {
		moved, err := w.complete()
		if err != nil {
			return t.fail(err)
		}
		if moved {
			w.busy(false)
			return nil
		}
	}
	now := mono.Now()
	if err := w.checkParent(now); err != nil {
		return t.fail(err)
	}
	w.idleAt(now)
	if d := w.pause(now, false); d > 0 {
		w.sleep(t.k, d, t.readyToWake)
	}
	return nil
}

// readyToWake is the check before a sleep: a message from a peer that rings (one that came
// after the last probe). A Wake from this process is the waker's own business.
func (t *mpiTransport) readyToWake() bool { return t.w.bells.ringers > 0 && t.w.arrived() }

// Wake ends the owner's sleep, or keeps its next one from starting.
func (t *mpiTransport) Wake() { t.k.wake() }

// Broadcast runs MPI_Bcast. Like every collective it blocks until the root and this rank
// have both entered it.
func (t *mpiTransport) Broadcast(root int, data []byte) error {
	if t.failed != nil {
		return t.failed
	}
	return t.fail(t.w.comm.Bcast(data, root))
}

// Sleeps implements rank.SleepCounter.
func (t *mpiTransport) Sleeps() (slept, rung uint64) { return t.w.sleeps.Load(), t.w.rung.Load() }

// fail records an MPI failure (nil passes through): every later call fails with it, and
// Close ends the whole job, since peers may wait for this rank forever.
func (t *mpiTransport) fail(err error) error {
	if err != nil && t.failed == nil {
		t.failed = err
	}
	return err
}

// Close completes the sends in flight and finalizes MPI. A transport that failed aborts the
// whole job instead (MPI_Abort with code 1), so no rank is left waiting.
func (t *mpiTransport) Close() error {
	t.quitOnce.Do(func() {
		close(t.quit)
		<-t.done
	})
	<-t.done
	return t.closeErr
}
