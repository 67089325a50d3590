package mpi

// WatchLost: the launcher's notice of a lost rank, where Open MPI's runtime gives one. Open
// MPI 4.1 sends no PMIx event that reaches a process (its notification is refused by PMIx's
// range check), but answers a query of the job's process table, in which a rank killed shows
// as ended a few milliseconds after its death. The PMIx library is Open MPI's own, found in
// the process with dlopen after MPI_Init: mw links no PMIx (lost.c, mw_pmix.h).

/*
#cgo linux LDFLAGS: -ldl
#cgo noescape mw_lost_poll
#cgo nocallback mw_lost_poll
#include <stdlib.h>
#include "mw_pmix.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrNoNotice is wrapped by WatchLost's error where the launcher cannot tell this process of
// lost ranks: built against another MPI than Open MPI (MPICH's hydra ends the job when a rank
// dies), Open MPI with its internal PMIx, a launcher whose PMIx server does not answer the
// query (srun --mpi=pmix).
var ErrNoNotice = errors.New("the launcher gives no notice of lost ranks")

// PMIx process states (pmix_common.h).
const (
	pmixStateUnknown    = 0  // not in the table, or ending (Open MPI's states without a PMIx name)
	pmixStateError      = 50 // this and above: ended abnormally
	pmixStateTermWOSync = 55 // exited with status 0 without MPI_Finalize
)

const (
	watchPace      = 50 // the pause between queries is at least this many times a query's time
	watchRecent    = 8  // queries whose shortest time is a query's time (one slowed down says nothing)
	watchStopGrace = 5 * time.Second
	watchWhyLength = 256
)

// lostState reports whether a rank in PMIx process state s is lost: killed by a signal,
// exited with a non-zero status, aborted, failed to start. A rank that ended with status 0,
// after MPI_Finalize or without it, is not: it had done its part (mw's workers end so after
// the manager's stop when MPI_Finalize could wait for a lost rank); one that ends so too
// early is for the caller's own protocol to notice.
func lostState(s uint8) bool { return s >= pmixStateError && s != pmixStateTermWOSync }

var watching sync.Mutex // held by the running watch: one at a time

// WatchLost starts a goroutine that asks Open MPI's runtime (this process's daemon, through
// PMIx) which ranks of the job are lost, and calls lost(r) once for each rank r found lost
// (see lostState; never for this process's own rank), on that goroutine. It asks every
// interval, or less often when queries are slow: the pause is at least 50 times the shortest
// of the last 8 queries' times, so that the runtime, which answers each query with a walk of
// the whole job, spends at most 2% of its time on them. The goroutine makes PMIx calls only, never an MPI
// call, and lost must make none either: it should record r and wake the goroutine that owns
// MPI. Only mpirun itself knows the state of every rank: a process whose daemon is an orted
// (one on another host than mpirun's) learns only of the ranks on its own host.
//
// WatchLost is called after Start and before Stop, from any goroutine; one watch runs at a
// time. Its error wraps ErrNoNotice where the launcher gives no notice (before starting, it
// asks once and needs an answer that lists this rank), or ErrNotRunning. stop, safe to call
// more than once and from any goroutine but lost, ends the watch: when it returns, lost is
// not running and will not be called again. Call it before Stop. A query that never gets an
// answer (the runtime is gone) is left behind after 5 s, without leaving PMIx.
func WatchLost(interval time.Duration, lost func(rank int)) (stop func(), err error) {
	if Implementation() != OpenMPI {
		return nil, fmt.Errorf("mpi: watch lost ranks: %w (built against %v; only Open MPI's runtime gives one)", ErrNoNotice, Implementation())
	}
	if !IsOn() {
		return nil, fmt.Errorf("mpi: watch lost ranks: %w", ErrNotRunning)
	}
	if interval <= 0 || lost == nil {
		return nil, fmt.Errorf("mpi: watch lost ranks: interval %v and a function to call: want a positive interval and a function", interval)
	}
	if !watching.TryLock() {
		return nil, errors.New("mpi: watch lost ranks: a watch is running already")
	}
	var why [watchWhyLength]C.char
	if C.mw_lost_open(&why[0], C.int(len(why))) != 0 {
		watching.Unlock()
		return nil, fmt.Errorf("mpi: watch lost ranks: %w: %s", ErrNoNotice, C.GoString(&why[0]))
	}
	size := WorldSize()
	w := &watch{self: WorldRank(), lost: lost, states: make([]byte, size), told: make([]bool, size),
		quit: make(chan struct{}), done: make(chan struct{})}
	if err := w.poll(); err != nil {
		C.mw_lost_close()
		watching.Unlock()
		return nil, err
	}
	if w.states[w.self] == pmixStateUnknown {
		C.mw_lost_close()
		watching.Unlock()
		return nil, fmt.Errorf("mpi: watch lost ranks: %w: the process table does not list this rank", ErrNoNotice)
	}
	go w.run(interval)
	return w.stop, nil
}

// watch is a running WatchLost. Its goroutine owns states, told, took and polls.
type watch struct {
	self   int
	lost   func(int)
	states []byte                     // the last query's answer, a PMIx state per rank
	told   []bool                     // ranks already reported
	took   [watchRecent]time.Duration // the last queries' times, a ring
	polls  int                        // queries made

	mu      sync.Mutex // held while lost runs; stopped under it
	stopped bool
	once    sync.Once
	quit    chan struct{} // closed by stop
	done    chan struct{} // closed when the goroutine ends
}

// run asks again and again, until stop. A failed query is retried at the next.
func (w *watch) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTimer(w.pause(interval))
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
		_ = w.poll()
		t.Reset(w.pause(interval))
	}
}

// pause is the time to the next query: interval, or watchPace times a query's time.
func (w *watch) pause(interval time.Duration) time.Duration {
	if w.polls == 0 {
		return interval
	}
	return max(interval, watchPace*slices.Min(w.took[:min(w.polls, watchRecent)]))
}

// poll asks for the process table once and reports the ranks newly lost.
func (w *watch) poll() error {
	start := time.Now()
	rc := C.mw_lost_poll((*C.uint8_t)(&w.states[0]), C.int(len(w.states)))
	w.took[w.polls%watchRecent] = time.Since(start)
	w.polls++
	if rc != 0 {
		return fmt.Errorf("mpi: watch lost ranks: %w: PMIx_Query_info_nb(process table): %s", ErrNoNotice, C.GoString(C.mw_lost_error_string(rc)))
	}
	for r, s := range w.states {
		if r != w.self && !w.told[r] && lostState(s) {
			w.told[r] = true
			w.report(r)
		}
	}
	return nil
}

// report calls lost(r) unless stop was called.
func (w *watch) report(r int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.lost(r)
	}
}

// stop ends the watch; see WatchLost.
func (w *watch) stop() {
	w.once.Do(func() {
		close(w.quit)
		select {
		case <-w.done:
			C.mw_lost_close()
			watching.Unlock()
		case <-time.After(watchStopGrace):
			// A query without an answer: the goroutine returns if one comes, and the
			// watch stays taken.
		}
		w.mu.Lock()
		w.stopped = true
		w.mu.Unlock()
	})
}
