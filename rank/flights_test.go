package rank

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func flightOf(seq uint64) *flight { return &flight{c: Chunk{Seq: seq}} }

func TestFlightsInAWindow(t *testing.T) {
	tab := newFlights(4)
	for seq := uint64(10); seq < 14; seq++ {
		require.NoError(t, tab.add(flightOf(seq)))
	}
	require.Equal(t, 4, tab.len())
	for seq := uint64(10); seq < 14; seq++ {
		f, ok := tab.get(seq)
		require.True(t, ok, "chunk %d", seq)
		require.Equal(t, seq, f.c.Seq)
	}
	for _, seq := range []uint64{6, 9, 14, 18} { // done long ago, or not issued: same slots
		_, ok := tab.get(seq)
		require.False(t, ok, "chunk %d", seq)
	}
	require.ErrorContains(t, tab.add(flightOf(14)), "chunk 14 issued while chunk 10, 4 before it, is in flight")
	tab.remove(10)
	require.NoError(t, tab.add(flightOf(14)))
	_, ok := tab.get(10)
	require.False(t, ok, "chunk 10 is done; its slot holds 14")
	require.Equal(t, 4, tab.len())
}

func TestFlightsUnordered(t *testing.T) {
	tab := newFlights(0)
	for _, seq := range []uint64{3, 1 << 40, 7} {
		require.NoError(t, tab.add(flightOf(seq)))
	}
	f, ok := tab.get(1 << 40)
	require.True(t, ok)
	require.Equal(t, uint64(1<<40), f.c.Seq)
	tab.remove(3)
	_, ok = tab.get(3)
	require.False(t, ok)
	require.Equal(t, 2, tab.len())
}
