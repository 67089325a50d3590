package taskfarm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/rank"
)

// Command is `mw exec`.
var Command = cli.Command{
	Name:  "exec",
	Short: "a task farm of shell commands, one per input line (GNU parallel's way, over MPI)",
	Run:   runExec,
}

// Exit statuses of mw exec besides the failed-task counts (GNU parallel's).
const (
	exitOther = 255 // an error that is not a task failing: bad flag, unreadable input, engine
)

// DefaultBuffer is the output of one task stream kept in memory before it spills to a file.
const DefaultBuffer = 4 << 20

// options are exec's flags, as every rank parses them from the same command line.
type options struct {
	inputs       []string // -a, in order
	tasks        string   // --tasks
	jobs         int      // -j
	keep         bool     // -k (the default anyway)
	unordered    bool
	joblog       string
	resume       bool
	resumeFailed bool
	halt         haltPolicy
	haltText     string
	timeout      time.Duration
	timeoutText  string
	shell        bool
	workdir      string
	tmpdir       string
	tmpdirGiven  bool
	buffer       int64
	chunk        cli.ChunkSize
	command      []string
}

const execUsage = `usage: mw exec [flags] [--] COMMAND [ARGS...]      one task per input line
       mw exec [flags] --tasks FILE                each line of FILE is a shell command
       (under mpirun: mpirun -q -np N mw exec ...)

Runs one task per line of the input (-a FILE, repeatable, or stdin) across the ranks of an
MPI allocation: rank 0 reads the tasks and prints their output; every other rank runs -j
tasks at a time (with -np 1 rank 0 runs them itself). In COMMAND and ARGS:
  {}    the input line              {.}   the line without its extension
  {#}   the task number (1-based)   {/}   the line without its directory
  {%}   the slot running the task   {//}  the line's directory
                                    {/.}  {/} without its extension
Without any of them the line is appended as the last argument. Values are passed as single
arguments, never re-parsed by a shell; with --shell the words form a /bin/sh script and
values are quoted for it (as GNU parallel does). Empty lines are tasks too, and a last line
without a newline is not dropped.

Each task's stdout then stderr are printed whole, in input order (--unordered: as tasks
finish), never mixed with another task's. A task sees MW_TASK (its number), MW_RANK,
MW_SLOT and MW_NTASKS (the number of input lines, empty for a stream) in its environment.

Each worker thread holds --window tasks (default 2): a slow task delays at most one other.
For tasks of a few milliseconds, --window 16 or --chunk 10 keeps the workers busier.

Exit status as GNU parallel: 0 all tasks succeeded, 1-100 that many failed, 101 more
than 100 failed, 255 another error; --halt ...,fail=1 exits with the failing task's status.
--halt counts tasks as they finish, as GNU parallel does. With now, the task that fired is
printed even if earlier ones still ran (they are killed); tasks waiting behind one that still
ran are neither printed nor logged (--resume runs them again), as with parallel -k. With
soon, the tasks queued at the workers go back unstarted (a slot freed at the very moment of
the halt may still start one before its worker hears of it).
mpirun prints a banner when a rank exits non-zero: mpirun -q leaves it out.

Differences from GNU parallel: several -a files are read one after the other (not
combined); --retries N allows N more tries (parallel: N in all); with --chunk above 1 a
retry re-runs the whole chunk; {%} and MW_SLOT count per rank.

examples:
  ls *.fastq | mpirun -q -np 4 mw exec -j 8 -- gzip -9 {}
  mpirun -q -np 9 mw exec -a samples.txt --joblog run.log -- ./analyse --in {} --out out/{/.}.csv
  mpirun -q -np 9 mw exec -a samples.txt --joblog run.log --resume -- ./analyse ...   (after a kill)
  mpirun -q -np 4 mw exec --tasks commands.txt --halt now,fail=1 --timeout 1h
  seq 1000000 | mpirun -q -np 4 mw exec --halt now,success=1 -- ./try-key {}
`

