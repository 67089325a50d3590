package rank

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSizerBoundsAPause: one sample of the manager's time per message that a pause inflates
// (1 ms against 500 ns) moves the average by at most a fifth, so the next chunk stays about
// as large; a lasting change is followed all the same.
func TestSizerBoundsAPause(t *testing.T) {
	z := sizer{slots: 10000}
	z.observe(1, 10*time.Millisecond)
	for range 20 {
		z.manager(500*time.Nanosecond, 1)
	}
	before := z.next(-1)
	z.manager(time.Millisecond, 1)
	require.InDelta(t, 600, z.perMsg, 1, "one sample counts for at most twice the average")
	require.LessOrEqual(t, z.next(-1), before+1)
	for range 40 {
		z.manager(5*time.Microsecond, 1)
	}
	require.InDelta(t, 5000, z.perMsg, 50, "a lasting change is followed")
}

// TestSizerWarmsUp: the manager's first samples (cold caches, maps still growing) do not
// bound a chunk's size; from sizerWarmup samples on, the least of them does, and then the
// moving average.
func TestSizerWarmsUp(t *testing.T) {
	const remaining = 3_200_000 // 32 items for each of 100,000 slots
	z := sizer{slots: 100_000}
	z.observe(1, 100*time.Millisecond)
	z.manager(22*time.Microsecond, 1) // the simulator's first sample at 100,000 workers
	require.Equal(t, 1, z.next(remaining), "a chunk of 30 before the fix")
	for range sizerWarmup - 1 {
		z.manager(5*time.Microsecond, 1)
	}
	require.InDelta(t, 5000, z.perMsg, 1, "the least of the warm-up samples")
	// The manager a quarter busy: 4 x 100,000 slots x 5 us / 100 ms = 20 items a chunk.
	require.Equal(t, 20, z.next(remaining))
}

// TestSizerFirstChunks: before any result, a chunk is guided self-scheduling's share of
// what remains (a quarter of a slot's share), at most firstChunk items, and one item when
// the total is unknown.
func TestSizerFirstChunks(t *testing.T) {
	for _, tc := range []struct {
		slots     int
		remaining int64
		want      int
	}{
		{1000, 32_000, 8},
		{1000, 16_000, 4},
		{1000, 2_000, 1},
		{2, 1_000_000, firstChunk},
		{2, -1, 1},
		{2, 0, 1},
	} {
		z := sizer{slots: tc.slots}
		require.Equal(t, tc.want, z.next(tc.remaining), "%d slots, %d remaining", tc.slots, tc.remaining)
	}
}
