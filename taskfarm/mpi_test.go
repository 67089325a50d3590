package taskfarm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mw-hpc/mw/internal/mwtest"
)

// These tests run the mw binary under a real launcher (mpirun, or mpiexec.mpich under the
// build tag mpich). Open MPI's -q leaves out the banner mpirun prints when a rank exits
// non-zero (mw exec does whenever a task fails), odls_base_sigkill_timeout 0 spares the
// 1-2 s mpirun otherwise waits before it exits then (hydra needs neither), and unbound
// ranks let a rank's -j tasks spread over the cores (bound to one, mw warns).

func needMPI(t *testing.T) { mwtest.NeedMPI(t) }

// quietMPI are the Open MPI flags above.
var quietMPI = []string{"-q", "--mca", "odls_base_sigkill_timeout", "0"}

// mpiExec runs `mpirun -q -np np mw exec args...` and returns what it printed.
func mpiExec(t *testing.T, np int, stdin string, args ...string) result {
	t.Helper()
	job := mwtest.Job{NP: np, Unbound: true, OpenMPI: quietMPI}
	r := job.Run(t, []byte(stdin), mwtest.Binary(t), append([]string{"exec", "--quiet"}, args...)...)
	return result{stdout: string(r.Stdout), stderr: string(r.Stderr), code: r.Code}
}

var rankCounts = []int{1, 2, 3, 4}

// TestSameAsParallelMPI: the tricky task lists give the same bytes and exit status through
// mw exec under mpirun with 1 to 4 ranks as through GNU parallel -k.
func TestSameAsParallelMPI(t *testing.T) {
	needMPI(t)
	for _, c := range farmCases() {
		t.Run(c.name, func(t *testing.T) {
			want := runParallel(t, c)
			nps := rankCounts
			if c.name != "argv" {
				nps = []int{2, 4}
			}
			for _, np := range nps {
				got := mpiExec(t, np, c.input, c.mw...)
				same(t, fmt.Sprintf("%s, -np %d", c.name, np), got, want)
			}
		})
	}
}

// TestDataIsNeverCodeMPI: a line "; rm -rf x" is printed, not run, under mpirun.
func TestDataIsNeverCodeMPI(t *testing.T) {
	needMPI(t)
	dir := t.TempDir()
	victim := filepath.Join(dir, "x")
	os.WriteFile(victim, []byte("keep"), 0o644)
	got := mpiExec(t, 3, "; rm -rf x\n$(rm -rf x)\n", "--workdir", dir, "echo", "{}")
	if got.code != 0 || got.stdout != "; rm -rf x\n$(rm -rf x)\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatal("the file was removed: data ran as code")
	}
}

// resumeScript blocks the tasks from K on (until the file go exists) and otherwise
// leaves one side effect per task and prints one line.
const resumeScript = `d=$1; n=$MW_TASK
if [ "$n" -ge "$2" ] && [ ! -e "$d/go" ]; then echo $$ > "$d/blocked.$n"; exec sleep 300; fi
echo "ran" >> "$d/side.$n"; echo "out $3"`

