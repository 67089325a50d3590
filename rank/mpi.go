package rank

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/mw-hpc/mw/mpi"
)

// tag is the MPI tag of every engine message (the kind travels in the frame header).
const tag = 7

// Polling: the owner goroutine never blocks inside MPI, because Open MPI busy-polls in a
// blocking receive (measured here: a rank blocked 3 s in MPI_Recv used 3.0 s of CPU, with or
// without mpi_yield_when_idle), and an idle manager would then eat a core its workers need.
// Instead it polls with MPI_Improbe: while messages flow it spins (spinIdle empty rounds,
// each yielding the CPU), then sleeps between polls for an eighth of the time it has been
// idle, between minSleep and maxSleep: a message that arrives after a quiet spell of T
// waits at most T/8 more (and at most maxSleep), while a long idle spell costs a few hundred
// wake-ups a second. Queued sends wake it at once. With sends still in progress it does not
// sleep, since some transports need MPI calls to move their data.
const (
	spinIdle      = 200
	minSleep      = 20 * time.Microsecond
	maxSleep      = 4 * time.Millisecond
	closeDeadline = 20 * time.Second
	parentCheck   = 250 * time.Millisecond
)

// busyPoll (MW_POLL=busy) never sleeps: what a blocking MPI receive costs, kept only to
// measure the difference (make bench).
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
	quit  chan struct{}
	done  chan struct{}

	failOnce sync.Once
	failed   chan struct{} // closed when the owner stops on an MPI error
	fail     error
	quitOnce sync.Once
	closeErr error
}

type outFrame struct {
	to    int
	frame []byte
}

// framePool recycles send frames of up to maxPooledFrame bytes once MPI is done with them,
// so that steady-state sends of small chunks allocate nothing.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

const maxPooledFrame = 64 << 10

func getFrame(n int) []byte {
	if n > maxPooledFrame {
		return make([]byte, n)
	}
	bp := framePool.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, n, max(n, 2*cap(*bp)))
	}
	return (*bp)[:n]
}

func putFrame(b []byte) {
	if cap(b) <= maxPooledFrame {
		framePool.Put(&b)
	}
}

var _ Transport = (*mpiTransport)(nil)

