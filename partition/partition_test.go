package partition

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFixedCutsInOrder(t *testing.T) {
	for _, tc := range []struct{ items, size, per int }{{0, 3, 2}, {1, 3, 2}, {7, 3, 2}, {8, 3, 2}, {10, 1, 10}, {5, 4, 100}} {
		t.Run(fmt.Sprintf("items=%d/size=%d/per=%d", tc.items, tc.size, tc.per), func(t *testing.T) {
			data := make([]byte, tc.items*tc.size)
			for i := range data {
				data[i] = byte(i)
			}
			f, err := NewFixed(bytes.NewReader(data), tc.size, tc.per)
			require.NoError(t, err)
			got := []byte{}
			for seq := uint64(0); ; seq++ {
				c, err := f.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				require.Equal(t, seq, c.Seq)
				require.LessOrEqual(t, len(c.Data), tc.size*tc.per)
				require.Zero(t, len(c.Data)%tc.size)
				got = append(got, c.Data...)
			}
			require.Equal(t, data, got)
			_, err = f.Next()
			require.Equal(t, io.EOF, err, "EOF stays EOF")
		})
	}
}

func TestFixedTruncatedItem(t *testing.T) {
	f, err := NewFixed(bytes.NewReader(make([]byte, 10)), 4, 1)
	require.NoError(t, err)
	_, err = f.Next()
	require.NoError(t, err)
	_, err = f.Next()
	require.NoError(t, err)
	_, err = f.Next()
	require.EqualError(t, err, "item 3 is truncated: 2 of 4 bytes")
}

func TestFixedRejectsBadSizes(t *testing.T) {
	_, err := NewFixed(bytes.NewReader(nil), 0, 1)
	require.Error(t, err)
	_, err = NewFixed(bytes.NewReader(nil), 1, 0)
	require.Error(t, err)
}

func TestItemsPackUnpackRoundTrip(t *testing.T) {
	items := [][]byte{[]byte("a"), {}, []byte("hello world"), bytes.Repeat([]byte{7}, 300)}
	i := 0
	src, err := NewItems(func() ([]byte, error) {
		if i == len(items) {
			return nil, io.EOF
		}
		i++
		return items[i-1], nil
	}, 3)
	require.NoError(t, err)
	var got [][]byte
	for seq := uint64(0); ; seq++ {
		c, err := src.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, seq, c.Seq)
		require.NoError(t, Unpack(c.Data, func(_ int, it []byte) error {
			got = append(got, append([]byte{}, it...))
			return nil
		}))
	}
	require.Equal(t, items, got)
}

func TestItemsPassesErrors(t *testing.T) {
	boom := errors.New("boom")
	src, _ := NewItems(func() ([]byte, error) { return nil, boom }, 2)
	_, err := src.Next()
	require.ErrorIs(t, err, boom)
}

func TestUnpackRejectsBadFraming(t *testing.T) {
	for _, data := range [][]byte{{5, 'a'}, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		require.ErrorIs(t, Unpack(data, func(int, []byte) error { return nil }), ErrFraming)
	}
}

func FuzzUnpack(f *testing.F) {
	f.Add(Pack(Pack(nil, []byte("x")), nil))
	f.Add([]byte{0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var items [][]byte
		err := Unpack(data, func(_ int, it []byte) error {
			items = append(items, it)
			return nil
		})
		if err != nil {
			return
		}
		var re []byte
		for _, it := range items {
			re = Pack(re, it)
		}
		// Valid framing re-packs to a framing of the same items (uvarints may be non-minimal
		// in the input, so compare items, not bytes).
		var again [][]byte
		require.NoError(t, Unpack(re, func(_ int, it []byte) error { again = append(again, it); return nil }))
		require.Equal(t, len(items), len(again))
		for i := range items {
			require.Equal(t, items[i], again[i])
		}
	})
}
