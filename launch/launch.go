// Package launch reads what the launcher of this process (Open MPI's mpirun, MPICH's
// mpiexec, srun, a PMI or PMIx launcher) told it in its environment, before MPI starts:
// which rank it is, of how many, which rank on its node of how many, and whether a launcher
// started it at all. It is pure Go and needs no MPI.
//
// The launchers' variables, as measured on Debian 12 (Open MPI 4.1.4, MPICH 4.0.2's hydra,
// Slurm 22.05):
//
//	Open MPI mpirun  OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE (and PMIX_RANK)
//	MPICH hydra      PMI_RANK, PMI_SIZE, MPI_LOCALRANKID, MPI_LOCALNRANKS
//	srun --mpi=pmi2  PMI_RANK, PMI_SIZE, and Slurm's
//	srun --mpi=pmix  PMIX_RANK (no size), and Slurm's
//	srun             SLURM_PROCID, SLURM_STEP_NUM_TASKS (SLURM_NTASKS), SLURM_LOCALID,
//	                 SLURM_NODEID, SLURM_STEP_TASKS_PER_NODE such as "4(x2),3"
//
// Slurm's variables are also seen by processes that another launcher started inside a
// Slurm job (mpirun's ranks, hydra's, which hydra starts through a Slurm step of one task
// per node), where they describe another step. So the launcher whose rank variable comes
// first in the list above decides, and Slurm's variables describe this launch only when
// Slurm is that launcher, or when Slurm started this process itself (its parent is
// slurmstepd: srun --mpi=pmix, srun --mpi=pmi2) and agrees on the rank.
package launch

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Launcher is the kind of launcher whose variables say this process's rank.
type Launcher int

// The launchers, in the order their rank variables decide.
const (
	None    Launcher = iota // no launcher: a process started by hand
	OpenMPI                 // Open MPI's mpirun or prterun (OMPI_COMM_WORLD_RANK)
	PMIx                    // a PMIx launcher other than Open MPI's: srun --mpi=pmix (PMIX_RANK)
	PMI                     // a PMI launcher: MPICH's mpiexec (hydra), srun --mpi=pmi2 (PMI_RANK)
	Slurm                   // srun, without PMI (SLURM_PROCID)
)

// String names the launcher as its variables do: "none", "Open MPI", "PMIx", "PMI", "Slurm".
func (l Launcher) String() string {
	switch l {
	case OpenMPI:
		return "Open MPI"
	case PMIx:
		return "PMIx"
	case PMI:
		return "PMI"
	case Slurm:
		return "Slurm"
	case None:
		return "none"
	}
	return "Launcher(" + strconv.Itoa(int(l)) + ")"
}

// Info is what the launcher said. A count of 0 means it did not say.
type Info struct {
	By        Launcher // None when no launcher started this process
	Rank      int      // this process's rank in the world (0 when not launched)
	Size      int      // ranks in the world; 0 when not said (PMIx does not say)
	LocalRank int      // this process's rank among the ranks on its node (0 when not said)
	LocalSize int      // ranks on this process's node; 0 when not said
}

// Launched reports whether a launcher started this process.
func (i Info) Launched() bool { return i.By != None }

// Check returns an error unless the world MPI_Init made (this process's rank and the
// world's size, as MPI says them) is the one the launcher started. It is not where the
// launcher speaks a process management interface the MPI library does not: MPICH under
// srun --mpi=pmix or srun without --mpi starts every rank alone, in a world of one, each
// running the whole job (Open MPI refuses to start there instead).
func (i Info) Check(rank, size int) error {
	if !i.Launched() || i.Rank == rank && (i.Size == 0 || i.Size == size) {
		return nil
	}
	of := ""
	if i.Size > 0 {
		of = " of " + strconv.Itoa(i.Size)
	}
	return fmt.Errorf("MPI says this process is rank %d of %d, but %v started it as rank %d%s: "+
		"the MPI library does not speak this launcher's process management interface "+
		"(under srun: --mpi=pmix for Open MPI, --mpi=pmi2 for MPICH)", rank, size, i.By, i.Rank, of)
}

// FromEnv reads this process's environment (and, when Slurm's variables are there beside
// another launcher's, the name of its parent process). Safe from any goroutine, as
// os.Getenv is; it reads the environment anew at each call.
func FromEnv() Info { return From(os.Getenv, parentName) }

