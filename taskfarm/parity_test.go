package taskfarm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mw-hpc/mw/internal/mwtest"
)

// parityCase is a command line from GNU parallel's man page or tutorial (or one made to
// cover an option the same way), as a bash script in which $P is the program: GNU
// parallel, mw exec alone, or mw exec under mpirun -np 3. All three must print the same
// bytes on stdout and end with the same exit status. The scripts run in a directory with
// the files of parityFixtures. Where parallel's own output order is not fixed (-u, --shuf)
// the script sorts it; where a case depends on timing, the margins are a second or more.
// Under mpirun a lone ":" is mpirun's own separator of programs: --header=: is written.
type parityCase struct {
	name   string
	script string
}

var parityCases = []parityCase{
	{"quote words", `$P -k echo ::: A B C`},
	{"words joined by a shell", `$P -k printf '[%s]\n' ::: a b`},
	{"-q", `$P -k -q printf '[%s]\n' ::: a 'b c'`},
	{"redirection (the issue)", `printf 'a\n' | $P -k -- "echo {} > out.{}"; cat out.a`},
	{"hostile values quoted", "$P -k echo {} ::: 'a b' \"it's\" '$HOME' '`echo x`' '*' '' 'a;b' '\"q\"'"},
	{"dry-run quoting", `$P -k --dry-run echo "a''b" ::: "x''y" "it's" '' 'a b' '~x' 'ü'`},
	{"perl wont work", `$P -k perl -e 'print "@ARGV\n"' ::: This wont work`},
	{"perl -q works", `$P -k -q perl -e 'print "@ARGV\n"' ::: This works`},
	{"perl quoted works", `$P -k perl -e \''print "@ARGV\n"'\' ::: This works, too`},
	{"leading =", `$P -k echo \={} ::: zsh bash ls`},
	{"no command", `$P -k ::: ls 'echo foo' pwd`},
	{"no command stdin", `printf 'echo one\necho two\n' | $P -k`},
	{"values as command", `$P -k {1} {2} ::: echo printf ::: x`},
	{"path replacements", `$P -k echo {} {.} {/} {//} {/.} ::: A/B.C /a/b.c.d a.b/c .x a/ ''`},
	{"positional paths", `$P -k echo /={1/} //={1//} /.={1/.} .={1.} ::: A/B.C D/E.F`},
	{"positional negative", `$P -k echo 1={1} 2={2} 3={3} -1={-1} -2={-2} -3={-3} ::: A ::: B ::: C`},
	{"seq and slot", `$P -k -j1 echo {#} {%} ::: A B C`},
	{"two sources", `$P -k echo ::: A B C ::: D E F`},
	{"two -a", `$P -k -a abc-file -a def-file echo`},
	{"-a - and -a", `cat abc-file | $P -k -a - -a def-file echo`},
	{":::: - file", `cat abc-file | $P -k echo :::: - def-file`},
	{"::: and ::::", `$P -k echo ::: A B C :::: def-file`},
	{"--link", `$P -k --link echo ::: A B C ::: D E F`},
	{"--link wraps", `$P -k --link echo ::: A B C D E ::: F G`},
	{":::+", `$P -k echo :::: abc-file :::+ G H I :::: def-file`},
	{"::::+", `$P -k echo :::: abc-file ::: G H I ::::+ def-file`},
	{":::+ shortest", `$P -k echo ::: A B C D E :::+ F G`},
	{"--arg-sep", `$P -k --arg-sep ,, echo ,, A B C :::: def-file`},
	{"--arg-file-sep", `$P -k --arg-file-sep // echo ::: A B C // def-file`},
	{"-d", `$P -k -d _ echo :::: abc_-file`},
	{"-d \\0", `$P -k -d '\0' echo :::: abc0-file`},
	{"-0", `$P -k -0 echo :::: abc0-file`},
	{"-E", `$P -k -E stop echo ::: A B stop C D`},
	{"--no-run-if-empty", `(echo 1; echo; echo 2) | $P -k --no-run-if-empty echo`},
	{"--colsep", `$P -k --colsep '\t' echo 1={1} 2={2} :::: tsv-file.tsv`},
	{"--header", `$P -k --header=: echo f1={f1} f2={f2} ::: f1 A B ::: f2 C D`},
	{"--header --colsep", `$P -k --header=: --colsep '\t' echo f1={f1} f2={f2} :::: tsv-file.tsv`},
	{"--colsep two sources", `$P -k --colsep '-' echo {4} {3} {2} {1} ::: A-B C-D ::: e-f g-h`},
	{"--trim", `$P -k --trim r echo pre-{}-post ::: ' A '; $P -k --trim l echo pre-{}-post ::: ' A '; $P -k --trim lr echo pre-{}-post ::: ' A '`},
	{"-I", `$P -k -I ,, echo ,, ::: A/B.C`},
	{"renamed replacements", `$P -k --extensionreplace ,, echo ,, ::: A/B.C; $P -k --bnr ,, echo ,, ::: A/B.C; $P -k --dnr ,, echo ,, ::: A/B.C; $P -k --bner ,, echo ,, ::: A/B.C`},
	{"--seqreplace", `$P -k --seqreplace ,, echo ,, ::: A B C`},
	{"-N3", `$P -k -N3 echo ::: A B C D E F G H`},
	{"-N3 positional", `$P -k -N3 echo 1={1} 2={2} 3={3} ::: A B C D E F G H`},
	{"-N0", `$P -k -N0 echo foo ::: 1 2 3`},
	{"-n2", `$P -k -n2 echo pre{}post ::: a b c d e`},
	{"-m spread", `$P -k --jobs 4 -m echo ::: 1 2 3 4 5 6 7 8 9 10`},
	{"-m context", `$P -k --jobs 4 -m echo pre-{}-post ::: A B C D E F G`},
	{"-X context", `$P -k --jobs 4 -X echo pre-{}-post ::: A B C D E F G`},
	{"--xargs length", `cat num30000 | $P -k -j1 --xargs echo | wc -l`},
	{"--xargs -s", `cat num30000 | $P -k -j1 --xargs -s 10000 echo | wc -l`},
	{"-m length and spread", `cat num30000 | $P -k --jobs 4 -m echo | wc -l`},
	{"PARALLEL_SEQ", `seq 10 | $P -k -N2 echo seq:\$PARALLEL_SEQ arg1:{1} arg2:{2}`},
	{"variable with spaces", `VAR="two  spaces  between  each  word"; echo test | $P -k echo {} \'"$VAR"\'`},
	{"variable set in the task", `echo test | $P -k VAR=this_is_set_after_starting \; echo {} \$VAR`},
	{"-q keeps $", `echo test | $P -k -q echo {} \$VAR`},
	{"--shuf", `$P -k --shuf echo ::: 1 2 3 ::: a b c ::: A B C | sort`},
	{"--tag", `$P -k --tag echo foo-{} ::: A B C`},
	{"--tagstring", `$P -k --tagstring {}-bar echo foo-{} ::: A B C`},
	{"--dryrun", `$P -k --dryrun echo {} ::: A B C`},
	{"--verbose", `$P -k --verbose echo {} ::: A B C`},
	{"-v", `$P -k -v echo {} ::: A B C`},
	{"-k grouped output", `$P -j2 -k 'printf "%s-start\n%s" {} {}; sleep 0.{}; printf "%s\n" -middle; echo {}-end' ::: 4 2 1`},
	{"-u", `$P -u -j1 'echo {}' ::: a b c | sort`},
	{"--line-buffer -k", `$P -k --lb 'echo {};sleep 0.{};echo {}' ::: 1 3 2 4`},
	{"--files", `$P -k --files echo ::: A B C | xargs cat`},
	{"--tmpdir --files", `$P -k --tmpdir . --files echo ::: A B C | xargs cat`},
	{"--results", `$P --results outdir echo ::: A B C; echo rc=$?; find outdir -type f | sort; cat outdir/1/A/stdout outdir/1/B/seq`},
	{"--header --results", `$P --header=: --results outdir echo ::: f1 A B ::: f2 C D; find outdir | sort`},
	{"--results templates", `$P --results my_{} echo ::: foo bar; ls my_*; $P --results dir_{}/ echo ::: foo bar; find dir_* | sort; cat my_foo dir_bar/stdout`},
	{"--timeout", `$P -k --timeout 1 'sleep {}; echo {}' ::: 0.1 3 0.2`},
	{"--timeout %", `$P -k --timeout 200% 'sleep {}; echo {}' ::: 0.1 0.1 0.1 3`},
	{"--delay", `$P -k --delay 0.1 echo ::: 1 2 3`},
	{"--memfree", `$P -k --memfree 1k echo ::: a b`},
	{"--nice", `$P -k --nice 17 'nice #' ::: x`},
	{"--joblog --resume", `$P -k --joblog log exit ::: 1 2 3 0; echo rc=$?; cut -f1,7,8,9 log | sort -n; $P --resume --joblog log exit ::: 1 2 3 0 0 0; echo rc=$?; cut -f1,7,8,9 log | sort -n`},
	{"--resume-failed", `$P -k --joblog log exit ::: 1 2 3 0; $P --resume-failed --joblog log exit ::: 1 2 3 0 0 0; echo rc=$?; cut -f1,7,8,9 log | sort -n`},
	{"--retry-failed", `$P -k --joblog log 'echo {}; exit {}' ::: 0 1 2 0; $P -k --retry-failed --joblog log; echo rc=$?; cut -f1,7,8,9 log | sort -n`},
	{"--halt now,fail=1", `$P -k --halt now,fail=1 'case {} in 3) sleep 1.5; exit 3;; [12]) echo {};; *) sleep 10; echo {};; esac' ::: 1 2 3 4 5 6`},
	{"--halt soon,fail=1", `$P -k --halt soon,fail=1 'case {} in 3) sleep 1.5; exit 3;; *) echo {};; esac' ::: 1 2 3 4 5 6`},
	{"--halt now,success=1", `$P -k -j3 --halt now,success=1 'case {} in 3) echo three;; *) sleep 10;; esac' ::: 3 1 2`},
	{"--halt soon,fail=50%", `$P -k --halt soon,fail=50% 'echo {}; exit {}' ::: 0 1 0 1`},
	{"--halt now,done=1", `$P -k --halt now,done=1 'case {} in 1) echo one; exit 4;; *) sleep 10;; esac' ::: 1 2 3`},
	{"--halt 2", `$P -k --halt 2 'case {} in 7) sleep 1.5;; esac; echo {}; exit {}' ::: 0 7 0`},
	{"--retries", `$P -k --retries 3 'echo x >> cnt{}; exit 1' ::: a; echo rc=$?; wc -l < cnta`},
	{"-j forms", `$P -k -j 50% echo ::: a b; $P -k -j +1 echo ::: c; $P -k -j -1 echo ::: d; $P -k -j 0 echo ::: e`},
	{"--wd", `$P -k --wd /tmp pwd ::: x`},
	{"-0 values", `printf 'a b\0c\0' | $P -k -0 echo x{}x`},
	{"--pipe --block", `seq 100000 | $P --pipe --block 100k -k wc -l`},
	{"--pipe default block", `seq 1000000 | $P --pipe -k wc`},
	{"--pipe --block 2M", `seq 1000000 | $P --pipe --block 2M -k wc`},
	{"--pipe -N", `seq 1000000 | $P --pipe -N140000 -k wc`},
	{"--pipe {#}", `seq 10 | $P --pipe -N3 -k 'echo {#}:; cat'`},
	{"--recstart", `printf '>1\nA\n>2\nB\n>3\nC\n' | $P --pipe --recstart '>' -N1 -k 'echo ==; cat'`},
	{"--recend", `printf 'a;b;c;' | $P --pipe --recend ';' -N1 -k 'echo ==; cat; echo'`},
	{"--pipe --header", `printf 'h\n1\n2\n3\n' | $P --pipe -N2 --header=: -k cat`},
	{"--pipepart", `$P --pipepart -a big.txt --block 100k -k wc -l`},
	{"--pipepart --header", `$P --pipepart -a hs.txt --block 10 --header=: -k 'echo ==; cat'`},
	{"--pipepart --block -3", `$P --pipepart -a big.txt --block -3 -j2 -k wc -l`},
	{"--pipepart ::::", `$P -k --pipepart --block 1M wc :::: num30000`},
	{"empty input", `$P -k echo < /dev/null`},
	{"failures counted", `$P -k false ::: 1 2 3`},
	{"exit statuses", `$P -k 'exit {}' ::: 0 1 2 300`},
	{"more than 100 failed", `seq 150 | $P -k -j4 false`},
	{"command not found", `$P -k nosuchcommand ::: a`},
	{"empty :::", `$P -k -X echo :::`},
	{"--tag -X", `$P -k --tag -X echo ::: a b c ::: 1 2`},
	{"--tagstring {#}", `$P -k --tagstring '{#}:{1}' echo ::: a b`},
	{"-v -X", `$P -k -v -j1 -X echo pre{}post ::: a b c`},
	{"--pipe {}", `seq 3 | $P --pipe -k -N1 'cat; echo {} x'`},
	{"--pipepart {}", `$P --pipepart -a abc-file --block 2 -k 'cat; echo {} x'`},
	{"--colsep -N", `printf 'a,b\nc,d\ne,f\n' | $P -k --colsep , -N2 echo {1}-{2}-{3}-{4}`},
	{"-m {.}", `$P -k -j1 -m echo {.} ::: a.x b.y c.z`},
	{"--xargs {}", `$P -k -j1 --xargs echo {} x ::: a b c`},
	{"-q -X", `$P -k -j1 -q -X echo pre{}post ::: 'a b' c`},
	{"-0 paths", `printf 'a/b\nc/d\0x/y\0' | $P -k -0 echo {/} {//}`},
	{"-I positional", `$P -k -I XX echo {1} XX ::: a`},
	{"--link :::+", `$P -k --link echo ::: a b c :::+ 1 2 ::: X Y`},
	{"-a ::::+", `$P -k -a abc-file ::::+ def-file echo`},
	{"--header 0", `$P -k --header 0 echo {def-file} {abc-file} :::: abc-file def-file`},
	{"--results -N", `$P --header=: --results res -N2 echo ::: h a b c d; find res -type f | sort`},
	{"--shuf {#}", `$P -k --shuf echo {#} ::: a b c | sort`},
	{"no command two sources", `$P -k ::: echo printf ::: 'a b' c`},
	{"-j file", `echo 3 > procfile; $P -k -j procfile -X echo ::: 1 2 3 4 5 6 7 8 9`},
	{"101 and 100", `seq 120 | $P -k -j4 false; echo rc=$?; seq 100 | $P -k false`},
	{"--dry-run -q --tag", `$P -k --dry-run -q --tag echo ::: 'a b'`},
	{"abbreviations", `$P -k --dry echo x ::: y; $P -k --tagstr T echo ::: z; $P -k --colse , echo {2} ::: a,b`},
	{"--halt signal status", `$P -k --halt now,fail=1 'kill -9 $$' ::: 1`},
	{"--halt 20%", `$P -k -j1 --halt 20% 'echo {}; exit {}' ::: 0 1 0 0 0 0 0 0 0 0`},
	{"--retries succeed", `$P -k --retries 2 -j1 'test -e done{} || { touch done{}; echo fail >&2; exit 1; }; echo ok {}' ::: a b`},
	{"-d \\n", `$P -k -d '\n' echo x{}x ::: a b`},
	{"--trim n --colsep", `$P -k --trim n --colsep , echo [{1}] ::: ' a , b '`},
	{"missing positional", `$P -k echo {1} {2} ::: a`},
	{"-r values", `$P -k -r echo x{}x ::: a '' ' ' b`},
	{"bundled options", `$P -k -kj1 echo ::: a; $P -k -- echo -k ::: a; $P -k --max-args=2 echo ::: a b c`},
	{"stderr not on stdout", `$P -k -j2 'echo {} >&2; echo {}' ::: a b 2>/dev/null`},
	{"last line without newline", `printf 'line1\nline2' | $P -k echo x{}x`},
	{"carriage return", `printf 'a\r\nb\n' | $P -k echo x{}x`},
	{"backslashes", `$P -k echo ::: 'a\nb' 'c\\d'`},
	{"-X tab", `$P -k -j1 --dry-run -X echo 'a{}b	c{}' ::: 1 2`},
	{"spaces kept", `$P -k --dry-run echo '   ' ::: 1`},
	{"-q empty word", `$P -k --dry-run -q echo '' 'a b' ::: x`},
	{"-N0 dry-run", `$P -k -N0 --dry-run echo hi ::: a b`},
	{"PARALLEL_JOBSLOT", `$P -k -j1 echo \$PARALLEL_SEQ \$PARALLEL_JOBSLOT ::: a b`},
	{"--process-slot-var", `$P -k -j1 --process-slot-var=name echo '$name' {} ::: a b`},
	{"--pipe small block", `seq 20 | $P --pipe --block 10 -k 'wc -c'`},
	{"--pipe --recend ''", `seq 5 | $P --pipe -k --recend '' --block 3 'wc -c'`},
	{"--pipe no newline", `printf 'abc' | $P --pipe -k cat`},
	{"--pipepart --recend ''", `$P --pipepart -a big.txt --recend '' --block 100k -k wc -c`},
	{"--pipepart --recstart", `$P --pipepart -a big.txt --recstart 5 --block 100k -k 'head -1'`},
}

