package rank

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/frame"
)

// TestReorderTakesAFrameNoLargerThanACopy: a result waiting for its turn that came alone in
// a frame of its copy's size class is kept in that frame, not copied (a copy of 3 KB
// results was a quarter of a 100,000-worker simulated manager's time); in a larger frame
// it is copied, so that the buffer holds no more than the result needs.
func TestReorderTakesAFrameNoLargerThanACopy(t *testing.T) {
	s := newSteppedManager(t, 2, 2)
	out := make([]byte, 3000)
	send := func(capacity int) bool {
		task := s.held[2][0]
		f := appendRecord(frame.Get(capacity)[:0], record{kind: kindResult, seq: task.seq, ticket: task.ticket, data: out})
		return s.m.onFrame(1, 2, f)
	}
	require.EqualValues(t, 1, s.held[2][0].seq, "worker 2 holds the second chunk: its result waits for the first")
	require.False(t, send(frame.Cap(len(out))), "the frame is the reorder buffer's")
	s.answer(1)
	require.Equal(t, []uint64{0, 1}, s.sink.seqs)
	require.Equal(t, out, s.sink.outs[1])

	s = newSteppedManager(t, 2, 2)
	require.True(t, send(4*frame.Cap(len(out))), "copied: the frame is the caller's again")
}