// The rank variable of each launcher, in the order they decide.
var rankVars = []struct {
	by   Launcher
	name string
}{
	{OpenMPI, "OMPI_COMM_WORLD_RANK"},
	{PMIx, "PMIX_RANK"},
	{PMI, "PMI_RANK"},
	{Slurm, "SLURM_PROCID"},
}

// From is FromEnv with the environment read through getenv, and parent returning the
// name of the parent process (as /proc/PPID/comm has it) or "" when unknown.
func From(getenv func(string) string, parent func() string) Info {
	e := env(getenv)
	var i Info
	for _, v := range rankVars {
		if r, ok := e.count(v.name, 0); ok {
			i = Info{By: v.by, Rank: r}
			break
		}
	}
	switch i.By {
	case None:
		return i
	case OpenMPI:
		i.Size = e.size("OMPI_COMM_WORLD_SIZE", i.Rank)
		i.LocalRank, i.LocalSize = e.local("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE")
	case PMI:
		i.Size = e.size("PMI_SIZE", i.Rank)
		i.LocalRank, i.LocalSize = e.local("MPI_LOCALRANKID", "MPI_LOCALNRANKS")
	}
	if i.By == Slurm || i.By != OpenMPI && i.LocalSize == 0 && e.slurmStarted(i.Rank, parent) {
		s := e.slurm(i.Rank)
		if i.Size == 0 || i.Size == s.Size {
			i.Size, i.LocalRank, i.LocalSize = s.Size, s.LocalRank, s.LocalSize
		}
	}
	return i
}

// env reads numbers from the environment.
type env func(string) string

// count returns the value of name when it is a whole number of at least min.
func (e env) count(name string, min int) (int, bool) {
	n, err := strconv.Atoi(e(name))
	if err != nil || n < min {
		return 0, false
	}
	return n, true
}

// size returns the world size in name, or 0 unless it holds rank.
func (e env) size(name string, rank int) int {
	if n, ok := e.count(name, rank+1); ok {
		return n
	}
	return 0
}

// local returns the local rank and size in rankName and sizeName, or 0, 0 unless they
// are consistent.
func (e env) local(rankName, sizeName string) (rank, size int) {
	r, okr := e.count(rankName, 0)
	n, okn := e.count(sizeName, r+1)
	if !okr || !okn {
		return 0, 0
	}
	return r, n
}

// slurmStarted reports whether Slurm started this process itself, as rank: its parent is
// slurmstepd, and Slurm's rank is the launcher's.
func (e env) slurmStarted(rank int, parent func() string) bool {
	r, ok := e.count("SLURM_PROCID", 0)
	return ok && r == rank && e("SLURM_STEP_ID") != "" && parent != nil && parent() == "slurmstepd"
}

// slurm reads Slurm's step variables for rank: the step's size (SLURM_STEP_NUM_TASKS, or
// SLURM_NTASKS in a step of a Slurm that lacks it; neither in a batch script, whose
// SLURM_NTASKS counts the job's tasks), and the rank and size on this node.
func (e env) slurm(rank int) Info {
	var i Info
	i.Size = e.size("SLURM_STEP_NUM_TASKS", rank)
	if i.Size == 0 && e("SLURM_STEP_NUM_TASKS") == "" && e("SLURM_STEP_ID") != "" {
		i.Size = e.size("SLURM_NTASKS", rank)
	}
	node, ok := e.count("SLURM_NODEID", 0)
	if !ok {
		return i
	}
	perNode, ok := nth(e("SLURM_STEP_TASKS_PER_NODE"), node)
	if !ok {
		return i
	}
	if r, ok := e.count("SLURM_LOCALID", 0); ok && r < perNode {
		i.LocalRank, i.LocalSize = r, perNode
	}
	return i
}

// nth returns the n-th count (from 0) of a Slurm list of counts per node, such as
// "4(x2),3" for 4, 4, 3.
func nth(list string, n int) (int, bool) {
	if list == "" {
		return 0, false
	}
	for _, item := range strings.Split(list, ",") {
		count, times := item, "1"
		if c, rest, ok := strings.Cut(item, "(x"); ok {
			count, times, ok = c, strings.TrimSuffix(rest, ")"), strings.HasSuffix(rest, ")")
			if !ok {
				return 0, false
			}
		}
		c, err1 := strconv.Atoi(count)
		k, err2 := strconv.Atoi(times)
		if err1 != nil || err2 != nil || c < 1 || k < 1 {
			return 0, false
		}
		if n < k {
			return c, true
		}
		n -= k
	}
	return 0, false
}

// parentName is the name of this process's parent, as the kernel has it, or "".
func parentName() string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(os.Getppid()) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
