package taskfarm

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

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

// outStreams are where a task's stdout and stderr go: a slot's capture pair, or with -u
// the rank's own streams.
type outStreams struct {
	out, err *os.File
	cp       *capturePair // nil when the task writes to the rank's streams itself
	slot     int
	passOn   bool // -u to a writer that is not a file: pass the captured output on at the end
}

// outputStreams prepares a task's output streams.
func (w *worker) outputStreams(slot int) (*outStreams, error) {
	if w.cfg.ungroup {
		fo, ok1 := w.facts.stdout.(*os.File)
		fe, ok2 := w.facts.stderr.(*os.File)
		if ok1 && ok2 {
			return &outStreams{out: fo, err: fe}, nil
		}
	}
	cp, err := w.capture(slot)
	if err != nil {
		return nil, err
	}
	return &outStreams{out: cp.out, err: cp.err, cp: cp, slot: slot, passOn: w.cfg.ungroup}, nil
}

// release gives the capture pair back.
func (s *outStreams) release(w *worker, r *record) {
	if s.cp != nil {
		w.release(s.slot, s.cp, r)
	}
}

// collect takes the captured output into r (or passes it on, for -u).
func (s *outStreams) collect(w *worker, seq uint64, r *record) error {
	switch {
	case s.cp == nil:
		return nil
	case s.passOn:
		w.outMu.Lock()
		defer w.outMu.Unlock()
		for _, p := range []struct {
			f  *os.File
			to io.Writer
		}{{s.cp.out, w.facts.stdout}, {s.cp.err, w.facts.stderr}} {
			n, err := fileSize(p.f)
			if err == nil {
				_, err = io.Copy(p.to, io.NewSectionReader(p.f, 0, n))
			}
			if err != nil {
				return fmt.Errorf("task output: %w", err)
			}
		}
		return nil
	}
	if err := w.collect(s.cp.out, seq, "out", &r.stdout, &r.stdoutLen, &r.flags, flagStdoutSpill); err != nil {
		return err
	}
	if err := w.collect(s.cp.err, seq, "err", &r.stderr, &r.stderrLen, &r.flags, flagStderrSpill); err != nil {
		if r.flags&flagStdoutSpill != 0 {
			os.Remove(string(r.stdout))
		}
		return err
	}
	return nil
}
