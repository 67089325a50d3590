package taskfarm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/mw-hpc/mw/internal/quote"
)

// joblogHeader is the first line of a joblog, GNU parallel's columns.
const joblogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// appendJoblog appends the joblog line of r to b, formatted as GNU parallel does:
// start time in seconds with 3 decimals, runtime as %10.3f, and newlines in the command
// written as NUL so that one task stays one line.
func appendJoblog(b []byte, r *record) []byte {
	b = strconv.AppendUint(b, r.seq, 10)
	b = append(b, '\t')
	b = append(b, r.host...)
	b = append(b, '\t')
	b = appendMillis(b, r.start)
	b = append(b, '\t')
	b = fmt.Appendf(b, "%10.3f", float64(r.runtime)/1e9)
	b = append(b, "\t0\t"...)
	b = strconv.AppendInt(b, r.stdoutSize(), 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, r.exit, 10)
	b = append(b, '\t')
	b = strconv.AppendUint(b, r.signal, 10)
	b = append(b, '\t')
	for i := 0; i < len(r.cmd); i++ {
		c := r.cmd[i]
		if c == '\n' {
			c = 0
		}
		b = append(b, c)
	}
	return append(b, '\n')
}

// appendMillis writes a Unix time in nanoseconds as seconds with 3 decimals.
func appendMillis(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1e9, 10)
	b = append(b, '.')
	ms := ns % 1e9 / 1e6
	if ms < 100 {
		b = append(b, '0')
	}
	if ms < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, ms, 10)
}

// joblogEntry is what --resume needs of one joblog line.
type joblogEntry struct {
	seq          uint64
	exit, signal int64
}

func (e joblogEntry) ok() bool { return e.exit == 0 && e.signal == 0 }

// parseJoblogLine reads one joblog line (without its newline): at least nine
// tab-separated fields (the command may hold tabs) with numeric Seq, Exitval and Signal.
func parseJoblogLine(line []byte) (joblogEntry, error) {
	f := bytes.SplitN(line, []byte{'\t'}, 9)
	if len(f) < 9 {
		return joblogEntry{}, errors.New("fewer than 9 tab-separated fields")
	}
	seq, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil || seq == 0 {
		return joblogEntry{}, fmt.Errorf("Seq %s is not a task number", quote.Clip(string(f[0])))
	}
	exit, err1 := strconv.ParseInt(string(f[6]), 10, 64)
	sig, err2 := strconv.ParseInt(string(f[7]), 10, 64)
	if err1 != nil || err2 != nil {
		return joblogEntry{}, fmt.Errorf("Exitval %s or Signal %s is not a number", quote.Clip(string(f[6])), quote.Clip(string(f[7])))
	}
	return joblogEntry{seq: seq, exit: exit, signal: sig}, nil
}

// joblogEnd is how a joblog ends, which appending to it must mend when a kill cut its last
// line: a cut line that still reads as a task needs its newline; one that does not is cut
// off, so that the log reads again after the lines appended.
type joblogEnd struct {
	needsNL bool  // the last line has no newline, and reads as a task
	cutAt   int64 // the length to truncate the log to (its cut last line's start), or -1
}

// readJoblog reads a joblog for --resume (every task in it is done) or --resume-failed
// (only tasks that succeeded are done), as GNU parallel does: it looks only at Seq,
// Exitval and Signal. The first line is the header. A last line without a newline that
// does not parse is ignored: it was cut by a kill while being written, so that task runs
// again. It also reports how the log ends (see joblogEnd).
func readJoblog(r io.Reader, failedToo bool) (done *seqSet, end joblogEnd, err error) {
	return readJoblogOK(r, failedToo, nil)
}

