package rank

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDrainGivesBackOnlyWaitingChunks: at a drain, a worker gives back the chunks that
// wait for a busy goroutine, the last queued ones; a chunk that a free goroutine would take
// at once stays and runs, however soon after it the drain came.
func TestDrainGivesBackOnlyWaitingChunks(t *testing.T) {
	seqs := func(ts []task) []uint64 {
		var out []uint64
		for _, t := range ts {
			out = append(out, t.c.Seq)
		}
		return out
	}
	var q computeQueue
	q.init(4, 2)
	q.push([]task{{c: Chunk{Seq: 1}}})
	first, ok := q.take() // one goroutine computes chunk 1: one is free
	require.True(t, ok)
	require.EqualValues(t, 1, first.c.Seq)
	q.push([]task{{c: Chunk{Seq: 2}}, {c: Chunk{Seq: 3}}, {c: Chunk{Seq: 4}}})
	require.Equal(t, []uint64{3, 4}, seqs(q.takeWaiting()))
	next, ok := q.take()
	require.True(t, ok)
	require.EqualValues(t, 2, next.c.Seq, "the chunk a free goroutine takes stays")
	require.Empty(t, q.takeWaiting(), "both goroutines busy, nothing queued")

	// Every goroutine free: nothing waits, nothing goes back.
	var idle computeQueue
	idle.init(4, 2)
	idle.push([]task{{c: Chunk{Seq: 7}}, {c: Chunk{Seq: 8}}})
	require.Empty(t, idle.takeWaiting())
	require.EqualValues(t, 2, idle.queued.Load())
}
