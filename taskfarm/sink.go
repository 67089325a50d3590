package taskfarm

import (
	"fmt"
	"io"
	"os"

	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// sink is the manager's end. As each chunk of finished tasks arrives (in the order they
// finish, as GNU parallel counts them) it counts them and applies --halt; in input order (or
// as they finish with --unordered) it prints each task's stdout then its stderr whole and
// appends its joblog line.
type sink struct {
	stdout, stderr io.Writer
	msgs           io.Writer // mw's own messages (rank 0's stderr)
	joblog         *os.File  // nil without --joblog
	tally          tally
	timeout        string // --timeout as given, for messages
	line           []byte

	fired uint64 // the chunk in which --halt now fired, when fireN > 0
	fireN int    // how many of its tasks print: through the one that fired
}

var _ rank.ArrivalSink = (*sink)(nil)

// Arrived counts the tasks of a chunk as it arrives and applies --halt: soon drains the job
// (no more tasks are issued); now ends it. The task that fired now is printed at once, with
// the tasks before it in its chunk, even when earlier tasks of the input have not finished
// (they are killed, and never printed): for a search (now,success=1) it is the answer. When
// no earlier task was missing, the tasks that had finished after it in the input print
// after it, in order; the rest of its chunk, and the tasks waiting behind one still running,
// are not printed, as with GNU parallel -k.
func (s *sink) Arrived(seq uint64, out []byte) error {
	var halt haltWhen
	n := 0
	err := partition.Unpack(out, func(_ int, item []byte) error {
		r, err := decodeRecord(item)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", seq, err)
		}
		n++
		if halt == haltNow {
			return nil
		}
		if h := s.tally.add(&r); h != haltNever {
			s.halting(&r)
			halt = h
			if h == haltNow {
				s.fired, s.fireN = seq, n
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case halt == haltNow:
		if err := s.print(seq, out, s.fireN); err != nil {
			return err
		}
		return rank.ErrDone
	case halt == haltSoon:
		return rank.ErrDrain
	}
	return nil
}

// Put prints and logs the tasks of a chunk, unless Arrived printed them (--halt now).
func (s *sink) Put(seq uint64, out []byte) error {
	if s.fireN > 0 && seq == s.fired {
		return s.print(seq, out, 0) // the tasks after the one that fired: dropped
	}
	return s.print(seq, out, -1)
}

// print prints and logs the first n tasks of a chunk (all when n < 0) and drops the rest.
func (s *sink) print(seq uint64, out []byte, n int) error {
	i := 0
	return partition.Unpack(out, func(_ int, item []byte) error {
		if i++; n >= 0 && i > n {
			return discard(item)
		}
		r, err := decodeRecord(item)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", seq, err)
		}
		return s.task(&r)
	})
}

// discard removes the spill files of a record that will not be printed.
func discard(item []byte) error {
	if r, err := decodeRecord(item); err == nil {
		for _, f := range r.spillFiles() {
			os.Remove(f)
		}
	}
	return nil
}

// task prints one task's output and logs it.
func (s *sink) task(r *record) error {
	if err := s.stream(s.stdout, r.stdout, r.flags&flagStdoutSpill != 0, r); err != nil {
		return err
	}
	if err := s.stream(s.stderr, r.stderr, r.flags&flagStderrSpill != 0, r); err != nil {
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

// stream writes one stream of a task, from memory or from its spill file (then removed).
func (s *sink) stream(w io.Writer, data []byte, spilled bool, r *record) error {
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
