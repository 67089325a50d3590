package launch

import (
	"os"
	"strings"
	"testing"
)

// vars makes an environment of "NAME=value" words.
func vars(s string) func(string) string {
	m := map[string]string{}
	for _, kv := range strings.Fields(s) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

// The environments are those the launchers gave a rank here (Debian 12: Open MPI 4.1.4,
// MPICH 4.0.2, Slurm 22.05), cut to the variables that matter.
func TestFrom(t *testing.T) {
	const srunStep = "SLURM_STEP_ID=0 SLURM_NODEID=0 SLURM_STEP_NUM_NODES=1 "
	for _, tt := range []struct {
		name, env, parent string
		want              Info
	}{
		{"by hand", "HOME=/root", "bash", Info{}},
		{"mpirun", "OMPI_COMM_WORLD_RANK=1 OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_RANK=1 OMPI_COMM_WORLD_LOCAL_SIZE=2 PMIX_RANK=1",
			"mpirun.openmpi", Info{OpenMPI, 1, 2, 1, 2}},
		// mpirun in a job: Slurm's variables are the job's, not this launch's.
		{"mpirun under salloc -n 3", "OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=3 OMPI_COMM_WORLD_LOCAL_RANK=2 OMPI_COMM_WORLD_LOCAL_SIZE=3 PMIX_RANK=2 SLURM_NTASKS=3 SLURM_TASKS_PER_NODE=3",
			"mpirun.openmpi", Info{OpenMPI, 2, 3, 2, 3}},
		{"mpirun inside srun -n 1 --pty bash", "OMPI_COMM_WORLD_RANK=3 OMPI_COMM_WORLD_SIZE=4 PMIX_RANK=3 " + srunStep + "SLURM_PROCID=0 SLURM_LOCALID=0 SLURM_STEP_NUM_TASKS=1 SLURM_STEP_TASKS_PER_NODE=1",
			"orted", Info{OpenMPI, 3, 4, 0, 0}},
		{"hydra", "PMI_RANK=1 PMI_SIZE=2 MPI_LOCALRANKID=1 MPI_LOCALNRANKS=2", "hydra_pmi_proxy", Info{PMI, 1, 2, 1, 2}},
		// hydra in a job starts its proxies with srun, one task per node: every rank sees
		// SLURM_PROCID=0 of a step of 1.
		{"hydra under salloc -n 3", "MPI_LOCALNRANKS=3 MPI_LOCALRANKID=2 PMI_RANK=2 PMI_SIZE=3 " + srunStep + "SLURM_LOCALID=0 SLURM_NTASKS=3 SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=1 SLURM_STEP_TASKS_PER_NODE=1 SLURM_TASKS_PER_NODE=1",
			"hydra_pmi_proxy", Info{PMI, 2, 3, 2, 3}},
		{"hydra rank 0 under salloc -n 3", "MPI_LOCALNRANKS=3 MPI_LOCALRANKID=0 PMI_RANK=0 PMI_SIZE=3 " + srunStep + "SLURM_LOCALID=0 SLURM_NTASKS=3 SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=1 SLURM_STEP_TASKS_PER_NODE=1",
			"hydra_pmi_proxy", Info{PMI, 0, 3, 0, 3}},
		{"srun --mpi=pmi2", "PMI_JOBID=4.0 PMI_RANK=1 PMI_SIZE=2 " + srunStep + "SLURM_LOCALID=1 SLURM_NTASKS=2 SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_TASKS_PER_NODE=2 SLURM_TASKS_PER_NODE=2",
			"slurmstepd", Info{PMI, 1, 2, 1, 2}},
		{"srun --mpi=pmix", "PMIX_RANK=1 " + srunStep + "SLURM_LOCALID=1 SLURM_NTASKS=2 SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_TASKS_PER_NODE=2 SLURM_TASKS_PER_NODE=2",
			"slurmstepd", Info{PMIx, 1, 2, 1, 2}},
		{"srun -n 1 --mpi=pmix", "PMIX_RANK=0 " + srunStep + "SLURM_LOCALID=0 SLURM_NTASKS=1 SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=1 SLURM_STEP_TASKS_PER_NODE=1",
			"slurmstepd", Info{PMIx, 0, 1, 0, 1}},
		// A PMIx launcher inside `srun -n 1 --pty bash`: Slurm's step is the shell's, and its
		// rank 0 matches rank 0's by chance. Not started by slurmstepd: no size.
		{"PMIx launcher inside srun --pty bash", "PMIX_RANK=0 " + srunStep + "SLURM_LOCALID=0 SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=1 SLURM_STEP_TASKS_PER_NODE=1",
			"prted", Info{PMIx, 0, 0, 0, 0}},
		{"srun --mpi=pmix, parent unknown", "PMIX_RANK=1 " + srunStep + "SLURM_LOCALID=1 SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_TASKS_PER_NODE=2",
			"", Info{PMIx, 1, 0, 0, 0}},
		{"srun --mpi=pmix, Slurm's rank differs", "PMIX_RANK=1 " + srunStep + "SLURM_LOCALID=0 SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_TASKS_PER_NODE=2",
			"slurmstepd", Info{PMIx, 1, 0, 0, 0}},
		{"srun --mpi=pmi2, Slurm's size differs", "PMI_RANK=1 PMI_SIZE=4 " + srunStep + "SLURM_LOCALID=1 SLURM_PROCID=1 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_TASKS_PER_NODE=2",
			"slurmstepd", Info{PMI, 1, 4, 0, 0}},
		{"srun", srunStep + "SLURM_LOCALID=2 SLURM_NTASKS=3 SLURM_NTASKS_PER_NODE=3 SLURM_PROCID=2 SLURM_STEP_NUM_TASKS=3 SLURM_STEP_TASKS_PER_NODE=3 SLURM_TASKS_PER_NODE=3",
			"slurmstepd", Info{Slurm, 2, 3, 2, 3}},
		{"srun on the third of three nodes", "SLURM_STEP_ID=0 SLURM_NODEID=2 SLURM_LOCALID=0 SLURM_PROCID=8 SLURM_STEP_NUM_TASKS=9 SLURM_STEP_TASKS_PER_NODE=4(x2),1",
			"slurmstepd", Info{Slurm, 8, 9, 0, 1}},
		{"srun of a Slurm without SLURM_STEP_NUM_TASKS", srunStep + "SLURM_LOCALID=1 SLURM_NTASKS=2 SLURM_PROCID=1 SLURM_STEP_TASKS_PER_NODE=2",
			"slurmstepd", Info{Slurm, 1, 2, 1, 2}},
		// The batch script itself: SLURM_NTASKS counts the job's tasks, not a launch of this.
		{"batch script", "SLURM_LOCALID=0 SLURM_NODEID=0 SLURM_NTASKS=3 SLURM_PROCID=0 SLURM_TASKS_PER_NODE=3",
			"slurm_script", Info{Slurm, 0, 0, 0, 0}},
		{"a rank variable that is no number", "OMPI_COMM_WORLD_RANK=x PMI_RANK=2 PMI_SIZE=3", "", Info{PMI, 2, 3, 0, 0}},
		{"a negative rank", "PMI_RANK=-1 PMI_SIZE=3", "", Info{}},
		{"a size that does not hold the rank", "OMPI_COMM_WORLD_RANK=3 OMPI_COMM_WORLD_SIZE=3", "", Info{OpenMPI, 3, 0, 0, 0}},
		{"a local rank past the local size", "PMI_RANK=1 PMI_SIZE=2 MPI_LOCALRANKID=2 MPI_LOCALNRANKS=2", "", Info{PMI, 1, 2, 0, 0}},
		{"tasks per node not a list", srunStep + "SLURM_LOCALID=0 SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=2 SLURM_STEP_TASKS_PER_NODE=2(x", "slurmstepd", Info{Slurm, 0, 2, 0, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			asked := false
			parent := func() string { asked = true; return tt.parent }
			got := From(vars(tt.env), parent)
			if got != tt.want {
				t.Errorf("From = %+v, want %+v", got, tt.want)
			}
			if got.Launched() != (tt.want.By != None) {
				t.Errorf("Launched() = %v for %v", got.Launched(), got.By)
			}
			if asked && (got.By == OpenMPI || got.By == Slurm || got.By == None) {
				t.Errorf("read the parent's name for %v", got.By)
			}
		})
	}
}

func TestNth(t *testing.T) {
	for _, tt := range []struct {
		list string
		n    int
		want int
		ok   bool
	}{
		{"3", 0, 3, true},
		{"3", 1, 0, false},
		{"4(x2),3", 0, 4, true},
		{"4(x2),3", 1, 4, true},
		{"4(x2),3", 2, 3, true},
		{"4(x2),3", 3, 0, false},
		{"1,2,3", 2, 3, true},
		{"", 0, 0, false},
		{"4(x2", 0, 0, false},
		{"4(x0),3", 0, 0, false},
		{"0", 0, 0, false},
		{"a,3", 1, 0, false},
	} {
		got, ok := nth(tt.list, tt.n)
		if got != tt.want || ok != tt.ok {
			t.Errorf("nth(%q, %d) = %d, %v; want %d, %v", tt.list, tt.n, got, ok, tt.want, tt.ok)
		}
	}
}

// FromEnv reads this process's own environment: under `go test`, no launcher.
func TestFromEnv(t *testing.T) {
	for _, v := range rankVars {
		t.Setenv(v.name, "")
		os.Unsetenv(v.name)
	}
	if got := FromEnv(); got != (Info{}) {
		t.Errorf("FromEnv without a launcher = %+v", got)
	}
	t.Setenv("PMI_RANK", "1")
	t.Setenv("PMI_SIZE", "2")
	if got := FromEnv(); got != (Info{By: PMI, Rank: 1, Size: 2}) {
		t.Errorf("FromEnv with PMI_RANK=1 PMI_SIZE=2 = %+v", got)
	}
}

func TestLauncherString(t *testing.T) {
	for l, want := range map[Launcher]string{None: "none", OpenMPI: "Open MPI", PMIx: "PMIx", PMI: "PMI", Slurm: "Slurm", Launcher(9): "Launcher(9)"} {
		if got := l.String(); got != want {
			t.Errorf("%d: %q, want %q", int(l), got, want)
		}
	}
}

// TestCheck: MPI's world must be the launcher's. Measured here: MPICH under srun --mpi=pmix
// made each of 3 ranks rank 0 of 1.
func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		name       string
		i          Info
		rank, size int
		ok         bool
	}{
		{"not launched: a singleton", Info{}, 0, 1, true},
		{"the same world", Info{PMI, 2, 3, 2, 3}, 2, 3, true},
		{"PMIx says no size", Info{PMIx, 1, 0, 0, 0}, 1, 3, true},
		{"MPICH under srun --mpi=pmix, rank 1", Info{PMIx, 1, 3, 1, 3}, 0, 1, false},
		{"MPICH under srun --mpi=pmix, rank 0", Info{PMIx, 0, 3, 0, 3}, 0, 1, false},
		{"MPICH under srun without --mpi", Info{Slurm, 2, 3, 2, 3}, 0, 1, false},
	} {
		err := tt.i.Check(tt.rank, tt.size)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil {
			t.Log(err)
		}
	}
}
