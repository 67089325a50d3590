package taskfarm

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/internal/mwtest"
	"github.com/mw-hpc/mw/rank"
)

func rankProgress(elapsed time.Duration) rank.Progress {
	return rank.Progress{Elapsed: elapsed, TotalChunks: -1}
}

// reportScript: ok prints, failN exits N, hang sleeps (for --timeout), flaky fails its
// first try only.
const reportScript = `case "$1" in
ok*) echo "$1 done" ;;
fail*) echo "oops" >&2; exit ${1#fail} ;;
hang) exec sleep 300 ;;
flaky) [ -e "$2/tried" ] || { touch "$2/tried"; exit 1; }; echo flaky done ;;
esac`

// joblogCounts counts a joblog's tasks: succeeded, failed, timed out, and the stdout bytes.
func joblogCounts(t *testing.T, path string) (ok, failed, timedOut, out uint64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		f := strings.Split(l, "\t")
		n, _ := strconv.ParseUint(f[5], 10, 64)
		out += n
		switch {
		case f[6] == "-1":
			timedOut++
			failed++
		case f[6] != "0" || f[7] != "0":
			failed++
		default:
			ok++
		}
	}
	return ok, failed, timedOut, out
}

// TestReportCountsTasks: the run report and --stats count tasks, as the joblog has them:
// succeeded, failed, timed out, retried, and the output written.
func TestReportCountsTasks(t *testing.T) {
	dir := t.TempDir()
	stats, log := filepath.Join(dir, "stats.json"), filepath.Join(dir, "joblog")
	got := runInproc(t, 3, "ok1\nfail3\nok2\nhang\nflaky\nfail4\n", "--stats", stats, "--joblog", log, "--timeout", "0.3",
		"--retries", "2", "-q", "--", "sh", "-c", reportScript, "sh", "{}", dir)
	if got.code != 3 {
		t.Fatalf("exit %d, want 3 (stderr %q)", got.code, got.stderr)
	}
	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Tasks taskStats `json:"tasks"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	ok, failed, timedOut, out := joblogCounts(t, log)
	ts := js.Tasks
	if ts.Tasks != 6 || ts.Succeeded != ok || ts.Failed != failed || ts.TimedOut != timedOut || ts.StdoutBytes != out {
		t.Errorf("--stats %+v; the joblog says %d succeeded, %d failed, %d timed out, %d bytes out", ts, ok, failed, timedOut, out)
	}
	if ok != 3 || timedOut != 1 || ts.Retried != 4 || ts.StderrBytes != uint64(len("oops\n")*2) {
		t.Errorf("--stats %+v: want 3 succeeded, 1 timed out, 4 retried (every task that ran twice)", ts)
	}
	if len(ts.Slowest) == 0 || ts.Slowest[0].Status != "timed out" || ts.Slowest[0].Task != 4 {
		t.Errorf("slowest %+v: want the task that timed out first", ts.Slowest)
	}
	for _, want := range []string{"exec: 6 tasks in ", "3 succeeded, 3 failed (1 timed out), 4 retried; output "} {
		if !strings.Contains(got.stderr, want) {
			t.Errorf("run report %q lacks %q", got.stderr, want)
		}
	}
}

// TestStatusWhileTasksRun: while two tasks wait, the --status file says they are in flight
// with their values, and mw status prints it; at the end it says done, with every task.
func TestStatusWhileTasksRun(t *testing.T) {
	dir := t.TempDir()
	status := filepath.Join(dir, "run.status")
	script := `[ "$1" = wait ] && while [ ! -e "$2/go" ]; do sleep 0.01; done; echo "$1"`
	input := filepath.Join(dir, "input")
	os.WriteFile(input, []byte("wait\nwait\nfast\nfast\n"), 0o644)
	done := make(chan result, 1)
	go func() {
		done <- runInproc(t, 3, "", "--quiet", "-j", "1", "--window", "1", "--status", status,
			"--status-every", "20ms", "-a", input, "-q", "--", "sh", "-c", script, "sh", "{}", dir)
	}()
	var ts taskStatus
	deadline := time.Now().Add(testDeadline)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("status at the deadline: %+v", ts)
		}
		if b, err := os.ReadFile(status); err == nil {
			st, raw, err := cli.ParseStatus(b)
			if err != nil {
				t.Fatalf("status file %q: %v", b, err)
			}
			// A worker of one thread names its host with its first answer, or readyWait later.
			if st.State == cli.StateRunning && json.Unmarshal(raw["tasks"], &ts) == nil && ts.InFlight == 2 && len(ts.Longest) == 2 && len(ts.Hosts) > 0 {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ts.Total != 4 || ts.Longest[0].What != "wait" || ts.Longest[0].Task > 2 || ts.Longest[0].Host != "inproc" ||
		ts.Longest[0].Rank+ts.Longest[1].Rank != 3 {
		t.Errorf("status %+v", ts)
	}
	if len(ts.Hosts) != 1 || ts.Hosts[0].Ranks != 2 || ts.Hosts[0].InFlight != 2 {
		t.Errorf("hosts %+v: want inproc's 2 ranks with a task each", ts.Hosts)
	}
	r := mwtest.Run(t, nil, "status", status)
	text := string(r.Stdout)
	if r.Code != 0 || !strings.Contains(text, "exec: running on ") || !strings.Contains(text, "2 in flight, 2 workers") || !strings.Contains(text, "tasks: 0/4 (0.0%) finished, 0 failed; 2 in flight") ||
		!strings.Contains(text, "longest in flight") || !strings.Contains(text, "wait (rank ") {
		t.Errorf("mw status: exit %d\n%s%s", r.Code, text, r.Stderr)
	}
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	if got := <-done; got.code != 0 || got.stdout != "wait\nwait\nfast\nfast\n" {
		t.Fatalf("exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	r = mwtest.Run(t, nil, "status", "--json", status)
	var final struct {
		State string     `json:"state"`
		Tasks taskStatus `json:"tasks"`
	}
	if err := json.Unmarshal(r.Stdout, &final); err != nil || final.State != "done" || final.Tasks.Finished != 4 || final.Tasks.InFlight != 0 {
		t.Errorf("final status %s: %+v, %v", r.Stdout, final, err)
	}
}

// FuzzTaskStatus: whatever exec's part of a status file holds, mw status prints it or says
// what is wrong, and never panics.
func FuzzTaskStatus(f *testing.F) {
	a := newAccount(10, true)
	a.finish(&record{seq: 1, host: "n1", exit: 1})
	a.issued(0, flyingChunk{first: 2, tasks: 3, what: "x y"})
	p := rankProgress(time.Second)
	p.Running = []rank.RankLoad{{Rank: 1, Host: "n1", Chunks: 1}}
	p.Longest = []rank.InFlight{{Seq: 0, Rank: 1, Host: "n1", Sent: time.Second / 2}}
	seed, _ := json.Marshal(a.statusJSON(p))
	f.Add(seed)
	f.Add([]byte(`{"total": -5, "eta_seconds": 1e308, "longest_in_flight": [{"task": 18446744073709551615, "tasks": 18446744073709551615, "seconds": -1e308}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		printTaskStatus(io.Discard, b)
	})
}

