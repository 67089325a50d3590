//go:build cgo

package mpitransport

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/mono"
)

// TestPause: the polling rhythm of an MPI rank, from its state alone (no clock is read).
func TestPause(t *testing.T) {
	w := newWire(nil, bells{})
	w.bound = false
	t0 := w.lastBusy
	require.Zero(t, w.pause(t0.Add(spinFor/2), false), "spins right after traffic")
	require.Equal(t, minSleep, w.pause(t0.Add(spinFor+time.Microsecond), false), "then sleeps minSleep")
	require.Equal(t, time.Millisecond, w.pause(t0.Add(8*time.Millisecond), false), "an eighth of the idle time")
	require.Equal(t, maxSleep, w.pause(t0.Add(time.Second), false), "at most maxSleep")
	require.Equal(t, minSleep, w.pause(t0.Add(time.Second), true), "minSleep while quitting")

	// Sparse traffic: no spin, and sparseSleep at least after the first short sleep.
	w.near = nearAll/2 - 1
	require.Equal(t, minSleep, w.pause(t0.Add(time.Microsecond), false))
	require.Equal(t, sparseSleep, w.pause(t0.Add(2*minSleep), false))

	// A patient rank (a worker whose threads all have a chunk) does not spin either, however near.
	w.near = nearAll
	w.hint.Patient = true
	require.Equal(t, minSleep, w.pause(t0.Add(time.Microsecond), false))
	require.Equal(t, sparseSleep, w.pause(t0.Add(2*minSleep), false))
	w.hint.Patient = false
	require.Zero(t, w.pause(t0.Add(time.Microsecond), false), "spins once its queue is empty")
	w.near = 0

	// The owner loop's bound (Config.WakeWithin, a deadline) bounds every sleep.
	w.hint.Within = 50 * time.Microsecond
	require.Equal(t, 50*time.Microsecond, w.pause(t0.Add(time.Second), false))
	require.Equal(t, 50*time.Microsecond, w.pause(t0.Add(2*minSleep), false))
	require.Equal(t, minSleep, w.pause(t0.Add(time.Microsecond), false))

	// A rank every sender rings sleeps until rung (WakeWithin still bounds it); after a
	// ring that brought nothing it polls once more at once, then sleeps on timers once.
	w.bells.all = true
	require.Equal(t, 50*time.Microsecond, w.pause(t0.Add(time.Second), false))
	w.hint.Within = 0
	require.Equal(t, deepSleep, w.pause(t0.Add(time.Microsecond), false), "sparse: no spin")
	w.near = nearAll
	require.Zero(t, w.pause(t0.Add(spinFor/2), false), "spins after traffic all the same")
	require.Equal(t, deepSleep, w.pause(t0.Add(spinFor+time.Microsecond), false))
	w.afterWake = 2
	require.Zero(t, w.pause(t0.Add(8*time.Millisecond), false), "a ring that brought nothing yet")
	require.Equal(t, time.Millisecond, w.pause(t0.Add(8*time.Millisecond), false), "nor on the next poll")
	require.Equal(t, deepSleep, w.pause(t0.Add(8*time.Millisecond), false))
	require.Equal(t, minSleep, w.pause(t0.Add(time.Second), true), "minSleep while quitting")
}

// TestYieldsOnlyToAComputation: a spinning rank yields its core only when Open MPI bound it
// to one and another goroutine computes a chunk there (a yield in every poll of an idle
// core costs a system call and a pass through the scheduler).
func TestYieldsOnlyToAComputation(t *testing.T) {
	w := newWire(nil, bells{})
	for _, c := range []struct {
		bound, hinted, computing, yields bool
	}{
		{bound: false, hinted: true, computing: true, yields: false},
		{bound: true, hinted: false, yields: false}, // the manager
		{bound: true, hinted: true, computing: false, yields: false},
		{bound: true, hinted: true, computing: true, yields: true},
	} {
		w.bound, w.hint.Computing = c.bound, c.hinted && c.computing
		require.Equal(t, c.yields, w.yields(), "%+v", c)
	}
}

// TestSpinsWhereItPays: a rank spins while most messages come within spinFor of the traffic
// before them, and stops once most come later. The rank reads the clock only when idle:
// msg(after) is an idle poll just after the traffic before, one after, and the message.
func TestSpinsWhereItPays(t *testing.T) {
	w := newWire(nil, bells{})
	require.True(t, w.spins(), "spins at the start")
	now := w.lastBusy
	idle := func(after time.Duration) { now = now.Add(after); w.idleAt(now) }
	msg := func(after time.Duration) { idle(time.Microsecond); idle(after); w.busy(true) }
	for range 8 {
		msg(10 * spinFor)
	}
	require.False(t, w.spins(), "messages a task of milliseconds apart")
	for i := 0; !w.spins(); i++ {
		require.Less(t, i, 8, "a quick exchange turns spinning back on within a few messages")
		msg(spinFor / 10)
	}
	for range 16 {
		msg(spinFor)
	}
	msg(10 * spinFor)
	require.True(t, w.spins(), "one late message alone does not stop a steady exchange")

	// A message counts from the last traffic, sends included: replies that come soon after
	// this rank's sends are worth a spin, however far apart the replies.
	for range 8 {
		msg(10 * spinFor)
	}
	require.False(t, w.spins())
	for range 8 {
		idle(10 * spinFor)
		w.busy(false)
		msg(spinFor / 2)
	}
	require.True(t, w.spins())

	// Messages with no idle poll between them came at once, however long the rank took
	// to handle them; a sleep counts as idle time, however short the polls before it.
	for range 8 {
		msg(10 * spinFor)
	}
	require.False(t, w.spins())
	for range 8 {
		now = now.Add(10 * spinFor) // busy: no idle poll
		w.busy(true)
	}
	require.True(t, w.spins())
	k, err := newWaker()
	require.NoError(t, err)
	for range 8 {
		w.idleAt(mono.Now()) // the sleep reads the real clock
		w.sleep(k, 2*spinFor, func() bool { return false })
		w.busy(true)
	}
	require.False(t, w.spins(), "messages found after sleeps of 2 x spinFor")
}
