// Package mpitest runs a package's MPI tests under a real launcher: Open MPI's mpirun, or
// under the build tag mpich (which builds package mpi against MPICH) MPICH's mpiexec.mpich
// (see package mpirun).
//
// A package with MPI tests has three parts:
//
//	func TestMain(m *testing.M) { os.Exit(mpitest.Main(m)) }
//
//	// An inner test: runs only inside the ranks that mpitest.Run starts.
//	func TestMPISendRecv(t *testing.T) {
//		mpitest.Inner(t)
//		w := mpi.World()
//		...
//	}
//
//	// An outer test: starts the ranks, in the ordinary `go test` process.
//	func TestUnderMpirun(t *testing.T) {
//		for _, np := range []int{2, 3, 4} {
//			t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) { mpitest.Run(t, np, "TestMPI.*") })
//		}
//	}
//
// Run launches this same test binary under `mpirun -np N` (or mpiexec.mpich -n N) with MW_MPITEST=1 and a pattern that
// selects the inner tests; every rank runs every selected test, in the same order.
//
// # Threads
//
// MPI is started once per rank, by Main, before the tests run, and stopped after. Go runs each
// test on a goroutine of its own, so the MPI calls of a rank's tests come from several
// goroutines and OS threads, one after the other. Main therefore asks for
// mpi.ThreadSerialized, which allows exactly that: any thread may call MPI, never two at
// once. Tests run one at a time (Run passes -test.parallel=1, and inner tests must not use
// t.Parallel), and Inner locks each test's goroutine to its OS thread while it runs, so within
// a test every call comes from one thread, as in production.
//
// The alternative, one locked goroutine executing closures sent to it, would let Main ask for
// only mpi.ThreadFunneled, but t.Fatal inside such a closure would end that goroutine and its
// thread (and MPI with it), and every test would have to be written around the closures.
//
// # Failures
//
// A test that fails on any rank aborts the whole job (MPI_Abort in Inner's cleanup), so peers
// blocked waiting for the failed rank end at once and mpirun exits non-zero, which fails the
// outer test with every rank's output. A rank that hangs is ended by the inner -test.timeout
// (with goroutine dumps) or, failing that, by Run's deadline.
package mpitest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

const (
	// envInner is set to 1 in the ranks Run starts.
	envInner = "MW_MPITEST"
	// envTimeout overrides DefaultTimeout, as a Go duration such as "2m".
	envTimeout = "MW_MPITEST_TIMEOUT"
)

// DefaultTimeout is how long Run lets mpirun run before killing it, unless MW_MPITEST_TIMEOUT
// (a Go duration) says otherwise or the test's own deadline comes sooner.
const DefaultTimeout = 60 * time.Second

// Under reports whether an MPI launcher started this process (see package launch): mpirun,
// mpiexec, a PMI or PMIx launcher; not Slurm alone, whose variables a batch script (and a
// go test run from it) sees too.
func Under() bool {
	l := launch.FromEnv()
	return l.Launched() && l.By != launch.Slurm
}

// inner reports whether this process is a rank started by Run.
func inner() bool { return os.Getenv(envInner) == "1" }

var granted mpi.ThreadLevel

// Granted returns the thread level MPI granted to Main's mpi.Start in this rank.
func Granted() mpi.ThreadLevel { return granted }

// Main runs the tests of m and returns the exit code for os.Exit, for use in TestMain. In a
// rank started by Run, it first starts MPI with mpi.ThreadSerialized on a goroutine locked to
// its OS thread, and afterwards stops MPI, or aborts the job if a test failed. Elsewhere it
// only runs m.
func Main(m *testing.M) int {
	if !inner() {
		return m.Run()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g, err := mpi.Start(mpi.ThreadSerialized)
	granted = g
	if err != nil {
		fmt.Fprintf(os.Stderr, "mpitest[%d]: %v\n", mpi.WorldRank(), err)
		if mpi.IsOn() {
			_ = mpi.World().Abort(1)
		}
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "mpitest[%d]: tests failed (exit code %d); aborting the job\n", mpi.WorldRank(), code)
		_ = mpi.World().Abort(code)
		return code
	}
	if err := mpi.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "mpitest[%d]: %v\n", mpi.WorldRank(), err)
		return 1
	}
	return 0
}

// Inner marks an inner test: it skips t unless this process is a rank started by Run (and
// fails it if MPI is not running, which means TestMain does not call Main). Otherwise it locks
// t's goroutine to its OS thread and registers a cleanup that, when t has passed or skipped,
// waits at a barrier for every rank to finish t, so that no message of t reaches the next test;
// when t has failed, the cleanup aborts the job instead.
func Inner(t testing.TB) {
	t.Helper()
	if !inner() {
		t.Skip("runs under mpirun only; see mpitest.Run")
	}
	if !mpi.IsOn() {
		t.Fatal("mpitest: MPI is not running: TestMain must call mpitest.Main")
	}
	runtime.LockOSThread()
	t.Cleanup(func() {
		defer runtime.UnlockOSThread()
		if t.Failed() {
			fmt.Fprintf(os.Stderr, "mpitest[%d]: %s failed; aborting the job\n", mpi.WorldRank(), t.Name())
			_ = mpi.World().Abort(1)
			return
		}
		if err := mpi.World().Barrier(); err != nil {
			fmt.Fprintf(os.Stderr, "mpitest[%d]: %s: %v; aborting the job\n", mpi.WorldRank(), t.Name(), err)
			_ = mpi.World().Abort(1)
		}
	})
}

