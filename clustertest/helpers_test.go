package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
	"github.com/mw-hpc/mw/internal/mwtest"
)

// skipCode is the scripts' exit code for "cannot run here" (automake's SKIP).
const skipCode = 77

// script is the path of one of the project's scripts.
func script(rel string) string { return filepath.Join(mwtest.Root(), "scripts", rel) }

// result is how a command ended.
type result struct {
	Stdout, Stderr []byte
	Code           int // exit code; -1 when killed by a signal
	Took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout:\n%s\nstderr:\n%s", r.Code, r.Took.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// run runs a command with env added to the MPI environment, in a process group of its own
// that is killed whole at the deadline (the test then fails).
func run(t *testing.T, deadline time.Duration, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = environ(env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A daemon the command starts may keep its stdout open: stop reading 5 s after it exits.
	cmd.WaitDelay = 5 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	r := result{Stdout: so.Bytes(), Stderr: se.Bytes(), Took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %v (hang?)\n%s", name, strings.Join(args, " "), deadline, r)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
	default:
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// environ is the MPI environment with env added, less any SLURM_* variable of a Slurm job
// the tests may run in (sbatch and mpirun would take them for the test cluster's). It is
// Open MPI's (root, oversubscription allowed) whatever MPI this build uses: the tests run
// Open MPI's mpirun, and MPICH's hydra, which needs nothing and ignores it.
func environ(env ...string) []string {
	var e []string
	for _, kv := range mpirun.OpenMPI().Env(os.Environ()) {
		if !strings.HasPrefix(kv, "SLURM_") {
			e = append(e, kv)
		}
	}
	return append(e, env...)
}

// skipLoudly skips the test, saying why on stderr too (go test -v shows it; a plain
// `go test ./...` shows nothing of a package that passes). With MW_CLUSTER_REQUIRED=1 in the
// environment (a CI that must run the clusters) it fails the test instead.
func skipLoudly(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("MW_CLUSTER_REQUIRED") == "1" {
		t.Fatalf("%s (MW_CLUSTER_REQUIRED=1: not skipping)", msg)
	}
	fmt.Fprintf(os.Stderr, "clustertest: %s: SKIPPED: %s\n", t.Name(), msg)
	t.Skip(msg)
}

// openMPIBinary is mw built against Open MPI, for the tests that run it with mpirun (the
// sbatch scripts, the netns cluster's wrapper), whatever MPI this build uses.
func openMPIBinary(t *testing.T) string {
	t.Helper()
	return mwtest.BinaryFor(t, mpirun.OpenMPI())
}

// needMPICH skips the test, loudly, where MPICH is not installed: its launcher
// (mpiexec.mpich, by the name that does not depend on the system's alternatives) and its
// pkg-config file, which go build -tags mpich needs.
func needMPICH(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(mpirun.MPICH().Command); err != nil {
		skipLoudly(t, "MPICH is not installed (no %s; make deps installs mpich)", mpirun.MPICH().Command)
	}
	if err := exec.Command("pkg-config", "--exists", "mpich").Run(); err != nil {
		skipLoudly(t, "MPICH's pkg-config file mpich.pc is missing (make deps installs libmpich-dev)")
	}
}

// mpichBinary is mw built against MPICH (go build -tags mpich), for the tests that run it
// with hydra or srun --mpi=pmi2; call needMPICH first.
func mpichBinary(t *testing.T) string {
	t.Helper()
	return mwtest.BinaryFor(t, mpirun.MPICH())
}

// needRoot skips unless the tests run as root (daemons, namespaces).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipLoudly(t, "needs root to start the cluster's daemons and namespaces")
	}
}

// stateDir makes a state directory for a cluster script that the test removes at the end.
// It is 0755 (munged refuses other modes on its socket's directory), outside t.TempDir so
// that a failed test keeps nothing running in it (the cleanups stop the daemons first).
func stateDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("kept %s (logs) for the failed test", dir)
		}
	})
	return dir
}

// freePorts returns a port p such that p and p+1 are free on 127.0.0.1.
func freePorts(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no two free consecutive ports")
	return 0
}

