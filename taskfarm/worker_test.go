package taskfarm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// testDeadline bounds every wait in these tests; passing it means a hang.
const testDeadline = 60 * time.Second

// testWorker makes the worker of rank 1 on host h for `mw exec ARGS` (with a --tmpdir of
// its own), as if the manager on h had read 42 jobs.
func testWorker(t testing.TB, args ...string) (*worker, workerConfig) {
	t.Helper()
	w, err := newTestWorker(t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.shutdown(time.Second) })
	return w, w.cfg
}

func newTestWorker(tmpdir string, args ...string) (*worker, error) {
	o, _, err := parseArgs(&cli.Env{Stdout: io.Discard, Stderr: io.Discard}, append([]string{"--tmpdir", tmpdir}, args...))
	if err != nil {
		return nil, err
	}
	facts := workerFacts{rank: 1, host: "h", workers: 1, stdout: io.Discard, stderr: io.Discard}
	return newWorker(o, facts, setup{managerHost: "h", ntasks: 42, kind: o.jobKind()})
}

// chunkOf packs values as the jobs first, first+1, ..., one value each.
func chunkOf(first uint64, values ...string) rank.Chunk {
	var data []byte
	for i, v := range values {
		j := job{seq: first + uint64(i), recs: [][]string{{v}}}
		data = partition.Pack(data, appendJob(nil, &j, jobArgs))
	}
	return rank.Chunk{Data: data}
}

