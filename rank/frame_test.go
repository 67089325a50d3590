package rank

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFrameRoundTrip: every header field, Ask included, survives PutHeader and ParseFrame;
// the ask bit is not part of the kind, so it cannot smuggle an unknown kind through.
func TestFrameRoundTrip(t *testing.T) {
	for k := KindTask; k < kindMax; k++ {
		for _, ask := range []bool{false, true} {
			m := Msg{Kind: k, Ask: ask, Attempt: 7, Thread: 513, Seq: 1<<40 + 3, Work: 1234 * time.Microsecond, Data: []byte("data")}
			b := append(make([]byte, HeaderLen), m.Data...)
			PutHeader(b, m)
			got, err := ParseFrame(4, b)
			require.NoError(t, err)
			m.From = 4
			require.Equal(t, m, got)
		}
	}
	for _, b0 := range []byte{0, askBit, byte(kindMax), askBit | byte(kindMax), 0x7f} {
		b := make([]byte, HeaderLen)
		b[0] = b0
		_, err := ParseFrame(2, b)
		require.ErrorContains(t, err, "rank 2 sent a message of unknown kind", "first byte %#x", b0)
	}
}

// FuzzParseFrame: any bytes from a peer are refused with an error or parsed into a message
// of a known kind whose header writes back to the same bytes.
func FuzzParseFrame(f *testing.F) {
	for _, m := range []Msg{{Kind: KindTask, Seq: 5, Attempt: 2}, {Kind: KindResult, Ask: true, Work: time.Second, Thread: 3}, {Kind: KindAsk}} {
		b := make([]byte, HeaderLen, HeaderLen+3)
		PutHeader(b, m)
		f.Add(append(b, "abc"...))
	}
	f.Add([]byte{})
	f.Add([]byte{askBit})
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := ParseFrame(1, frame)
		if err != nil {
			return
		}
		if !m.Kind.Valid() || m.From != 1 || !bytes.Equal(m.Data, frame[HeaderLen:]) {
			t.Fatalf("parsed %+v from %x", m, frame)
		}
		h := make([]byte, HeaderLen)
		PutHeader(h, m)
		if !bytes.Equal(h, frame[:HeaderLen]) {
			t.Fatalf("header %x written back as %x", frame[:HeaderLen], h)
		}
	})
}

// TestFramePoolsAllocateNothing: a frame taken from its pool and put back costs no
// allocation in steady state (a slice header boxed for sync.Pool cost one at every put),
// and comes back with its contents' capacity intact.
func TestFramePoolsAllocateNothing(t *testing.T) {
	if raceBuild() {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	for _, n := range []int{HeaderLen, 300, 5000} {
		putFrame(getFrame(n))
		allocs := testing.AllocsPerRun(1000, func() {
			f := getFrame(n)
			if len(f) != n || cap(f) != 1<<frameClass(n) {
				t.Fatalf("frame of %d bytes: len %d, cap %d", n, len(f), cap(f))
			}
			putFrame(f)
		})
		require.Zero(t, allocs, "frame of %d bytes", n)
	}
}
