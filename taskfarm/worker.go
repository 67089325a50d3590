package taskfarm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// workerConfig is what a worker needs to run tasks: the command line's options (every
// rank parses the same arguments) and the facts of its rank.
type workerConfig struct {
	tmpl        *template
	timeout     time.Duration
	dir         string // --workdir, "" for the current directory
	tmpdir      string // where task output is captured and spilled
	tmpdirGiven bool   // --tmpdir was given: a directory rank 0 can read (shared)
	limit       int64  // output kept in memory per stream; larger is spilled
	retries     int    // --retries: fail the chunk (so the engine re-issues it) before the last try
	rank        int
	host        string
}

// setup is what the manager tells every worker before any task (Plan.Setup).
type setup struct {
	managerHost string
	ntasks      int64  // number of tasks in the input, -1 unknown
	run         string // names this run's spill files (spillPrefix), for the manager's cleanup
}

func (s setup) encode() []byte {
	b := []byte{2}
	b = appendString(b, s.managerHost)
	b = binary.AppendVarint(b, s.ntasks)
	return appendString(b, s.run)
}

func decodeSetup(b []byte) (setup, error) {
	if len(b) == 0 || b[0] != 2 {
		return setup{}, errors.New("exec: bad setup from the manager")
	}
	d := decoder{b: b[1:]}
	s := setup{managerHost: string(d.bytes()), ntasks: d.varint(), run: string(d.bytes())}
	if d.err != nil || len(d.b) != 0 || strings.ContainsAny(s.run, "/*?[\\") {
		return setup{}, errors.New("exec: bad setup from the manager")
	}
	return s, nil
}

// spillPrefix starts the names of a run's spill files in the tmpdir: the manager removes
// what is left of them when the run ends (removeSpills).
func spillPrefix(run string) string { return "mw-exec-" + run + "-" }

// removeSpills removes the spill files of run left in dir: those of tasks whose output was
// never printed because --halt or a failure ended the job first (a task finishing as the
// job stopped). It removes only files a worker made for this run.
func removeSpills(dir, run string) {
	left, _ := filepath.Glob(filepath.Join(dir, spillPrefix(run)+"*"))
	for _, f := range left {
		os.Remove(f)
	}
}

// worker runs the tasks of the chunks a worker rank is given.
type worker struct {
	cfg    workerConfig
	env    []string // environment of every task, but for MW_TASK and MW_SLOT
	path0  string   // the program of a literal first word, looked up once
	err0   error    // why that lookup failed
	spill  bool     // large output may be handed to the manager as a file
	name   string   // the run's name, in its spill files' names
	prefix string   // "mw[rank@host]: exec: " for messages in a task's stderr

	slots slotPool

	kills   atomic.Int64 // groupKill sequences under way
	mu      sync.Mutex
	running map[int]bool         // process groups of running tasks
	pairs   map[int]*capturePair // per slot: capture files kept for the next task
}

// newWorker prepares a worker rank to run tasks.
func newWorker(cfg workerConfig, st setup) (*worker, error) {
	if cfg.dir != "" {
		fi, err := os.Stat(cfg.dir)
		if err != nil {
			return nil, fmt.Errorf("--workdir: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--workdir %s: not a directory", cfg.dir)
		}
	}
	if fi, err := os.Stat(cfg.tmpdir); err != nil || !fi.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("--tmpdir %s: %v", cfg.tmpdir, err)
	}
	w := &worker{cfg: cfg, running: map[int]bool{}, pairs: map[int]*capturePair{}}
	w.prefix = fmt.Sprintf("mw[%d@%s]: exec: ", cfg.rank, cfg.host)
	w.spill = cfg.tmpdirGiven || st.managerHost == cfg.host
	w.name = st.run
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "MW_TASK", "MW_SLOT", "MW_RANK", "MW_NTASKS":
			continue
		}
		w.env = append(w.env, kv)
	}
	nt := ""
	if st.ntasks >= 0 {
		nt = strconv.FormatInt(st.ntasks, 10)
	}
	w.env = append(w.env, "MW_RANK="+strconv.Itoa(cfg.rank), "MW_NTASKS="+nt)
	w.env = dedupEnv(w.env)
	t := cfg.tmpl
	switch {
	case t.mode != modeArgv:
		w.path0 = shellPath
	case t.lit0:
		w.path0, w.err0 = lookPath(t.raw[0])
	}
	return w, nil
}

