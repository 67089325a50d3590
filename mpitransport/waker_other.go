//go:build !linux && cgo

package mpitransport

import (
	"time"

	"github.com/mw-hpc/mw/mpi"
)

// waker lets other goroutines end the MPI owner's sleep (see waker_linux.go). This portable
// version sleeps on a Go timer, whose resolution may be coarse.
type waker struct{ c chan struct{} }

func newWaker() (*waker, error) { return &waker{c: make(chan struct{}, 1)}, nil }

func preciseTimers() {}

func (k *waker) sleep(d time.Duration, ready func() bool) (waited, byPeer bool) {
	if ready() {
		return false, false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-k.c:
	case <-t.C:
	}
	return true, false
}

func (k *waker) wake() {
	select {
	case k.c <- struct{}{}:
	default:
	}
}

// bell rings nothing here: ranks wake on timers alone.
type bell struct{}

func (bell) ring() {}

// setupBells shares nothing here (see waker_linux.go).
func setupBells(*mpi.Communicator, *waker) (bells, error) { return bells{}, nil }
