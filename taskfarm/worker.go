package taskfarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// workerFacts are the facts of the rank a worker runs on.
type workerFacts struct {
	rank           int
	host           string
	workers        int       // worker ranks in the job (1 when the manager runs tasks itself)
	stdout, stderr io.Writer // where -u tasks write: the rank's own streams
}

// workerConfig is what a worker needs of the command line's options (every rank parses
// the same arguments).
type workerConfig struct {
	timeout     time.Duration
	dir         string // --workdir without replacement strings, "" for the current directory
	tmpdir      string // where task output is captured and spilled
	tmpdirGiven bool   // --tmpdir was given: a directory rank 0 can read (shared)
	limit       int64  // output kept in memory per stream; larger is spilled
	retries     int    // --retries - 1: fail the chunk (so the engine re-issues it) before the last try
	termSeq     []killStep
	nice        int
	niceSet     bool
	slotVar     string
	dryRun      bool
	ungroup     bool
	shell       string
}

// worker runs the tasks of the chunks a worker rank is given.
type worker struct {
	o      *options
	cfg    workerConfig
	facts  workerFacts
	st     setup
	tmpl   *template
	mode   composeMode
	tagT   *template // --tagstring
	resT   *template // --results with replacement strings
	dirT   *template // --workdir with replacement strings
	env    []string  // environment of every task, but for the per-task variables
	direct bool      // composed lines may run without a shell here
	pwd    string    // PWD of a task run without a shell (the shell would set it)
	spill  bool      // large output may be handed to the manager as a file
	name   string    // the run's name, in its spill files' names
	prefix string    // "mw[rank@host]: exec: " for messages in a task's stderr
	part   *os.File  // --pipepart's file
	pace   *pacer
	mem    *memWatch
	pool   *pool     // the rank's cores and GPUs, when tasks take some (nil otherwise)
	cpuT   *template // --cpus-per-task with replacement strings
	gpuT   *template // --gpus-per-task with replacement strings

	paths sync.Map // program name -> path, as PATH resolves it
	slots slotPool

	kills   atomic.Int64 // groupKill sequences under way
	mu      sync.Mutex
	running map[int]time.Time    // process groups of running tasks, by start
	pairs   map[int]*capturePair // per slot: capture files kept for the next task
	outMu   sync.Mutex           // whole outputs of -u tasks written to a non-file
}

// newWorker prepares a worker rank to run tasks.
func newWorker(o *options, facts workerFacts, st setup) (*worker, error) {
	cfg, err := o.workerConfig()
	if err != nil {
		return nil, err
	}
	w := &worker{o: o, cfg: cfg, facts: facts, st: st, running: map[int]time.Time{}, pairs: map[int]*capturePair{}}
	if err := w.templates(); err != nil {
		return nil, err
	}
	if err := checkDirs(cfg); err != nil {
		return nil, err
	}
	w.prefix = fmt.Sprintf("mw[%d@%s]: exec: ", facts.rank, facts.host)
	w.spill = cfg.tmpdirGiven || st.managerHost == facts.host
	w.name = st.run
	w.env = taskEnv(facts.rank, st.ntasks, cfg.slotVar, o.gpus != "")
	w.direct = directShell(cfg.shell) && !relativePath() && w.dirT == nil
	if w.direct {
		w.pwd = taskDir(cfg.dir)
		w.direct = w.pwd != ""
	}
	if o.delay > 0 {
		w.pace = newPacer(o.delay, max(facts.rank-1, 0), facts.workers)
	}
	if o.memfree > 0 {
		w.mem = newMemWatch(o.memfree)
	}
	if st.kind == jobPart {
		if w.part, err = os.Open(o.inputs[0].path); err != nil {
			return nil, fmt.Errorf("--pipepart: %w", err)
		}
	}
	if err := w.shareOut(st); err != nil {
		return nil, err
	}
	return w, nil
}

// shareOut prepares the rank's cores and GPUs for its tasks, when they take some: with
// --cpus-per-task or --gpus, or a --tasks file (whose #MW lines may ask). A rank that
// runs more tasks at once than its launcher gave it cores says so.
func (w *worker) shareOut(st setup) error {
	o, res := w.o, w.o.res
	if res == nil {
		return nil
	}
	if res.err != nil {
		return res.err
	}
	if warn := o.bindingWarning(res, o.threads); warn != "" {
		fmt.Fprintf(w.facts.stderr, "%swarning: %s\n", w.prefix, warn)
	}
	if !o.cpuShare.given() && o.gpus == "" && o.tasks == "" {
		return nil
	}
	w.pool = newPool(res.cores, res.devs)
	var err error
	if o.cpuShare.tmpl {
		if w.cpuT, err = parseTemplate(rewriteNames([]string{o.cpuShare.text}, st.names), o.rpl); err != nil {
			return err
		}
	}
	if o.gpuShare.tmpl {
		w.gpuT, err = parseTemplate(rewriteNames([]string{o.gpuShare.text}, st.names), o.rpl)
	}
	return err
}

