package taskfarm

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
)

// job is one task to run: its sequence number and what it works on.
type job struct {
	seq  uint64
	recs [][]string // its argument records (mode args)
	data []byte     // its block of input (--pipe), or its command (--retry-failed)
	off  int64      // its part of the file (--pipepart)
	size int64
	// timeout is the --timeout N% in force when the job was issued (0: none, or the fixed
	// --timeout every worker knows).
	timeout int64
	req     request  // what it asks of its worker (a --tasks file's #MW cpus=N gpus=N)
	barrier *barrier // a --tasks file's barrier before it (the manager's only)
}

// jobKind is what every job of a run carries.
type jobKind uint8

const (
	jobArgs    jobKind = iota // argument records
	jobBlock                  // a block of stdin (--pipe)
	jobPart                   // an offset and a length in the file (--pipepart)
	jobCommand                // a whole command line (--retry-failed, --tasks)
)

// appendJob encodes j as a chunk item.
func appendJob(b []byte, j *job, kind jobKind) []byte {
	b = binary.AppendUvarint(b, j.seq)
	b = binary.AppendVarint(b, j.timeout)
	b = binary.AppendUvarint(b, uint64(j.req.cpus))
	gpus := uint64(0)
	if j.req.gpusSet {
		gpus = uint64(j.req.gpus) + 1
	}
	b = binary.AppendUvarint(b, gpus)
	switch kind {
	case jobArgs:
		b = binary.AppendUvarint(b, uint64(len(j.recs)))
		for _, r := range j.recs {
			b = binary.AppendUvarint(b, uint64(len(r)))
			for _, v := range r {
				b = appendString(b, v)
			}
		}
	case jobPart:
		b = binary.AppendVarint(b, j.off)
		b = binary.AppendVarint(b, j.size)
	default:
		b = appendBytes(b, j.data)
	}
	return b
}

var errJob = errors.New("malformed job from the manager")

// decodeJob decodes a chunk item; its byte slices alias item.
func decodeJob(item []byte, kind jobKind) (job, error) {
	d := decoder{b: item}
	j := job{seq: d.uvarint(), timeout: d.varint()}
	cpus, gpus := d.uvarint(), d.uvarint()
	if cpus > maxTaskCPUs || gpus > maxTaskGPUs+1 {
		return job{}, errJob
	}
	j.req = request{cpus: int(cpus), gpus: max(int(gpus)-1, 0), gpusSet: gpus > 0}
	switch kind {
	case jobArgs:
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			return job{}, errJob
		}
		j.recs = make([][]string, 0, n)
		for range n {
			m := d.uvarint()
			if m > uint64(len(d.b)) {
				return job{}, errJob
			}
			rec := make([]string, 0, m)
			for range m {
				rec = append(rec, string(d.bytes()))
			}
			j.recs = append(j.recs, rec)
		}
	case jobPart:
		j.off, j.size = d.varint(), d.varint()
	default:
		j.data = d.bytes()
	}
	if d.err != nil || len(d.b) != 0 || j.seq == 0 || j.off < 0 || j.size < 0 {
		return job{}, errJob
	}
	return j, nil
}

// flatArgs is a job's values, records one after the other.
func (j *job) flatArgs() []string {
	if len(j.recs) == 1 {
		return j.recs[0]
	}
	var out []string
	for _, r := range j.recs {
		out = append(out, r...)
	}
	return out
}

// grouping is how records are grouped into jobs: -n/-N (maxArgs), -X/-m (as many as the
// command line's length allows, spread over the job slots at the end of the input).
type grouping struct {
	maxArgs  int // records per job; 0 with noArgs (-N0); -1 no limit (-X, -m)
	multi    bool
	maxLen   int  // -s, or parallel's default
	slots    int  // the job slots the last records are spread over (-X, -m)
	spread   bool // -X, -m (not --xargs): spread the records at the end of the input
	estimate *lengthEstimate
}

// jobMaker groups the records of a recordSource into numbered jobs.
type jobMaker struct {
	recs    recordSource
	g       grouping
	seq     uint64
	pending [][]string // records read ahead
	eof     bool
	spread  bool // -X/-m: spread once, at the end of the input
}

