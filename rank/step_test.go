package rank

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// steppedManager is the manager's step function driven by hand, as a test network drives
// a raft node's Step: frames in, its outbox read back, no transport and no clock.
type steppedManager struct {
	t    *testing.T
	m    *manager
	sink *listSink
	held map[int][]record // per worker: the tasks it was sent and has not answered
	got  map[int][]kind   // per worker: the kinds of the records it was sent, in order
}

// newSteppedManager starts a run of chunks chunks on workers workers of one thread each
// (window 1, no backups), every worker joined.
func newSteppedManager(t *testing.T, workers int, chunks uint64) *steppedManager {
	cfg := engine(1, Push, false)
	require.NoError(t, cfg.validate())
	s := &steppedManager{t: t, m: newManager(cfg, workers+1, "m", 0), sink: &listSink{}, held: map[int][]record{}, got: map[int][]kind{}}
	s.m.begin(&Plan{Source: &countSource{n: chunks}, Sink: s.sink, Total: -1}, nil)
	s.read()
	for r := 1; r <= workers; r++ {
		ready := binary.LittleEndian.AppendUint32(nil, 1)
		s.frame(r, record{kind: kindReady, data: append(ready, "h"...)})
	}
	return s
}

// frame hands the manager a frame of records from worker from, and reads what it sent.
func (s *steppedManager) frame(from int, rs ...record) {
	var f []byte
	for _, r := range rs {
		f = appendRecord(f, r)
	}
	s.m.onFrame(1, from, f)
	s.read()
}

// answer has worker from answer the oldest task it holds.
func (s *steppedManager) answer(from int) {
	task := s.held[from][0]
	s.held[from] = s.held[from][1:]
	s.frame(from, record{kind: kindResult, seq: task.seq, ticket: task.ticket, data: []byte("r")})
}

// lose takes worker r for lost, as the launcher's notice does, and lets the manager act on
// it, as its next step does.
func (s *steppedManager) lose(r int) {
	s.m.lose(r, "the launcher's notice")
	s.m.advance()
	s.read()
}

// read takes the manager's outbox: the tasks each worker holds, and every record's kind.
func (s *steppedManager) read() {
	for _, o := range s.m.out.seal() {
		require.NoError(s.t, eachRecord(o.to, o.frame, func(r record) error {
			s.got[o.to] = append(s.got[o.to], r.kind)
			if r.kind == kindTask {
				r.data = nil
				s.held[o.to] = append(s.held[o.to], r)
			}
			return nil
		}))
	}
}
