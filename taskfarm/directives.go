package taskfarm

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A --tasks file may hold directives among its task lines, each on a line of its own:
//
//	#MW BARRIER          every task before it finishes before any task after it starts
//	#MW BARRIER CHECK    the same, and if a task since the last barrier failed, no task
//	                     after it runs (disBatch's #DISBATCH BARRIER CHECK)
//	#MW cpus=4 gpus=1    the requests of the task lines after it (up to the next such line);
//	                     a key left out takes --cpus-per-task's or --gpus-per-task's value
//
// disBatch's #DISBATCH BARRIER [CHECK] is read as #MW's; its other directives are refused
// by name. Other lines, # comments included, are tasks, as they always were.

// Bounds on a task's requests.
const (
	maxTaskCPUs = 1 << 16
	maxTaskGPUs = 1 << 12
)

// request is what a task asks of its worker rank: cores (0: not said) and devices
// (gpusSet: said). The zero value says nothing: the command line's values apply.
type request struct {
	cpus    int
	gpus    int
	gpusSet bool
}

// barrier is a barrier line of a --tasks file, in force before the next task.
type barrier struct {
	line  int  // its line in the file
	check bool // BARRIER CHECK: stop if a task since the last barrier failed
	// skippedFailed counts the tasks after it that --resume leaves out as the joblog has
	// them failed: a BARRIER CHECK after them counts them.
	skippedFailed uint64
}

func (b *barrier) String() string {
	if b.check {
		return fmt.Sprintf("#MW BARRIER CHECK (line %d)", b.line)
	}
	return fmt.Sprintf("#MW BARRIER (line %d)", b.line)
}

// directive is one parsed directive line.
type directive struct {
	barrier, check bool
	req            request // a request line's values
}

// parseDirective reads a line of a --tasks file: ok is false for a task line. A line that
// starts as a directive but says something mw does not know is an error.
func parseDirective(line string) (d directive, ok bool, err error) {
	line = strings.TrimSuffix(line, "\r")
	var rest string
	var disbatch bool
	switch {
	case directiveWord(line, "#MW"):
		rest = line[len("#MW"):]
	case directiveWord(line, "#DISBATCH"):
		rest, disbatch = line[len("#DISBATCH"):], true
	default:
		return d, false, nil
	}
	f := strings.Fields(rest)
	switch {
	case len(f) == 0:
		return d, true, errors.New("a directive line with nothing after its #MW (BARRIER, BARRIER CHECK, or cpus=N gpus=N)")
	case f[0] == "BARRIER":
		return parseBarrier(f[1:], disbatch)
	case disbatch:
		return d, true, fmt.Errorf("#DISBATCH %s is disBatch's and not supported by mw exec (only BARRIER and BARRIER CHECK are): write the tasks out in full", f[0])
	}
	for _, kv := range f {
		if err := d.req.set(kv); err != nil {
			return d, true, err
		}
	}
	return d, true, nil
}

// directiveWord reports whether line starts with word followed by white space or its end.
func directiveWord(line, word string) bool {
	rest, ok := strings.CutPrefix(line, word)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

func parseBarrier(f []string, disbatch bool) (directive, bool, error) {
	d := directive{barrier: true}
	if len(f) > 0 && f[0] == "CHECK" {
		d.check, f = true, f[1:]
	}
	switch {
	case len(f) == 0:
		return d, true, nil
	case disbatch:
		return d, true, fmt.Errorf("#DISBATCH BARRIER with a key (%s): disBatch's signal through its key-value store is not supported by mw exec", f[0])
	}
	return d, true, fmt.Errorf("#MW BARRIER %s: a barrier takes only CHECK after it", strings.Join(f, " "))
}

// set reads one key=value of a request line.
func (r *request) set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	n, err := strconv.Atoi(v)
	switch {
	case !ok:
		return fmt.Errorf("#MW %s: unknown directive (BARRIER, BARRIER CHECK, or cpus=N gpus=N)", kv)
	case k == "cpus" && r.cpus > 0, k == "gpus" && r.gpusSet:
		return fmt.Errorf("#MW %s: %s given twice on the line", kv, k)
	case k == "cpus" && (err != nil || n < 1 || n > maxTaskCPUs):
		return fmt.Errorf("#MW %s: cpus must be a number of cores from 1 to %d", kv, maxTaskCPUs)
	case k == "gpus" && (err != nil || n < 0 || n > maxTaskGPUs):
		return fmt.Errorf("#MW %s: gpus must be a number of devices from 0 to %d", kv, maxTaskGPUs)
	case k == "cpus":
		r.cpus = n
	case k == "gpus":
		r.gpus, r.gpusSet = n, true
	default:
		return fmt.Errorf("#MW %s: unknown request %q (cpus or gpus)", kv, k)
	}
	return nil
}

// taskLines reads the records of a --tasks file, taking its directives out: it hands on
// the task lines, and keeps the requests in force and the barrier before the next task,
// which tag the jobs made of them (taskJobs).
type taskLines struct {
	recs    recordSource
	line    int
	req     request
	barrier *barrier // before the next task, nil for none
	refuse  string   // why this run cannot take directives ("" when it can)
}

func (t *taskLines) next() ([]string, error) {
	for {
		rec, err := t.recs.next()
		if err != nil {
			return nil, err
		}
		t.line++
		if len(rec) == 0 {
			return rec, nil
		}
		d, ok, err := parseDirective(rec[0])
		switch {
		case !ok:
			return rec, nil
		case err == nil && t.refuse != "":
			err = fmt.Errorf("#MW lines need one task per line: %s is not supported with them", t.refuse)
		case err == nil && len(rec) > 1:
			err = errors.New("--colsep split a #MW line into columns: write it without the separator")
		}
		if err != nil {
			return nil, fmt.Errorf("--tasks line %d: %w", t.line, err)
		}
		t.apply(d)
	}
}

// apply takes a directive into account: a barrier (several in a row are one, checking if
// any checks) or the requests of the tasks that follow.
func (t *taskLines) apply(d directive) {
	if !d.barrier {
		t.req = d.req
		return
	}
	if t.barrier == nil {
		t.barrier = &barrier{line: t.line}
	}
	t.barrier.check = t.barrier.check || d.check
}

// taskJobs tags each job of next (made of one line of t each) with the requests in force
// and the barrier before it.
func taskJobs(next jobStream, t *taskLines) jobStream {
	return func() (*job, error) {
		j, err := next()
		if err != nil {
			return nil, err
		}
		j.req, j.barrier, t.barrier = t.req, t.barrier, nil
		return j, nil
	}
}

// countTaskLines counts the task lines of a --tasks file (directives are not tasks): -1
// when it cannot be read ahead (stdin, not a regular file).
func countTaskLines(r io.Reader, delim byte) (int64, error) {
	rr := newRecordReader(r, string(delim))
	var n int64
	for {
		rec, err := rr.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return -1, err
		}
		if _, ok, _ := parseDirective(string(rec)); !ok {
			n++
		}
	}
}