// dedupEnv keeps the last of the entries with the same key, in order, and drops empty
// entries and entries holding a NUL: what exec.Cmd did to a task's environment on every
// start, done once per worker (the per-task MW_TASK and MW_SLOT are never in it).
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
// (relative to the task's directory), others are looked up in PATH. A program found in a
// relative directory of PATH is run from there, but for a bare name (from an empty or "."
// entry), which exec.Command refused to run with exec.ErrDot: that error stays.
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

// run computes one chunk: it runs its tasks one after the other and returns their
// records. A failed task is a normal result, except before the last try allowed by
// --retries, where the chunk fails so that the engine re-issues it on another worker.
func (w *worker) run(ctx context.Context, c rank.Chunk) ([]byte, error) {
	var out, rec []byte
	var spilled []string
	err := partition.Unpack(c.Data, func(_ int, item []byte) error {
		seq, line, err := decodeTask(item)
		if err != nil {
			return err
		}
		r, err := w.runTask(ctx, seq, string(line))
		if err != nil {
			return err
		}
		if r.flags&flagStdoutSpill != 0 {
			spilled = append(spilled, string(r.stdout))
		}
		if r.flags&flagStderrSpill != 0 {
			spilled = append(spilled, string(r.stderr))
		}
		if r.failed() && c.Attempt < w.cfg.retries {
			return fmt.Errorf("task %d failed (%s) on try %d of %d", seq, r.status(), c.Attempt+1, w.cfg.retries+1)
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

// runTask runs one task to its end and captures its output. It returns an error only
// when the engine stops the job (ctx is done; the task is killed) or the worker itself
// fails (it cannot capture output).
func (w *worker) runTask(ctx context.Context, seq uint64, line string) (record, error) {
	slot := w.slots.get()
	defer w.slots.put(slot)
	v := vars{line: line, seq: seq, slot: slot}
	t := w.cfg.tmpl
	argv := t.argv(v)
	r := record{seq: seq, host: w.cfg.host, cmd: t.display(v, argv)}

	cp, err := w.capture(slot)
	if err != nil {
		return r, err
	}
	stdout, stderr := cp.out, cp.err
	defer w.release(slot, cp, &r)

	path, perr := w.path0, w.err0
	if t.mode == modeArgv && !t.lit0 {
		path, perr = lookPath(argv[0])
	}
	tctx, cancel := ctx, context.CancelFunc(func() {})
	if w.cfg.timeout > 0 {
		tctx, cancel = context.WithTimeout(ctx, w.cfg.timeout)
	}
	defer cancel()

	start := time.Now()
	r.start = start.UnixNano()
	if perr == nil {
		r.pgid, perr = w.execute(tctx, path, argv, seq, slot, stdout, stderr, &r)
	}
	if perr != nil {
		// Could not start it: report it as a shell would, 127 not found, 126 otherwise.
		r.exit = 126
		if errors.Is(perr, exec.ErrNotFound) || errors.Is(perr, fs.ErrNotExist) {
			r.exit = 127
		}
		fmt.Fprintf(stderr, "%stask %d: %v\n", w.prefix, seq, perr)
	}
	r.runtime = int64(time.Since(start))
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if err := w.collect(stdout, seq, "out", &r.stdout, &r.stdoutLen, &r.flags, flagStdoutSpill); err != nil {
		return r, err
	}
	if err := w.collect(stderr, seq, "err", &r.stderr, &r.stderrLen, &r.flags, flagStderrSpill); err != nil {
		if r.flags&flagStdoutSpill != 0 {
			os.Remove(string(r.stdout))
		}
		return r, err
	}
	return r, nil
}

// execute starts the command and waits for it. A done tctx kills the task's process group
// (TERM, then KILL as GNU parallel's --term-seq does). It returns an error only when the
// command could not be started.
//
// It does what exec.CommandContext's Start and Wait did, for less CPU per task: the
// environment is built (and deduplicated) once per worker, stdin is one /dev/null opened
// once, stdout and stderr are the capture files themselves (no pipe, no copying
// goroutine), the process is started by syscall.ForkExec (vfork on Linux) without
// os.Process's bookkeeping, waited for on the poller where the OS allows it
// (startProcess, exited), and the context is watched by a context.AfterFunc rather than by
// a goroutine per task.
func (w *worker) execute(tctx context.Context, path string, argv []string, seq uint64, slot int, stdout, stderr *os.File, r *record) (int, error) {
	if err := tctx.Err(); err != nil {
		return 0, err // as exec.Cmd.Start: a context already done starts nothing
	}
	stdin, err := devNull()
	if err != nil {
		return 0, err
	}
	env := append(w.env[:len(w.env):len(w.env)],
		"MW_TASK="+strconv.FormatUint(seq, 10), "MW_SLOT="+strconv.Itoa(slot))
	p, err := startProcess(path, argv, &syscall.ProcAttr{
		Dir:   w.cfg.dir,
		Env:   env,
		Files: []uintptr{stdin.Fd(), stdout.Fd(), stderr.Fd()},
		Sys:   sysProcAttr(),
	})
	runtime.KeepAlive(stdin)
	runtime.KeepAlive(stdout)
	runtime.KeepAlive(stderr)
	if err != nil {
		return 0, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	pid := p.pid
	w.track(pid, true)
	k := groupKill{pgid: pid, ended: make(chan struct{}), done: make(chan struct{})}
	stop := context.AfterFunc(tctx, func() {
		w.kills.Add(1)
		defer w.kills.Add(-1)
		k.run()
	})
	werr := p.exited()
	// The kill sequence started (or is about to) unless stop prevents it. It may signal
	// the group only while the task is unreaped (its zombie reserves the group id), so the
	// task is reaped after the sequence, which the task's end cuts short.
	killed := !stop()
	if killed {
		close(k.ended)
		<-k.done
	}
	w.track(pid, false)
	if werr != nil {
		p.reap()
		return pid, fmt.Errorf("wait: %w", werr)
	}
	ws, werr := p.reap()
	if werr != nil {
		return pid, fmt.Errorf("wait: %w", werr)
	}
	if ws.Signaled() {
		r.signal = uint64(ws.Signal())
	} else {
		r.exit = int64(ws.ExitStatus())
	}
	if killed && tctx.Err() == context.DeadlineExceeded {
		r.flags |= flagTimedOut
		r.exit = -1
		if r.signal == 0 {
			r.signal = uint64(syscall.SIGTERM)
		}
	}
	return pid, nil
}

// devNull is every task's stdin, opened once (exec.Cmd opened it for each task).
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// wait4 is syscall.Wait4 for one pid, retried on EINTR.
func wait4(pid int, ws *syscall.WaitStatus, options int) (int, error) {
	for {
		wpid, err := syscall.Wait4(pid, ws, options, nil)
		if err != syscall.EINTR {
			if err != nil {
				err = os.NewSyscallError("wait4", err)
			}
			return wpid, err
		}
	}
}

// killSeq is GNU parallel's default --term-seq: TERM, wait 200 ms, TERM, 100 ms, TERM,
// 50 ms, KILL.
var killSeq = []struct {
	sig  syscall.Signal
	wait time.Duration
}{{syscall.SIGTERM, 200 * time.Millisecond}, {syscall.SIGTERM, 100 * time.Millisecond}, {syscall.SIGTERM, 50 * time.Millisecond}, {syscall.SIGKILL, 0}}

// groupKill signals a task's process group through killSeq.
type groupKill struct {
	pgid  int
	ended chan struct{} // closed once the task (the group's leader) has ended, unreaped
	done  chan struct{} // closed by run when it returns
}

// run signals the group through killSeq. Once the task has ended, what is left of its
// group (background children) gets SIGKILL at once and the sequence stops: its caller
// waits for that before reaping the task, and the kill of a group whose id has been
// reused would reach processes that are not the task's.
func (k *groupKill) run() {
	defer close(k.done)
	for _, s := range killSeq {
		if err := signalGroup(k.pgid, s.sig); err != nil || s.wait == 0 {
			return
		}
		t := time.NewTimer(s.wait)
		select {
		case <-t.C:
		case <-k.ended:
			t.Stop()
			signalGroup(k.pgid, syscall.SIGKILL)
			return
		}
	}
}

// signalGroup sends sig to the process group pgid; tests watch it.
var signalGroup = func(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }

// track records whether the task whose group is pgid is unreaped: shutdown signals those.
func (w *worker) track(pgid int, on bool) {
	w.mu.Lock()
	if on {
		w.running[pgid] = true
	} else {
		delete(w.running, pgid)
	}
	w.mu.Unlock()
}

// shutdown ends the tasks still running once the engine has returned on this rank (the
// engine abandons a stopped worker's computations): it waits up to grace for them to end
// after the TERM they were sent (and for the kill sequences to finish), then kills their
// process groups.
func (w *worker) shutdown(grace time.Duration) {
	defer w.closeCaptures()
	deadline := time.Now().Add(grace)
	for {
		w.mu.Lock()
		n := len(w.running) + int(w.kills.Load())
		if n == 0 || time.Now().After(deadline) {
			for pgid := range w.running {
				signalGroup(pgid, syscall.SIGKILL)
			}
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// capturePair holds the two files that capture a task's stdout and stderr: anonymous
// files in the tmpdir (created and unlinked at once, so nothing is left behind whatever
// happens), as GNU parallel captures output: a file, not a pipe, so the task's background
// children cannot hold the worker up, and the output is bounded by the disk, not memory.
// A slot reuses its pair from task to task (emptied before each), which costs a few
// microseconds instead of a file creation and removal per task.
type capturePair struct{ out, err *os.File }

// capture returns slot's pair, emptied.
func (w *worker) capture(slot int) (*capturePair, error) {
	w.mu.Lock()
	cp := w.pairs[slot]
	w.pairs[slot] = nil
	w.mu.Unlock()
	if cp != nil {
		if err := cp.reset(); err == nil {
			return cp, nil
		}
		cp.close()
	}
	cp = &capturePair{}
	var err error
	if cp.out, err = w.anonFile(); err != nil {
		return nil, err
	}
	if cp.err, err = w.anonFile(); err != nil {
		cp.out.Close()
		return nil, err
	}
	return cp, nil
}

// release gives slot's pair back for the next task, unless some process of the task's
// group still runs (a background child could still write into the files): those files
// are dropped, and the next task gets new ones.
func (w *worker) release(slot int, cp *capturePair, r *record) {
	if r.pgid > 0 && syscall.Kill(-r.pgid, 0) == nil {
		cp.close()
		return
	}
	w.mu.Lock()
	w.pairs[slot] = cp
	w.mu.Unlock()
}

// reset empties the pair. A file still empty is not truncated: an ftruncate costs more
// than the rest of the reset (a journaled inode update), and most tasks print nothing on
// one stream or both.
func (cp *capturePair) reset() error {
	for _, f := range [2]*os.File{cp.out, cp.err} {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		n, err := fileSize(f)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
	}
	return nil
}

// fileSize is f.Stat().Size() without the FileInfo.
func fileSize(f *os.File) (int64, error) {
	var st syscall.Stat_t
	err := syscall.Fstat(int(f.Fd()), &st)
	runtime.KeepAlive(f)
	if err != nil {
		return 0, &os.PathError{Op: "stat", Path: f.Name(), Err: err}
	}
	return st.Size, nil
}

func (cp *capturePair) close() {
	cp.out.Close()
	cp.err.Close()
}

// closeCaptures closes the pairs kept for reuse.
func (w *worker) closeCaptures() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s, cp := range w.pairs {
		if cp != nil {
			cp.close()
		}
		delete(w.pairs, s)
	}
}

func (w *worker) anonFile() (*os.File, error) {
	f, err := os.CreateTemp(w.cfg.tmpdir, "mw-exec-")
	if err != nil {
		return nil, fmt.Errorf("capture task output: %w", err)
	}
	os.Remove(f.Name())
	return f, nil
}

// collect takes a task's captured stream: into memory up to the limit, beyond it into a
// named file in the tmpdir that the manager prints and removes (when the manager can read
// it: same host, or a --tmpdir given as shared).
func (w *worker) collect(f *os.File, seq uint64, stream string, data *[]byte, size *int64, flags *uint8, spillFlag uint8) error {
	n, err := fileSize(f)
	if err != nil {
		return fmt.Errorf("capture task output: %w", err)
	}
	if n == 0 {
		return nil
	}
	if n <= w.cfg.limit || !w.spill {
		buf := make([]byte, n)
		if _, err := io.ReadFull(io.NewSectionReader(f, 0, n), buf); err != nil {
			return fmt.Errorf("read task output: %w", err)
		}
		*data = buf
		return nil
	}
	named, err := os.CreateTemp(w.cfg.tmpdir, fmt.Sprintf("%s%d-*.%s", spillPrefix(w.name), seq, stream))
	if err != nil {
		return fmt.Errorf("spill task output: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		_, err = io.Copy(named, io.LimitReader(f, n))
	}
	if cerr := named.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(named.Name())
		return fmt.Errorf("spill task output: %w", err)
	}
	*data, *size = []byte(named.Name()), n
	*flags |= spillFlag
	return nil
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
