package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"

	"github.com/mw-hpc/mw/launch"
)

// umask is the process's file mode creation mask, read once at start-up (reading it means
// setting it, which is safe only before other goroutines create files).
var umask = func() os.FileMode {
	old := syscall.Umask(0)
	syscall.Umask(old)
	return os.FileMode(old)
}()

// OpenInput opens path for reading; "-" (or "") is stdin. The returned closer is a no-op for
// stdin. The error names the file.
func OpenInput(path string, stdin io.Reader) (io.Reader, func() error, error) {
	if path == "" || path == "-" {
		return stdin, func() error { return nil }, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open input: %w", err)
	}
	return f, f.Close, nil
}

// Output is a buffered output that is never left looking complete after a failure: a file
// is written under a temporary name in the same directory and renamed into place by Commit;
// Abort removes it. "-" (or "") writes to stdout, where Commit only flushes.
type Output struct {
	*bufio.Writer
	path    string
	f       *os.File // nil for stdout
	done    bool
	keep    bool            // a journaled output: Abort keeps the partial file for --resume
	direct  bool            // not a regular file (a device, a pipe): written in place
	pipe    bool            // a pipe or a socket, which its reader may have stopped reading
	counter *countingWriter // bytes that reached the file or stdout
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newOutput(w io.Writer, start int64) (*bufio.Writer, *countingWriter) {
	c := &countingWriter{w: w, n: start}
	return bufio.NewWriterSize(c, 1<<20), c
}

// Offset flushes the output and returns the number of bytes written so far (for a resumed
// output, counted from the start of the file).
func (o *Output) Offset() (int64, error) {
	if err := o.Flush(); err != nil {
		return 0, fmt.Errorf("write output: %w", err)
	}
	return o.counter.n, nil
}

// CreateOutput starts an output at path ("-" for stdout).
func CreateOutput(path string, stdout io.Writer) (*Output, error) {
	if path == "" || path == "-" {
		w, c := newOutput(stdout, 0)
		f, _ := stdout.(*os.File)
		return &Output{Writer: w, counter: c, pipe: isPipe(f)}, nil
	}
	if err := checkOpenFile(path); err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	if !regularOrNew(path) {
		// A device, a pipe or a socket (/dev/null, a FIFO), or a file this process has
		// open (/dev/stderr, whatever it is): write to it directly, appending to an open
		// file (the shell's 2>>log); renaming a file onto it would replace it.
		flags := os.O_WRONLY
		if _, open := openFileFD(path); open {
			flags |= os.O_APPEND
		}
		f, err := os.OpenFile(path, flags, 0)
		if err != nil {
			return nil, fmt.Errorf("open output: %w", err)
		}
		w, c := newOutput(f, 0)
		return &Output{Writer: w, f: f, counter: c, direct: true, pipe: isPipe(f)}, nil
	}
	path = followLinks(path) // a symbolic link's file gets the output; the link stays
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	temps.add(f.Name())
	w, c := newOutput(f, 0)
	return &Output{Writer: w, path: path, f: f, counter: c}, nil
}

// followLinks returns the file path names once every symbolic link on the way is followed,
// the last one too when the file it names does not exist yet. A link that cannot be read
// leaves path as it is.
func followLinks(path string) string {
	for range 40 { // as the kernel's bound on links in a path
		dir, base := filepath.Split(path)
		if dir == "" {
			dir = "."
		}
		real, err := filepath.EvalSymlinks(dir) // ".." after a link, as the kernel reads it
		if err != nil {
			return path
		}
		path = filepath.Join(real, base)
		target, err := os.Readlink(path)
		if err != nil {
			return path // not a link: the file, or none yet
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(real, target)
		}
		path = target
	}
	return path
}

// temps are the temporary files of outputs not yet committed or aborted, which
// RemoveTemporaryFiles removes when the process must end at once.
var temps = tempFiles{names: map[string]bool{}}

type tempFiles struct {
	mu    sync.Mutex
	names map[string]bool
}

func (t *tempFiles) add(name string) {
	t.mu.Lock()
	t.names[name] = true
	t.mu.Unlock()
}

// remove removes name from the set, and the file too when unlink.
func (t *tempFiles) remove(name string, unlink bool) {
	t.mu.Lock()
	delete(t.names, name)
	t.mu.Unlock()
	if unlink {
		os.Remove(name)
	}
}

// RemoveTemporaryFiles removes the temporary files of every output not yet committed or
// aborted: for main, when a second signal ends the process before the run could clean up.
// Safe for concurrent use.
func RemoveTemporaryFiles() {
	temps.mu.Lock()
	defer temps.mu.Unlock()
	for name := range temps.names {
		os.Remove(name)
	}
}

// regularOrNew reports whether path names a regular file, or none yet, and not one of this
// process's open files: an output that may be written under a temporary name and renamed.
func regularOrNew(path string) bool {
	if _, open := openFileFD(path); open {
		return false
	}
	st, err := os.Stat(path)
	return err != nil || st.Mode().IsRegular()
}

// openFileFD reports whether path names one of this process's open files (/dev/stdout,
// /dev/stderr, /dev/fd/N, /proc/self/fd/N, or a link to one of those), and which.
func openFileFD(path string) (fd int, ok bool) {
	for range 2 { // the path, then where its link points
		clean := filepath.Clean(path)
		if d := filepath.Dir(clean); d == "/dev/fd" || d == "/proc/self/fd" {
			n, err := strconv.Atoi(filepath.Base(clean))
			return n, err == nil
		}
		switch clean {
		case "/dev/stdin":
			return 0, true
		case "/dev/stdout":
			return 1, true
		case "/dev/stderr":
			return 2, true
		}
		var err error
		if path, err = os.Readlink(clean); err != nil {
			return 0, false
		}
	}
	return 0, false
}

// checkOpenFile refuses a descriptor past stderr under a launcher: a rank's descriptors
// there are its own (MPI's, Go's), not the ones the shell opened for mpirun.
func checkOpenFile(path string) error {
	if fd, ok := openFileFD(path); ok && fd > 2 {
		if launch.FromEnv().Launched() {
			return fmt.Errorf("%s: descriptor %d of a rank is not the shell's (mpirun and srun do not pass it on): give a file", path, fd)
		}
	}
	return nil
}

// isPipe reports whether f is a pipe or a socket (false for nil).
func isPipe(f *os.File) bool {
	if f == nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&(fs.ModeNamedPipe|fs.ModeSocket) != 0
}

// PartialPath is where a journaled output grows until it is complete.
func PartialPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial")
}