// parityFixtures are the files the cases read (the tutorial's abc-file and friends).
var parityFixtures = map[string]string{
	"abc-file":     "A\nB\nC\n",
	"def-file":     "D\nE\nF\n",
	"abc_-file":    "A_B_C_",
	"abc0-file":    "A\x00B\x00C\x00",
	"tsv-file.tsv": "f1\tf2\nA\tB\nC\tD\n",
	"hs.txt":       "head\n" + seqLines(1, 20),
	"num30000":     seqLines(1, 30000),
	"big.txt":      seqLines(1, 100000),
}

func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// runParity runs a case's script with $P set to program, in a fresh directory dir (the
// same path for every program: pwd is part of some outputs).
func runParity(t *testing.T, c parityCase, program, dir, home string) cmdResult {
	t.Helper()
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range parityFixtures {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return runWithDeadline(t, "bash", []string{"-c", c.script}, func(cmd *exec.Cmd) {
		cmd.Dir = dir
		cmd.Env = append(mwtest.MPIEnv(), "HOME="+home, "PARALLEL_HOME="+filepath.Join(home, ".parallel"),
			"PARALLEL_SHELL=/bin/sh", "P="+program, "LC_ALL=C")
	})
}

// parityHome is a HOME for GNU parallel where it has been told the citation notice was
// read (~/.parallel/will-cite), so that it prints none and asks nothing.
func parityHome(t *testing.T) string {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".parallel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".parallel", "will-cite"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}

// overStdinLimit are the cases that pipe more than 64 KiB into $P: they run under a
// launcher that forwards no more (mwtest.StdinLimit: MPICH's) only without it.
var overStdinLimit = []string{"--xargs length", "--xargs -s", "-m length and spread",
	"--pipe --block", "--pipe default block", "--pipe --block 2M", "--pipe -N"}

// TestSameAsGNUParallel runs every case through GNU parallel (Debian's), mw exec alone and
// mw exec under mpirun -np 3: the same stdout, byte for byte, and the same exit status.
// The cases run a few at a time (most of their time is waiting: process start-ups, sleeps).
func TestSameAsGNUParallel(t *testing.T) {
	if _, err := exec.LookPath("parallel"); err != nil {
		t.Skip("GNU parallel is not installed")
	}
	home, base := parityHome(t), t.TempDir()
	bin := mwtest.Binary(t)
	type program struct {
		name, cmd string
		launched  bool
	}
	programs := []program{{name: "mw exec", cmd: bin + " exec --quiet"}}
	if !testing.Short() {
		if _, err := exec.LookPath(mwtest.Launcher().Command); err == nil {
			job := mwtest.Job{NP: 3, OpenMPI: quietMPI}
			programs = append(programs, program{"mpirun -np 3 mw exec", strings.Join(job.Argv(bin, "exec", "--quiet"), " "), true})
		}
	}
	for _, name := range overStdinLimit {
		if !slices.ContainsFunc(parityCases, func(c parityCase) bool { return c.name == name }) {
			t.Errorf("overStdinLimit: no case %q", name)
		}
	}
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, c := range parityCases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(c.name, func(t *testing.T) {
				dir := filepath.Join(base, strconv.Itoa(i))
				want := runParity(t, c, "parallel", dir, home)
				for _, p := range programs {
					if p.launched && mwtest.StdinLimit() > 0 && slices.Contains(overStdinLimit, c.name) {
						continue
					}
					got := runParity(t, c, p.cmd, dir, home)
					sameRun(t, fmt.Sprintf("%s: %s", p.name, c.script), got, want)
				}
			})
		}()
	}
	wg.Wait()
}

// sameRun compares a run with GNU parallel's: stdout byte for byte, and the exit status.
func sameRun(t *testing.T, what string, got, want cmdResult) {
	t.Helper()
	if got.code != want.code {
		t.Errorf("%s\nexit status %d, GNU parallel's %d\nstderr: %.400s", what, got.code, want.code, got.stderr)
	}
	if !bytes.Equal(got.stdout, want.stdout) {
		i := 0
		for i < len(got.stdout) && i < len(want.stdout) && got.stdout[i] == want.stdout[i] {
			i++
		}
		lo := max(0, i-80)
		t.Errorf("%s\nstdout differs at byte %d of %d (GNU parallel's %d):\n got ...%q\nwant ...%q\nstderr: %.400s", what, i, len(got.stdout), len(want.stdout),
			got.stdout[lo:min(len(got.stdout), i+80)], want.stdout[lo:min(len(want.stdout), i+80)], got.stderr)
	}
}
