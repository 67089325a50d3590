package rank

import (
	"errors"
	"fmt"
	"os"
)

// Solo returns the Transport of a world of one rank without MPI, for a process that no
// launcher started or that its launcher says is alone (see Start): Run then computes
// everything on rank 0, with the same bytes as any other world, but start-up skips
// MPI_Init (a singleton Open MPI world starts a daemon first: about 0.4 s here) and no
// goroutine polls MPI.
func Solo() Transport {
	host, _ := os.Hostname()
	return solo{host: host}
}

type solo struct {
	host     string
	launcher int // the launcher's pid when one started this process (Start), else 0
}

func (solo) Rank() int      { return 0 }
func (solo) Size() int      { return 1 }
func (s solo) Host() string { return s.host }
func (solo) Close() error   { return nil }

// Own runs loop: a world of one has no thread to own.
func (solo) Own(loop func() error) error { return loop() }

// Send fails: there is no other rank.
func (solo) Send(to int, _ []byte) error {
	return fmt.Errorf("send to rank %d: no such rank (size 1)", to)
}

// Recv fails at once: no message can ever come.
func (solo) Recv() (int, []byte, bool, error) {
	return 0, nil, false, errors.New("receive: a world of one rank has no one to receive from")
}

// Wait returns at once: nothing will arrive.
func (solo) Wait(WaitHint) error { return nil }

// Wake does nothing: Wait never waits.
func (solo) Wake() {}

// Broadcast from rank 0 to a world of one leaves data as it is.
func (solo) Broadcast(root int, _ []byte) error {
	if root != 0 {
		return fmt.Errorf("broadcast from rank %d: no such rank (size 1)", root)
	}
	return nil
}

// Alone returns the Transport of a process that its launcher started as the only rank of
// its world (mpirun -np 1, srun -n 1): as Solo, but the run stops once the launcher, the
// process's parent, is gone, as an MPI rank's does.
func Alone() Transport {
	return solo{host: Solo().Host(), launcher: os.Getppid()}
}
