//go:build cgo

package mpitransport

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

// noticeInterval is how often rank 0 asks Open MPI's runtime for lost ranks: a killed worker
// is known within about this much. mpi.WatchLost stretches it on large jobs, where a query
// takes long.
const noticeInterval = 250 * time.Millisecond

// noticeWanted reports whether rank rank of a world of size, started as l, watches for the
// launcher's notice of lost ranks: rank 0 (the manager) of a job of workers, started by Open
// MPI's mpirun with recovery on (in which a rank's death leaves the others running; without
// it, mpirun ends the job), in a build for Open MPI. Whether the notice really comes is
// mpi.WatchLost's to find out (Open MPI's own PMIx library, a runtime that answers).
func noticeWanted(l launch.Info, rank, size int, getenv func(string) string) bool {
	return rank == 0 && size > 1 && l.By == launch.OpenMPI && mpi.Implementation() == mpi.OpenMPI &&
		recoveryOn(getenv("OMPI_MCA_orte_enable_recovery"))
}

// recoveryOn reports whether v, the value of Open MPI's MCA parameter orte_enable_recovery,
// is true: mpirun --enable-recovery (or --mca orte_enable_recovery 1) gives it to the ranks
// as OMPI_MCA_orte_enable_recovery=1. A value set only in a parameter file is not seen: then
// silence alone finds a lost worker.
func recoveryOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on", "enabled":
		return true
	}
	return false
}

// asyncFinalize is Open MPI's parameter that drops MPI_Finalize's fence.
const asyncFinalize = "async_mpi_finalize"

// finalizeWithoutFence makes MPI_Finalize skip its fence across all ranks when mpirun runs
// with recovery on (l and getenv as in noticeWanted), and reports whether it set the
// parameter (mpi.SetParamDefault; the environment's own value wins). A worker lost after
// the manager's stop went out is not named in the stop, and the others' MPI_Finalize would
// wait for it for ever. mw's end needs no fence: a worker's results come before its answer
// to the stop, the manager ends once every worker answered or is lost, and each rank
// completes its sends before MPI stops. Call it before MPI starts.
func finalizeWithoutFence(l launch.Info, getenv func(string) string) (bool, error) {
	if l.By != launch.OpenMPI || !recoveryOn(getenv("OMPI_MCA_orte_enable_recovery")) {
		return false, nil
	}
	return mpi.SetParamDefault(asyncFinalize, "1")
}

// notices keeps the ranks the launcher reported lost until the owner loop takes them. The
// watch's goroutine adds (add); the owner loop takes (take) and ends the watch (end).
type notices struct {
	any   atomic.Bool // ranks wait: take locks only then
	mu    sync.Mutex
	ranks []int
	stop  func() // ends the watch; nil when none runs (owner only)
}

// start begins the watch, which wakes the owner through k at each notice. Where the launcher
// gives no notice it does nothing: silence alone then finds a lost worker.
func (n *notices) start(k *waker) {
	stop, err := mpi.WatchLost(noticeInterval, func(r int) {
		n.add(r)
		k.wake()
	})
	if err == nil {
		n.stop = stop
	}
}

// add records rank r, reported lost (the watch's goroutine).
func (n *notices) add(r int) {
	n.mu.Lock()
	n.ranks = append(n.ranks, r)
	n.any.Store(true)
	n.mu.Unlock()
}

// take returns the ranks reported since the last call.
func (n *notices) take() []int {
	if !n.any.Load() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	rs := n.ranks
	n.ranks = nil
	n.any.Store(false)
	return rs
}

// end stops the watch, before MPI stops.
func (n *notices) end() {
	if n.stop != nil {
		n.stop()
		n.stop = nil
	}
}