// StartMPI starts MPI on a goroutine locked to its OS thread, which makes every MPI call of
// this process from then on, and returns the transport over MPI_COMM_WORLD. It asks for
// MPI_THREAD_FUNNELED (only the thread that started MPI calls it, which is exactly this
// design) and fails if MPI grants less. Outside mpirun it starts a singleton world of one rank.
func StartMPI() (Transport, error) {
	t := &mpiTransport{
		sendq:  make(chan outFrame, 1024),
		recvq:  make(chan Msg, 4096),
		calls:  make(chan func(c *mpi.Communicator)),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	// The owner goroutine holds a P while it polls. When Open MPI binds a rank to one core,
	// Go sees one CPU and GOMAXPROCS is 1: polling would then starve the computing
	// goroutines for a whole scheduler time slice. One more P lets the kernel share the core
	// between the two threads instead, and the poller yields it (sched_yield) as it spins.
	if runtime.NumCPU() == 1 && runtime.GOMAXPROCS(0) == 1 {
		runtime.GOMAXPROCS(2)
	}
	started := make(chan error, 1)
	go t.own(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return t, nil
}

// own is the owner goroutine: it starts MPI, runs the polling loop until Close, and stops MPI.
func (t *mpiTransport) own(started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	defer close(t.done)
	_, err := mpi.Start(mpi.ThreadFunneled)
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

// poll moves messages until Close has been called and every queued send has completed.
func (t *mpiTransport) poll(comm *mpi.Communicator) error {
	type pendingSend struct {
		req   *mpi.Request
		frame []byte
	}
	var pending []pendingSend
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	idle, lastBusy := 0, time.Now()
	bound := runtime.NumCPU() == 1 // Open MPI bound this rank to one core
	quitting := false
	var deadline time.Time
	// A rank whose launcher (mpirun, orted, slurmstepd) died is an orphan that would run on
	// unseen, and could write an output another run is resuming: check the parent now and
	// then and give up when it is gone.
	ppid, nextParentCheck := os.Getppid(), time.Now()
	start := func(o outFrame) error {
		req, err := comm.Isend(o.frame, o.to, tag)
		if err != nil {
			return fmt.Errorf("send to rank %d: %w", o.to, err)
		}
		pending = append(pending, pendingSend{req, o.frame})
		return nil
	}
	for {
		busy := false
		// Start queued sends, in order.
	sends:
		for k := 0; k < 256; k++ {
			select {
			case o := <-t.sendq:
				if err := start(o); err != nil {
					return err
				}
				busy = true
			default:
				break sends
			}
		}
		// Complete sends.
		j := 0
		for _, r := range pending {
			done, err := r.req.Test()
			if err != nil {
				return err
			}
			if done {
				putFrame(r.frame)
				busy = true
			} else {
				pending[j] = r
				j++
			}
		}
		clear(pending[j:])
		pending = pending[:j]
		// Receive while the engine keeps up.
		for k := 0; k < 256 && len(t.recvq) < cap(t.recvq); k++ {
			data, st, ok, err := comm.TryRecv(nil, mpi.AnySource, tag)
			if err != nil {
				return fmt.Errorf("receive: %w", err)
			}
			if !ok {
				break
			}
			m, err := ParseFrame(st.Source, data)
			if err != nil {
				m = Msg{From: st.Source, Data: []byte(err.Error())} // Kind 0: Recv reports it
			}
			t.recvq <- m
			busy = true
		}
		select {
		case f := <-t.calls:
			if err := t.call(f, comm, start); err != nil {
				return err
			}
			busy = true
		default:
		}
		if !quitting {
			select {
			case <-t.quit:
				quitting, deadline = true, time.Now().Add(closeDeadline)
			default:
			}
		}
		if now := time.Now(); ppid > 1 && now.After(nextParentCheck) {
			if os.Getppid() != ppid {
				return fmt.Errorf("the launcher (pid %d) is gone; this rank stops", ppid)
			}
			nextParentCheck = now.Add(parentCheck)
		}
		if quitting && len(pending) == 0 && len(t.sendq) == 0 {
			return nil
		}
		if quitting && time.Now().After(deadline) {
			return fmt.Errorf("close: %d sends still pending after %v", len(pending), closeDeadline)
		}
		if busy {
			idle = 0
			lastBusy = time.Now()
			continue
		}
		// A send in progress needs MPI calls on this side to move its fragments (shared
		// memory without single-copy, TCP): keep polling, politely, until it completes.
		if idle++; idle < spinIdle || len(pending) > 0 || busyPoll {
			// Yield the CPU to other processes, not only other goroutines: with more
			// ranks than cores a spinning rank would take the core its peer needs. A
			// rank bound to one core yields to its own computing goroutines first.
			if bound {
				runtime.Gosched()
			}
			syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0)
			continue
		}
		d := min(max(time.Since(lastBusy)/8, minSleep), maxSleep)
		if quitting {
			d = minSleep
		}
		timer.Reset(d)
		select {
		case o := <-t.sendq:
			if !timer.Stop() {
				<-timer.C
			}
			if err := start(o); err != nil {
				return err
			}
			idle, lastBusy = 0, time.Now()
		case f := <-t.calls:
			if !timer.Stop() {
				<-timer.C
			}
			if err := t.call(f, comm, start); err != nil {
				return err
			}
		case <-timer.C:
		}
	}
}

// call runs a collective (Broadcast) on the owner goroutine, after starting every send
// queued before it: a peer may be waiting for one of those messages before it enters the
// same collective (the setup announcement before the setup's MPI_Bcast).
func (t *mpiTransport) call(f func(*mpi.Communicator), comm *mpi.Communicator, start func(outFrame) error) error {
	for {
		select {
		case o := <-t.sendq:
			if err := start(o); err != nil {
				return err
			}
			continue
		default:
		}
		break
	}
	f(comm)
	return nil
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
	frame := getFrame(HeaderLen + len(m.Data))
	PutHeader(frame, m)
	copy(frame[HeaderLen:], m.Data)
	select {
	case <-t.quit:
		return ErrClosed
	default:
	}
	select {
	case t.sendq <- outFrame{to: to, frame: frame}:
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
		if m.Kind == 0 {
			return Msg{}, errors.New(string(m.Data))
		}
		return m, nil
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
	errc := make(chan error, 1)
	f := func(c *mpi.Communicator) { errc <- c.Bcast(data, root) }
	select {
	case t.calls <- f:
	case <-t.failed:
		return t.fail
	case <-t.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-errc
}

// Close completes the queued sends and finalizes MPI. A transport that failed aborts the
// whole job instead (MPI_Abort with code 1), so no rank is left waiting.
func (t *mpiTransport) Close() error {
	t.quitOnce.Do(func() { close(t.quit) })
	<-t.done
	return t.closeErr
}
