// Package mpimain ends the small MPI commands under cmd/ (mw-pingpong, mw-cmanager) in one
// way: the error on stderr naming the rank, the whole job taken down when this rank fails,
// MPI stopped, and an exit code.
package mpimain

import (
	"errors"
	"fmt"
	"io"

	"github.com/mw-hpc/mw/mpi"
)

// End reports err (if any) on stderr as prog's, naming this rank; when err is not nil and
// other ranks run, it aborts the job (a peer may be blocked waiting for this rank), and
// otherwise it stops MPI if it runs. It returns the exit code for main: 0 for no error, 2
// for a usage error (errors.Is(err, usage)), 1 for any other, or for a failure to stop MPI.
func End(prog string, err, usage error, stderr io.Writer) int {
	code := 0
	switch {
	case err == nil:
	case errors.Is(err, usage):
		code = 2
	default:
		code = 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s[%d]: %v\n", prog, mpi.WorldRank(), err)
	}
	if mpi.IsOn() {
		if code != 0 && mpi.WorldSize() > 1 {
			mpi.World().Abort(code)
		}
		if err := mpi.Stop(); err != nil && code == 0 {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			code = 1
		}
	}
	return code
}
