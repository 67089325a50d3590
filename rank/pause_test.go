package rank

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPause: the polling rhythm of an MPI rank, from its state alone (no clock is read).
func TestPause(t *testing.T) {
	var sleepCap atomic.Int64
	w := newWire(nil, &sleepCap, bells{})
	w.bound = false
	t0 := w.lastBusy
	require.Zero(t, w.pause(t0.Add(spinFor/2), false), "spins right after traffic")
	require.Equal(t, minSleep, w.pause(t0.Add(spinFor+time.Microsecond), false), "then sleeps minSleep")
	require.Equal(t, time.Millisecond, w.pause(t0.Add(8*time.Millisecond), false), "an eighth of the idle time")
	require.Equal(t, maxSleep, w.pause(t0.Add(time.Second), false), "at most maxSleep")
	require.Equal(t, minSleep, w.pause(t0.Add(time.Second), true), "minSleep while quitting")

	// Sparse traffic: no spin, and sparseSleep at least after the first short sleep.
	w.gap = 2 * sparse
	require.Equal(t, minSleep, w.pause(t0.Add(time.Microsecond), false))
	require.Equal(t, sparseSleep, w.pause(t0.Add(2*minSleep), false))

	// Config.WakeWithin bounds every sleep.
	sleepCap.Store(int64(50 * time.Microsecond))
	require.Equal(t, 50*time.Microsecond, w.pause(t0.Add(time.Second), false))
	require.Equal(t, 50*time.Microsecond, w.pause(t0.Add(2*minSleep), false))
	require.Equal(t, minSleep, w.pause(t0.Add(time.Microsecond), false))

	// A rank every sender rings sleeps until rung (WakeWithin still bounds it); after a
	// ring that brought nothing it polls once more at once, then sleeps on timers once.
	w.bells.all = true
	require.Equal(t, 50*time.Microsecond, w.pause(t0.Add(time.Second), false))
	sleepCap.Store(0)
	require.Equal(t, deepSleep, w.pause(t0.Add(time.Microsecond), false), "sparse: no spin")
	w.gap = 0
	require.Zero(t, w.pause(t0.Add(spinFor/2), false), "spins after traffic all the same")
	require.Equal(t, deepSleep, w.pause(t0.Add(spinFor+time.Microsecond), false))
	w.afterWake = 2
	require.Zero(t, w.pause(t0.Add(8*time.Millisecond), false), "a ring that brought nothing yet")
	require.Equal(t, time.Millisecond, w.pause(t0.Add(8*time.Millisecond), false), "nor on the next poll")
	require.Equal(t, deepSleep, w.pause(t0.Add(8*time.Millisecond), false))
	require.Equal(t, minSleep, w.pause(t0.Add(time.Second), true), "minSleep while quitting")
}