// alive tells whether the process with this pid exists (and is not a zombie).
func alive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(st)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// pidFiles reads the pids in the given files (missing files are skipped).
func pidFiles(paths ...string) map[string]int {
	pids := map[string]int{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			pids[p] = pid
		}
	}
	return pids
}

// killLeftovers kills, by pid, the processes that a script's `down` should have stopped and
// did not, and fails the test for them.
func killLeftovers(t *testing.T, pids map[string]int) {
	t.Helper()
	for file, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d (%s) still running after down: killing it", pid, file)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// inputs are small inputs of every workload, and their outputs from a local run of mw.
type inputs struct {
	Frames, MapA, MapB, Tasks string // interp, overlay (A, B), exec
	BadTasks                  string // exec tasks of which badTasks fail
	Items                     int    // selftest --items (with --chunk 100)
	Selftest, Interp, Overlay []byte // the local runs' outputs
	Exec                      []byte
}

const badTasks = 3

// makeInputs writes the inputs into dir with `mw gen` and computes every workload's output
// with a local run of mw (one process, the manager doing the work).
func makeInputs(t *testing.T, dir string) *inputs {
	t.Helper()
	in := &inputs{
		Frames: filepath.Join(dir, "frames.pgm"),
		MapA:   filepath.Join(dir, "a.csv"),
		MapB:   filepath.Join(dir, "b.csv"),
		Tasks:  filepath.Join(dir, "tasks.txt"),
		Items:  20000,
	}
	gen := func(args ...string) {
		r := mwtest.Run(t, nil, args...)
		require.Equal(t, 0, r.Code, "mw %v: %s", args, r.Stderr)
	}
	gen("gen", "frames", "--count", "150", "--seed", "3", "-o", in.Frames)
	gen("gen", "map", "--rects", "3000", "--seed", "1", "-o", in.MapA)
	gen("gen", "map", "--rects", "3000", "--seed", "2", "-o", in.MapB)

	var tasks, bad strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&tasks, "echo task %d; seq %d; echo err %d >&2\n", i, i%7, i)
	}
	for i := 1; i <= 9; i++ { // 3, 6 and 9 fail
		if i%3 == 0 {
			fmt.Fprintf(&bad, "echo failing %d; exit %d\n", i, i)
		} else {
			fmt.Fprintf(&bad, "echo ok %d\n", i)
		}
	}
	require.NoError(t, os.WriteFile(in.Tasks, []byte(tasks.String()), 0o644))
	in.BadTasks = filepath.Join(dir, "bad-tasks.txt")
	require.NoError(t, os.WriteFile(in.BadTasks, []byte(bad.String()), 0o644))

	local := func(args ...string) []byte {
		r := mwtest.Run(t, nil, append(args, "--quiet")...)
		require.Equal(t, 0, r.Code, "local mw %v: %s", args, r.Stderr)
		require.NotEmpty(t, r.Stdout, "local mw %v wrote nothing", args)
		return r.Stdout
	}
	in.Selftest = local("selftest", "--items", strconv.Itoa(in.Items), "--chunk", "100")
	in.Interp = local("interp", "-i", in.Frames)
	in.Overlay = local("overlay", "-a", in.MapA, "-b", in.MapB)
	in.Exec = local("exec", "--tasks", in.Tasks)
	return in
}

// readFile reads a file the test expects to exist.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// sameBytes fails the test unless got == want, without printing megabytes.
func sameBytes(t *testing.T, want, got []byte, what string) {
	t.Helper()
	if !bytes.Equal(want, got) {
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		t.Errorf("%s: %d bytes, want %d bytes (the local run's); first difference at byte %d", what, len(got), len(want), i)
	}
}

// The faulted runs: selftest items of 1 ms (a sleep: the bytes do not depend on it), in
// chunks of faultChunk, journaled; each fault strikes once the journal records faultAt
// chunks, so the run is under way and the resume has something to skip.
const (
	faultChunk = 10
	faultAt    = 100
)

