package rank

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// waker puts the goroutine that owns MPI to sleep for a precise time, and lets any other
// goroutine wake it at once. Go's own timers are too coarse for this (measured here: a
// 20 us time.Sleep on a locked thread takes about 1 ms), so the owner sleeps in ppoll on an
// eventfd, with its thread's timer slack lowered from 50 us to 1 us.
//
// Concurrency: sleep is called by the owner goroutine only; wake by any goroutine.
type waker struct {
	fd       int
	sleeping atomic.Bool
}

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &waker{fd: fd}, nil
}

// preciseTimers lowers the calling thread's timer slack (it must stay locked to it).
func preciseTimers() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0) }

// sleep waits up to d, or until wake is called, unless ready reports work first.
func (k *waker) sleep(d time.Duration, ready func() bool) {
	k.sleeping.Store(true)
	if !ready() { // checked after announcing the sleep, so no wake is missed
		ts := unix.NsecToTimespec(int64(d))
		fds := []unix.PollFd{{Fd: int32(k.fd), Events: unix.POLLIN}}
		if n, _ := unix.Ppoll(fds, &ts, nil); n > 0 {
			var b [8]byte
			_, _ = unix.Read(k.fd, b[:])
		}
	}
	k.sleeping.Store(false)
}

// wake ends the owner's sleep, if it sleeps.
func (k *waker) wake() {
	if k.sleeping.Load() {
		one := [8]byte{1}
		_, _ = unix.Write(k.fd, one[:])
	}
}

func (k *waker) close() { unix.Close(k.fd) }
