package taskfarm

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// trickyInput is a task list with every kind of line users feed a task farm: empty lines,
// spaces, quotes, $, ;, non-ASCII, commands that fail, print to stderr, print megabytes
// and never print, and a last line without a newline.
const trickyInput = "plain\n\nwith space\n  lead and trail  \nit's \"quoted\"\n" +
	"$HOME $(echo no) `echo no`\na;b && c | d > e\n; rm -rf x\nünïcødé ✓ 日本語\n" +
	"back\\slash \\n\ntab\there\n*glob?[x]\n\nfail 3\nstderr only\nbig 3000000\nsilent\n" +
	"big 5000001\nfail 1\n{} braces\nlast line without newline"

// trickyScript is run as sh -c trickyScript sh LINE.
const trickyScript = `case "$1" in
fail*) echo "failing: $1"; echo "oops: $1" >&2; exit ${1#fail } ;;
stderr*) echo "to stderr: $1" >&2 ;;
big*) yes "$1" | head -c ${1#big } ;;
silent) ;;
*) printf '<%s> %d\n' "$1" ${#1} ;;
esac`

// trickyShell is the same kind of task as one --shell script ({} quoted by mw or parallel).
const trickyShell = `printf '<%s>\n' {}; case {} in fail*) echo "bad: "{} >&2; exit 2 ;; big*) yes {} | head -c 2000000 ;; esac`

// trickyTasks are whole shell commands (--tasks), the last without a newline.
const trickyTasks = "echo one\n\necho \"two  spaces\"; echo err >&2\nexit 4\nprintf 'no newline'\n" +
	"echo $((6*7)) ü\nkill -9 $$\necho '; rm -rf x'\nyes tasks | head -c 1500000\necho last"

// farmCase is one task list run through mw exec and GNU parallel with the same meaning.
type farmCase struct {
	name     string
	input    string   // stdin
	mw       []string // mw exec flags and command
	parallel []string // parallel flags and command
}

func farmCases() []farmCase {
	return []farmCase{
		{"argv", trickyInput,
			[]string{"-k", "-q", "--", "sh", "-c", trickyScript, "sh", "{}"},
			[]string{"-k", "-q", "sh", "-c", trickyScript, "sh", "{}"}},
		{"argv small buffer", trickyInput,
			[]string{"--buffer", "1K", "-j", "3", "-q", "--", "sh", "-c", trickyScript, "sh"}, // value appended
			[]string{"-k", "-q", "sh", "-c", trickyScript, "sh"}},
		{"shell", trickyInput,
			[]string{"-k", "--", trickyShell},
			[]string{"-k", trickyShell}},
		{"shell words", trickyInput,
			[]string{"echo", "[{}]", "{#}", `"$HOME"`},
			[]string{"-k", "echo", "[{}]", "{#}", `"$HOME"`}},
		{"tasks", trickyTasks,
			[]string{"--tasks", "-"},
			[]string{"-k"}},
	}
}

// result is what a run printed and how it ended.
type result struct {
	stdout, stderr string
	code           int
}

var (
	parallelMu    sync.Mutex
	parallelCache = map[string]result{}
)

// runParallel runs GNU parallel (with /bin/sh as its shell) on c, once per test process.
func runParallel(t *testing.T, c farmCase) result {
	t.Helper()
	if _, err := exec.LookPath("parallel"); err != nil {
		t.Skip("GNU parallel is not installed")
	}
	parallelMu.Lock()
	defer parallelMu.Unlock()
	if r, ok := parallelCache[c.name]; ok {
		return r
	}
	pr := runWithDeadline(t, "parallel", c.parallel, func(cmd *exec.Cmd) {
		cmd.Env = append(os.Environ(), "PARALLEL_SHELL=/bin/sh", "PARALLEL_HOME="+t.TempDir())
		cmd.Stdin = strings.NewReader(c.input)
	})
	r := result{stdout: string(pr.stdout), stderr: string(pr.stderr), code: pr.code}
	parallelCache[c.name] = r
	return r
}

// cmdResult is what a command printed and how it ended.
type cmdResult struct {
	stdout []byte
	code   int
	stderr []byte
}