// TestResumeAfterKillMPI kills mpirun midway (SIGTERM, as a batch system does at the end of
// an allocation) and resumes with the same joblog: every task runs to its end exactly once
// overall, the killed tasks are gone, and the two runs' output is the uninterrupted output.
func TestResumeAfterKillMPI(t *testing.T) {
	needMPI(t)
	const n, k = 12, 7
	var input, want strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&input, "line %d\n", i)
		fmt.Fprintf(&want, "out line %d\n", i)
	}
	for _, np := range []int{1, 3} {
		t.Run("np"+strconv.Itoa(np), func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "tasks")
			os.WriteFile(in, []byte(input.String()), 0o644)
			jl := filepath.Join(dir, "joblog")
			job, bin := mwtest.Job{NP: np, OpenMPI: []string{"-q"}}, mwtest.Binary(t)
			args := []string{"exec", "--quiet",
				"-j", "2", "-a", in, "--joblog", jl, "-q", "--", "sh", "-c", resumeScript, "sh", dir, strconv.Itoa(k), "{}"}

			// First run: wait until tasks 1..k-1 are logged and a blocked task runs, then kill.
			cmd := job.Cmd(bin, args...)
			var out1, err1 bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out1, &err1
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			deadline := time.Now().Add(testDeadline)
			for {
				b, _ := os.ReadFile(jl)
				blocked, _ := filepath.Glob(filepath.Join(dir, "blocked.*"))
				if strings.Count(string(b), "\n") == k && len(blocked) > 0 { // header + k-1 lines
					break
				}
				select {
				case err := <-exited:
					t.Fatalf("first run ended by itself (%v): %s", err, err1.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("first run: joblog %q, blocked %v at the deadline", b, blocked)
				}
				time.Sleep(10 * time.Millisecond)
			}
			blocked, _ := filepath.Glob(filepath.Join(dir, "blocked.*"))
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// As a batch system does at the time limit: TERM, then KILL after a grace
			// period (Slurm's KillWait). Open MPI's mpirun now and then stays up after
			// forwarding a TERM although every rank has exited; the KILL ends it, and
			// the ranks, orphaned, stop by themselves.
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				select {
				case <-exited:
				case <-time.After(testDeadline):
					ps, _ := exec.Command("ps", "-ef", "--forest").Output()
					t.Fatalf("mpirun still running after TERM and KILL\n%s", ps)
				}
			}
			// The blocked tasks were killed with their ranks.
			pids := waitPids(t, blocked...)
			for _, pid := range pids {
				waitGone(t, pid)
			}
			var firstWant strings.Builder
			for i := 1; i < k; i++ {
				fmt.Fprintf(&firstWant, "out line %d\n", i)
			}
			if out1.String() != firstWant.String() {
				t.Errorf("first run printed %q, want tasks 1 to %d", out1.String(), k-1)
			}

			// Second run, resumed: only tasks k..n run.
			os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
			args = append(args[:2:2], append([]string{"--resume"}, args[2:]...)...)
			r := job.Run(t, nil, bin, args...)
			if r.Code != 0 {
				t.Fatalf("resumed run: exit %d: %s", r.Code, r.Stderr)
			}
			if got := out1.String() + string(r.Stdout); got != want.String() {
				t.Errorf("both runs printed\n%s\nwant\n%s", got, want.String())
			}
			for i := 1; i <= n; i++ {
				b, _ := os.ReadFile(filepath.Join(dir, "side."+strconv.Itoa(i)))
				if string(b) != "ran\n" {
					t.Errorf("task %d ran to its end %d times", i, strings.Count(string(b), "ran"))
				}
			}
			b, _ := os.ReadFile(jl)
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(lines) != n+1 || lines[0]+"\n" != joblogHeader {
				t.Fatalf("joblog has %d lines:\n%s", len(lines), b)
			}
			seen := map[string]bool{}
			for _, l := range lines[1:] {
				seen[strings.SplitN(l, "\t", 2)[0]] = true
			}
			if len(seen) != n {
				t.Errorf("joblog holds %d distinct tasks, want %d", len(seen), n)
			}
		})
	}
}

// retryScript fails the first try of each task (recording the rank it ran on) and
// succeeds the next, printing both ranks.
const retryScript = `f="$1/tried.$MW_TASK"
if [ ! -e "$f" ]; then echo $MW_RANK > "$f"; echo "first try of $2 fails" >&2; exit 5; fi
echo "$2 ok, first on $(cat "$f"), then on $MW_RANK"`