func records(t *testing.T, out []byte) []record {
	t.Helper()
	var rs []record
	err := partition.Unpack(out, func(_ int, item []byte) error {
		r, err := decodeRecord(item)
		rs = append(rs, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func runChunk(t *testing.T, w *worker, c rank.Chunk) []record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	out, err := w.run(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return records(t, out)
}

func TestWorkerRunsTasks(t *testing.T) {
	script := `printf '%s|' "$1" "$MW_TASK" "$MW_RANK" "$MW_SLOT" "$MW_NTASKS"; echo; echo "err $1" >&2
case "$1" in fail*) exit ${1#fail } ;; kill*) kill -9 $$ ;; esac`
	w, _ := testWorker(t, "-q", "sh", "-c", script, "sh")
	rs := runChunk(t, w, chunkOf(5, "a b", "", "fail 3", "kill", "; rm -rf x"))
	want := []struct {
		seq    uint64
		out    string
		exit   int64
		signal uint64
	}{
		{5, "a b|5|1|1|42|\n", 0, 0},
		{6, "|6|1|1|42|\n", 0, 0},
		{7, "fail 3|7|1|1|42|\n", 3, 0},
		{8, "kill|8|1|1|42|\n", 0, 9},
		{9, "; rm -rf x|9|1|1|42|\n", 0, 0},
	}
	if len(rs) != len(want) {
		t.Fatalf("%d records, want %d", len(rs), len(want))
	}
	for i, r := range rs {
		wt := want[i]
		if r.seq != wt.seq || string(r.stdout) != wt.out || r.exit != wt.exit || r.signal != wt.signal || r.host != "h" {
			t.Errorf("task %d: seq %d out %q exit %d signal %d host %q; want %+v", i, r.seq, r.stdout, r.exit, r.signal, r.host, wt)
		}
		if want := "err " + strings.Split(wt.out, "|")[0] + "\n"; string(r.stderr) != want {
			t.Errorf("task %d: stderr %q, want %q", i, r.stderr, want)
		}
		if r.start == 0 || r.runtime <= 0 {
			t.Errorf("task %d: start %d runtime %d", i, r.start, r.runtime)
		}
	}
	if !strings.HasPrefix(rs[0].cmd, "sh -c 'printf") || !strings.HasSuffix(rs[0].cmd, " sh 'a b'") {
		t.Errorf("joblog command %q", rs[0].cmd)
	}
}

func TestWorkerStartFailure(t *testing.T) {
	w, _ := testWorker(t, "no-such-program-mw")
	rs := runChunk(t, w, chunkOf(1, "x"))
	if rs[0].exit != 127 || !bytes.Contains(rs[0].stderr, []byte("not found")) {
		t.Errorf("missing program: exit %d stderr %q", rs[0].exit, rs[0].stderr)
	}
	// A program named by the value is looked up per task.
	w, _ = testWorker(t, "{}", "arg")
	rs = runChunk(t, w, chunkOf(1, "true", "false", "./not-here"))
	if rs[0].exit != 0 || rs[1].exit != 1 || rs[2].exit != 127 {
		t.Errorf("per-task programs: exits %d %d %d, want 0 1 127", rs[0].exit, rs[1].exit, rs[2].exit)
	}
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)
	w, _ = testWorker(t, noexec)
	if rs := runChunk(t, w, chunkOf(1, "x")); rs[0].exit != 126 {
		t.Errorf("not executable: exit %d, want 126", rs[0].exit)
	}
	// A script without #! runs (the shell runs it) where a direct start fails.
	script := filepath.Join(dir, "nobang")
	os.WriteFile(script, []byte("echo from script \"$1\"\n"), 0o755)
	w, _ = testWorker(t, script)
	if rs := runChunk(t, w, chunkOf(1, "x")); rs[0].exit != 0 || string(rs[0].stdout) != "from script x\n" {
		t.Errorf("script without #!: exit %d stdout %q", rs[0].exit, rs[0].stdout)
	}
}

func TestWorkerWorkdirAndShell(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "here"), []byte("found\n"), 0o644)
	w, _ := testWorker(t, "--workdir", dir, "cat {}; echo {#} $MW_TASK")
	rs := runChunk(t, w, chunkOf(3, "here"))
	if string(rs[0].stdout) != "found\n3 3\n" {
		t.Errorf("stdout %q", rs[0].stdout)
	}
	if _, err := newTestWorker(t.TempDir(), "--workdir", filepath.Join(dir, "missing"), "true"); err == nil || !strings.Contains(err.Error(), "--workdir") {
		t.Errorf("missing workdir: %v", err)
	}
	if _, err := newTestWorker(filepath.Join(dir, "here"), "true"); err == nil || !strings.Contains(err.Error(), "--tmpdir") {
		t.Errorf("tmpdir is a file: %v", err)
	}
}

func TestWorkerTimeout(t *testing.T) {
	w, _ := testWorker(t, "-q", "sh", "-c", `echo before; [ "$1" = ignore ] && trap '' TERM; exec sleep 300`, "sh")
	w.cfg.timeout = 300 * time.Millisecond
	rs := runChunk(t, w, chunkOf(1, "plain", "ignore"))
	for i, wantSig := range []uint64{15, 9} {
		r := rs[i]
		if !r.timedOut() || r.exit != -1 || r.signal != wantSig || string(r.stdout) != "before\n" {
			t.Errorf("task %d: timedOut %v exit %d signal %d stdout %q; want a timeout, -1, %d, before", i+1, r.timedOut(), r.exit, r.signal, r.stdout, wantSig)
		}
	}
	// A task done in time is not marked.
	w, _ = testWorker(t, "--timeout", "1m", "true")
	if rs := runChunk(t, w, chunkOf(1, "x")); rs[0].timedOut() || rs[0].failed() {
		t.Errorf("quick task: %+v", rs[0])
	}
}

// TestWorkerCancelKillsGroup stops the job while a task and its background child run:
// the whole process group must be gone and the chunk must fail with the context's error.
func TestWorkerCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	w, _ := testWorker(t, "-q", "sh", "-c", `sleep 300 & echo $! > "$1/child"; echo $$ > "$1/parent"; wait`, "sh")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := w.run(ctx, chunkOf(1, dir))
		done <- err
	}()
	pids := waitPids(t, filepath.Join(dir, "parent"), filepath.Join(dir, "child"))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("chunk error %v, want context.Canceled", err)
		}
	case <-time.After(testDeadline):
		t.Fatal("task still running after cancel")
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