// runWithDeadline runs a command, set up by setup, to its end or to testDeadline (which
// kills its process group and fails the test), and returns what it printed and its exit
// status.
func runWithDeadline(t *testing.T, name string, args []string, setup func(*exec.Cmd)) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	setup(cmd)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %q: still running at the deadline\nstderr: %s", name, args, se.Bytes())
	}
	r := cmdResult{stdout: so.Bytes(), stderr: se.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// runInproc runs `mw exec args` on ranks ranks of an in-process network, each rank calling
// the command as mpirun would start it, and returns rank 0's output and exit status.
func runInproc(t *testing.T, ranks int, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	net := rank.NewInprocNet(ranks)
	var so, se bytes.Buffer
	errs := make([]error, ranks)
	var wg sync.WaitGroup
	for r := 0; r < ranks; r++ {
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Rank: r}
		if r == 0 {
			env.Stdin, env.Stdout, env.Stderr = strings.NewReader(stdin), &so, &se
		}
		tr := net.Rank(r)
		env.Transport = func() (rank.Transport, error) { return tr, nil }
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = Command.Run(ctx, env, args)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("mw exec %q on %d ranks: still running at the deadline", args, ranks)
	}
	for r := 1; r < ranks; r++ {
		if errs[r] != nil {
			t.Errorf("rank %d: %v", r, errs[r])
		}
	}
	res := result{stdout: so.String(), stderr: se.String(), code: cli.ExitCode(errs[0])}
	var ee *cli.ExitError
	if errors.As(errs[0], &ee) && ee.Err != nil {
		res.stderr += "mw: exec: " + ee.Err.Error() + "\n"
	}
	return res
}

// same compares two runs byte for byte, saying where they first differ.
func same(t *testing.T, what string, got, want result) {
	t.Helper()
	if got.code != want.code {
		t.Errorf("%s: exit status %d, want %d (stderr: %.300q)", what, got.code, want.code, got.stderr)
	}
	for _, s := range []struct{ name, got, want string }{{"stdout", got.stdout, want.stdout}, {"stderr", got.stderr, want.stderr}} {
		if s.got == s.want {
			continue
		}
		i := 0
		for i < len(s.got) && i < len(s.want) && s.got[i] == s.want[i] {
			i++
		}
		lo := max(0, i-80)
		t.Errorf("%s: %s differs at byte %d of %d (want %d):\n got ...%q\nwant ...%q", what, s.name, i, len(s.got), len(s.want),
			s.got[lo:min(len(s.got), i+80)], s.want[lo:min(len(s.want), i+80)])
	}
}

// TestSameAsParallelInproc runs every task list through mw exec on an in-process network of
// 1 to 3 ranks (the race detector watching) and through GNU parallel -k: same bytes on
// stdout and on stderr, same exit status.
func TestSameAsParallelInproc(t *testing.T) {
	for _, c := range farmCases() {
		t.Run(c.name, func(t *testing.T) {
			want := runParallel(t, c)
			for _, ranks := range []int{1, 3} {
				got := runInproc(t, ranks, c.input, append([]string{"--quiet"}, c.mw...)...)
				same(t, c.name+" on "+string(rune('0'+ranks))+" ranks", got, want)
			}
		})
	}
}

// TestDataIsNeverCode feeds lines that would delete a file if a shell ever parsed them as
// code: without --shell and with it, they are printed, and the file stays.
func TestDataIsNeverCode(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "x")
	os.WriteFile(victim, []byte("keep"), 0o644)
	lines := "; rm -rf x\n$(rm -rf x)\n`rm -rf x`\n' ; rm -rf x ; '\n\" ; rm -rf x ; \"\n| rm -rf x\n&& rm -rf x\n"
	for _, args := range [][]string{
		{"--workdir", dir, "--", "echo", "{}"},
		{"--workdir", dir, "--", "echo"},
		{"--workdir", dir, "--", "echo", "pre{}post", "{/}", "{.}"},
		{"--workdir", dir, "--shell", "--", "echo", "{}"},
		{"--workdir", dir, "--shell", "--", "echo {} x{}y"},
		{"--workdir", dir, "--shell", "--", "echo"},
	} {
		got := runInproc(t, 2, lines, append([]string{"--quiet"}, args...)...)
		if got.code != 0 || !strings.Contains(got.stdout, "; rm -rf x") || strings.Count(got.stdout, "\n") != 7 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, got.code, got.stdout, got.stderr)
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
			t.Fatalf("%q: the file was removed: data ran as code", args)
		}
	}
}