// selftestArgs are the selftest flags of a faulted run of n items (before -o, --journal).
func selftestArgs(n int) []string {
	return []string{"--items", strconv.Itoa(n), "--chunk", strconv.Itoa(faultChunk), "--cost", "1ms"}
}

// uninterrupted is the output of an uninterrupted local run (one process) of selftest over
// n items in chunks of faultChunk: the bytes a resumed run must end with.
func uninterrupted(t *testing.T, n int) []byte {
	t.Helper()
	args := []string{"selftest", "--items", strconv.Itoa(n), "--chunk", strconv.Itoa(faultChunk), "--quiet"}
	r := mwtest.Run(t, nil, args...)
	require.Equal(t, 0, r.Code, "local mw %v: %s", args, r.Stderr)
	return r.Stdout
}

// journalProgress reads an mw journal (format in cli/journal.go): the chunks it records as
// written (complete "c" lines) and whether it records the job's end (a "done" line).
func journalProgress(path string) (chunks int, done bool) {
	b, _ := os.ReadFile(path)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1] // a last line without its newline is not written yet
	} else {
		b = nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "c "):
			chunks++
		case strings.HasPrefix(l, "done "):
			done = true
		}
	}
	return chunks, done
}

// waitJournal waits until the journal at path records at least n chunks, at most deadline;
// ended says why the run cannot get there any more ("" while it runs).
func waitJournal(t *testing.T, path string, n int, deadline time.Duration, ended func() string) {
	t.Helper()
	for end := time.Now().Add(deadline); ; time.Sleep(100 * time.Millisecond) {
		got, done := journalProgress(path)
		if got >= n {
			require.False(t, done, "the job completed before the fault: make it longer")
			return
		}
		if why := ended(); why != "" {
			t.Fatalf("the run ended before its journal %s recorded %d chunks (it has %d): %s", path, n, got, why)
		}
		if time.Now().After(end) {
			t.Fatalf("the journal %s records %d chunks after %v, want %d", path, got, deadline, n)
		}
	}
}

// checkFaulted checks what a faulted journaled run left for --resume: no output (a failed
// run leaves nothing that looks complete), its partial file, and a journal of some but not
// all of the total chunks, without an end. It returns the chunks journaled.
func checkFaulted(t *testing.T, out, journal string, total int) int {
	t.Helper()
	_, err := os.Stat(out)
	require.True(t, os.IsNotExist(err), "the faulted run left its output %s (want only the partial file)", out)
	partial := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
	_, err = os.Stat(partial)
	require.NoError(t, err, "the faulted run left no partial output for --resume")
	n, done := journalProgress(journal)
	require.False(t, done, "the journal of the faulted run records the job's end")
	require.GreaterOrEqual(t, n, faultAt, "chunks in the faulted run's journal")
	require.Less(t, n, total, "chunks in the faulted run's journal")
	return n
}

// checkResumed checks a completed resumed run: the bytes of an uninterrupted run, no
// partial file left, a journal that records the end, and (--stats) only the chunks that the
// faulted run had not journaled written by the resume.
func checkResumed(t *testing.T, out, journal, statsFile string, want []byte, total, journaled int) {
	t.Helper()
	sameBytes(t, want, readFile(t, out), "the resumed run's output "+filepath.Base(out))
	partial := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
	_, err := os.Stat(partial)
	require.True(t, os.IsNotExist(err), "the resumed run left its partial file %s", partial)
	n, done := journalProgress(journal)
	require.True(t, done, "the journal does not record the resumed job's end")
	require.Equal(t, total, n, "chunks in the journal after the resume")
	var s struct {
		Chunks int `json:"chunks"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, statsFile), &s))
	require.Equal(t, total-journaled, s.Chunks, "chunks the resumed run wrote (--stats): the rest after the %d journaled", journaled)
}

// killAll kills the processes by pid and waits (at most 10 s) until they are gone.
func killAll(t *testing.T, pids map[int]string) {
	t.Helper()
	for pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left := 0
		for pid := range pids {
			if alive(pid) {
				left++
			}
		}
		if left == 0 {
			return
		}
		require.True(t, time.Now().Before(end), "%d processes still alive 10 s after kill -9: %v", left, pids)
	}
}