// openPartial opens the journaled output of path: a new, empty partial file, or (resume)
// the existing one truncated to offset. Abort keeps it, so a later --resume continues it.
// final is the complete output's length the journal recorded as about to be renamed into
// place ("r"), or -1 when it recorded none.
func openPartial(path string, resume bool, offset, final int64) (*Output, error) {
	pp := PartialPath(path)
	flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	if resume {
		flags = os.O_RDWR
	}
	f, err := os.OpenFile(pp, flags, 0o644)
	if err != nil && resume && errors.Is(err, fs.ErrNotExist) {
		// No partial file: the last run completed its output (and was killed before its
		// journal said done) if the journal said it was renaming it, and the output has the
		// length the journal recorded.
		if st, serr := os.Stat(path); serr == nil && final >= 0 && st.Mode().IsRegular() && st.Size() == final {
			return nil, errComplete
		}
		return nil, fmt.Errorf("resume output: %s, where the journaled run left its output (%d bytes), is missing; without --resume the job starts afresh", pp, offset)
	}
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	if resume {
		st, err := f.Stat()
		if err == nil && st.Size() < offset {
			err = fmt.Errorf("%s has %d bytes, fewer than the %d the journal recorded", pp, st.Size(), offset)
		}
		if err == nil {
			err = f.Truncate(offset)
		}
		if err == nil {
			_, err = f.Seek(offset, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("resume output: %w", err)
		}
	}
	w, c := newOutput(f, offset)
	return &Output{Writer: w, path: path, f: f, counter: c, keep: true}, nil
}

// Path is the final path of the output ("" for stdout).
func (o *Output) Path() string { return o.path }

// File is the temporary file being written (nil for stdout), for workloads that need to
// seek or truncate it.
func (o *Output) File() *os.File { return o.f }

// Commit flushes the output and, for a file, syncs it and renames it into place.
func (o *Output) Commit() error {
	if o.done {
		return nil
	}
	o.done = true
	if err := o.Flush(); err != nil {
		o.abortFile()
		return fmt.Errorf("write output: %w", err)
	}
	if o.f == nil {
		return nil
	}
	if o.direct {
		if err := o.f.Close(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	// CreateTemp makes the file 0600; give it the mode a plain create would have.
	if err := o.f.Chmod(0o666 &^ umask); err != nil {
		o.abortFile()
		return fmt.Errorf("write output %s: %w", o.path, err)
	}
	if err := o.f.Sync(); err != nil {
		o.abortFile()
		return fmt.Errorf("write output %s: %w", o.path, err)
	}
	if err := o.f.Close(); err != nil {
		temps.remove(o.f.Name(), true)
		return fmt.Errorf("write output %s: %w", o.path, err)
	}
	if err := os.Rename(o.f.Name(), o.path); err != nil {
		temps.remove(o.f.Name(), true)
		return fmt.Errorf("write output: %w", err)
	}
	temps.remove(o.f.Name(), false)
	return nil
}

// Abort discards a file output (stdout output is flushed: what was printed stays printed;
// a journaled output keeps its partial file for --resume). It is safe to call after Commit,
// where it does nothing.
func (o *Output) Abort() {
	if o.done {
		return
	}
	o.done = true
	if o.f == nil {
		o.Flush()
		return
	}
	if o.keep || o.direct {
		o.Flush()
		o.f.Close()
		return
	}
	o.abortFile()
}

// Drop is Abort for a run that a signal ended. When the output is a pipe or a socket
// (rank 0's stdout under mpirun), its reader may have stopped reading: the launcher ending
// the job (mpirun, after a rank died) does, and a write would block until the kill and keep
// rank 0 from saying why the job ended. What is still buffered for it is then dropped. Any
// other output (a file, stdout redirected to one) is handled as by Abort.
func (o *Output) Drop() {
	if o.pipe && !o.done {
		o.done = true
		if o.f != nil {
			o.f.Close()
		}
		return
	}
	o.Abort()
}

func (o *Output) abortFile() {
	if o.f != nil {
		o.f.Close()
		temps.remove(o.f.Name(), true)
	}
}
