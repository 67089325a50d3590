package rank

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRecordRoundTrip: every header field, ask included, survives appendRecord and
// parseRecord; the ask bit is not part of the kind, so it cannot smuggle an unknown kind
// through.
func TestRecordRoundTrip(t *testing.T) {
	for k := kindTask; k < kindMax; k++ {
		for _, ask := range []bool{false, true} {
			r := record{kind: k, ask: ask, attempt: 7, thread: 513, ticket: 1<<31 + 5, seq: 1<<40 + 3, work: 1234 * time.Microsecond, data: []byte("data")}
			b := appendRecord(nil, r)
			got, rest, err := parseRecord(4, b)
			require.NoError(t, err)
			require.Empty(t, rest)
			require.Equal(t, r, got)
		}
	}
	for _, b0 := range []byte{0, askBit, byte(kindMax), askBit | byte(kindMax), 0x7f} {
		b := appendRecord(nil, record{kind: kindTask})
		b[0] = b0
		_, _, err := parseRecord(2, b)
		require.ErrorContains(t, err, "rank 2 sent a record of unknown kind", "first byte %#x", b0)
	}
}

// TestFrameOfSeveralRecords: a frame's records come back in order, each with its own data.
func TestFrameOfSeveralRecords(t *testing.T) {
	var f []byte
	want := []record{
		{kind: kindResult, seq: 1, data: []byte("one")},
		{kind: kindError, seq: 2, data: []byte("went wrong")},
		{kind: kindSkip, seq: 3, data: []byte{}},
		{kind: kindResult, seq: 4, data: bytes.Repeat([]byte{7}, 1000)},
	}
	for _, r := range want {
		f = appendRecord(f, r)
	}
	var got []record
	require.NoError(t, eachRecord(1, f, func(r record) error { got = append(got, r); return nil }))
	require.Equal(t, want, got)
}

// TestOutboxBatches: the records for one peer go in one frame per step, in order, unless
// they pass maxBatch; a record larger than maxBatch travels alone; peers keep the order of
// their first record.
func TestOutboxBatches(t *testing.T) {
	o := newOutbox(4)
	require.False(t, o.pending())
	o.add(2, record{kind: kindTask, seq: 1})
	o.add(1, record{kind: kindTask, seq: 2})
	o.add(2, record{kind: kindTask, seq: 3})
	frames := o.seal()
	require.Len(t, frames, 2)
	require.Equal(t, 2, frames[0].to)
	require.Equal(t, []uint64{1, 3}, seqsOf(t, frames[0].frame))
	require.Equal(t, 1, frames[1].to)
	require.Equal(t, []uint64{2}, seqsOf(t, frames[1].frame))
	require.False(t, o.pending())

	big := make([]byte, maxBatch)
	half := make([]byte, maxBatch/2)
	o.add(3, record{kind: kindTask, seq: 10, data: half})
	o.add(3, record{kind: kindTask, seq: 11, data: half}) // past maxBatch with the headers: a second frame
	o.add(3, record{kind: kindTask, seq: 12, data: big})  // alone
	o.add(3, record{kind: kindTask, seq: 13})
	frames = o.seal()
	var seqs [][]uint64
	for _, f := range frames {
		require.Equal(t, 3, f.to)
		if len(seqsOf(t, f.frame)) > 1 {
			require.LessOrEqual(t, len(f.frame), maxBatch, "a frame of several records past maxBatch")
		}
		seqs = append(seqs, seqsOf(t, f.frame))
	}
	require.Equal(t, [][]uint64{{10}, {11}, {12}, {13}}, seqs)
}

func seqsOf(t *testing.T, f []byte) []uint64 {
	t.Helper()
	var s []uint64
	require.NoError(t, eachRecord(0, f, func(r record) error { s = append(s, r.seq); return nil }))
	return s
}

// FuzzEachRecord: any bytes from a peer are refused with an error naming the peer, or
// parsed into records of known kinds that write back to the same bytes.
func FuzzEachRecord(f *testing.F) {
	for _, r := range []record{{kind: kindTask, seq: 5, attempt: 2, ticket: 9}, {kind: kindResult, ask: true, work: time.Second, thread: 3, data: []byte("abc")}, {kind: kindAsk}} {
		b := appendRecord(nil, r)
		f.Add(b)
		f.Add(appendRecord(b, r))
	}
	f.Add([]byte{})
	f.Add([]byte{askBit})
	f.Fuzz(func(t *testing.T, frame []byte) {
		var back []byte
		err := eachRecord(1, frame, func(r record) error {
			if !r.kind.valid() {
				t.Fatalf("parsed a record of kind %d", r.kind)
			}
			back = appendRecord(back, r)
			return nil
		})
		if err != nil {
			require.Contains(t, err.Error(), "rank 1 sent")
			return
		}
		// The work field saturates and the thread field is 16 bits: both write back as read.
		if !bytes.Equal(back, frame) {
			t.Fatalf("%x written back as %x", frame, back)
		}
	})
}