// parseArgs parses and checks exec's command line; every value is checked here, before
// any MPI. Usage errors are *cli.UsageError.
func parseArgs(env *cli.Env, args []string) (*options, *cli.EngineFlags, error) {
	fs := cli.NewFlagSet(env, "exec", execUsage)
	ef := cli.AddEngineFlags(fs)
	o := &options{chunk: cli.ChunkSize{N: 1}}
	addInput := func(s string) error { o.inputs = append(o.inputs, s); return nil }
	fs.Func("a", "read tasks from `FILE` (- is stdin; repeatable: files are read one after the other)", addInput)
	fs.Func("arg-file", "same as -a `FILE`", addInput)
	fs.StringVar(&o.tasks, "tasks", "", "each line of `FILE` is a whole shell command (run with /bin/sh -c)")
	fs.IntVar(&o.jobs, "j", 0, "run `N` tasks at once per worker rank (default: the rank's share of its node's CPUs)")
	fs.IntVar(&o.jobs, "jobs", 0, "same as -j `N`")
	fs.BoolVar(&o.keep, "k", false, "print output in input order (the default; for GNU parallel compatibility)")
	fs.BoolVar(&o.keep, "keep-order", false, "same as -k")
	fs.BoolVar(&o.unordered, "unordered", false, "print each task's output as soon as it finishes")
	fs.StringVar(&o.joblog, "joblog", "", "write a line per finished task to `FILE`, GNU parallel's columns (+FILE, --resume and --resume-failed append)")
	fs.BoolVar(&o.resumeFailed, "resume-failed", false, "skip the tasks that succeeded in the --joblog; run the failed ones again")
	fs.StringVar(&o.haltText, "halt", "never", "stop early: `WHEN,WHY=N`, WHEN now (kill running tasks) or soon (let them finish), WHY fail, success or done, N a count or a percentage (e.g. now,fail=1; soon,fail=10%; now,success=1)")
	fs.StringVar(&o.timeoutText, "timeout", "", "kill a task that runs longer than `DURATION` (seconds, or 90s, 5m, 2h, 1d, 1h30m)")
	fs.BoolVar(&o.shell, "shell", false, "run COMMAND ARGS as a /bin/sh script, values quoted for it")
	fs.StringVar(&o.workdir, "workdir", "", "run tasks in `DIR` (default: the current directory)")
	fs.StringVar(&o.tmpdir, "tmpdir", "", "capture task output in `DIR` (default $TMPDIR or /tmp); output past --buffer is handed to rank 0 as a file there, so on several hosts give a shared directory")
	bufText := fs.String("buffer", "4M", "task output kept in memory per stream, as `SIZE` (K, M, G); more spills to a file")
	fs.Var(&o.chunk, "chunk", "tasks per chunk sent to a worker (`N`); auto is 1")
	fs.Lookup("resume").Usage = "skip the tasks already in the --joblog (GNU parallel's --resume)"
	fs.Lookup("journal").Usage = "not for exec: its progress is the --joblog"
	fs.Lookup("backups").Usage = "not for exec: tasks have side effects"
	fs.Lookup("backups").DefValue, ef.Backups = "false", false
	fs.Lookup("retries").Usage = "run a failed task (exit status, signal, timeout) up to `N` more times, on another worker where possible; only the last try is printed"
	if err := cli.Parse(fs, preprocess(fs, args)); err != nil {
		return nil, nil, err
	}
	o.command = fs.Args()
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.tmpdirGiven = set["tmpdir"]
	// The engine's --resume continues a --journal; exec's progress is its --joblog, so
	// --resume reads that (GNU parallel's meaning) and the engine never sees it.
	o.resume, ef.Resume = ef.Resume, false
	if err := o.check(ef, set, *bufText); err != nil {
		return nil, nil, err
	}
	return o, ef, nil
}

