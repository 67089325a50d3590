package taskfarm

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mw-hpc/mw/internal/human"
	"github.com/mw-hpc/mw/partition"
	"github.com/mw-hpc/mw/rank"
)

// jobSource deals the jobs as chunks of up to perChunk jobs; jobs in skip are left out
// (--resume). Each job is stamped with the --timeout N% in force. A chunk ends before a
// barrier of a --tasks file, and the job after the barrier waits (rank.ErrNotReady) until
// the gate lets it through. Called from the manager's goroutine only.
type jobSource struct {
	next     jobStream
	skip     *seqSet
	skipOK   *seqSet // of the skipped, those the joblog has as succeeded
	kind     jobKind
	times    *runtimes
	perChunk int
	seq      uint64     // the next chunk's Seq
	pending  *job       // read, and not yet issued
	chain    []*barrier // the barriers before pending
	done     bool
	gate     *barrierGate
	acct     *account
	buf      []byte
}

var _ rank.Source = (*jobSource)(nil)

func newJobSource(next jobStream, skip, skipOK *seqSet, perChunk int, kind jobKind, times *runtimes) (*jobSource, error) {
	if perChunk < 1 {
		return nil, fmt.Errorf("--chunk %d: must be at least 1", perChunk)
	}
	return &jobSource{next: next, skip: skip, skipOK: skipOK, perChunk: perChunk, kind: kind, times: times,
		gate: &barrierGate{}, acct: newAccount(-1, false)}, nil
}

// Next returns the next chunk of jobs, rank.ErrNotReady while the next job waits behind a
// barrier, or io.EOF: after the last job, or at a BARRIER CHECK that failed.
func (s *jobSource) Next() (rank.Chunk, error) {
	var data []byte
	var fc flyingChunk
	n := 0
	for n < s.perChunk {
		j, err := s.peek()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rank.Chunk{}, err
		}
		if len(s.chain) > 0 {
			if n > 0 {
				break // the chunk ends before the barrier
			}
			if err := s.gate.pass(s.chain, s.acct); err != nil {
				return rank.Chunk{}, err
			}
			s.chain = s.chain[:0]
		}
		s.pending = nil
		j.timeout = s.times.timeout()
		s.buf = appendJob(s.buf[:0], j, s.kind)
		data = partition.Pack(data, s.buf)
		if n == 0 && s.acct.watching {
			fc = flyingChunk{first: j.seq, what: s.acct.describe(j, s.kind)}
		}
		n++
	}
	if n == 0 {
		return rank.Chunk{}, io.EOF
	}
	c := rank.Chunk{Seq: s.seq, Data: data, Items: n}
	fc.tasks = uint64(n)
	s.acct.issued(s.seq, fc)
	s.gate.issued++
	s.seq++
	return c, nil
}

// peek returns the next job to issue (the one waiting behind a barrier, or a new one),
// leaving out those in skip (--resume), and gathers the barriers before it in s.chain,
// with the failures the joblog has of the skipped tasks after each (a BARRIER CHECK
// counts them).
func (s *jobSource) peek() (*job, error) {
	if s.pending != nil {
		return s.pending, nil
	}
	if s.done {
		return nil, io.EOF
	}
	for {
		j, err := s.next()
		if err == io.EOF {
			s.done = true
		}
		if err != nil {
			return nil, err
		}
		if j.barrier != nil {
			s.chain = append(s.chain, j.barrier)
			j.barrier = nil
		}
		if !s.skip.has(j.seq) {
			s.pending = j
			return j, nil
		}
		s.acct.resume()
		switch {
		case s.skipOK.has(j.seq):
		case len(s.chain) > 0:
			s.chain[len(s.chain)-1].skippedFailed++
		default:
			s.gate.failed++
		}
	}
}

// liveJobSource is a jobSource whose jobs may wait behind a barrier: the engine learns
// through notify when they may go.
type liveJobSource struct{ *jobSource }

var _ rank.LiveSource = liveJobSource{}

func (s liveJobSource) SetNotify(notify func()) { s.gate.notify = notify }

// describe is what the status shows of a job in flight: its values, or its command.
func (a *account) describe(j *job, kind jobKind) string {
	switch kind {
	case jobArgs:
		return clip(strings.Join(j.flatArgs(), " "))
	case jobCommand:
		return clip(string(j.data))
	case jobPart:
		return fmt.Sprintf("bytes %d-%d of the file", j.off, j.off+j.size)
	}
	return fmt.Sprintf("a block of %d bytes", len(j.data))
}

// errBarrierCheck ends the job's input at a BARRIER CHECK that a failed task stops.
var errBarrierCheck = errors.New("barrier check failed")

// barrierGate holds the tasks after a barrier of a --tasks file until every task before it
// has finished (disBatch's #DISBATCH BARRIER): the job source asks it before it issues the
// first task after the barrier, and the sink tells it of every chunk that finished or was
// left out. A BARRIER CHECK also stops the run there if a task since the last barrier
// failed. Used from the manager's goroutine only.
type barrierGate struct {
	issued, landed uint64 // chunks issued and finished (or left out)
	failed         uint64 // tasks failed since the last barrier
	waiting        bool   // the source waits: notify once every chunk has landed
	stoppedBy      uint64 // the failed tasks for which a BARRIER CHECK stopped the run
	notify         func()
	says           func(string) // where the gate says why it stops the run
}

// pass returns nil when the tasks after the barriers of chain (one, or several with only
// tasks of the joblog between them) may go now, rank.ErrNotReady while tasks before them
// are running, and io.EOF at a BARRIER CHECK after a failed task (the job's input ends).
func (g *barrierGate) pass(chain []*barrier, acct *account) error {
	if g.landed < g.issued {
		g.waiting = true
		acct.waitAt(fmt.Sprintf("%s for %d of the chunks before it", chain[0], g.issued-g.landed))
		return rank.ErrNotReady
	}
	g.waiting = false
	acct.waitAt("")
	for _, b := range chain {
		if b.check && g.failed > 0 {
			why := fmt.Sprintf("stopped at %s: %s since the barrier before it failed; the tasks after it were not run", b, human.Plural(g.failed, "task"))
			acct.stop(why)
			g.stoppedBy = g.failed
			if g.says != nil {
				g.says(why)
			}
			return io.EOF
		}
		g.failed = b.skippedFailed
	}
	return nil
}

// land counts a chunk that finished with failed tasks failed (or was left out).
func (g *barrierGate) land(failed uint64) {
	g.landed++
	g.failed += failed
	if g.waiting && g.landed == g.issued && g.notify != nil {
		g.waiting = false
		g.notify()
	}
}