// waitPids waits until each file holds a pid and returns them.
func waitPids(t *testing.T, files ...string) []int {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	var pids []int
	for _, f := range files {
		for {
			b, _ := os.ReadFile(f)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				pids = append(pids, pid)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no pid before the deadline", f)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return pids
}

// waitGone waits until pid no longer exists (or is a zombie).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for {
		err := syscall.Kill(pid, 0)
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWorkerSpill(t *testing.T) {
	w, cfg := testWorker(t, "-q", "sh", "-c", `head -c "$1" /dev/zero | tr '\0' o; head -c 3 /dev/zero | tr '\0' e >&2`, "sh")
	w.cfg.limit = 1000
	rs := runChunk(t, w, chunkOf(1, "1000", "1001", "0"))
	if rs[0].flags&flagStdoutSpill != 0 || len(rs[0].stdout) != 1000 {
		t.Errorf("at the limit: flags %b, %d bytes in memory", rs[0].flags, len(rs[0].stdout))
	}
	r := rs[1]
	if r.flags&flagStdoutSpill == 0 || r.stdoutLen != 1001 || r.stdoutSize() != 1001 || r.flags&flagStderrSpill != 0 {
		t.Fatalf("past the limit: flags %b size %d", r.flags, r.stdoutLen)
	}
	path := string(r.stdout)
	if filepath.Dir(path) != cfg.tmpdir {
		t.Errorf("spill file %s not in the tmpdir %s", path, cfg.tmpdir)
	}
	// The manager prints it whole and removes it.
	var out, errb bytes.Buffer
	s := testSink("never", nil, &out, &errb)
	s.stderr = &errb
	if err := s.Put(0, partition.Pack(nil, appendRecord(nil, &r))); err != nil {
		t.Fatal(err)
	}
	if out.String() != strings.Repeat("o", 1001) || errb.String() != "eee" {
		t.Errorf("printed %d bytes of stdout, stderr %q", out.Len(), errb.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("spill file left behind: %v", err)
	}
	// The capture files are unlinked from the start: nothing is left in the tmpdir.
	if ents, _ := os.ReadDir(cfg.tmpdir); len(ents) != 0 {
		t.Errorf("tmpdir holds %d files", len(ents))
	}
	// A worker on another host without a shared --tmpdir sends large output in memory.
	w.spill = false
	rs = runChunk(t, w, chunkOf(1, "5000"))
	if rs[0].flags&flagStdoutSpill != 0 || len(rs[0].stdout) != 5000 {
		t.Errorf("no spill: flags %b, %d bytes", rs[0].flags, len(rs[0].stdout))
	}
}

func TestWorkerRetries(t *testing.T) {
	dir := t.TempDir()
	w, _ := testWorker(t, "-q", "sh", "-c", `echo try >> "$1/tries"; exit 1`, "sh")
	w.cfg.retries = 2
	ctx := context.Background()
	for attempt := 0; attempt < 2; attempt++ {
		c := chunkOf(4, dir)
		c.Attempt = attempt
		if _, err := w.run(ctx, c); err == nil || !strings.Contains(err.Error(), "task 4 failed (exit 1)") {
			t.Fatalf("attempt %d: error %v, want the chunk to fail for a retry", attempt, err)
		}
	}
	c := chunkOf(4, dir)
	c.Attempt = 2
	out, err := w.run(ctx, c)
	if err != nil {
		t.Fatalf("last attempt: %v", err)
	}
	if rs := records(t, out); len(rs) != 1 || rs[0].exit != 1 {
		t.Errorf("last attempt: %+v", rs)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tries")); strings.Count(string(b), "try") != 3 {
		t.Errorf("ran %d times, want 3", strings.Count(string(b), "try"))
	}
}

func TestSlotPool(t *testing.T) {
	var p slotPool
	a, b, c := p.get(), p.get(), p.get()
	if a != 1 || b != 2 || c != 3 {
		t.Fatalf("slots %d %d %d", a, b, c)
	}
	p.put(2)
	p.put(1)
	if s := p.get(); s != 1 {
		t.Errorf("got slot %d, want the smallest free, 1", s)
	}
	if s := p.get(); s != 2 {
		t.Errorf("got slot %d, want 2", s)
	}
	if s := p.get(); s != 4 {
		t.Errorf("got slot %d, want 4", s)
	}
}

// TestWorkerStraggler: a task leaves a background child that writes to its stdout after
// the task ended. The next task of the same slot must not get that output in its own.
func TestWorkerStraggler(t *testing.T) {
	dir := t.TempDir()
	script := `d=$1
case $MW_TASK in
1) (while [ ! -e "$d/release" ]; do sleep 0.01; done; echo late; touch "$d/wrote") & echo one ;;
2) touch "$d/release"; while [ ! -e "$d/wrote" ]; do sleep 0.01; done; echo two ;;
3) echo three ;;
esac`
	w, _ := testWorker(t, "-q", "sh", "-c", script, "sh")
	rs := runChunk(t, w, chunkOf(1, dir, dir, dir))
	for i, want := range []string{"one\n", "two\n", "three\n"} {
		if string(rs[i].stdout) != want {
			t.Errorf("task %d printed %q, want %q", i+1, rs[i].stdout, want)
		}
	}
	w.shutdown(time.Second)
}

func TestDedupEnv(t *testing.T) {
	tests := []struct {
		name    string
		in, out []string
	}{
		{"none", []string{"A=1", "B=2"}, []string{"A=1", "B=2"}},
		{"last wins, in its place", []string{"A=1", "B=2", "A=3"}, []string{"B=2", "A=3"}},
		{"empty and NUL dropped", []string{"", "A=1", "B=x\x00y"}, []string{"A=1"}},
		{"no equals sign kept", []string{"junk", "A=1", "junk"}, []string{"junk", "A=1", "junk"}},
		{"leading equals sign", []string{"=C:=x", "=C:=y"}, []string{"=C:=y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dedupEnv(tt.in); !slices.Equal(got, tt.out) {
				t.Errorf("dedupEnv(%q) = %q, want %q", tt.in, got, tt.out)
			}
		})
	}
}

// TestWorkerEnv: a task sees the worker's environment, where the MW_* variables set by
// the worker replace inherited ones, and PWD is left as it is.
func TestWorkerEnv(t *testing.T) {
	t.Setenv("MW_TASK", "inherited")
	t.Setenv("MW_RANK", "inherited")
	t.Setenv("MW_TEST_VAR", "kept")
	// Only the variables this test sets or the worker adds: CI sets others (MW_CLUSTER_REQUIRED).
	w, _ := testWorker(t, "-q", "sh", "-c", `env | grep -E '^(MW_(NTASKS|RANK|SLOT|TASK|TEST_VAR)=|PWD=)' | sort`, "sh")
	rs := runChunk(t, w, chunkOf(7, "x"))
	want := "MW_NTASKS=42\nMW_RANK=1\nMW_SLOT=1\nMW_TASK=7\nMW_TEST_VAR=kept\n"
	if pwd := os.Getenv("PWD"); pwd != "" {
		want += "PWD=" + pwd + "\n"
	}
	if string(rs[0].stdout) != want {
		t.Errorf("environment:\n%s\nwant:\n%s", rs[0].stdout, want)
	}
}

// TestLookPathDot: a program found through a relative PATH directory runs from there; a
// bare name found through an empty or "." entry is refused by lookPath as exec.Command
// refuses it. With a relative PATH directory the worker leaves every line to the shell,
// which looks such programs up itself (relative to the task's directory).
func TestLookPathDot(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	for _, p := range []string{"mw-test-prog", "bin/mw-test-prog2"} {
		os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\necho ran $0\n"), 0o755)
	}
	t.Chdir(dir)
	t.Setenv("PATH", ":bin:"+os.Getenv("PATH"))
	if p, err := lookPath("mw-test-prog2"); err != nil || p != "bin/mw-test-prog2" {
		t.Errorf("relative PATH entry: %q, %v", p, err)
	}
	_, err := lookPath("mw-test-prog")
	if !errors.Is(err, exec.ErrDot) {
		t.Errorf("bare name from an empty PATH entry: %v, want exec.ErrDot", err)
	}
	if want := exec.Command("mw-test-prog").Err; err == nil || want == nil || err.Error() != want.Error() {
		t.Errorf("error %v, exec.Command's %v", err, want)
	}
	w, _ := testWorker(t, "{}")
	if w.direct {
		t.Error("a relative PATH directory, and the worker runs lines without the shell")
	}
	rs := runChunk(t, w, chunkOf(1, "mw-test-prog2", "mw-test-prog"))
	if string(rs[0].stdout) != "ran bin/mw-test-prog2\n" || string(rs[1].stdout) != "ran mw-test-prog\n" {
		t.Errorf("stdout %q, %q", rs[0].stdout, rs[1].stdout)
	}
}

// TestWorkerCaptureReuse: a slot's capture files are emptied between tasks, whatever the
// previous task left: a lot of output, nothing, or a file it truncated itself (its size is
// 0, its offset is not).
func TestWorkerCaptureReuse(t *testing.T) {
	script := `case $1 in
big) head -c 100000 /dev/zero; echo err >&2 ;;
none) ;;
trunc) printf abc; printf def >&2; : > /dev/stdout; : > /dev/stderr ;;
*) echo "$1"; echo "e$1" >&2 ;;
esac`
	w, _ := testWorker(t, "-q", "sh", "-c", script, "sh")
	rs := runChunk(t, w, chunkOf(1, "big", "1", "none", "2", "trunc", "3"))
	want := []struct{ out, err string }{
		{strings.Repeat("\x00", 100000), "err\n"}, {"1\n", "e1\n"}, {"", ""}, {"2\n", "e2\n"}, {"", ""}, {"3\n", "e3\n"},
	}
	for i, wt := range want {
		if string(rs[i].stdout) != wt.out || string(rs[i].stderr) != wt.err {
			t.Errorf("task %d: stdout %q stderr %q, want %q %q", i+1, trim(rs[i].stdout), rs[i].stderr, trim([]byte(wt.out)), wt.err)
		}
	}
}

func trim(b []byte) string {
	if len(b) > 20 {
		return string(b[:20]) + "..."
	}
	return string(b)
}

// TestProcessWait: the status of a task that ends before, or after, the wait begins.
func TestProcessWait(t *testing.T) { testProcessWait(t) }

func testProcessWait(t *testing.T) {
	tests := []struct {
		name   string
		script string
		before time.Duration // sleep before waiting
		exit   int
		signal syscall.Signal
	}{
		{"exit", "exit 3", 0, 3, 0},
		{"exit before the wait", "exit 4", 100 * time.Millisecond, 4, 0},
		{"exit after the wait began", "sleep 0.1; exit 5", 0, 5, 0},
		{"killed", "kill -9 $$", 0, -1, syscall.SIGKILL},
		{"killed before the wait", "kill -TERM $$", 100 * time.Millisecond, -1, syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := startProcess(shellPath, []string{"sh", "-c", tt.script}, &syscall.ProcAttr{Sys: sysProcAttr()})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(tt.before)
			done := make(chan struct{})
			var ws syscall.WaitStatus
			zombie := false
			go func() {
				defer close(done)
				if err = p.exited(); err != nil {
					return
				}
				// Until reaped, the ended task keeps its pid (Linux: waitid's WNOWAIT).
				zombie = syscall.Kill(p.pid, 0) == nil
				ws, err = p.reap()
			}()
			select {
			case <-done:
			case <-time.After(testDeadline):
				t.Fatal("wait still blocked at the deadline")
			}
			if err != nil {
				t.Fatal(err)
			}
			if ws.ExitStatus() != tt.exit || (tt.signal != 0) != ws.Signaled() || (ws.Signaled() && ws.Signal() != tt.signal) {
				t.Errorf("status %v: exit %d signaled %v, want exit %d signal %v", ws, ws.ExitStatus(), ws.Signaled(), tt.exit, tt.signal)
			}
			if !zombie && runtime.GOOS == "linux" {
				t.Errorf("process %d gone before reap", p.pid)
			}
			if err := syscall.Kill(p.pid, 0); err == nil {
				t.Errorf("process %d still there (not reaped)", p.pid)
			}
		})
	}
}