// preprocess turns GNU-style -j4 into -j=4 before the command (the flag package wants a
// separate value). It skips the value of a flag given as a separate argument (--chunk 3),
// which may itself start with a dash.
func preprocess(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[1] == 'j' && a[2] >= '0' && a[2] <= '9' {
			a = "-j=" + a[2:]
		}
		out = append(out, a)
		name := strings.TrimLeft(a, "-")
		if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") && !isBool(f) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// isBool reports whether f is a boolean flag (one that takes no separate value).
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// check validates the values and derives the rest.
func (o *options) check(ef *cli.EngineFlags, set map[string]bool, bufText string) error {
	if ef.Journal != "" {
		return cli.Usagef("--journal: exec records its progress in --joblog FILE, which --resume reads")
	}
	if ef.Backups && set["backups"] {
		return cli.Usagef("--backups: tasks have side effects; a backup copy would run a task twice")
	}
	ef.Backups = false
	ef.Unordered = o.unordered
	files := []cli.File{cli.Out("the tasks' output", "-"), cli.In("--tasks", o.tasks)}
	for _, in := range o.inputs {
		files = append(files, cli.In("-a", in))
	}
	files = append(files, cli.Out("--joblog", joblogPath(o.joblog)))
	if err := ef.Validate(files...); err != nil {
		return err
	}
	if set["j"] || set["jobs"] {
		if o.jobs < 1 || o.jobs > rank.MaxThreads {
			return cli.Usagef("-j %d: must be 1 to %d", o.jobs, rank.MaxThreads)
		}
		if ef.Window > rank.MaxInFlight/o.jobs {
			return cli.Usagef("-j %d: %d tasks x --window %d in flight are more than the %d a worker rank may hold", o.jobs, o.jobs, ef.Window, rank.MaxInFlight)
		}
		if set["threads"] && ef.Threads != o.jobs {
			return cli.Usagef("-j %d and --threads %d disagree: give one of them", o.jobs, ef.Threads)
		}
		ef.Threads = o.jobs
	}
	if o.keep && o.unordered {
		return cli.Usagef("-k and --unordered: give one of them (in order is the default)")
	}
	switch {
	case o.tasks != "" && len(o.command) > 0:
		return cli.Usagef("--tasks %s and a command %q: with --tasks each line is the command; give one of them", o.tasks, strings.Join(o.command, " "))
	case o.tasks != "" && len(o.inputs) > 0:
		return cli.Usagef("--tasks and -a: the tasks come from one of them")
	case o.tasks == "" && len(o.command) == 0:
		return cli.Usagef("no command: mw exec [flags] -- COMMAND [ARGS...], or --tasks FILE to run each line as a shell command")
	}
	h, err := parseHalt(o.haltText)
	if err != nil {
		return cli.Usagef("--halt %s: %v", o.haltText, err)
	}
	o.halt = h
	if h.pct > 0 && o.stream() {
		return cli.Usagef("--halt %s: a percentage needs the number of tasks, unknown on stdin: give the tasks as a file (-a FILE or --tasks FILE)", o.haltText)
	}
	if o.timeoutText != "" {
		d, err := parseDuration(o.timeoutText)
		if err != nil {
			return cli.Usagef("--timeout %s: %v", o.timeoutText, err)
		}
		o.timeout = d
	}
	if (o.resume || o.resumeFailed) && o.joblog == "" {
		return cli.Usagef("--resume and --resume-failed read the --joblog: give --joblog FILE")
	}
	if o.resume && o.resumeFailed {
		return cli.Usagef("--resume and --resume-failed: give one of them (--resume-failed also resumes)")
	}
	if o.joblog == "+" || o.joblog == "" && set["joblog"] {
		return cli.Usagef("--joblog: give a file name")
	}
	n, err := parseSize(bufText)
	if err != nil {
		return cli.Usagef("--buffer %s: %v", bufText, err)
	}
	o.buffer = n
	if o.tmpdir == "" {
		o.tmpdir = os.TempDir()
	}
	return nil
}

// stream reports whether the tasks come from stdin.
func (o *options) stream() bool {
	if o.tasks != "" {
		return o.tasks == "-"
	}
	if len(o.inputs) == 0 {
		return true
	}
	for _, p := range o.inputs {
		if p == "-" {
			return true
		}
	}
	return false
}

// template is the command every task runs.
func (o *options) template() *template {
	switch {
	case o.tasks != "":
		return parseTemplate(nil, modeTasks)
	case o.shell:
		return parseTemplate(o.command, modeShell)
	}
	return parseTemplate(o.command, modeArgv)
}

// parseDuration reads a --timeout: a number of seconds (GNU parallel), optionally with a
// suffix s, m, h or d, or a Go duration such as 1h30m.
func parseDuration(s string) (time.Duration, error) {
	unit := time.Second
	num := s
	if n := len(s); n > 1 {
		switch s[n-1] {
		case 's':
			num = s[:n-1]
		case 'm':
			num, unit = s[:n-1], time.Minute
		case 'h':
			num, unit = s[:n-1], time.Hour
		case 'd':
			num, unit = s[:n-1], 24*time.Hour
		}
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(num, 64); err == nil {
		d = time.Duration(f * float64(unit))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, errors.New("not a duration (use seconds, or 90s, 5m, 2h, 1d, 1h30m)")
	}
	if d <= 0 {
		return 0, errors.New("must be more than 0")
	}
	return d, nil
}

// parseSize reads a size in bytes with an optional K, M or G suffix (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSuffix(strings.ToUpper(s), "B")
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'K':
			mult, num = 1<<10, num[:n-1]
		case 'M':
			mult, num = 1<<20, num[:n-1]
		case 'G':
			mult, num = 1<<30, num[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v < 0 || v > (1<<40)/mult {
		return 0, errors.New("must be a size in bytes such as 65536, 512K or 4M")
	}
	return v * mult, nil
}

func runExec(ctx context.Context, env *cli.Env, args []string) error {
	o, ef, err := parseArgs(env, args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		// GNU parallel's status for a bad command line; main still says "Run 'mw exec -h'".
		return &cli.ExitError{Code: exitOther, Err: err}
	}
	return o.run(ctx, env, ef)
}

// run runs the job on this rank and returns the exit status as an error.
func (o *options) run(ctx context.Context, env *cli.Env, ef *cli.EngineFlags) error {
	t, err := env.Transport()
	if err != nil {
		return &cli.ExitError{Code: exitOther, Err: err}
	}
	m := &manager{o: o, env: env, host: t.Host()}
	wcfg := workerConfig{
		tmpl: o.template(), timeout: o.timeout, dir: o.workdir, tmpdir: o.tmpdir, tmpdirGiven: o.tmpdirGiven,
		limit: o.buffer, retries: ef.Retries, rank: t.Rank(), host: t.Host(),
	}
	var w atomic.Pointer[worker]
	job := rank.Job{
		Name: "exec",
		Open: m.open,
		NewWorker: func(b []byte) (rank.Worker, error) {
			st, err := decodeSetup(b)
			if err != nil {
				return nil, err
			}
			wk, err := newWorker(wcfg, st)
			if err != nil {
				return nil, err
			}
			w.Store(wk)
			return wk.run, nil
		},
	}
	_, err = cli.RunJob(ctx, env, job, ef)
	if wk := w.Load(); wk != nil {
		wk.shutdown(time.Second)
	}
	m.close()
	if err != nil {
		return &cli.ExitError{Code: exitOther, Err: err}
	}
	if t.Rank() != 0 || m.sink == nil {
		return nil
	}
	if code := m.sink.tally.exitCode(); code != 0 {
		return &cli.ExitError{Code: code}
	}
	return nil
}

// manager is rank 0's side of the job: the input, the joblog and the sink.
type manager struct {
	o      *options
	env    *cli.Env
	host   string
	in     *inputs
	joblog *os.File
	sink   *sink
	run    string // the run's name (random): its spill files' names start with spillPrefix(run)
}

// open runs on rank 0 before any work: it counts the tasks when the input is a file,
// reads the joblog for --resume, opens the joblog and the input.
func (m *manager) open(ctx context.Context) (*rank.Plan, error) {
	o := m.o
	paths := o.inputs
	switch {
	case o.tasks != "":
		paths = []string{o.tasks}
	case len(paths) == 0:
		paths = []string{"-"}
	}
	total, err := countInputs(paths)
	if err != nil {
		return nil, err
	}
	if o.halt.pct > 0 && total < 0 {
		return nil, fmt.Errorf("--halt %s: a percentage needs the number of tasks, unknown for a stream: give the tasks as a regular file", o.haltText)
	}
	var skip *seqSet
	end := joblogEnd{cutAt: -1}
	resume := o.resume || o.resumeFailed
	if resume || strings.HasPrefix(o.joblog, "+") {
		// Read for the tasks to skip, and to mend the end before appending (+FILE too).
		f, err := os.Open(joblogPath(o.joblog))
		switch {
		case err == nil:
			var done *seqSet
			done, end, err = readJoblog(f, o.resumeFailed)
			f.Close()
			switch {
			case err != nil && resume:
				return nil, fmt.Errorf("--joblog %s: %w", joblogPath(o.joblog), err)
			case err != nil:
				end = joblogEnd{cutAt: -1} // +FILE of another kind: appended to as it is
			case resume:
				skip = done
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("--joblog: %w", err)
		}
	}
	if o.joblog != "" {
		if m.joblog, err = openJoblog(o.joblog, resume, end); err != nil {
			return nil, err
		}
	}
	m.in = &inputs{paths: paths, stdin: m.env.Stdin}
	src, err := newTaskSource(m.in, skip, o.chunk.Or(1))
	if err != nil {
		return nil, err
	}
	todo, chunks := int64(-1), int64(-1)
	if total >= 0 {
		todo = total - skip.countUpTo(uint64(total))
		per := int64(o.chunk.Or(1))
		chunks = (todo + per - 1) / per
	}
	var name [6]byte
	rand.Read(name[:]) // never fails (crypto/rand since Go 1.24)
	m.run = hex.EncodeToString(name[:])
	m.sink = &sink{
		stdout: m.env.Stdout, stderr: m.env.Stderr, msgs: m.env.Stderr, joblog: m.joblog,
		tally: tally{policy: o.halt, total: todo}, timeout: o.timeoutText,
	}
	return &rank.Plan{
		Source: src,
		Sink:   m.sink,
		Setup:  setup{managerHost: m.host, ntasks: total, run: m.run}.encode(),
		Total:  chunks,
	}, nil
}

// close closes the input and the joblog, and removes the output of tasks never printed
// (--halt now ended the job while they waited for an earlier task, or as they finished):
// the spill files of the run left in the tmpdir. Workers spill only where rank 0 reads
// (its host, or a shared --tmpdir), so that is every one.
func (m *manager) close() {
	if m.sink != nil {
		removeSpills(m.o.tmpdir, m.run)
	}
	if m.in != nil {
		m.in.Close()
	}
	if m.joblog != nil {
		m.joblog.Close()
	}
}