func TestRetriesMPI(t *testing.T) {
	needMPI(t)
	for _, np := range rankCounts {
		t.Run("np"+strconv.Itoa(np), func(t *testing.T) {
			dir := t.TempDir()
			got := mpiExec(t, np, "a\nb\nc\nd\n", "-j", "1", "--retries", "2", "--joblog", filepath.Join(dir, "log"), "-q", "--", "sh", "-c", retryScript, "sh", dir)
			if got.code != 0 || got.stderr != "" {
				t.Fatalf("exit %d, stderr %q, want 0 and no output of the failed tries", got.code, got.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
			if len(lines) != 4 {
				t.Fatalf("stdout %q", got.stdout)
			}
			for i, l := range lines {
				if !strings.HasPrefix(l, string(rune('a'+i))+" ok") {
					t.Errorf("line %d: %q", i, l)
				}
			}
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			if strings.Count(string(log), "\n") != 5 || strings.Contains(string(log), "\t5\t0\t") {
				t.Errorf("joblog should have the 4 successful tries only:\n%s", log)
			}

			// A task that always fails runs --retries times in all, and counts as one failure.
			dir = t.TempDir()
			got = mpiExec(t, np, "x\n", "--retries", "3", "-q", "--", "sh", "-c", `echo try >> "$1/n"; echo "stderr of the try"; exit 3`, "sh", dir)
			if got.code != 1 || got.stdout != "stderr of the try\n" {
				t.Errorf("always failing: exit %d stdout %q", got.code, got.stdout)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "n")); string(b) != "try\ntry\ntry\n" {
				t.Errorf("always failing: tries %q, want 3", b)
			}

			// With another worker idle, the retry goes there.
			if np >= 3 {
				dir = t.TempDir()
				got = mpiExec(t, np, "solo\n", "--retries", "2", "-q", "--", "sh", "-c", retryScript, "sh", dir)
				var first, then int
				if _, err := fmt.Sscanf(got.stdout, "solo ok, first on %d, then on %d", &first, &then); err != nil || first == then {
					t.Errorf("retry on the same worker: %q", got.stdout)
				}
			}
		})
	}
}

// haltTasks: task 3 fails with status 7, task 6 fails with 4, tasks from 8 on would block
// (they must never be needed: a fired policy ends the job). Tasks 3 and 6 fail only once
// tasks 1 and 2 have started (or after 10 s): else, as under MPICH's start-up, the worker
// given task 1 may still hold it unstarted when a halt fires, and it goes back unstarted
// (left out: the output is then not the prefix of inOrder these cases expect).
const haltScript = `: > "$1/started.$MW_TASK"
case $MW_TASK in 3|6) i=0; until [ -e "$1/started.1" ] && [ -e "$1/started.2" ] || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done ;; esac
case $MW_TASK in 3) echo three; exit 7 ;; 6) exit 4 ;; esac
[ $MW_TASK -ge "$2" ] && echo $$ > "$1/blocked.$MW_TASK" && exec sleep 300
echo "$MW_TASK" > "$1/ran.$MW_TASK"; echo "task $MW_TASK"`

// haltSoonScript: tasks 3 and 6 fail at once, the others record that they ran.
const haltSoonScript = `case $MW_TASK in 3) echo three; exit 7 ;; 6) exit 4 ;; esac
echo "$MW_TASK" > "$1/ran.$MW_TASK"; echo "task $MW_TASK"`

// TestHaltSoonLogsWhatRanMPI: under --halt soon, every task that ran is in the joblog,
// also when a worker slow to start (MPICH's start-up) held task 1 unstarted at the drain
// while later tasks ran on the other rank: those were neither printed nor logged, and
// --resume would run them again. A race: these trials catch it often, not always;
// TestSinkDrainKeepsTasksAfterALeftOutOne and rank's TestDrainGivesBackOnlyWaitingChunks
// pin the rules themselves.
func TestHaltSoonLogsWhatRanMPI(t *testing.T) {
	needMPI(t)
	var input strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&input, "%d\n", i)
	}
	for trial := range 20 {
		dir := t.TempDir()
		joblog := filepath.Join(dir, "joblog")
		r := mpiExec(t, 3, input.String(), "-j", "2", "--halt", "soon,fail=2", "--joblog", joblog, "-q", "--", "sh", "-c", haltSoonScript, "sh", dir)
		if r.code != 2 {
			t.Fatalf("trial %d: exit %d, want 2 (two tasks failed)\n%s", trial, r.code, r.stderr)
		}
		ran, _ := filepath.Glob(filepath.Join(dir, "ran.*"))
		log, err := os.ReadFile(joblog)
		if err != nil {
			t.Fatal(err)
		}
		succeeded := 0
		for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n")[1:] {
			if fields := strings.Split(line, "\t"); len(fields) > 6 && fields[6] == "0" {
				succeeded++
			}
		}
		if len(ran) != succeeded {
			t.Fatalf("trial %d: %d tasks ran, the joblog has %d successes:\n%s", trial, len(ran), succeeded, log)
		}
	}
}

