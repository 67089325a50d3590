// Package mpitransport is the engine's transport over MPI (package mpi, the only cgo): the
// owner goroutine that makes every MPI call, the polling rhythm that keeps an idle rank off
// its core, and the bells that wake ranks sharing a node. Start picks the transport for a
// process: MPI's under a launcher with peers, a world of one otherwise.
package mpitransport

import (
	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/rank"
)

// Start returns the transport for this process: MPI's when a launcher started it with
// peers, or may have; a world of one without MPI (rank.Solo) when no launcher started it,
// or rank.Alone when its launcher says the world has one rank (mpirun -np 1, srun -n 1).
// Both run the same job with the same bytes, without MPI_Init and without polling MPI.
func Start() (rank.Transport, error) {
	l := launch.FromEnv()
	switch {
	case !l.Launched():
		return rank.Solo(), nil
	case l.Size == 1:
		return rank.Alone(), nil
	}
	return startMPI(l)
}
