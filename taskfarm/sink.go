package taskfarm

import (
	"fmt"
	"io"
	"os"

	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// sink is the manager's end: for every finished task, in input order (or as they finish
// with --unordered), it prints the task's stdout then its stderr whole, appends its joblog
// line, counts it and applies --halt.
type sink struct {
	stdout, stderr io.Writer
	msgs           io.Writer // mw's own messages (rank 0's stderr)
	joblog         *os.File  // nil without --joblog
	tally          tally
	timeout        string // --timeout as given, for messages
	line           []byte
}

var _ rank.Sink = (*sink)(nil)

// Put handles the records of one chunk.
func (s *sink) Put(seq uint64, out []byte) error {
	var halt haltWhen
	err := partition.Unpack(out, func(_ int, item []byte) error {
		if halt == haltNow {
			// After --halt now fired, what follows in the chunk is dropped.
			return discard(item)
		}
		r, err := decodeRecord(item)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", seq, err)
		}
		if err := s.task(&r); err != nil {
			return err
		}
		if h := s.tally.add(&r); h != haltNever {
			s.halting(&r)
			halt = h
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case halt == haltNow:
		return rank.ErrDone
	case halt == haltSoon:
		return rank.ErrDrain
	}
	return nil
}

// discard removes the spill files of a record that will not be printed.
func discard(item []byte) error {
	r, err := decodeRecord(item)
	if err != nil {
		return nil
	}
	if r.flags&flagStdoutSpill != 0 {
		os.Remove(string(r.stdout))
	}
	if r.flags&flagStderrSpill != 0 {
		os.Remove(string(r.stderr))
	}
	return nil
}

// task prints one task's output and logs it.
func (s *sink) task(r *record) error {
	if err := s.print(s.stdout, r.stdout, r.flags&flagStdoutSpill != 0, r); err != nil {
		return err
	}
	if err := s.print(s.stderr, r.stderr, r.flags&flagStderrSpill != 0, r); err != nil {
		return err
	}
	if r.timedOut() {
		fmt.Fprintf(s.msgs, "mw: exec: task %d: killed by --timeout %s: %s\n", r.seq, s.timeout, r.cmd)
	}
	if s.joblog != nil {
		s.line = appendJoblog(s.line[:0], r)
		if _, err := s.joblog.Write(s.line); err != nil {
			return fmt.Errorf("write --joblog: %w", err)
		}
	}
	return nil
}

// print writes one stream of a task, from memory or from its spill file (then removed).
func (s *sink) print(w io.Writer, data []byte, spilled bool, r *record) error {
	if !spilled {
		if len(data) == 0 {
			return nil
		}
		_, err := w.Write(data)
		return err
	}
	path := string(data)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("task %d: its output (%s on %s) cannot be read here: %w; with ranks on several hosts, give --tmpdir a directory that every rank shares", r.seq, path, r.host, err)
	}
	_, err = io.Copy(w, f)
	f.Close()
	os.Remove(path)
	return err
}

// halting says why the job stops.
func (s *sink) halting(r *record) {
	what := "failed (" + r.status() + ")"
	if !r.failed() {
		what = "succeeded"
	}
	then := "starting no more tasks; waiting for the running ones"
	if s.tally.policy.when == haltNow {
		then = "stopping the running tasks"
	}
	fmt.Fprintf(s.msgs, "mw: exec: --halt %s: task %d %s: %s\n", s.tally.policy.text, r.seq, what, then)
}