func TestHaltMPI(t *testing.T) {
	needMPI(t)
	var input strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&input, "%d\n", i)
	}
	const inOrder = "task 1\ntask 2\nthree\ntask 4\ntask 5\n"
	tests := []struct {
		halt  string
		block int            // first task that blocks
		exits map[int]string // the exit statuses allowed, each with the message it comes with
		// Without a halt now,fail=1 (nowFailOutput), the output is a prefix of inOrder at
		// least as long as least.
		least string
	}{
		// Tasks 3 and 6 fail at once: the first to finish fires the halt.
		{"now,fail=1", 8, map[int]string{7: "--halt now,fail=1: task 3 failed (exit 7)", 4: "--halt now,fail=1: task 6 failed (exit 4)"}, ""},
		// soon lets the running tasks finish (none may block) and starts no more: those
		// queued at a worker go back unstarted, so the output has gaps (soonOutput).
		{"soon,fail=2", 1000, map[int]string{2: "--halt soon,fail=2: task "}, ""},
		{"now,success=1", 2, map[int]string{0: "--halt now,success=1: task 1 succeeded"}, "task 1\n"},
	}
	for _, tt := range tests {
		for _, np := range rankCounts {
			t.Run(fmt.Sprintf("%s/np%d", tt.halt, np), func(t *testing.T) {
				dir := t.TempDir()
				got := mpiExec(t, np, input.String(), "-j", "2", "--halt", tt.halt, "-q", "--", "sh", "-c", haltScript, "sh", dir, strconv.Itoa(tt.block))
				msg, ok := tt.exits[got.code]
				if !ok || !strings.Contains(got.stderr, msg) {
					t.Errorf("exit %d, stderr %q; want one of %v", got.code, got.stderr, tt.exits)
				}
				out := got.stdout
				if tt.halt == "soon,fail=2" {
					if !soonOutput(out) {
						t.Errorf("stdout %q: want tasks in input order, task 3 among them", out)
					}
				} else if tt.halt == "now,fail=1" {
					if !nowFailOutput(got.code, out) {
						t.Errorf("exit %d, stdout %q: not what a halt at the task that fired prints", got.code, out)
					}
				} else if !strings.HasPrefix(inOrder, out) || !strings.HasPrefix(out, tt.least) {
					t.Errorf("stdout %q, want a prefix of %q starting with %q", got.stdout, inOrder, tt.least)
				}
				if ran, _ := filepath.Glob(filepath.Join(dir, "ran.*")); len(ran) >= 39 {
					t.Errorf("%d of 40 tasks ran: the halt did not stop the job", len(ran))
				}
				// The tasks still running when the job stopped were killed. (A task killed
				// as it started may have left its file empty.)
				blocked, _ := filepath.Glob(filepath.Join(dir, "blocked.*"))
				for _, f := range blocked {
					b, _ := os.ReadFile(f)
					if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
						waitGone(t, pid)
					}
				}
			})
		}
	}
}

