package taskfarm

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// taskIO is a task's standard streams.
type taskIO struct {
	stdin          *os.File
	stdout, stderr *os.File
	cores          []int    // the cores it is bound to, none for its rank's
	devs           []string // the GPUs it is given (with --gpus)
}

// execute starts the command and waits for it. A done tctx kills the task's process group
// through --term-seq (TERM, then KILL by default, as GNU parallel). It returns an error only
// when the command could not be started.
//
// It does what exec.CommandContext's Start and Wait did, for less CPU per task: the
// environment is built (and deduplicated) once per worker, stdin is one /dev/null opened
// once, stdout and stderr are the capture files themselves (no pipe, no copying
// goroutine), the process is started by syscall.ForkExec (vfork on Linux) without
// os.Process's bookkeeping, waited for on the poller where the OS allows it
// (startProcess, exited), and the context is watched by a context.AfterFunc rather than by
// a goroutine per task.
func (w *worker) execute(tctx context.Context, path string, argv, env []string, dir string, tio taskIO, r *record) (int, error) {
	if err := tctx.Err(); err != nil {
		return 0, err // as exec.Cmd.Start: a context already done starts nothing
	}
	p, done, err := w.start(path, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{tio.stdin.Fd(), tio.stdout.Fd(), tio.stderr.Fd()},
		Sys:   sysProcAttr(),
	}, tio.cores)
	runtime.KeepAlive(tio)
	if err != nil {
		return 0, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	defer done()
	pid := p.pid
	w.track(pid, true)
	k := groupKill{pgid: pid, seq: w.cfg.termSeq, ended: make(chan struct{}), done: make(chan struct{})}
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

// start starts a task; with --nice, or cores to bind it to, from an OS thread of its own
// made that nice and bound to those cores, which the task inherits from its first
// instruction (Linux keeps niceness and the CPU binding per thread, and a child starts with
// its parent thread's). That thread lives until done is called after the task is reaped (a
// task started with Pdeathsig is killed when the thread that started it ends), then ends
// with its goroutine, locked, so that no other goroutine runs niced or bound. (The
// runtime starts no thread of its own from a locked one: it inherits nothing.)
func (w *worker) start(path string, argv []string, attr *syscall.ProcAttr, cores []int) (p process, done func(), err error) {
	if !w.cfg.niceSet && len(cores) == 0 {
		p, err = startProcess(path, argv, attr)
		return p, func() {}, err
	}
	type started struct {
		p   process
		err error
	}
	ch, release := make(chan started, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0); w.cfg.niceSet && err == nil && w.cfg.nice > 20-cur {
			// GNU parallel does not lower the niceness a job starts with.
			syscall.Setpriority(syscall.PRIO_PROCESS, 0, w.cfg.nice)
		}
		var p process
		var err error
		if len(cores) > 0 {
			err = pinThread(cores)
		}
		if err == nil {
			p, err = startProcess(path, argv, attr)
		}
		ch <- started{p, err}
		if err == nil {
			<-release
		}
	}()
	s := <-ch
	return s.p, func() { close(release) }, s.err
}

// devNull is every task's stdin but --pipe's, opened once (exec.Cmd opened it for each task).
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// feedStdin makes a pipe whose read end is a task's stdin and writes header and body into
// it from a goroutine; wait closes the write end and waits for the writer, which a task
// that does not read all of its input ends early (EPIPE).
func feedStdin(header []byte, body io.Reader) (stdin *os.File, wait func(), err error) {
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("stdin pipe: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer wr.Close()
		if _, err := wr.Write(header); err != nil {
			return
		}
		io.Copy(wr, body)
	}()
	return r, func() { r.Close(); <-done }, nil
}

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

// groupKill signals a task's process group through --term-seq.
type groupKill struct {
	pgid  int
	seq   []killStep
	ended chan struct{} // closed once the task (the group's leader) has ended, unreaped
	done  chan struct{} // closed by run when it returns
}

// run signals the group through the sequence. Once the task has ended, what is left of its
// group (background children) gets SIGKILL at once and the sequence stops: its caller
// waits for that before reaping the task, and the kill of a group whose id has been
// reused would reach processes that are not the task's. A sequence that does not end in
// KILL is followed by one, so that a task ignoring the others cannot hold its worker.
func (k *groupKill) run() {
	defer close(k.done)
	for _, s := range append(k.seq, killStep{syscall.SIGKILL, 0}) {
		if err := signalGroup(k.pgid, s.sig); err != nil || s.sig == syscall.SIGKILL {
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
		w.running[pgid] = time.Now()
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
	if w.mem != nil {
		w.mem.stop()
	}
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
