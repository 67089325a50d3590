package taskfarm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// barrierTasks is a --tasks file in three groups apart by barriers. A task logs its start
// and end in the file log; a task before a barrier waits a while and fails (exit 9) if it
// sees that a task after the barrier has started (the file after.N): the order is checked
// by the events, not by timing.
func barrierTasks(groups [][]int) string {
	var b strings.Builder
	for g, tasks := range groups {
		if g > 0 {
			b.WriteString("#MW BARRIER\n")
		}
		for _, n := range tasks {
			fmt.Fprintf(&b, "touch after.%d; echo start %d >> log; i=0; while [ $i -lt 40 ]; do [ -e after.%d ] && exit 9; sleep 0.005; i=$((i+1)); done; echo end %d >> log; echo task %d\n",
				g, n, g+1, n, n)
		}
	}
	return b.String()
}

// checkBarrierLog checks that every task of a group ended before any task of the next
// started.
func checkBarrierLog(t *testing.T, log string, groups [][]int) {
	t.Helper()
	group := map[string]int{}
	for g, tasks := range groups {
		for _, n := range tasks {
			group[fmt.Sprint(n)] = g
		}
	}
	ended := map[int]int{}
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("log line %q", l)
		}
		g := group[f[1]]
		switch f[0] {
		case "end":
			ended[g]++
		case "start":
			if g > 0 && ended[g-1] != len(groups[g-1]) {
				t.Fatalf("task %s started with %d of the %d tasks before the barrier ended:\n%s", f[1], ended[g-1], len(groups[g-1]), log)
			}
		}
	}
}

// TestBarriersHoldTasksBack: with room for every task at once, the tasks after a barrier
// still start only once every task before it has ended; the output stays in input order.
func TestBarriersHoldTasksBack(t *testing.T) {
	groups := [][]int{{1, 2, 3}, {4, 5}, {6}}
	var want strings.Builder
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&want, "task %d\n", i)
	}
	run := func(t *testing.T, how string, exec func(args ...string) result) {
		dir := t.TempDir()
		tasks := filepath.Join(dir, "tasks")
		os.WriteFile(tasks, []byte(barrierTasks(groups)), 0o644)
		got := exec("-j", "6", "--workdir", dir, "--tasks", tasks)
		if got.code != 0 || got.stdout != want.String() {
			t.Fatalf("%s: exit %d stdout %q stderr %q", how, got.code, got.stdout, got.stderr)
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		checkBarrierLog(t, string(log), groups)
	}
	for _, ranks := range []int{1, 3} {
		run(t, fmt.Sprintf("%d ranks", ranks), func(args ...string) result {
			return runInproc(t, ranks, "", append([]string{"--quiet"}, args...)...)
		})
	}
	t.Run("mpirun", func(t *testing.T) {
		needMPI(t)
		run(t, "mpirun -np 3", func(args ...string) result { return mpiExec(t, 3, "", args...) })
	})
}

// TestBarrierCheckStopsAndResumes: a failed task stops the run at the BARRIER CHECK after
// it (the tasks after it never run, the status says why); --resume-failed runs it again
// and, once it succeeds, goes on past the barrier; the two runs' output is the whole.
func TestBarrierCheckStopsAndResumes(t *testing.T) {
	dir := t.TempDir()
	tasks, log := filepath.Join(dir, "tasks"), filepath.Join(dir, "joblog")
	text := "echo one\n[ -e fixed ] && echo two || exit 5\necho three\n#MW BARRIER CHECK\necho four > ran.4; echo four\n"
	os.WriteFile(tasks, []byte(text), 0o644)
	args := []string{"--quiet", "-j", "3", "--workdir", dir, "--tasks", tasks, "--joblog", log}
	got := runInproc(t, 3, "", args...)
	if got.code != 1 || got.stdout != "one\nthree\n" || !strings.Contains(got.stderr, "stopped at #MW BARRIER CHECK (line 4): 1 task since the barrier before it failed") {
		t.Fatalf("first run: exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran.4")); err == nil {
		t.Fatal("a task after the failed check ran")
	}
	// --resume keeps the failure: the check stops the run again, running nothing.
	got = runInproc(t, 3, "", append(args, "--resume")...)
	if got.code != 1 || got.stdout != "" || !strings.Contains(got.stderr, "stopped at #MW BARRIER CHECK") {
		t.Fatalf("--resume: exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
	os.WriteFile(filepath.Join(dir, "fixed"), nil, 0o644)
	got = runInproc(t, 3, "", append(args, "--resume-failed")...)
	if got.code != 0 || got.stdout != "two\nfour\n" || got.stderr != "" {
		t.Fatalf("--resume-failed: exit %d stdout %q stderr %q", got.code, got.stdout, got.stderr)
	}
}