// parseCases are command lines and what parseArgs makes of them: options (chk) or an
// error saying err.
var parseCases = []struct {
	args []string
	err  string
	chk  func(o *options, ef *cli.EngineFlags) bool
}{
	{[]string{"echo"}, "", func(o *options, ef *cli.EngineFlags) bool {
		return len(o.command) == 1 && ef.Threads == 0 && o.chunk.Or(1) == 1 && o.buffer == DefaultBuffer && o.tmpdir != "" && len(o.inputs) == 0
	}},
	{[]string{"-j4", "-k", "--", "echo", "-j4"}, "", func(o *options, ef *cli.EngineFlags) bool {
		return ef.Threads == 4 && o.keep && strings.Join(o.command, " ") == "echo -j4"
	}},
	// GNU parallel's Getopt: bundles, values in a bundle, next argument even if it
	// starts with a dash, --name=value, abbreviations, any case.
	{[]string{"-kj2", "-0", "--colsep=,", "--tagstr", "-x", "--DRY", "echo"}, "", func(o *options, ef *cli.EngineFlags) bool {
		return o.keep && ef.Threads == 2 && o.delim == "\x00" && o.colsepText == "," && o.tagString == "-x" && o.dryRun
	}},
	{[]string{"-j", "-1", "--jobs", "50%", "echo"}, "", func(o *options, ef *cli.EngineFlags) bool { return o.jobs.kind == '%' }},
	{[]string{"--quiet", "-j2", "echo", "-j5", ":::", "a", "b", "::::", "f", "g", ":::+", "c"}, "", func(o *options, ef *cli.EngineFlags) bool {
		in := o.inputs
		return ef.Threads == 2 && strings.Join(o.command, " ") == "echo -j5" && len(in) == 4 &&
			strings.Join(in[0].values, ",") == "a,b" && in[1].path == "f" && in[2].path == "g" && in[3].linked && !in[2].linked
	}},
	{[]string{"-a", "f1", "--arg-file", "f2", "-a", "-", "cat", "::::+", "f3"}, "", func(o *options, _ *cli.EngineFlags) bool {
		return len(o.inputs) == 4 && o.inputs[2].path == "-" && o.inputs[3].linked
	}},
	{[]string{"--arg-sep", ",,", "echo", ",,", "a", ":::", "b"}, "", func(o *options, _ *cli.EngineFlags) bool {
		return len(o.inputs) == 1 && strings.Join(o.inputs[0].values, " ") == "a ::: b"
	}},
	{[]string{"--timeout", "1.5", "--buffer", "64K", "--chunk", "auto", "true"}, "", func(o *options, _ *cli.EngineFlags) bool {
		return o.timeout.Seconds() == 1.5 && o.buffer == 64<<10 && o.chunk.Or(1) == 1
	}},
	{[]string{"--timeout", "1d3.5h16.6m4s", "true"}, "", func(o *options, _ *cli.EngineFlags) bool { return o.timeout.Seconds() == 100000 }},
	{[]string{"--timeout", "200%", "true"}, "", func(o *options, ef *cli.EngineFlags) bool { return o.timeoutPct == 2 && ef.Window == 1 }},
	{[]string{"--retries", "3", "true"}, "", func(_ *options, ef *cli.EngineFlags) bool { return ef.Retries == 2 }},
	{[]string{"--retries", "0", "true"}, "", func(_ *options, ef *cli.EngineFlags) bool { return ef.Retries == rank.MaxAttempt }},
	{[]string{"--halt", "soon,fail=10%", "-a", "f", "true"}, "", func(o *options, ef *cli.EngineFlags) bool { return o.halt.pct == 0.1 && ef.Window == 1 }},
	{[]string{"--halt", "2", "--window", "4", "true"}, "", func(o *options, ef *cli.EngineFlags) bool { return o.halt.when == haltNow && ef.Window == 4 }},
	{[]string{"--joblog", "+log", "--resume", "true"}, "", nil},
	{[]string{"-k", "--unordered", "echo"}, "", func(o *options, ef *cli.EngineFlags) bool { return ef.Unordered }},
	{[]string{"--unordered", "-k", "echo"}, "", func(o *options, ef *cli.EngineFlags) bool { return !ef.Unordered }},
	{[]string{"-u", "echo"}, "", func(o *options, ef *cli.EngineFlags) bool { return ef.Unordered && o.output == outUngroup }},
	{[]string{"--bar", "--quiet", "echo"}, "", func(_ *options, ef *cli.EngineFlags) bool { return !ef.Quiet }},
	{[]string{"-N2", "--header=:", "-C", "\\t", "echo"}, "", func(o *options, _ *cli.EngineFlags) bool {
		return o.maxArgs == 2 && o.replaceArgs && o.header == ":" && o.trimText == "lr"
	}},
	{[]string{"--pipe", "--block", "10k", "-N", "3", "wc"}, "", func(o *options, _ *cli.EngineFlags) bool { return o.block == 10000 && o.pipe }},
	{[]string{"--pipepart", "-a", "f", "--block", "-3", "wc"}, "", func(o *options, _ *cli.EngineFlags) bool { return o.block == -3 }},
	{[]string{"-j", "x", "echo"}, "-j x: must be N", nil},
	{[]string{"-j", "2", "--threads", "3", "echo"}, "disagree", nil},
	{[]string{"--window", "0", "echo"}, "--window 0", nil},
	{[]string{"--retries", "-1", "echo"}, "--retries -1", nil},
	{[]string{"--retries", "300", "echo"}, "--retries 300", nil},
	{[]string{"--chunk", "0", "echo"}, "--chunk", nil},
	{[]string{"--tasks", "f", "echo"}, "--tasks f and a command", nil},
	{[]string{"--tasks", "f", "-a", "g"}, "--tasks and -a", nil},
	{[]string{"--halt", "sometimes", "echo"}, "--halt sometimes", nil},
	{[]string{"--timeout", "soon", "echo"}, "--timeout soon", nil},
	{[]string{"--timeout", "0", "echo"}, "more than 0", nil},
	{[]string{"--resume", "echo"}, "give --joblog", nil},
	{[]string{"--retry-failed"}, "give --joblog", nil},
	{[]string{"--buffer", "lots", "echo"}, "--buffer lots", nil},
	{[]string{"--journal", "j", "echo"}, "--joblog", nil},
	{[]string{"--backups", "echo"}, "twice", nil},
	{[]string{"--no-such-flag", "echo"}, "unknown option --no-such-flag", nil},
	{[]string{"--re", "echo"}, "ambiguous", nil},
	{[]string{"--tag=1", "echo"}, "takes no value", nil},
	{[]string{"-j"}, "-j needs a value", nil},
	{[]string{"-S", "host", "echo"}, "-S is GNU parallel's and not supported by mw exec: mw runs tasks on the ranks", nil},
	{[]string{"--sshlogin", "host", "echo"}, "--sshlogin is GNU parallel's", nil},
	{[]string{"--plus", "echo"}, "--plus is GNU parallel's", nil},
	{[]string{"-kS", "h", "echo"}, "-S is GNU parallel's", nil},
	{[]string{"echo", "{=uc=}"}, "{= perl expression =}", nil},
	{[]string{"--colsep", "(", "echo"}, "--colsep (", nil},
	{[]string{"--header", "x.*", "echo"}, "--header x.*", nil},
	{[]string{"--results", "out.csv", "echo"}, "CSV", nil},
	{[]string{"--pipe", "-X", "wc"}, "-N (records per block)", nil},
	{[]string{"--pipepart", "wc"}, "--pipepart reads one regular file", nil},
	{[]string{"--block", "-2", "--pipe", "wc"}, "needs --pipepart", nil},
	{[]string{"--recend", "x", "echo"}, "give --pipe", nil},
	{[]string{"--pipe"}, "need a command to pipe into", nil},
	{[]string{"-a", "in.txt", "--joblog", "in.txt", "echo"}, "--joblog in.txt: is the file -a names too", nil},
	{[]string{"--tasks", "t.txt", "--joblog", "+./t.txt"}, "--joblog ./t.txt: is the file -a names too", nil},
	{[]string{"-a", "in.txt", "-a", "in.txt", "--joblog", "log", "echo"}, "", nil},
	{[]string{"-a", "in.txt", "--stats", "log", "--joblog", "log", "echo"}, "--stats log: is the file --joblog names too", nil},
	{[]string{"--stats", "-", "echo"}, "--stats -: stdout is taken by the tasks' output already", nil},
}

