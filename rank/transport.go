package rank

import (
	"errors"
	"time"
)

// Transport moves frames (byte messages) between the ranks of one job: MPI's (package
// mpitransport), an in-process network (NewInprocNet), a world of one (Solo), or the
// simulator's. It knows nothing of the engine's protocol.
//
// Concurrency contract: one goroutine, the rank's owner loop, makes every call but Wake,
// Rank, Size and Host. Own runs that loop (under MPI on the thread that started MPI, so
// that one thread makes every MPI call), and the loop calls Send, Recv, Wait and
// Broadcast from inside it; none of them blocks but Wait and the collective Broadcast.
// Wake is safe for any goroutine at any time. Close is called once, when no Own runs.
type Transport interface {
	Rank() int
	Size() int
	// Host is this rank's host name, for messages.
	Host() string
	// Own runs loop as this rank's owner loop and returns its error.
	Own(loop func() error) error
	// Send starts sending frame to rank to and returns without waiting for it to arrive.
	// The transport owns frame from then on: it gives it back to package frame once sent.
	Send(to int, frame []byte) error
	// Recv returns a frame that has arrived, if any, without waiting. The caller owns it
	// and may give it back to package frame once done with it.
	Recv() (from int, frame []byte, ok bool, err error)
	// Wait returns when a frame may have arrived, when Wake is called, or after about
	// h.Within (when not 0), whichever comes first; it may return sooner. An error means
	// the transport failed (its launcher is gone, say).
	Wait(h WaitHint) error
	// Wake makes a Wait under way, or else the next one, return at once.
	Wake()
	// Broadcast sends data from root to every rank: a collective call that every rank
	// makes at the same point of the protocol; the others pass a slice of the right length
	// and get it filled.
	Broadcast(root int, data []byte) error
	Close() error
}

// WaitHint tells a Transport's Wait what its rank is doing, so that it can choose between
// spinning and sleeping (see package mpitransport).
type WaitHint struct {
	// Within bounds the wait (0: no bound but the transport's own).
	Within time.Duration
	// Patient says that nothing waits for the next frame (every computing goroutine of a
	// worker rank has a chunk in hand): a spin for it would only take a core from them.
	Patient bool
	// Computing says that another goroutine of this rank computes a chunk: a rank bound to
	// one core yields it while spinning, so that the computation runs.
	Computing bool
}

// SleepCounter is a Transport that counts the sleeps of its Waits (MPI): how many slept,
// and how many of those a peer's ring ended (same host). Called by the owner loop.
type SleepCounter interface {
	Sleeps() (slept, rung uint64)
}

// LossNotifier is a Transport that learns of lost ranks by other means than their silence
// (the launcher's notice), and that must be told of every rank the manager takes for lost,
// so that it never waits for one: Lost returns the ranks found lost since the last call;
// Forget abandons what is pending for rank r and sends it nothing more. Called by the
// owner loop.
type LossNotifier interface {
	Lost() []int
	Forget(r int)
}

// CoreSharer is a Transport whose rank shares its node's cores with other busy processes
// (more ranks than cores; Open MPI then also gives the core away in every poll that finds
// nothing). Its owner loops then stop taking frames once one leaves them something to send
// or compute, and send before they poll again: a process that shares a core may lose it
// at any moment, and an answer not yet sent then waits for another process's time slice.
// Elsewhere they take every frame there is first, and send what those led to in fewer
// messages. Called by the owner loop.
type CoreSharer interface {
	SharesCores() bool
}

// sharesCores reports whether t is a CoreSharer whose rank shares its cores.
func sharesCores(t Transport) bool {
	c, ok := t.(CoreSharer)
	return ok && c.SharesCores()
}

// ErrClosed is returned by a Transport after Close.
var ErrClosed = errors.New("transport closed")

// costClock is a Transport with a clock of its own (the simulator's virtual one), which
// also charges the manager for its own time: managerTime is the time charged so far, up to
// the latest call into the transport. Elsewhere the owner loops read the monotonic clock.
type costClock interface {
	now() monoTime
	managerTime() time.Duration
}

// clockOf is the clock of the ranks on t.
func clockOf(t Transport) func() monoTime {
	if c, ok := t.(costClock); ok {
		return c.now
	}
	return monoNow
}

// sleepsOf reads t's sleep counts, or zeros.
func sleepsOf(t Transport) (slept, rung uint64) {
	if s, ok := t.(SleepCounter); ok {
		return s.Sleeps()
	}
	return 0, 0
}
