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

// TestReleaseIdleWorkers: once the source is done, a worker that falls idle gets its stop
// at once, but for one kept for a retry; a retry (a busy worker lost) goes to that one, the
// end sends the stop to the workers not released only, and a released worker that
// acknowledged is never taken for lost, whatever the launcher says after it ended.
func TestReleaseIdleWorkers(t *testing.T) {
	s := newSteppedManager(t, 4, 4) // a chunk per worker: the source is done after the deal
	for r := 1; r <= 4; r++ {
		require.Len(t, s.held[r], 1)
	}
	s.answer(1)
	require.NotContains(t, s.got[1], kindStop, "the first idle worker is kept for a retry")
	s.answer(2)
	s.answer(3)
	require.Equal(t, kindStop, s.got[2][len(s.got[2])-1], "idle with the source done: released")
	require.Equal(t, kindStop, s.got[3][len(s.got[3])-1])
	require.Equal(t, 2, s.m.st.Released)
	s.frame(2, record{kind: kindStop})
	s.frame(3, record{kind: kindStop})
	require.Equal(t, running, s.m.phase)

	s.lose(4) // it held chunk 3: the retry goes to the worker kept
	s.read()
	require.Len(t, s.held[1], 1)
	require.EqualValues(t, 3, s.held[1][0].seq)
	s.lose(2) // ended as asked: not lost
	require.Len(t, s.m.st.Lost, 1)

	s.answer(1)
	require.Equal(t, stopping, s.m.phase)
	require.Equal(t, kindStop, s.got[1][len(s.got[1])-1])
	require.Equal(t, kindStop, s.got[4][len(s.got[4])-1], "a lost worker gets the stop too")
	require.Equal(t, 1, count(s.got[2], kindStop), "a released worker gets one stop")
	s.frame(1, record{kind: kindStop})
	require.Equal(t, finished, s.m.phase)
	require.Equal(t, []uint64{0, 1, 2, 3}, s.sink.seqs)
}

// TestReleasedWorkersLeaveTheRestToRank0: when every worker not released is lost with
// chunks unanswered, rank 0 starts its own worker for them, as when every worker is lost.
func TestReleasedWorkersLeaveTheRestToRank0(t *testing.T) {
	s := newSteppedManager(t, 3, 3)
	s.answer(1) // kept
	s.answer(2) // released
	require.Equal(t, 1, s.m.st.Released)
	s.lose(3)
	require.False(t, s.m.localStarted, "rank 1 takes the retry")
	s.lose(1)
	require.True(t, s.m.localStarted)
	require.Equal(t, kindSetup, s.got[4][0])
}

func count(ks []kind, k kind) int {
	n := 0
	for _, x := range ks {
		if x == k {
			n++
		}
	}
	return n
}