func TestParseArgs(t *testing.T) {
	tests := parseCases
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env := &cli.Env{Stdout: io.Discard, Stderr: io.Discard}
			o, ef, err := parseArgs(env, tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.chk != nil && !tt.chk(o, ef) {
				t.Errorf("options %+v engine %+v", o, ef)
			}
		})
	}
}

// TestUsageExit checks that a bad command line exits 255 (GNU parallel's status) before
// the transport is touched, and that -h prints the manual on rank 0 only.
func TestUsageExit(t *testing.T) {
	for _, r := range []int{0, 1} {
		var se, so bytes.Buffer
		env := &cli.Env{Stdout: &so, Stderr: &se, Rank: r, Transport: func() (rank.Transport, error) {
			t.Fatal("transport started for a bad command line")
			return nil, nil
		}}
		err := Command.Run(context.Background(), env, []string{"-j", "x", "echo"})
		var ue *cli.UsageError
		if cli.ExitCode(err) != 255 || !errors.As(err, &ue) {
			t.Errorf("rank %d: %v (exit %d), want a usage error with exit 255", r, err, cli.ExitCode(err))
		}
		se.Reset()
		err = Command.Run(context.Background(), env, []string{"-h"})
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("-h: %v", err)
		}
		if printed := strings.Contains(so.String(), "NAME\n  mw exec"); printed != (r == 0) || se.Len() > 0 {
			t.Errorf("rank %d: -h printed the usage: %v", r, printed)
		}
	}
}