// nowFailOutput reports whether out is what TestHaltMPI's now,fail=1 may print: the tasks
// that finished in input order up to the first one still running when the halt fired (as
// GNU parallel -k prints them), whole lines. Task 3 fired (exit 7) only after tasks 1 and
// 2 could have printed, and tasks 4 and 5 may have finished before it; task 6 fired (exit
// 4) only while task 3 still ran.
func nowFailOutput(code int, out string) bool {
	all := "task 1\ntask 2\nthree\ntask 4\ntask 5\n"
	if code == 4 {
		all = "task 1\ntask 2\n"
	} else if code != 7 {
		return false
	}
	return strings.HasPrefix(all, out) && (out == "" || strings.HasSuffix(out, "\n"))
}

// soonOutput reports whether out is what TestHaltMPI's soon,fail=2 may print: the tasks
// that ran, in input order, task 3 ("three") among them (it failed, and fired the halt
// with task 6, which prints nothing).
func soonOutput(out string) bool {
	last, three := 0, false
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "task "))
		if l == "three" {
			n, err, three = 3, nil, true
		}
		if err != nil || n <= last || n == 6 {
			return false
		}
		last = n
	}
	return three
}

// TestHaltAsTasksFinishMPI: --halt counts tasks as they finish, as GNU parallel does, not
// in output order: task 1 never ends by itself, and a later task's failure (or success)
// still stops the job, killing task 1. Nothing is printed or logged: every task that
// finished did so behind task 1, and GNU parallel -k prints and logs none of them.
func TestHaltAsTasksFinishMPI(t *testing.T) {
	needMPI(t)
	const script = `case $MW_TASK in 1) echo $$ > "$1/blocked"; exec sleep 300 ;; 3) echo three; exit 9 ;; esac
echo "task $MW_TASK"`
	var input strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&input, "%d\n", i)
	}
	tests := []struct {
		halt string
		code int
		msg  string // the task that fired is the one group of msg
	}{
		{"now,fail=1", 9, `--halt now,fail=1: task (3) failed \(exit 9\): stopping the running tasks`},
		// Any task but 1 and 3 may be the first to succeed.
		{"now,success=1", 0, `--halt now,success=1: task ([24-9]|[1-4][0-9]) succeeded: stopping the running tasks`},
	}
	for _, tt := range tests {
		for _, np := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/np%d", tt.halt, np), func(t *testing.T) {
				dir := t.TempDir()
				jl := filepath.Join(dir, "joblog")
				got := mpiExec(t, np, input.String(), "-j", "2", "--joblog", jl, "--halt", tt.halt, "-q", "--", "sh", "-c", script, "sh", dir)
				fired := regexp.MustCompile(tt.msg).FindStringSubmatch(got.stderr)
				if got.code != tt.code || fired == nil {
					t.Fatalf("exit %d, stderr %q; want %d and %q", got.code, got.stderr, tt.code, tt.msg)
				}
				if got.stdout != "" {
					t.Errorf("stdout %q, want nothing", got.stdout)
				}
				if log, _ := os.ReadFile(jl); string(log) != joblogHeader {
					t.Errorf("joblog %q: want the header alone", log)
				}
				// Task 1, if it started before the halt (and lived to say so), was killed.
				b, _ := os.ReadFile(filepath.Join(dir, "blocked"))
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					waitGone(t, pid)
				}
			})
		}
	}
}