// workerConfig derives a worker's settings from the options.
func (o *options) workerConfig() (workerConfig, error) {
	c := workerConfig{timeout: o.timeout, tmpdir: o.tmpdir, tmpdirGiven: o.tmpdirGiven, limit: o.buffer,
		retries: max(o.tries-1, 0), termSeq: o.termSeq, nice: o.nice, niceSet: o.niceSet, slotVar: o.slotVar,
		dryRun: o.dryRun, ungroup: o.output == outUngroup, shell: shellPath}
	if o.tries == 0 {
		c.retries = rank.MaxAttempt
	}
	if !strings.Contains(o.workdir, "{") {
		c.dir = o.workdir
	}
	if s := os.Getenv("PARALLEL_SHELL"); s != "" {
		switch filepath.Base(s) {
		case "sh", "dash", "bash", "ksh", "mksh", "zsh", "ash", "posh", "yash":
			c.shell = s
		default:
			return c, fmt.Errorf("PARALLEL_SHELL=%s: mw quotes values for Bourne-like shells (sh, dash, bash, ksh, zsh) only", s)
		}
	}
	return c, nil
}

// templates builds the command's template and those of --tagstring, --results and
// --workdir, with the manager's --header names.
func (w *worker) templates() error {
	o := w.o
	t, err := o.commandTemplate(w.st.names)
	if err != nil {
		return err
	}
	w.tmpl, w.mode = t, o.composeMode(t)
	opt := func(s string) (*template, error) {
		t, err := parseTemplate(rewriteNames([]string{s}, w.st.names), o.rpl)
		if err != nil || !t.hasRpl() {
			return nil, err
		}
		return t, nil
	}
	if o.tagStringSet {
		if w.tagT, err = parseTemplate(rewriteNames([]string{o.tagString}, w.st.names), o.rpl); err != nil {
			return err
		}
	}
	if w.resT, err = opt(o.results); err != nil {
		return err
	}
	w.dirT, err = opt(o.workdir)
	return err
}

// checkDirs checks --workdir and --tmpdir on this rank.
func checkDirs(cfg workerConfig) error {
	if cfg.dir != "" {
		fi, err := os.Stat(cfg.dir)
		if err != nil {
			return fmt.Errorf("--workdir: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("--workdir %s: not a directory", cfg.dir)
		}
	}
	if fi, err := os.Stat(cfg.tmpdir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return fmt.Errorf("--tmpdir %s: %w", cfg.tmpdir, err)
	}
	return nil
}

// taskEnv is the environment every task starts from: mw's, without the variables set per
// task, with MW_RANK and MW_NTASKS. With GPUs to share (gpus) it leaves out the rank's own
// device variables: each task gets its own.
func taskEnv(rank int, ntasks int64, slotVar string, gpus bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MW_TASK", "MW_SLOT", "MW_RANK", "MW_NTASKS", "PARALLEL_SEQ", "PARALLEL_JOBSLOT", slotVar:
			continue
		case "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ZE_AFFINITY_MASK", "GPU_DEVICE_ORDINAL":
			if gpus {
				continue
			}
		}
		env = append(env, kv)
	}
	nt := ""
	if ntasks >= 0 {
		nt = strconv.FormatInt(ntasks, 10)
	}
	env = append(env, "MW_RANK="+strconv.Itoa(rank), "MW_NTASKS="+nt)
	return dedupEnv(env)
}

// relativePath reports whether PATH has a relative directory: the shell looks there
// relative to the task's directory, and a lookup made by the worker could differ.
func relativePath() bool {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if !filepath.IsAbs(d) {
			return true
		}
	}
	return false
}

// dedupEnv keeps the last of the entries with the same key, in order, and drops empty
// entries and entries holding a NUL: what exec.Cmd did to a task's environment on every
// start, done once per worker (the per-task variables are never in it).
func dedupEnv(env []string) []string {
	out := make([]string, 0, len(env))
	saw := make(map[string]bool, len(env))
	for n := len(env); n > 0; n-- {
		kv := env[n-1]
		if strings.IndexByte(kv, 0) != -1 {
			continue
		}
		i := strings.Index(kv, "=")
		if i == 0 {
			i = strings.Index(kv[1:], "=") + 1
		}
		if i < 0 {
			if kv != "" {
				out = append(out, kv)
			}
			continue
		}
		if k := kv[:i]; !saw[k] {
			saw[k] = true
			out = append(out, kv)
		}
	}
	slices.Reverse(out)
	return out
}

