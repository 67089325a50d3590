package rank

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSizerBoundsAPause: one sample of the manager's time per chunk that a pause inflates
// (1 ms against 500 ns) counts as twice the average, weighed by its time's share of
// sizerHorizon (a tenth), so the next chunk stays as large; a lasting change is followed
// within a few horizons of the manager's time.
func TestSizerBoundsAPause(t *testing.T) {
	z := sizer{slots: 10000}
	z.observe(1, 10*time.Millisecond, 0)
	for range 20 {
		z.manager(500*time.Nanosecond, 1)
	}
	before := z.next(-1)
	z.manager(time.Millisecond, 1)
	require.InDelta(t, 547.6, z.perMsg, 1, "one sample counts for at most twice the average")
	require.Equal(t, before, z.next(-1))
	for range 400 { // 400 rounds of 64 chunks at 5 us: 128 ms of the manager's time
		z.manager(5*time.Microsecond, 64)
	}
	require.InDelta(t, 5000, z.perMsg, 50, "a lasting change is followed")
}

// TestSizerWarmsUp: the manager's first samples (cold caches, maps still growing) do not
// bound a chunk's size; from sizerWarmup samples on, the least of them does, and then the
// moving average.
func TestSizerWarmsUp(t *testing.T) {
	const remaining = 3_200_000 // 32 items for each of 100,000 slots
	z := sizer{slots: 100_000}
	z.observe(1, 100*time.Millisecond, 0)
	z.manager(22*time.Microsecond, 1) // the simulator's first sample at 100,000 workers
	require.Equal(t, 1, z.next(remaining), "a chunk of 30 before the fix")
	for range sizerWarmup - 1 {
		z.manager(5*time.Microsecond, 1)
	}
	require.InDelta(t, 5000, z.perMsg, 1, "the least of the warm-up samples")
	// The manager a quarter busy allows 4 x 100,000 slots x 5 us / 100 ms = 20 items a
	// chunk; guided self-scheduling's half of a slot's share is less: 16.
	require.Equal(t, 16, z.next(remaining))
}

// TestSizerFirstChunks: before any result, a chunk is guided self-scheduling's share of
// what remains (a quarter of a slot's share), at most firstChunk items (or an item per
// firstSlots slots), and one item when the total is unknown.
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
		{100_000, 100_000_000, 250},
		{100_000, 1_000_000_000, 100_000 / firstSlots},
	} {
		z := sizer{slots: tc.slots}
		require.Equal(t, tc.want, z.next(tc.remaining), "%d slots, %d remaining", tc.slots, tc.remaining)
	}
}

// TestSizerFirstChunksStayEqual: every chunk dealt before a result came has the size the
// first had, however much remains when it is dealt: smaller ones dealt later would end
// first, and the reorder buffer would hold their results.
func TestSizerFirstChunksStayEqual(t *testing.T) {
	z := sizer{slots: 100_000}
	remaining := int64(100_000_000)
	for range 200_000 {
		n := z.next(remaining)
		require.Equal(t, 250, n)
		remaining -= int64(n)
	}
}

// TestSizerTailFloor: towards the end, a chunk shrinks to half a slot's share of what
// remains, and then to base, the size at which the manager keeps up with every slot
// computing; not to a slot's whole share: the first workers to come back would take the
// whole remainder, and the others wait.
func TestSizerTailFloor(t *testing.T) {
	z := sizer{slots: 100_000}
	z.observe(1, time.Millisecond, 24)
	for range sizerWarmup {
		z.manager(time.Microsecond, 1) // base: 100,000 slots x 1 us / 1 ms = 100 items
	}
	require.Equal(t, 400, z.next(1_000_000_000), "the manager a quarter busy")
	require.Equal(t, 250, z.next(50_000_000), "half a slot's share")
	require.Equal(t, 150, z.next(30_000_000), "half a slot's share, not a whole one (300)")
	require.Equal(t, 100, z.next(1_000_000), "base")
	require.Equal(t, 50, z.next(50), "what remains")
}

// TestSizerOrderedBound: with ordered output, a chunk's result times the chunks in flight
// (slots x window) stays within the reorder buffer's memory, however cheap the manager.
func TestSizerOrderedBound(t *testing.T) {
	cfg := DefaultConfig()
	z := sizer{}
	z.start(100_000, cfg)
	z.observe(100, 100*time.Millisecond, 2400) // 24 bytes an item
	for range sizerWarmup {
		z.manager(time.Microsecond, 1)
	}
	bound := int(512 << 20 / (100_000 * 2 * 24)) // partition.DefaultReorderMem
	require.Equal(t, bound, z.next(200_000_000))
	cfg.Unordered = true
	z.start(100_000, cfg)
	require.Equal(t, 400, z.next(200_000_000), "unordered: the manager a quarter busy")
}

// TestSizerJoined: until every rank announced its threads, those yet to count at the
// latest one's threads.
func TestSizerJoined(t *testing.T) {
	z := sizer{}
	z.start(1563, DefaultConfig())
	require.Equal(t, 1563, z.slots)
	z.joined(64, 1563)
	require.Equal(t, 1563*64, z.slots)
	z.joined(32, 1563)
	require.Equal(t, 64+32*1562, z.slots)
}