// TestReportCountsTasksRunAgain: a worker rank lost while it runs a task (its transport
// crashes, as mpirun --enable-recovery sees a dead rank) costs only that task, which runs
// again on the other worker: the report counts it as run again, and the joblog has it once.
func TestReportCountsTasksRunAgain(t *testing.T) {
	dir := t.TempDir()
	stats, log := filepath.Join(dir, "stats.json"), filepath.Join(dir, "joblog")
	script := `if [ "$MW_RANK" = 2 ] && [ ! -e "$1/released" ]; then touch "$1/held"; while [ ! -e "$1/released" ]; do sleep 0.01; done; fi; echo "task $MW_TASK"`
	args := []string{"--stats", stats, "--joblog", log, "-j", "1", "--window", "1", "-q", "--", "sh", "-c", script, "sh", dir, ":::", "a", "b", "c", "d"}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	net := rank.NewInprocNet(3)
	var so, se bytes.Buffer
	var wg sync.WaitGroup
	var err0 error
	for r := 0; r < 3; r++ {
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Rank: r}
		if r == 0 {
			env.Stdout, env.Stderr = &so, &se
		}
		tr := net.Rank(r)
		env.Transport = func() (rank.Transport, error) { return tr, nil }
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Command.Run(ctx, env, args); r == 0 {
				err0 = err
			}
		}()
	}
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(dir, "held")); return err == nil })
	net.Crash(2, true)
	waitFor(t, func() bool { b, _ := os.ReadFile(log); return strings.Count(string(b), "\n") == 5 })
	os.WriteFile(filepath.Join(dir, "released"), nil, 0o644) // rank 2's task ends; its result is lost
	wg.Wait()
	if err0 != nil || so.String() != "task 1\ntask 2\ntask 3\ntask 4\n" {
		t.Fatalf("exit %v stdout %q stderr %q", err0, so.String(), se.String())
	}
	b, _ := os.ReadFile(stats)
	var js struct {
		Tasks taskStats `json:"tasks"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	if ok, failed, _, _ := joblogCounts(t, log); js.Tasks.RunAgain != 1 || js.Tasks.Tasks != 4 || ok != 4 || failed != 0 {
		t.Errorf("--stats %+v, joblog %d succeeded %d failed; want 1 run again, 4 tasks once each", js.Tasks, ok, failed)
	}
	if !strings.Contains(se.String(), "1 run again after a lost worker") || !strings.Contains(se.String(), "1 worker lost: rank 2 on ") {
		t.Errorf("run report %q", se.String())
	}
}
