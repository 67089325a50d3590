//go:build !cgo

package mpitransport

import (
	"errors"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/rank"
)

// startMPI fails in a binary built without cgo: it has no MPI.
func startMPI(launch.Info) (rank.Transport, error) {
	return nil, errors.New("this mw was built without cgo, so without MPI: build it with CGO_ENABLED=1 (make build)")
}
