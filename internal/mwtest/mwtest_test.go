package mwtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestJobArgv(t *testing.T) {
	j := Job{NP: 3, Unbound: true, Tagged: true, Env: []string{"MW_POLL=timed"}, OpenMPI: []string{"-q"}}
	want := []string{"mpiexec.mpich", "-n", "3", "-prepend-rank", "/bin/mw", "selftest"}
	if OpenMPI() {
		want = []string{"mpirun", "-np", "3", "--oversubscribe", "--bind-to", "none", "--tag-output", "-x", "MW_POLL", "-q", "/bin/mw", "selftest"}
	}
	if got := j.Argv("/bin/mw", "selftest"); !slices.Equal(got, want) {
		t.Errorf("Argv: %q, want %q", got, want)
	}
	env := j.Environ()
	if env[len(env)-1] != "MW_POLL=timed" {
		t.Errorf("Environ ends with %q, want the job's setting last (it wins)", env[len(env)-1])
	}
	// What the launcher adds to this process's environment (make exports Open MPI's
	// settings to every test, whichever MPI it tests).
	if got := slices.Contains(env[len(os.Environ()):], "OMPI_ALLOW_RUN_AS_ROOT=1"); got != OpenMPI() {
		t.Errorf("Environ adds Open MPI's root permission: %v under %s", got, Launcher().MPI)
	}
}

// TestFindRank: a process of the given binary is found by the rank that either launcher's
// variable gives it, and no other rank, nor another binary, matches.
func TestFindRank(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "rank")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"OMPI_COMM_WORLD_RANK", "PMI_RANK"} {
		cmd := exec.Command(bin, "60")
		cmd.Env = append(os.Environ(), v+"=2")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		got, other, none := FindRank(bin, 2), FindRank(bin, 1), FindRank(sleep, 2)
		cmd.Process.Kill()
		cmd.Wait()
		if got != cmd.Process.Pid || other != 0 || none != 0 {
			t.Errorf("%s=2: FindRank(bin, 2) = %d (want %d), FindRank(bin, 1) = %d, FindRank(sleep, 2) = %d (want 0)",
				v, got, cmd.Process.Pid, other, none)
		}
	}
}
