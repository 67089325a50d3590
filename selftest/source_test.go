package selftest

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSourceCutsAndSlabs: the chunks cover [0, items) in order, each with its own 16
// bytes (a later chunk leaves an earlier one's alone), and descriptors come from slabs:
// one allocation per slabChunks chunks.
func TestSourceCutsAndSlabs(t *testing.T) {
	const items, per = 3*slabChunks + 5, 3
	s := &source{items: items, per: per}
	var datas [][]byte
	next := uint64(0)
	for seq := uint64(0); ; seq++ {
		c, err := s.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, seq, c.Seq)
		require.Equal(t, next, binary.LittleEndian.Uint64(c.Data), "chunk %d", seq)
		require.EqualValues(t, c.Items, binary.LittleEndian.Uint64(c.Data[8:]))
		require.Len(t, c.Data, 16)
		require.Equal(t, 16, cap(c.Data), "an append must not reach the next chunk's bytes")
		next += uint64(c.Items)
		datas = append(datas, c.Data)
	}
	require.EqualValues(t, items, next)
	first := uint64(0)
	for i, d := range datas { // unchanged by the chunks after them
		require.Equal(t, first, binary.LittleEndian.Uint64(d), "chunk %d", i)
		first += binary.LittleEndian.Uint64(d[8:])
	}

	big := &source{items: 1 << 40, per: 1}
	allocs := testing.AllocsPerRun(10*slabChunks, func() {
		if _, err := big.Next(); err != nil {
			t.Fatal(err)
		}
	})
	require.Less(t, allocs, 0.01, "allocations per chunk")
}