// TestTimeoutMPI: a task that hangs, or ignores TERM, is ended by --timeout; the job goes
// on with the others and logs the timeout as GNU parallel does (Exitval -1).
func TestTimeoutMPI(t *testing.T) {
	needMPI(t)
	script := `case "$1" in hang) echo started; exec sleep 300 ;; stubborn) trap '' TERM; sleep 300 ;; *) echo "$1" ;; esac`
	for _, np := range rankCounts {
		t.Run("np"+strconv.Itoa(np), func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "log")
			got := mpiExec(t, np, "a\nhang\nb\nstubborn\nc\n", "-j", "2", "--timeout", "1", "--joblog", log, "-q", "--", "sh", "-c", script, "sh")
			if got.code != 2 || got.stdout != "a\nstarted\nb\nc\n" {
				t.Errorf("exit %d stdout %q, want 2 and every output", got.code, got.stdout)
			}
			for _, task := range []string{"2", "4"} {
				if !strings.Contains(got.stderr, "task "+task+": killed by --timeout 1") {
					t.Errorf("stderr %q: no timeout message for task %s", got.stderr, task)
				}
			}
			b, _ := os.ReadFile(log)
			for _, want := range []string{"\t-1\t15\tsh -c", "\t-1\t9\tsh -c"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("joblog lacks %q:\n%s", want, b)
				}
			}
		})
	}
}

func TestExitCodesMPI(t *testing.T) {
	needMPI(t)
	hundred := strings.Repeat("1\n", 150)
	for _, np := range rankCounts {
		t.Run("np"+strconv.Itoa(np), func(t *testing.T) {
			tests := []struct {
				name  string
				stdin string
				args  []string
				code  int
			}{
				{"all succeed", "0\n0\n", []string{"-q", "sh", "-c", "exit $1", "sh"}, 0},
				{"3 fail", "0\n1\n2\n0\n255\n", []string{"-q", "sh", "-c", "exit $1", "sh"}, 3},
				{"150 fail", hundred, []string{"-j", "4", "--chunk", "10", "-q", "sh", "-c", "exit $1", "sh"}, 101},
				{"missing input", "", []string{"-a", "/nonexistent/tasks", "true"}, 255},
				{"bad flag", "", []string{"-j", "x", "true"}, 255},
			}
			for _, tt := range tests {
				if np == 2 && tt.name != "3 fail" || np == 4 && tt.name != "150 fail" {
					continue // the same on every rank count: spread them over 1 to 4
				}
				got := mpiExec(t, np, tt.stdin, tt.args...)
				if got.code != tt.code {
					t.Errorf("%s: exit %d, want %d (stderr %q)", tt.name, got.code, tt.code, got.stderr)
				}
			}
		})
	}
}

// releaseScript: task 1 waits until the 19 others not queued behind it (window 2) have run
// (or 30 s), so that the other workers fall idle with the input all issued while it
// computes.
const releaseScript = `if [ "$MW_TASK" = 1 ]; then i=0; until [ "$(ls "$1" | wc -l)" -ge 19 ] || [ $i -ge 600 ]; do sleep 0.05; i=$((i+1)); done; fi
: > "$1/ran.$MW_TASK"; echo "task $MW_TASK"`

// TestReleasedWorkersMPI: once every task is issued, an idle worker gets its stop while
// another still computes (one is kept for a retry), its process ends early (MPI_Finalize
// waits for the others without spinning, or not at all under recovery), and the run is
// the same.
func TestReleasedWorkersMPI(t *testing.T) {
	needMPI(t)
	dir, stats := t.TempDir(), filepath.Join(t.TempDir(), "stats.json")
	var input, want strings.Builder
	for i := 1; i <= 21; i++ {
		fmt.Fprintf(&input, "%d\n", i)
		fmt.Fprintf(&want, "task %d\n", i)
	}
	got := mpiExec(t, 4, input.String(), "-j", "1", "--window", "2", "--stats", stats, "-q", "--", "sh", "-c", releaseScript, "sh", dir)
	if got.code != 0 || got.stdout != want.String() {
		t.Fatalf("exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}
	b, err := os.ReadFile(stats)
	if err != nil || !strings.Contains(string(b), `"workers_released_early": 1,`) {
		t.Fatalf("stats %s (%v): want one of the two idle workers released", b, err)
	}
}
