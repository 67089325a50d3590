// Package mwtest builds the mw binary once per test process and runs it, alone or under a
// real launcher, for the integration tests of every package. The launcher is the one of the
// MPI this build uses (package mpirun): Open MPI's mpirun, or under the build tag mpich
// MPICH's mpiexec.mpich; the binary is built with the same tags.
package mwtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
)

// Deadline bounds every run; a run past it is killed and fails the test.
var Deadline = 120 * time.Second

// builds are the mw binaries built in this test process, by build tags.
var builds sync.Map // string -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds the mw command once per test process, against the launcher's MPI, and
// returns its path. The binary is built without the race detector (four race-instrumented
// ranks on two cores are slow); the engine's concurrency is race-tested in process.
func Binary(t testing.TB) string {
	t.Helper()
	return BinaryFor(t, Launcher())
}

// BinaryFor builds the mw command once per test process against the MPI of launcher l
// (go build -tags l.Tags), whichever MPI this build uses, and returns its path: the tests
// that run mw under both MPIs' launchers (clustertest) take each one's binary.
func BinaryFor(t testing.TB, l mpirun.Launcher) string {
	t.Helper()
	v, _ := builds.LoadOrStore(l.Tags, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "mwtest-")
		if err != nil {
			b.err = fmt.Errorf("mw for %s: %w", l.MPI, err)
			return
		}
		b.path = filepath.Join(dir, "mw")
		cmd := exec.Command("go", "build", "-tags", l.Tags, "-o", b.path, ".")
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build -tags %q (mw for %s): %w\n%s", l.Tags, l.MPI, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Result is what a run printed and how it ended.
type Result struct {
	Stdout, Stderr []byte
	Code           int // exit code; -1 when killed at the deadline
}

// Launcher is the launcher of the MPI this build uses.
func Launcher() mpirun.Launcher { return mpirun.Current() }

// OpenMPI reports whether the launcher is Open MPI's mpirun (else MPICH's hydra).
func OpenMPI() bool { return Launcher().MPI == "Open MPI" }

// NeedOpenMPI skips t under another MPI's launcher, saying why: what the test relies on
// that only Open MPI's mpirun does.
func NeedOpenMPI(t testing.TB, why string) {
	t.Helper()
	if !OpenMPI() {
		t.Skipf("Open MPI only: under %s, %s", Launcher().MPI, why)
	}
}

// StdinLimit is the most stdin the launcher forwards to rank 0 (0: no limit). MPICH 4.0.2's
// mpiexec forwards 64 KiB, then fails ("process reading stdin too slowly; can't keep up").
func StdinLimit() int {
	if OpenMPI() {
		return 0
	}
	return 64 << 10
}

// MPIEnv is the environment the launcher needs here (Open MPI's: root, oversubscription
// allowed).
func MPIEnv() []string { return Launcher().Env(os.Environ()) }

// Job is a launch of NP ranks under the launcher, with what a test asks of it beyond them.
type Job struct {
	NP      int
	Unbound bool     // bind no rank to a core (Open MPI binds each of 2 ranks or fewer)
	Tagged  bool     // the launcher prefixes each line a rank prints with its rank
	Env     []string // NAME=value settings every rank sees
	// OpenMPI are flags that Open MPI's mpirun alone takes, left out under another
	// launcher: -q (no banner when a rank exits non-zero: hydra prints none then), --mca
	// odls_base_sigkill_timeout N (its wait from SIGTERM to SIGKILL as it ends a job:
	// hydra sends SIGKILL at once), --tag-output, ...
	OpenMPI []string
}

// Argv returns the command line that runs prog with args as j.
func (j Job) Argv(prog string, args ...string) []string {
	l := Launcher()
	o := mpirun.Options{Unbound: j.Unbound, TagOutput: j.Tagged}
	for _, kv := range j.Env {
		name, _, _ := strings.Cut(kv, "=")
		o.Export = append(o.Export, name)
	}
	argv := append([]string{l.Command}, l.Args(j.NP, o)...)
	if OpenMPI() {
		argv = append(argv, j.OpenMPI...)
	}
	return append(append(argv, prog), args...)
}

// Environ returns the launcher's environment for j.
func (j Job) Environ() []string { return append(MPIEnv(), j.Env...) }

// Cmd returns the command that runs prog with args as j, in a process group of its own
// (Open MPI's ranks, and hydra's proxies and ranks, have groups of their own), not started.
func (j Job) Cmd(prog string, args ...string) *exec.Cmd {
	argv := j.Argv(prog, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = j.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Run runs prog with args as j with stdin, and returns what it printed and its exit code.
// It fails the test if the run passes the Deadline.
func (j Job) Run(t testing.TB, stdin []byte, prog string, args ...string) Result {
	t.Helper()
	argv := j.Argv(prog, args...)
	return command(t, stdin, j.Environ(), argv[0], argv[1:]...)
}

// MPIRun runs mw args under the launcher with np ranks (more than the cores if need be)
// and stdin, and returns what it printed and its exit code. It fails the test if the run
// passes the Deadline.
func MPIRun(t testing.TB, np int, stdin []byte, args ...string) Result {
	t.Helper()
	return Job{NP: np}.Run(t, stdin, Binary(t), args...)
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
	return command(t, stdin, MPIEnv(), name, args...)
}

func command(t testing.TB, stdin []byte, env []string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var so, se bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	if stdin == nil && name == mpirun.MPICH().Command {
		// No input: hydra's stdin stays open and unread while the job runs. MPICH 4.0.2's
		// mpiexec, on reading its stdin's end, tells rank 0's proxy so; when the ranks
		// have all exited by then (a usage error), the proxy is gone and mpiexec dies of
		// SIGPIPE, losing their output (strace: write(6, ...) = -1 EPIPE, "killed by
		// SIGPIPE"; 70 of 1200 runs of mpiexec.mpich -n 2 mw selftest --bogus under load
		// with strace, 1 of 1200 without; with SIGPIPE ignored it exits 255 instead).
		// mpiexec ends with its ranks whatever its stdin does. A job given no input must
		// not read it: under MPICH it would wait until the Deadline.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatalf("stdin for %s: %v", name, err)
		}
		defer r.Close()
		defer w.Close()
		cmd.Stdin = r
	}
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

// rankVars are the variables in which the launchers tell a rank its world rank: Open MPI's
// mpirun, and MPICH's hydra or Slurm's srun --mpi=pmi2.
var rankVars = []string{mpirun.OpenMPI().RankVar, mpirun.MPICH().RankVar}

// FindRank returns the pid of a process running bin as MPI rank r (by the variable in
// which its launcher told it its rank: OMPI_COMM_WORLD_RANK, PMI_RANK), or 0 when there is
// none.
func FindRank(bin string, r int) int {
	var want [][]byte
	for _, v := range rankVars {
		want = append(want, []byte(v+"="+strconv.Itoa(r)))
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		exe, err := os.Readlink(filepath.Join(p, "exe"))
		if err != nil || exe != bin {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(p, "environ"))
		for _, kv := range bytes.Split(env, []byte{0}) {
			for _, w := range want {
				if bytes.Equal(kv, w) {
					pid, _ := strconv.Atoi(filepath.Base(p))
					return pid
				}
			}
		}
	}
	return 0
}

// NeedMPI skips an integration test in -short mode and where the launcher is missing.
func NeedMPI(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no mpirun runs")
	}
	if _, err := exec.LookPath(Launcher().Command); err != nil {
		t.Skip(Launcher().Command + " is not installed")
	}
}

// SyncBuffer is a bytes.Buffer that a command writes while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Bytes returns a copy of what was written so far.
func (b *SyncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}
