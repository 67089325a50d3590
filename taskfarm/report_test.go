package taskfarm

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
			if st.State == cli.StateRunning && json.Unmarshal(raw["tasks"], &ts) == nil && ts.InFlight == 2 && len(ts.Longest) == 2 {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ts.Total != 4 || ts.Longest[0].What != "wait" || ts.Longest[0].Task > 2 {
		t.Errorf("status %+v", ts)
	}
	r := mwtest.Run(t, nil, "status", status)
	text := string(r.Stdout)
	if r.Code != 0 || !strings.Contains(text, "exec: running on ") || !strings.Contains(text, "2 in flight, 2 workers") || !strings.Contains(text, "tasks: 0/4 (0.0%) finished, 0 failed; 2 in flight") ||
		!strings.Contains(text, "longest in flight") {
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
	a.issued(0, flyingChunk{first: 2, tasks: 3, issued: time.Now(), what: "x y"})
	seed, _ := json.Marshal(a.statusJSON(rankProgress(time.Second), time.Now()))
	f.Add(seed)
	f.Add([]byte(`{"total": -5, "eta_seconds": 1e308, "longest_in_flight": [{"task": 18446744073709551615, "tasks": 18446744073709551615, "seconds": -1e308}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		printTaskStatus(io.Discard, b)
	})
}
