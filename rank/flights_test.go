package rank

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFlightsByTicket: a flight is found by its ticket and chunk, not by either alone;
// freed tickets are reused, and the table grows only when none is free.
func TestFlightsByTicket(t *testing.T) {
	tab := newFlights(2)
	a, b := tab.add(Chunk{Seq: 10}), tab.add(Chunk{Seq: 11})
	require.NotEqual(t, a.ticket, b.ticket)
	require.Equal(t, 2, tab.len())
	got, ok := tab.get(a.ticket, 10)
	require.True(t, ok)
	require.Same(t, a, got)
	_, ok = tab.get(a.ticket, 11)
	require.False(t, ok, "a ticket with another chunk's seq")
	_, ok = tab.get(99, 10)
	require.False(t, ok, "a ticket never given")

	tab.remove(a)
	tab.remove(a) // twice: no effect
	require.Equal(t, 1, tab.len())
	_, ok = tab.get(a.ticket, 10)
	require.False(t, ok, "a chunk done")
	c := tab.add(Chunk{Seq: 12})
	require.Equal(t, a.ticket, c.ticket, "the free ticket is reused")
	_, ok = tab.get(c.ticket, 10)
	require.False(t, ok, "the old chunk under a reused ticket")
	d := tab.add(Chunk{Seq: 13, Items: 5})
	require.Equal(t, uint32(2), d.ticket)
	require.Equal(t, 5, d.items)
	require.Equal(t, 3, tab.len())
}