// timeout is how long Run gives mpirun.
func timeout(t testing.TB) time.Duration {
	d := DefaultTimeout
	if s := os.Getenv(envTimeout); s != "" {
		if v, err := time.ParseDuration(s); err == nil && v > 0 {
			d = v
		} else {
			t.Fatalf("mpitest: %s=%q: want a positive Go duration", envTimeout, s)
		}
	}
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := dt.Deadline(); ok {
			// Leave time to report before go test's own timeout panics.
			if left := time.Until(end) - 5*time.Second; left < d {
				d = max(left, time.Second)
			}
		}
	}
	return d
}

// Run launches this test binary under the launcher of the MPI this build uses
// (mpirun.Current: `mpirun -np np --oversubscribe --bind-to none --tag-output`, or
// `mpiexec.mpich -n np -prepend-rank`), running `-test.run '^<pattern>$' -test.v
// -test.parallel=1` and extraArgs after the test flags, with the environment the launcher
// needs as root and MW_MPITEST=1. It kills the launcher and its ranks if they are still
// running after the deadline (DefaultTimeout, MW_MPITEST_TIMEOUT, or sooner if the test's
// deadline is sooner), and fails t with the combined output of all ranks if the launcher
// exits non-zero, if a rank ran no test, or if fewer than np ranks reported PASS. It returns
// the combined output. Run skips t in a process that Run itself started.
func Run(t testing.TB, np int, pattern string, extraArgs ...string) string {
	t.Helper()
	if inner() {
		t.Skip("mpitest: already in a rank started by mpitest.Run")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("mpitest: %v", err)
	}
	l := mpirun.Current()
	launcher, err := exec.LookPath(l.Command)
	if err != nil {
		t.Fatalf("mpitest: %v (MPI tests of this build need %s's %s)", err, l.MPI, l.Command)
	}
	d := timeout(t)
	args := append(l.Args(np, mpirun.Options{TagOutput: true, Unbound: true, Export: []string{envInner}}),
		exe, "-test.run", "^"+pattern+"$", "-test.v", "-test.parallel=1",
		// The ranks' own timeout comes first, so a hang ends with goroutine dumps.
		"-test.timeout="+(d*4/5).String(),
	)
	args = append(args, extraArgs...)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, launcher, args...)
	cmd.Env = l.Env(append(os.Environ(), envInner+"=1"))
	// mpirun puts each rank in a process group of its own, but they all stay in the session
	// of mpirun (and hydra's in that of mpiexec): make it a new one, to find them all at the
	// deadline.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// At the deadline, kill the ranks first: the launcher, their parent, reaps them and
	// exits; then the launcher itself if it lingers.
	cmd.Cancel = func() error { killSession(cmd.Process.Pid, cmd.Process.Pid); return nil }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	if cmd.Process != nil {
		killSession(cmd.Process.Pid, 0)
	}
	elapsed := time.Since(start).Round(time.Millisecond)
	text := out.String()
	cmdline := l.Command + " " + strings.Join(args, " ")
	switch {
	case ctx.Err() != nil:
		t.Fatalf("mpitest: %s\nkilled: still running after %v\n%s", cmdline, d, text)
	case err != nil:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("mpitest: %s: %v\n%s", cmdline, err, text)
		}
		t.Fatalf("mpitest: %s: exit code %d after %v\n%s", cmdline, ee.ExitCode(), elapsed, text)
	case strings.Contains(text, "no tests to run"):
		t.Fatalf("mpitest: %s: no test matches %q\n%s", cmdline, pattern, text)
	}
	if n := countLines(l, text, "PASS"); n < np {
		t.Fatalf("mpitest: %s: %d of %d ranks reported PASS\n%s", cmdline, n, np, text)
	}
	if testing.Verbose() {
		t.Logf("mpitest: %s: ok in %v\n%s", cmdline, elapsed, text)
	}
	return text
}

// countLines counts the lines of s equal to line, after the rank's tag that the launcher
// puts before each line.
func countLines(l mpirun.Launcher, s, line string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l.Untag(sc.Text()) == line {
			n++
		}
	}
	return n
}

// killSession sends SIGKILL to every process in session sid, the one Run made for mpirun,
// except the process spare (0 for none). Ranks that outlived mpirun would otherwise spin on.
func killSession(sid, spare int) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, de := range dirs {
		pid, err := strconv.Atoi(de.Name())
		if err != nil || pid == spare {
			continue
		}
		b, err := os.ReadFile("/proc/" + de.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 3 && f[3] == strconv.Itoa(sid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