// lookPath finds a program as a shell would: a name with a slash is used as it is
// (relative to the task's directory), others are looked up in PATH.
func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	p, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrDot) && strings.Contains(p, "/") {
		err = nil
	}
	return p, err
}

// program is where PATH finds name, looked up once per worker; false when it does not.
func (w *worker) program(name string) (string, bool) {
	if p, ok := w.paths.Load(name); ok {
		return p.(string), true
	}
	p, err := lookPath(name)
	if err != nil {
		return "", false
	}
	w.paths.Store(name, p)
	return p, true
}

// run computes one chunk: it runs its tasks one after the other and returns their
// records. A failed task is a normal result, except before the last try allowed by
// --retries, where the chunk fails so that the engine re-issues it on another worker.
func (w *worker) run(ctx context.Context, c rank.Chunk) ([]byte, error) {
	var out, rec []byte
	var spilled []string
	err := partition.Unpack(c.Data, func(_ int, item []byte) error {
		j, err := decodeJob(item, w.st.kind)
		if err != nil {
			return err
		}
		r, err := w.runTask(ctx, &j)
		if err != nil {
			return err
		}
		r.attempt, r.lost = uint8(min(c.Attempt, 255)), uint16(min(c.Lost, 65535))
		spilled = append(spilled, r.spillFiles()...)
		if r.failed() && c.Attempt < w.cfg.retries {
			return fmt.Errorf("task %d failed (%s) on try %d of %d", j.seq, r.status(), c.Attempt+1, w.cfg.retries+1)
		}
		rec = appendRecord(rec[:0], &r)
		out = partition.Pack(out, rec)
		return nil
	})
	if err == nil && ctx.Err() != nil {
		// The job stopped as the tasks ended: the result will not be printed.
		err = ctx.Err()
	}
	if err != nil {
		for _, p := range spilled {
			os.Remove(p)
		}
		return nil, err
	}
	return out, nil
}

// status describes how a task ended.
func (r *record) status() string {
	switch {
	case r.timedOut():
		return "timed out"
	case r.signal != 0:
		return "killed by signal " + strconv.FormatUint(r.signal, 10)
	}
	return "exit " + strconv.FormatInt(r.exit, 10)
}

// vars are a job's replacement values on this rank.
func (w *worker) vars(j *job, slot int) *jobVars {
	v := &jobVars{seq: j.seq, slot: slot, trim: w.o.trimText, noArg: w.o.maxArgs == 0 || w.st.kind == jobPart}
	switch w.st.kind {
	case jobArgs:
		v.args = j.flatArgs()
	case jobCommand:
		v.args = []string{string(j.data)}
	}
	return v
}

// runTask runs one task to its end and captures its output. It returns an error only
// when the engine stops the job (ctx is done; the task is killed) or the worker itself
// fails (it cannot capture output).
func (w *worker) runTask(ctx context.Context, j *job) (record, error) {
	v := w.vars(j, 0)
	g, granted, rerr := w.resources(ctx, j, v)
	if rerr != nil && ctx.Err() != nil {
		return record{}, ctx.Err()
	}
	if granted {
		defer w.pool.release(g)
	}
	slot := w.slots.get()
	defer w.slots.put(slot)
	v.slot, v.gpus = slot, strings.Join(g.devs, ",")
	line := w.tmpl.compose(v, w.mode)
	r := record{seq: j.seq, host: w.facts.host, cmd: line, results: w.resultsPath(v, j)}
	if r.tag = w.tag(v); r.tag != nil {
		r.flags |= flagTagged
	}
	switch {
	case rerr != nil:
		// It cannot run here as asked: a failure of the task, as a shell's for a command it
		// cannot execute (126), saying why.
		r.exit, r.stderr = 126, fmt.Appendf(nil, "%stask %d: %v\n", w.prefix, j.seq, rerr)
		return r, nil
	case w.cfg.dryRun:
		r.stdout = []byte(line + "\n")
		return r, nil
	}
	for {
		err := w.runOnce(ctx, j, v, g, &r)
		if !errors.Is(err, errMemoryLow) {
			return r, err
		}
		r.exit, r.signal = 0, 0 // stopped for --memfree: run it again
		r.flags &= flagTagged
	}
}

// tag is the task's --tag (its values) or --tagstring; nil for none.
func (w *worker) tag(v *jobVars) []byte {
	switch {
	case w.o.tagStringSet:
		return []byte(w.tagT.compose(v, composeMode{}))
	case w.o.tag:
		vals := make([]string, len(v.args))
		for i, a := range v.args {
			vals[i] = trimValue(a, v.trim)
		}
		return []byte(strings.Join(vals, " ")) // not nil, also when empty (--pipe --tag)
	}
	return nil
}

