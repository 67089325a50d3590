package selftest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mw-hpc/mw/rank"
)

// chunkOf is the descriptor of n items from first on, as the source cuts it.
func chunkOf(first, n uint64) rank.Chunk {
	d := make([]byte, 16)
	binary.LittleEndian.PutUint64(d, first)
	binary.LittleEndian.PutUint64(d[8:], n)
	return rank.Chunk{Data: d, Items: int(n)}
}

// BenchmarkWork256 is 256 items numbered in the millions, as in make bench's runs.
func BenchmarkWork256(b *testing.B) {
	o := options{failAt: -1, panicAt: -1}
	c := chunkOf(3_000_000, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.work(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWorkAllocatesOnce: a chunk's lines go into one allocation of the right size, for
// item numbers of any width (a line of 25 bytes once outgrew a guess of 24 and copied).
func TestWorkAllocatesOnce(t *testing.T) {
	o := options{failAt: -1, panicAt: -1}
	for _, tt := range []struct {
		first     uint64
		sameWidth bool // every item number in the chunk has the same number of digits
	}{{0, false}, {999_990, false}, {3_000_000, true}, {1<<64 - 300, true}} {
		c := chunkOf(tt.first, 256)
		var out []byte
		allocs := testing.AllocsPerRun(20, func() {
			var err error
			if out, err = o.work(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 1 || tt.sameWidth && cap(out) != len(out) {
			t.Errorf("items %d..: %v allocations, %d bytes in %d", tt.first, allocs, len(out), cap(out))
		}
	}
	if _, err := o.work(context.Background(), chunkOf(1<<64-100, 256)); err == nil {
		t.Error("a chunk past the last item number: no error")
	}
}

// TestAppendHex16 checks the word-at-a-time digits against fmt's, at every digit value in
// every position and at random.
func TestAppendHex16(t *testing.T) {
	vs := []uint64{0, 1<<64 - 1, 0x0123456789abcdef, 0xfedcba9876543210, 0x9a9a9a9a09090909}
	for d := range uint64(16) {
		vs = append(vs, d*0x1111111111111111)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		vs = append(vs, r.Uint64())
	}
	for _, v := range vs {
		got := string(appendHex16([]byte("x"), v))
		if want := fmt.Sprintf("x%016x", v); got != want {
			t.Fatalf("appendHex16(%#x) = %q, want %q", v, got, want)
		}
	}
}
