// Package mwtest builds the mw binary once per test process and runs it, alone or under a
// real mpirun, for the integration tests of every package.
package mwtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Deadline bounds every run; a run past it is killed and fails the test.
var Deadline = 120 * time.Second

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds the mw command once per test process and returns its path. The binary is
// built without the race detector (four race-instrumented ranks on two cores are slow); the
// engine's concurrency is race-tested in process.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mwtest-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mw")
		args := []string{"build", "-o", binPath}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir = Root()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Result is what a run printed and how it ended.
type Result struct {
	Stdout, Stderr []byte
	Code           int // exit code; -1 when killed at the deadline
}

// MPIEnv is the environment mpirun needs here (root, oversubscription allowed).
func MPIEnv() []string {
	return append(os.Environ(),
		"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
		"OMPI_MCA_rmaps_base_oversubscribe=1",
	)
}

// MPIRun runs `mpirun -np np --oversubscribe mw args...` with stdin, and returns what it
// printed and its exit code. It fails the test if the run passes the Deadline.
func MPIRun(t testing.TB, np int, stdin []byte, args ...string) Result {
	t.Helper()
	full := append([]string{"-np", strconv.Itoa(np), "--oversubscribe", Binary(t)}, args...)
	return Command(t, stdin, "mpirun", full...)
}

// Run runs mw alone (no mpirun).
func Run(t testing.TB, stdin []byte, args ...string) Result {
	t.Helper()
	return Command(t, stdin, Binary(t), args...)
}

// Command runs any command with the MPI environment, stdin and the Deadline, killing its
// whole process group at the deadline.
func Command(t testing.TB, stdin []byte, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = MPIEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var so, se bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := Result{Stdout: so.Bytes(), Stderr: se.Bytes()}
	if ctx.Err() != nil {
		t.Fatalf("%s %v: still running after %v (hang?)\nstderr:\n%s", name, args, Deadline, se.Bytes())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// FindRank returns the pid of a process running bin as MPI rank r (by its
// OMPI_COMM_WORLD_RANK), or 0 when there is none.
func FindRank(bin string, r int) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		exe, err := os.Readlink(filepath.Join(p, "exe"))
		if err != nil || exe != bin {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(p, "environ"))
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == "OMPI_COMM_WORLD_RANK="+strconv.Itoa(r) {
				pid, _ := strconv.Atoi(filepath.Base(p))
				return pid
			}
		}
	}
	return 0
}

// NeedMPI skips an integration test in -short mode and where mpirun is missing.
func NeedMPI(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no mpirun runs")
	}
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("mpirun is not installed")
	}
}