// runOnce runs the task once: it waits for its turn (--delay, --memfree), starts it, waits
// for it and collects its output into r.
func (w *worker) runOnce(ctx context.Context, j *job, v *jobVars, g grant, r *record) error {
	if w.pace != nil && !w.pace.wait(ctx) || w.mem != nil && !w.mem.waitFree(ctx) {
		return ctx.Err()
	}
	streams, err := w.outputStreams(v.slot)
	if err != nil {
		return err
	}
	defer streams.release(w, r)
	stdin, fed, err := w.stdin(j)
	if err != nil {
		return err
	}
	defer fed()
	tctx, cancel := w.taskContext(ctx, j)
	defer cancel(nil)
	if w.mem != nil {
		defer w.mem.add(cancel)()
	}
	start := time.Now()
	r.start = start.UnixNano()
	serr := w.startAndWait(tctx, j, v, taskIO{stdin: stdin, stdout: streams.out, stderr: streams.err, cores: g.cores, devs: g.devs}, r)
	r.runtime = int64(time.Since(start))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(context.Cause(tctx), errMemoryLow) {
		return errMemoryLow
	}
	if serr != nil {
		// Could not start it: report it as a shell would, 127 not found, 126 otherwise.
		r.exit = 126
		if errors.Is(serr, exec.ErrNotFound) || errors.Is(serr, fs.ErrNotExist) {
			r.exit = 127
		}
		fmt.Fprintf(streams.err, "%stask %d: %v\n", w.prefix, j.seq, serr)
	}
	return streams.collect(w, j.seq, r)
}

// taskContext is the task's context: with its timeout (the job's --timeout N%, or
// --timeout), cancellable for --memfree.
func (w *worker) taskContext(ctx context.Context, j *job) (context.Context, context.CancelCauseFunc) {
	tctx, cancel := context.WithCancelCause(ctx)
	d := w.cfg.timeout
	if j.timeout > 0 {
		d = time.Duration(j.timeout)
	}
	if d <= 0 {
		return tctx, cancel
	}
	tctx, stop := context.WithTimeout(tctx, d)
	return tctx, func(err error) { stop(); cancel(err) }
}

// startAndWait runs the task's line without a shell where that gives the same result, else
// with the shell; a direct start that fails (a script without #!, say) goes to the shell.
func (w *worker) startAndWait(tctx context.Context, j *job, v *jobVars, tio taskIO, r *record) error {
	env := append(w.env[:len(w.env):len(w.env)],
		"MW_TASK="+strconv.FormatUint(j.seq, 10), "MW_SLOT="+strconv.Itoa(v.slot),
		"PARALLEL_SEQ="+strconv.FormatUint(j.seq, 10), "PARALLEL_JOBSLOT="+strconv.Itoa(v.slot))
	if w.cfg.slotVar != "" {
		env = append(env, w.cfg.slotVar+"="+strconv.Itoa(v.slot-1))
	}
	if w.o.gpus != "" {
		env = append(env, deviceEnv(tio.devs)...)
	}
	dir := w.cfg.dir
	if w.dirT != nil {
		dir = w.dirT.compose(v, composeMode{})
	}
	if w.direct {
		if args, ok := directArgv(r.cmd); ok {
			if path, ok := w.program(args[0]); ok {
				pgid, err := w.execute(tctx, path, args, append(env, "PWD="+w.pwd), dir, tio, r)
				if err == nil || tctx.Err() != nil {
					r.pgid = pgid
					return err
				}
			}
		}
	}
	pgid, err := w.execute(tctx, w.cfg.shell, []string{w.cfg.shell, "-c", r.cmd}, env, dir, tio, r)
	r.pgid = pgid
	return err
}

// stdin is the task's stdin: /dev/null, or its block (--pipe) or part (--pipepart) after
// the header, fed through a pipe; fed waits for the feeding to end.
func (w *worker) stdin(j *job) (*os.File, func(), error) {
	switch w.st.kind {
	case jobBlock:
		return feedStdin(w.st.header, bytes.NewReader(j.data))
	case jobPart:
		return feedStdin(w.st.header, io.NewSectionReader(w.part, j.off, j.size))
	}
	f, err := devNull()
	return f, func() {}, err
}

// slotPool hands out the smallest free slot number (1-based), so that no two tasks
// running at once on a rank share a slot (MW_SLOT, {%}).
type slotPool struct {
	mu   sync.Mutex
	free []int
	n    int
}

func (p *slotPool) get() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		p.n++
		return p.n
	}
	best := 0
	for i, s := range p.free {
		if s < p.free[best] {
			best = i
		}
	}
	s := p.free[best]
	p.free[best] = p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return s
}

func (p *slotPool) put(s int) {
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
}