// next returns the next job, or io.EOF.
func (m *jobMaker) next() (*job, error) {
	limit := m.g.maxArgs
	if limit == 0 {
		limit = 1
	}
	var recs [][]string
	if m.g.multi {
		var err error
		if recs, err = m.fill(limit); err != nil {
			return nil, err
		}
	} else {
		for len(recs) < limit {
			rec, err := m.read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return nil, io.EOF
	}
	m.seq++
	j := &job{seq: m.seq, recs: recs}
	if m.g.maxArgs == 0 {
		j.recs = nil // -N0: a record read, none inserted
	}
	return j, nil
}

// fill takes records while the estimated command line stays under -s (and, with -n, up
// to limit); when that reaches the end of the input before any job has been spread, the
// records are spread evenly over the job slots, as GNU parallel does.
func (m *jobMaker) fill(limit int) ([][]string, error) {
	var recs [][]string
	est := m.g.estimate
	est.reset()
	for limit < 0 || len(recs) < limit {
		rec, err := m.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		est.add(rec, m.seq+1)
		if est.length(len(recs)+1) >= m.g.maxLen && len(recs) > 0 {
			m.pending = append([][]string{rec}, m.pending...)
			break
		}
		recs = append(recs, rec)
	}
	if m.g.spread && !m.spread && len(recs) > 1 {
		if _, err := m.peek(); err == io.EOF {
			m.spread = true
			per := (len(recs) + m.g.slots - 1) / m.g.slots
			if per < len(recs) {
				m.pending = append(recs[per:], m.pending...)
				recs = recs[:per]
			}
			m.g.maxArgs = per
		} else if err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func (m *jobMaker) read() ([]string, error) {
	if len(m.pending) > 0 {
		r := m.pending[0]
		m.pending = m.pending[1:]
		return r, nil
	}
	if m.eof {
		return nil, io.EOF
	}
	r, err := m.recs.next()
	if err == io.EOF {
		m.eof = true
	}
	return r, err
}

func (m *jobMaker) peek() ([]string, error) {
	r, err := m.read()
	if err != nil {
		return nil, err
	}
	m.pending = append([][]string{r}, m.pending...)
	return r, nil
}

// lengthEstimate is GNU parallel's estimate of a command line's length for -X and -m (not
// the line's real length: parallel decides where a line is full by it, and so does mw).
type lengthEstimate struct {
	t      *template
	quote  bool // values are quoted
	words  bool // -q: the estimate is tripled
	ctx    bool // -X
	trim   string
	lens   map[rplKey]int
	recLen int // values per record, from the job's first record
}

func (e *lengthEstimate) reset() {
	e.lens = map[rplKey]int{}
	e.recLen = 0
}

// add counts a record's replaced values for each replacement string of the template.
func (e *lengthEstimate) add(rec []string, seq uint64) {
	if e.recLen == 0 {
		e.recLen = len(rec)
	}
	v := &jobVars{seq: seq, slot: 1, trim: e.trim}
	for k := range e.t.counts {
		tok := token{kind: tokRpl, rpl: k.kind, pos: k.pos}
		if k.pos != 0 || k.kind.perJob() {
			pos := k.pos
			if pos == 0 {
				pos = 1
			}
			i := pos - 1
			if pos < 0 {
				i = len(rec) + pos
			}
			if i >= 0 && i < len(rec) {
				tok.pos = pos
				e.lens[k] += len(replaceOne(tok, rec, v, e.quote))
			}
			continue
		}
		for _, a := range rec {
			e.lens[k] += len(replaceValue(k.kind, a, v, e.quote))
		}
	}
}

// length is the estimate with nrec records of recLen values.
func (e *lengthEstimate) length(nrec int) int {
	t := e.t
	n := t.noncontext + t.words - 1
	recargs := nrec * e.recLen
	if e.ctx {
		n += recargs * t.context
		for k, c := range t.counts {
			n += e.lens[k] * c
		}
		n += (recargs - 1) * t.contextGroups
	} else {
		n += t.context
		for k, c := range t.counts {
			n += (recargs - 1 + e.lens[k]) * c
		}
	}
	if e.words {
		n *= 3
	}
	return n
}

// defaultMaxLen is GNU parallel's default -s on Linux: it searches for the longest command
// line it can run (within 1%, starting at 324 and multiplying by 16, then halving), which
// the kernel bounds at MAX_ARG_STRLEN (32 pages) for the one argument of sh -c; it keeps
// 3000 bytes for its own wrapping and halves the rest.
func defaultMaxLen() int {
	limit := 32*os.Getpagesize() - 1
	lower, n := 0, 324
	for n <= limit {
		lower = n
		n *= 16
	}
	upper := n
	for !(lower == upper || lower == upper-1 || float64(lower)/float64(upper) > 0.99) {
		mid := (upper-lower)/2 + lower
		if mid <= limit {
			lower = mid
		} else {
			upper = mid
		}
	}
	return (lower - 3000) / 2
}

// shuffled reads every job, shuffles them and numbers them again from 1 (--shuf).
type shuffled struct {
	jobs []*job
	i    int
}

func shuffleJobs(next func() (*job, error), seed uint64) (*shuffled, error) {
	s := &shuffled{}
	for {
		j, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		s.jobs = append(s.jobs, j)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.Shuffle(len(s.jobs), func(a, b int) { s.jobs[a], s.jobs[b] = s.jobs[b], s.jobs[a] })
	for i, j := range s.jobs {
		j.seq = uint64(i + 1)
	}
	return s, nil
}

func (s *shuffled) next() (*job, error) {
	if s.i >= len(s.jobs) {
		return nil, io.EOF
	}
	s.i++
	return s.jobs[s.i-1], nil
}
