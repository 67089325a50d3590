package rank

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
