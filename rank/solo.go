package rank

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Start returns the transport for this process: MPI's (StartMPI) when a launcher started
// it with peers, or may have; a world of one without MPI (Solo) when no launcher started
// it, or its launcher says the world has one rank (mpirun -np 1, srun -n 1). Solo runs
// the same job with the same bytes, without MPI_Init and without polling MPI.
func Start() (Transport, error) {
	_, launched := Launcher()
	switch {
	case !launched:
		return Solo(), nil
	case LauncherSize() == 1:
		// Like an MPI rank, it stops once its launcher is gone (see runAlone).
		return solo{host: Solo().Host(), launcher: os.Getppid()}, nil
	}
	return StartMPI()
}

// LauncherSize returns the number of ranks the launcher that started this process says
// the world has, or 0 when it does not say (or no launcher started it). It reads the
// variable of the same launcher as Launcher's rank: mpirun's ranks inside a Slurm job
// also see Slurm's variables, which describe another step.
func LauncherSize() int {
	size := func(v string) int {
		n, err := strconv.Atoi(os.Getenv(v))
		if err != nil || n < 1 {
			return 0
		}
		return n
	}
	switch {
	case os.Getenv("OMPI_COMM_WORLD_RANK") != "":
		return size("OMPI_COMM_WORLD_SIZE")
	case os.Getenv("PMIX_RANK") != "":
		// PMIx says no size in the environment; Slurm's variables there may belong to an
		// enclosing step (srun --pty bash), not to this launch.
		return 0
	case os.Getenv("PMI_RANK") != "":
		return size("PMI_SIZE")
	case os.Getenv("SLURM_PROCID") != "":
		return size("SLURM_STEP_NUM_TASKS")
	}
	return 0
}

// Launcher returns this process's rank as its launcher (mpirun, srun, a PMI launcher)
// tells it before MPI starts, and whether a launcher started it at all.
func Launcher() (rank int, launched bool) {
	for _, v := range []string{"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"} {
		if s := os.Getenv(v); s != "" {
			if r, err := strconv.Atoi(s); err == nil {
				return r, true
			}
		}
	}
	return 0, false
}

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

// Send fails: there is no other rank.
func (solo) Send(_ context.Context, to int, _ Msg) error {
	return fmt.Errorf("send to rank %d: no such rank (size 1)", to)
}

// Recv fails at once: no message can ever come.
func (solo) Recv(context.Context) (Msg, error) {
	return Msg{}, errors.New("receive: a world of one rank has no one to receive from")
}

// Broadcast from rank 0 to a world of one leaves data as it is.
func (solo) Broadcast(_ context.Context, root int, _ []byte) error {
	if root != 0 {
		return fmt.Errorf("broadcast from rank %d: no such rank (size 1)", root)
	}
	return nil
}