// TestUnordered: with --unordered every task's output still comes whole (its lines
// together), and every task is printed once.
func TestUnordered(t *testing.T) {
	var input strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&input, "%d\n", i)
	}
	// Odd tasks wait a little so that they finish out of order.
	script := `[ $(($1 % 2)) = 1 ] && sleep 0.02; for k in 1 2 3; do echo "task $1 line $k"; done`
	got := runInproc(t, 3, input.String(), "--quiet", "--unordered", "-j", "2", "-q", "--", "sh", "-c", script, "sh")
	if got.code != 0 {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(got.stdout, "\n"), "\n")
	if len(lines) != 120 {
		t.Fatalf("%d lines, want 120", len(lines))
	}
	seen := map[string]bool{}
	for i := 0; i < len(lines); i += 3 {
		var task int
		fmt.Sscanf(lines[i], "task %d line 1", &task)
		for k := 0; k < 3; k++ {
			if want := fmt.Sprintf("task %d line %d", task, k+1); lines[i+k] != want {
				t.Fatalf("line %d: %q, want %q: a task's output was split", i+k, lines[i+k], want)
			}
		}
		if seen[lines[i]] {
			t.Fatalf("task %d printed twice", task)
		}
		seen[lines[i]] = true
	}
}

// TestResumeFailed: --resume-failed runs again only the tasks that failed, appends to the
// joblog, and a third run with --resume runs nothing.
func TestResumeFailed(t *testing.T) {
	dir := t.TempDir()
	tasks := filepath.Join(dir, "tasks")
	os.WriteFile(tasks, []byte("1\n2\n3\n4\n5\n6"), 0o644)
	log := filepath.Join(dir, "log")
	// Tasks 2 and 5 fail until the file fixed exists; every run of a task is counted.
	script := `echo run >> "$2/ran.$1"; case $1 in 2|5) [ -e "$2/fixed" ] || exit 9 ;; esac; echo "ok $1 of $MW_NTASKS"`
	args := []string{"--quiet", "-a", tasks, "--joblog", log, "-q", "--", "sh", "-c", script, "sh", "{}", dir}
	got := runInproc(t, 2, "", args...)
	if got.code != 2 || got.stdout != "ok 1 of 6\nok 3 of 6\nok 4 of 6\nok 6 of 6\n" {
		t.Fatalf("first run: exit %d, stdout %q", got.code, got.stdout)
	}
	os.WriteFile(filepath.Join(dir, "fixed"), nil, 0o644)
	got = runInproc(t, 2, "", append([]string{"--resume-failed"}, args...)...)
	if got.code != 0 || got.stdout != "ok 2 of 6\nok 5 of 6\n" {
		t.Fatalf("--resume-failed: exit %d, stdout %q", got.code, got.stdout)
	}
	got = runInproc(t, 2, "", append([]string{"--resume"}, args...)...)
	if got.code != 0 || got.stdout != "" {
		t.Fatalf("--resume of a finished run: exit %d, stdout %q", got.code, got.stdout)
	}
	for i, want := range []int{1, 2, 1, 1, 2, 1} {
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ran.%d", i+1)))
		if n := strings.Count(string(b), "run"); n != want {
			t.Errorf("task %d ran %d times, want %d", i+1, n, want)
		}
	}
	b, _ := os.ReadFile(log)
	if n := strings.Count(string(b), "\n"); n != 1+6+2 || strings.Count(string(b), "Seq\t") != 1 {
		t.Errorf("joblog:\n%s", b)
	}
}

