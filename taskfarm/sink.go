package taskfarm

import (
	"fmt"
	"io"
	"os"

	"github.com/mw-hpc/mw/cli"
	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// sink is the manager's end. As each chunk of finished tasks arrives (in the order they
// finish, as GNU parallel counts them) it counts them, notes their runtimes for --timeout
// N% and applies --halt; in input order (or as they finish with --unordered) it prints
// each task's output (stdout then stderr whole, or to --results or --files) and appends
// its joblog line.
type sink struct {
	stdout, stderr io.Writer
	msgs           io.Writer // mw's own messages (rank 0's stderr)
	joblog         *os.File  // nil without --joblog
	tally          tally
	times          *runtimes
	o              *options
	line           []byte
	acct           *account
	gate           *barrierGate

	fired uint64 // the chunk in which --halt now fired, when fireN > 0
	fireN int    // how many of its tasks print: through the one that fired (the rest of
	// a chunk of several ran after it, where GNU parallel would have started none)
}

var (
	_ rank.ArrivalSink = (*sink)(nil)
	_ rank.GapSink     = (*sink)(nil)
)

func newSink(o *options, env *cli.Env, joblog *os.File, todo int64, times *runtimes) *sink {
	return &sink{stdout: env.Stdout, stderr: env.Stderr, msgs: env.Stderr, joblog: joblog,
		tally: tally{policy: o.halt, total: todo}, times: times, o: o, acct: newAccount(todo, false), gate: &barrierGate{}}
}

// Arrived counts the tasks of a chunk as it arrives and applies --halt: soon drains the job
// (no more tasks are issued; those running finish and print); now ends it: this chunk is
// printed if its turn has come, with the chunks it lets out, and those still waiting for an
// earlier chunk are not, as with GNU parallel -k, which kills the running jobs.
func (s *sink) Arrived(seq uint64, out []byte) error {
	var halt haltWhen
	n := 0
	var failed uint64
	err := partition.Unpack(out, func(_ int, item []byte) error {
		r, err := decodeRecord(item)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", seq, err)
		}
		n++
		s.acct.finish(&r)
		if r.failed() {
			failed++
		} else {
			s.times.add(r.runtime)
		}
		if halt != haltNever {
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
	s.acct.landed(seq)
	s.gate.land(failed)
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

// LeftOut hears of a chunk that a drain kept from starting. The tasks after it that ran
// are still printed and logged in their turn: a worker may hold a task unstarted while
// later ones run elsewhere (where GNU parallel's jobs start in order), and a task that ran
// but is missing from the joblog would run again under --resume.
func (s *sink) LeftOut(seq uint64) error {
	s.acct.landed(seq)
	s.gate.land(1) // a BARRIER CHECK after it stops: it did not succeed
	return nil
}

// Put prints and logs the tasks of a chunk (in the chunk where --halt now fired, those
// through the one that fired).
func (s *sink) Put(seq uint64, out []byte) error {
	n := 0
	return partition.Unpack(out, func(_ int, item []byte) error {
		n++
		if s.fireN > 0 && seq == s.fired && n > s.fireN {
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
	if s.o.trace {
		fmt.Fprintf(s.stderr, "%s\n", r.cmd)
	}
	var err error
	switch {
	case s.o.results != "":
		err = s.writeResults(r)
	case s.o.files:
		err = s.writeFiles(r)
	default:
		err = s.print(r)
	}
	if err != nil {
		return err
	}
	if r.timedOut() {
		fmt.Fprintf(s.msgs, "mw: exec: task %d: killed by --timeout %s: %s\n", r.seq, s.o.timeoutText, r.cmd)
	}
	s.acct.write(r)
	if s.joblog != nil && !s.o.dryRun {
		s.line = appendJoblog(s.line[:0], r)
		if _, err := s.joblog.Write(s.line); err != nil {
			return fmt.Errorf("write --joblog: %w", err)
		}
	}
	return nil
}

// print writes the task's output: -v's command line, stdout, then stderr, tagged.
func (s *sink) print(r *record) error {
	out, errw := s.stdout, s.stderr
	if r.flags&flagTagged != 0 {
		out, errw = &tagWriter{w: out, tag: r.tag, start: true}, &tagWriter{w: errw, tag: r.tag, start: true}
	}
	if s.o.verbose > 0 && !s.o.dryRun {
		if _, err := io.WriteString(out, r.cmd+"\n"); err != nil {
			return err
		}
	}
	if err := s.stream(out, r.stdout, r.flags&flagStdoutSpill != 0, r); err != nil {
		return err
	}
	return s.stream(errw, r.stderr, r.flags&flagStderrSpill != 0, r)
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

// tagWriter puts a tag and a tab before each line written through it.
type tagWriter struct {
	w     io.Writer
	tag   []byte
	start bool // the next byte starts a line
	buf   []byte
}

func (t *tagWriter) Write(p []byte) (int, error) {
	t.buf = t.buf[:0]
	for i := 0; i < len(p); i++ {
		if t.start {
			t.buf = append(t.buf, t.tag...)
			t.buf = append(t.buf, '\t')
			t.start = false
		}
		t.buf = append(t.buf, p[i])
		t.start = p[i] == '\n'
	}
	if _, err := t.w.Write(t.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