// readJoblogOK is readJoblog that also adds to ok (when not nil) the tasks with a line
// that says they succeeded.
func readJoblogOK(r io.Reader, failedToo bool, ok *seqSet) (done *seqSet, end joblogEnd, err error) {
	done = &seqSet{}
	end.cutAt = -1
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64 // where line starts
	for n := 1; ; n++ {
		line, rerr := br.ReadBytes('\n')
		if len(line) == 0 && rerr == io.EOF {
			return done, end, nil
		}
		if rerr != nil && rerr != io.EOF {
			return nil, end, rerr
		}
		complete := rerr == nil
		start := off
		off += int64(len(line))
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if n == 1 && bytes.HasPrefix(line, []byte("Seq\t")) {
			if !complete {
				end.cutAt = 0 // a cut header: written again whole
			}
			continue
		}
		e, perr := parseJoblogLine(line)
		if perr != nil {
			if !complete {
				end.cutAt = start
				return done, end, nil
			}
			return nil, end, fmt.Errorf("line %d: %v", n, perr)
		}
		if !failedToo || e.ok() {
			done.add(e.seq)
		}
		if ok != nil && e.ok() {
			ok.add(e.seq)
		}
		if !complete {
			end.needsNL = true
			return done, end, nil
		}
	}
}

// openJoblog opens the joblog for writing. With resume (or a path starting with +) it
// appends, writing the header if the file is new or empty, after mending its end (see
// joblogEnd); otherwise it truncates the file and writes the header.
func openJoblog(path string, appendTo bool, end joblogEnd) (*os.File, error) {
	if p, ok := strings.CutPrefix(path, "+"); ok {
		path, appendTo = p, true
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o666)
	if err != nil {
		return nil, fmt.Errorf("--joblog: %w", err)
	}
	if appendTo && end.cutAt >= 0 {
		if err := f.Truncate(end.cutAt); err != nil {
			f.Close()
			return nil, fmt.Errorf("--joblog: cut its last line, which a kill cut short: %w", err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("--joblog: %w", err)
	}
	var head string
	switch {
	case fi.Size() == 0:
		head = joblogHeader
	case appendTo && end.needsNL:
		head = "\n"
	}
	if head != "" {
		if _, err := f.WriteString(head); err != nil {
			f.Close()
			return nil, fmt.Errorf("--joblog: %w", err)
		}
	}
	return f, nil
}

// joblogPath is the joblog's file name without GNU parallel's + (append) prefix.
func joblogPath(p string) string { return strings.TrimPrefix(p, "+") }

// seqSet is a set of task numbers: a bitmap for the dense low range, a map above it.
type seqSet struct {
	bits   []uint64
	sparse map[uint64]bool
}

const denseSeqs = 1 << 26 // 8 MiB of bitmap at most

func (s *seqSet) add(n uint64) {
	if n < denseSeqs {
		w := int(n / 64)
		if w >= len(s.bits) {
			s.bits = append(s.bits, make([]uint64, w+1-len(s.bits))...)
		}
		s.bits[w] |= 1 << (n % 64)
		return
	}
	if s.sparse == nil {
		s.sparse = map[uint64]bool{}
	}
	s.sparse[n] = true
}

func (s *seqSet) has(n uint64) bool {
	if s == nil {
		return false
	}
	if n < denseSeqs {
		w := int(n / 64)
		return w < len(s.bits) && s.bits[w]&(1<<(n%64)) != 0
	}
	return s.sparse[n]
}

// countUpTo counts the members from 1 to n.
func (s *seqSet) countUpTo(n uint64) int64 {
	if s == nil {
		return 0
	}
	var c int64
	for w, x := range s.bits {
		lo := uint64(w) * 64
		if lo > n {
			break
		}
		if n-lo < 63 {
			x &= 1<<(n-lo+1) - 1
		}
		c += int64(bits.OnesCount64(x))
	}
	for k := range s.sparse {
		if k <= n {
			c++
		}
	}
	return c
}

// readFailedCommands reads a joblog for --retry-failed: the command of each job whose last
// line records a failure (a non-zero Exitval or Signal), by job number; NULs in a command
// are the newlines the joblog wrote as NUL.
func readFailedCommands(r io.Reader) (map[uint64]string, error) {
	cmds := map[uint64]string{}
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return cmds, nil
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if n == 1 && bytes.HasPrefix(line, []byte("Seq\t")) {
			continue
		}
		e, perr := parseJoblogLine(line)
		if perr != nil {
			if err == io.EOF {
				return cmds, nil // a last line cut by a kill
			}
			return nil, fmt.Errorf("line %d: %v", n, perr)
		}
		if e.ok() {
			delete(cmds, e.seq)
			continue
		}
		cmd := bytes.SplitN(line, []byte{'\t'}, 9)[8]
		cmds[e.seq] = string(bytes.ReplaceAll(cmd, []byte{0}, []byte{'\n'}))
	}
}
