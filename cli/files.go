package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

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
	path string
	f    *os.File // nil for stdout
	done bool
}

// CreateOutput starts an output at path ("-" for stdout).
func CreateOutput(path string, stdout io.Writer) (*Output, error) {
	if path == "" || path == "-" {
		return &Output{Writer: bufio.NewWriterSize(stdout, 1<<20)}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	return &Output{Writer: bufio.NewWriterSize(f, 1<<20), path: path, f: f}, nil
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
	if err := o.f.Sync(); err != nil {
		o.abortFile()
		return fmt.Errorf("write output %s: %w", o.path, err)
	}
	if err := o.f.Close(); err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("write output %s: %w", o.path, err)
	}
	if err := os.Rename(o.f.Name(), o.path); err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// Abort discards a file output (stdout output is flushed: what was printed stays printed).
// It is safe to call after Commit, where it does nothing.
func (o *Output) Abort() {
	if o.done {
		return
	}
	o.done = true
	if o.f == nil {
		o.Flush()
		return
	}
	o.abortFile()
}

func (o *Output) abortFile() {
	if o.f != nil {
		o.f.Close()
		os.Remove(o.f.Name())
	}
}