// TestChunksAndInputs: several -a sources combined, several jobs per chunk, MW_NTASKS
// empty on a stream and the number of jobs otherwise, {#} numbering the combinations.
func TestChunksAndInputs(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("x\ny"), 0o644)
	os.WriteFile(b, []byte("\nz\n"), 0o644)
	cmd := []string{"sh", "-c", `echo "$1=[$2][$3][$4] n=[$MW_NTASKS]"`, "sh", "{#}", "{1}", "{2}", "{3}"}
	got := runInproc(t, 3, "s\n", append([]string{"--quiet", "--chunk", "2", "-a", a, "-a", "-", "-a", b, "-q", "--"}, cmd...)...)
	want := "1=[x][s][] n=[]\n2=[x][s][z] n=[]\n3=[y][s][] n=[]\n4=[y][s][z] n=[]\n"
	if got.code != 0 || got.stdout != want {
		t.Errorf("exit %d stdout %q, want %q", got.code, got.stdout, want)
	}
	cmd = []string{"sh", "-c", `echo "$1=[$2][$3] n=[$MW_NTASKS]"`, "sh", "{#}", "{1}", "{2}"}
	got = runInproc(t, 1, "", append([]string{"--quiet", "--chunk", "3", "-a", a, "-a", b, "-q", "--"}, cmd...)...)
	if want := "1=[x][] n=[4]\n2=[x][z] n=[4]\n3=[y][] n=[4]\n4=[y][z] n=[4]\n"; got.stdout != want {
		t.Errorf("files only: stdout %q, want %q", got.stdout, want)
	}
}

// TestHaltPercent: soon,fail=50% of 6 tasks read from a file.
func TestHaltPercent(t *testing.T) {
	dir := t.TempDir()
	tasks := filepath.Join(dir, "tasks")
	os.WriteFile(tasks, []byte("1\n1\n0\n2\n0\n0\n"), 0o644)
	got := runInproc(t, 2, "", "--quiet", "-j", "1", "--halt", "soon,fail=50%", "-a", tasks, "-q", "--", "sh", "-c", `echo {#}; exit $1`, "sh", "{}")
	if got.code != 50 || !strings.HasPrefix(got.stdout, "1\n2\n3\n4\n") || !strings.Contains(got.stderr, "--halt soon,fail=50%: task 4 failed (exit 2)") {
		t.Errorf("exit %d stdout %q stderr %q; want 50, tasks 1-4 and the halt", got.code, got.stdout, got.stderr)
	}
}
